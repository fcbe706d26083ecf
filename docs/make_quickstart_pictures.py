"""Run docs/quickstart.md's commands in a temporary folder and save the picture of each step.

Run: ``.venv/bin/python docs/make_quickstart_pictures.py [--keep DIR]`` (needs the study,
recognition and privacy extras; a few minutes on 2 CPU cores). Writes small JPEG/PNG files
to docs/images/quickstart/: ``flow.jpg``, ``afd.jpg``, ``privacy.jpg``, ``recognition.png``,
``stvi.png``, ``study.png``, and prints each step's wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "images" / "quickstart"
sys.path.insert(0, str(HERE))

# The quickstart's motionlab command lines, step by step (tests/test_docs_commands.py
# runs the ones in docs/quickstart.md; keep the two in step).
STEPS: dict[str, list[str]] = {
    "flow": [
        "sample-video sample.mp4",
        "flow sample.mp4 -o sample_flow.mp4",
        "info sample_flow.mp4",
    ],
    "afd": [
        "afd sample.mp4 -o sample_afd.avi --gif",
        "afd sample.mp4 -o sample_triptych.mkv --triptych",
    ],
    "privacy": [
        "obfuscate face.mkv -o face_hidden.mkv --templates face --save-saliency face_mask.mkv",
        "baseline face.mkv -o face_pixelated.mkv --method pixelate16",
    ],
    "recognition": [
        "models",
        "synth-actions synth/ --videos-per-class 12 --size 64x64 --frames 16",
        "train --arch e2s_tiny --data synth -o runs/e2s --epochs 4",
        "diagnose --model runs/e2s/best.pt --data synth -o diag",
    ],
    "stvi": ["stvi object/frames --anchors object/masks -o tubes/ --pictures"],
    "study": [
        "study demo demo/",
        "study simulate --config demo/study.toml --participants 6",
        "study report --config demo/study.toml -o report/",
    ],
}


def frame(path: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` of a video, (H, W, 3) uint8 RGB."""
    from motionlab.video import read_video

    return read_video(path, start=index, stop=index + 1)[0]


def label(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` with a white caption bar above it."""
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img])


def row(*images: tuple[np.ndarray, str]) -> np.ndarray:
    """Captioned images side by side (same height), 6 px apart."""
    h = max(i.shape[0] for i, _ in images)
    parts: list[np.ndarray] = []
    for img, text in images:
        scaled = cv2.resize(img, (round(img.shape[1] * h / img.shape[0]), h))
        parts += [label(scaled, text), np.full((h + 22, 6, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=1)


def save(name: str, rgb: np.ndarray, *, width: int = 720) -> None:
    if rgb.shape[1] > width:
        rgb = cv2.resize(rgb, (width, round(rgb.shape[0] * width / rgb.shape[1])),
                         interpolation=cv2.INTER_AREA)  # fmt: skip
    params = [cv2.IMWRITE_JPEG_QUALITY, 85] if name.endswith(".jpg") else []
    assert cv2.imwrite(str(OUT / name), rgb[:, :, ::-1], params)
    print(f"wrote {OUT / name} ({(OUT / name).stat().st_size // 1024} KiB)")


def image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return bgr[:, :, ::-1]


def pictures() -> None:
    """The picture of each step, from the outputs in the current folder."""
    save("flow.jpg", row((frame("sample.mp4", 24), "sample.mp4"),
                         (frame("sample_flow.mp4", 24), "sample_flow.mp4")))  # fmt: skip
    triptych = frame("sample_triptych.mkv", 24)
    save("afd.jpg", label(triptych, "sample_triptych.mkv: source | flow | AFD"))
    mask = frame("face_mask.mkv", 12)
    save("privacy.jpg", row((frame("face.mkv", 12), "face.mkv"),
                            (frame("face_hidden.mkv", 12), "face_hidden.mkv"),
                            (mask, "face_mask.mkv"),
                            (frame("face_pixelated.mkv", 12), "face_pixelated.mkv")))  # fmt: skip
    save("recognition.png", image(Path("diag/diagnose.png")))
    save("stvi.png", image(Path("tubes/pictures/overlay.png")))
    save("study.png", image(Path("report/confusion.png")))


def main(argv: list[str]) -> None:
    from quickstart_inputs import main as make_inputs

    from motionlab.cli import main as motionlab

    keep = Path(argv[argv.index("--keep") + 1]) if "--keep" in argv else None
    OUT.mkdir(parents=True, exist_ok=True)
    work = keep or Path(tempfile.mkdtemp(prefix="quickstart-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    started = time.perf_counter()
    make_inputs([])
    for step, lines in STEPS.items():
        t0 = time.perf_counter()
        for line in lines:
            assert motionlab(["-q", *line.split()]) == 0, line
        print(f"{step}: {time.perf_counter() - t0:.0f} s")
    print(f"all steps: {time.perf_counter() - started:.0f} s (in {work})")
    pictures()


if __name__ == "__main__":
    main(sys.argv[1:])
