"""Selective obfuscation on real videos: is the face hidden, is the rest kept, is the motion kept?

For each input (``../shared/data``: IPN frames and carphone with the face templates,
pedestrians with the body templates) and each method (our obfuscation with motion noise,
the i.i.d.-noise ablation, and the Table 5.2 baselines):

* face rate: fraction of frames in which an independent face detector (OpenCV's Haar
  frontal-face cascade, not the MediaPipe models the matcher uses) finds a face;
* kept: fraction of the pixels with saliency 0 that are unchanged (our methods only);
* flow EPE: mean endpoint error (px) between DIS-medium flow of consecutive output frames
  and of the original frames, inside the obfuscated region (saliency > 0.5).

Usage::

    python benchmarks/privacy_evidence.py [--frames 40] [--inputs ipn,carphone,pedestrians]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from motionlab.flow import get_estimator
from motionlab.privacy import get_baseline, get_matcher, noise_range_of, obfuscate_steps
from motionlab.privacy.landmarks import PersonSegmenter
from motionlab.privacy.obfuscate import ObfuscationConfig
from motionlab.video import VideoReader

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FACE = "forehead,hair,eyes,cheek,lips"
INPUTS = {  # path, templates, people mode of the landmarks matcher
    "ipn": (DATA / "ipn_face_gesture" / "frames", FACE, "one"),
    "carphone": (DATA / "videos" / "carphone.mp4", FACE, "one"),
    "pedestrians": (DATA / "videos" / "pedestrians_vtest.avi", "torso,arm,legs,hand", "many"),
}


def face_detector() -> cv2.CascadeClassifier:
    """OpenCV's Haar frontal-face cascade (shipped inside opencv-contrib-python 4.x)."""
    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def has_face(detector: cv2.CascadeClassifier, frame: np.ndarray) -> bool:
    """True if the cascade finds a face at least 1/8 of the frame's height."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    min_side = max(12, frame.shape[0] // 8)
    faces = detector.detectMultiScale(gray, 1.1, 5, minSize=(min_side, min_side))
    return len(faces) > 0


def flow_epe(
    est: object, a: list[np.ndarray], b: list[np.ndarray], masks: list[np.ndarray]
) -> float:
    errs = []
    for t in range(len(a) - 1):
        m = masks[t] > 0.5
        if not m.any():
            continue
        ref = est(a[t], a[t + 1])  # type: ignore[operator]
        got = est(b[t], b[t + 1])  # type: ignore[operator]
        errs.append(float(np.linalg.norm(got - ref, axis=-1)[m].mean()))
    return float(np.mean(errs)) if errs else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--inputs", default=",".join(INPUTS))
    args = p.parse_args(argv)
    if not DATA.exists():
        print(f"needs {DATA} (the project's shared data)", file=sys.stderr)
        return 1
    det = face_detector()
    est = get_estimator("dis", preset="medium")
    matchers = {"one": get_matcher("landmarks"), "many": get_matcher("landmarks", people="many")}
    segment = PersonSegmenter()
    print("| input | templates | method | face rate | kept (S=0) | flow EPE in region | ms/frame |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in args.inputs.split(","):
        path, templates, people = INPUTS[name]
        matcher = matchers[people]
        with VideoReader(path, stop=args.frames) as reader:
            frames = list(reader)
        nr = noise_range_of(frames)
        face0 = np.mean([has_face(det, f) for f in frames])
        print(f"| {name} | {templates} | original | {face0:.2f} | - | - | - |")
        for noise in ("motion", "iid"):
            config = ObfuscationConfig(tuple(templates.split(",")), noise=noise, noise_range=nr)
            t0 = time.perf_counter()
            steps = list(obfuscate_steps(frames, matcher=matcher, config=config))
            ms = (time.perf_counter() - t0) / len(frames) * 1000
            outs = [s.output for s in steps]
            sal = [s.saliency for s in steps]
            kept = np.mean(
                [
                    (o[s == 0] == f[s == 0]).all(-1).mean()
                    for o, s, f in zip(outs, sal, frames, strict=True)
                ]
            )
            face = np.mean([has_face(det, o) for o in outs])
            epe = flow_epe(est, frames, outs, sal)
            row = f"| {face:.2f} | {kept:.3f} | {epe:.2f} px | {ms:.0f} |"
            print(f"| {name} | {templates} | ours, {noise} noise {row}")
        for method in ("pixelate4", "pixelate16", "blur-weak", "blur-strong", "mask"):
            fn = get_baseline(method, person_mask=segment)
            t0 = time.perf_counter()
            outs = [fn(f) for f in frames]
            ms = (time.perf_counter() - t0) / len(frames) * 1000
            face = np.mean([has_face(det, o) for o in outs])
            print(f"| {name} | - | {method} | {face:.2f} | - | - | {ms:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
