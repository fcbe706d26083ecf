"""Speed of selective obfuscation at 320x240: ms per frame per stage, per matcher.

Stages, each timed on its own over the same frames (median ms per frame):

* match: the matcher's maps and their combination into the saliency S;
* flow: forward DIS flow of each pair (AFD's ``fast`` preset), which animates the noise;
* noise: advecting the noise particles by that flow and rendering a frame;
* blend: ``O = I + S (N - I)`` (eq. 5.5).

end-to-end: :func:`motionlab.privacy.obfuscate_steps` over all frames (flow runs in a
background thread while the matcher works, and the landmarks matcher runs its models in
parallel threads, so it is less than the sum), reading and writing and the one-time
loading of the models (~0.7 s per process) excluded; the matcher runs up to
``obfuscate.AHEAD`` (16) frames ahead of the noise and blend, in its own threads (one per
model and per drawing): ``one frame ahead`` keeps one frame in flight, ``pipeline off``
none, ``threads and pipeline off`` also runs the models one after the other. end-to-end
CPU: CPU time of the process per frame (all its threads; on a busy machine a steadier
measure of the cost than the wall clock).

``--models`` first prints a profile of each MediaPipe model run alone over the same frames
(median wall-clock ms per frame and mean CPU ms per frame of the process, which counts
MediaPipe's own threads), and how closely the default hand crops' maps overlap those of
the whole-frame hand model. Frames: ``../shared/data/ipn_face_gesture/frames`` (320x240)
when present, else the synthetic clip. The DINO matcher runs on random weights (its speed
does not depend on them) for a few frames only: it is meant for a GPU.

Usage::

    python benchmarks/privacy.py [--frames 40] [--dino-frames 2] [--device cpu] [--models] [--basic]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from motionlab.afd import AFD_DIS_PRESET
from motionlab.afd.noise import AdvectedNoise
from motionlab.flow import get_estimator
from motionlab.privacy import (
    BODY_ATTRIBUTES,
    FACE_ATTRIBUTES,
    blend,
    get_matcher,
    noise_range_of,
    obfuscate_steps,
)
from motionlab.privacy import regions as R
from motionlab.privacy.landmarks import _pose_points
from motionlab.privacy.obfuscate import ObfuscationConfig
from motionlab.synthetic import sample_video_frames
from motionlab.video import VideoReader

SHARED = Path(os.environ.get("MOTIONLAB_SHARED", Path(__file__).resolve().parents[2] / "shared"))
IPN = SHARED / "data" / "ipn_face_gesture" / "frames"


def per_frame_ms(fn, items) -> float:  # type: ignore[no-untyped-def]
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def model_profile(frames: list[np.ndarray]) -> None:
    """Print ms per frame of each MediaPipe model alone (tracking mode, as the matcher)."""
    from motionlab.privacy.landmarks import hand_crop

    m = get_matcher("landmarks", threads=False)
    h, w = frames[0].shape[:2]
    poses: list[tuple[np.ndarray, np.ndarray] | None] = []

    def pose(f: np.ndarray) -> None:
        lm = m._model("pose").process(f).pose_landmarks
        poses.append(None if lm is None else _pose_points(lm, (0.0, 0.0), (w, h)))

    def hand_crops(item: tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]) -> None:
        f, found = item  # the hand model on crops placed from the pose (no tracking crops)
        if found is not None:
            for side, idx in zip(("left", "right"), R.HANDS_POSE, strict=True):
                if found[1][idx[0]]:
                    m._hand_in_crop(f, f"hand-roi-{side}", hand_crop(found[0], idx))

    rows = [
        ("face mesh (up to 4 faces, iris)", lambda f: m._model("face").process(f), frames),
        ("selfie segmentation", lambda f: m._model("segment")(f), frames),
        ("pose (complexity 1)", pose, frames),
        ("hands, whole frame (up to 4)", lambda f: m._model("hands").process(f), frames),
        ("hands, crops at the pose's hands", hand_crops, None),
    ]
    print("| MediaPipe model, alone | wall ms/frame | CPU ms/frame |")
    print("|---|---:|---:|")
    for label, fn, items in rows:
        if items is None:
            items = list(zip(frames, poses[1:], strict=True))
        fn(items[0])  # warm-up: builds the graph
        c = time.process_time()
        wall = per_frame_ms(fn, items)
        cpu = (time.process_time() - c) * 1000 / len(items)
        print(f"| {label} | {wall:.1f} | {cpu:.1f} |")
    m.close()
    print()
    hand_agreement(frames)


def hand_agreement(frames: list[np.ndarray]) -> None:
    """Print how closely the ``hand`` maps (> 0.5) of the default hand crops and of the
    pose-only hand overlap those of the whole-frame hand model (IoU per frame)."""
    maps = {}
    for label, options in [
        ("frame", {"hands_roi": False}),
        ("crops (default)", {}),
        ("--hands pose", {"hands_model": False}),
    ]:
        m = get_matcher("landmarks", **options)
        maps[label] = np.array([m(f, ["hand"])[0] for f in frames]) > 0.5
        m.close()
    ref = maps.pop("frame")
    print("| hand map vs the whole-frame hand model | IoU mean | IoU min |")
    print("|---|---:|---:|")
    for label, got in maps.items():
        iou = (got & ref).sum((1, 2)) / np.maximum((got | ref).sum((1, 2)), 1)
        print(f"| {label} | {iou.mean():.3f} | {iou.min():.3f} |")
    print()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--dino-frames", type=int, default=2, help="0 skips the DINO matcher")
    p.add_argument("--device", default="cpu", help="torch device of the DINO matcher")
    p.add_argument("--models", action="store_true", help="first profile each MediaPipe model")
    p.add_argument(
        "--basic",
        action="store_true",
        help="only the face, body, body --hands pose and all-nine rows (the options older "
        "versions of the matcher have: for before/after runs against an older src/)",
    )
    args = p.parse_args(argv)
    if IPN.exists():
        with VideoReader(IPN, stop=args.frames, size=(320, 240)) as reader:
            frames = list(reader)
        source = "IPN frames"
    else:
        frames = list(sample_video_frames(args.frames, size=(320, 240)))
        source = "synthetic clip"
    est = get_estimator("dis", preset=AFD_DIS_PRESET)
    flows = [est(a, b) for a, b in itertools.pairwise(frames)]
    flow_ms = per_frame_ms(lambda ab: est(*ab), itertools.pairwise(frames))
    nr = noise_range_of(frames)
    noise = AdvectedNoise(240, 320, noise=nr, rng=np.random.default_rng(0))

    def noise_step(flow: np.ndarray) -> None:
        noise.advect(flow)
        noise.render()

    noise_ms = per_frame_ms(noise_step, flows)
    n0 = noise.render()
    s = np.random.default_rng(1).random((240, 320), dtype=np.float32)
    blend_ms = per_frame_ms(lambda f: blend(f, n0, s), frames)

    if args.models:
        model_profile(frames)
    nine = FACE_ATTRIBUTES + BODY_ATTRIBUTES
    runs = [
        ("landmarks", "face (5)", FACE_ATTRIBUTES, {}),
        ("landmarks", "body (4)", BODY_ATTRIBUTES, {}),
        ("landmarks", "body (4), --hands frame", BODY_ATTRIBUTES, {"hands_roi": False}),
        ("landmarks", "body (4), --hands pose", BODY_ATTRIBUTES, {"hands_model": False}),
        ("landmarks", "all nine", nine, {}),
        ("landmarks", "all nine, one frame ahead", nine, {"ahead": 1}),
        ("landmarks", "all nine, pipeline off", nine, {"ahead": 0}),
        (
            "landmarks",
            "all nine, threads and pipeline off",
            nine,
            {"threads": False, "ahead": 0},
        ),
        ("landmarks", "all nine, --hands frame", nine, {"hands_roi": False}),
    ]
    if args.basic:
        runs = [r for r in runs if set(r[3]) <= {"hands_model", "ahead"}]
    if args.dino_frames > 0:
        runs.append(("dino", "2 templates", ("a", "b"), {}))
    print(f"{len(frames)} frames of the {source}, 320x240; ms per frame (median)\n")
    print(
        "| matcher | templates | match | flow | noise | blend | end-to-end | frames/s "
        "| end-to-end CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, label, names, options in runs:
        use = frames
        if name == "dino":
            from motionlab.privacy.dino import DinoExtractor
            from motionlab.privacy.templates import TemplateLibrary, make_template

            ex = DinoExtractor(weights="random", device=args.device)
            lib = TemplateLibrary(
                (
                    make_template("a", frames[0], (160, 80), extractor=ex),
                    make_template("b", frames[0], (100, 200), extractor=ex),
                )
            )
            matcher = get_matcher("dino", library=lib, extractor=ex)
            use = frames[: max(2, args.dino_frames)]
        else:
            matcher = get_matcher(name, **{k: v for k, v in options.items() if k != "ahead"})
        matcher.reset()
        matcher(use[0], names)  # warm-up: models are built on first use
        match_ms = per_frame_ms(lambda f: matcher.saliency(matcher(f, names)), use)  # noqa: B023
        config = ObfuscationConfig(tuple(names), noise_range=nr)
        t, c = time.perf_counter(), time.process_time()
        ahead = {"ahead": options["ahead"]} if "ahead" in options else {}  # else the default
        steps = obfuscate_steps(use, matcher=matcher, config=config, estimator=est, **ahead)
        count = sum(1 for _ in steps)
        e2e = (time.perf_counter() - t) * 1000 / count
        cpu = (time.process_time() - c) * 1000 / count
        print(
            f"| {name} | {label} | {match_ms:.1f} | {flow_ms:.1f} | {noise_ms:.1f} | "
            f"{blend_ms:.1f} | {e2e:.1f} | {1000 / e2e:.1f} | {cpu:.1f} |"
        )
        matcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
