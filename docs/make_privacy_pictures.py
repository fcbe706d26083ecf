"""Make the privacy pictures in docs/images from ../shared/data (skips what is absent).

Run: ``PYTHONPATH=src .venv/bin/python docs/make_privacy_pictures.py`` (writes
docs/images/privacy_face.jpg and docs/images/privacy_body.jpg from ../shared/data, and
docs/images/privacy_replace.jpg from an image bundled with scikit-image; ``--replace`` makes
only the last, which needs no data).

Face and body pictures: the frame, its saliency per template (red, landmarks matcher), the
obfuscated frame (motion noise), the i.i.d.-noise ablation and two baselines. The
replacement picture: one frame with each ``--replace`` inside the same soft face mask.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from motionlab.privacy import (
    REPLACEMENTS,
    Replacement,
    get_baseline,
    get_matcher,
    noise_range_of,
    obfuscate_steps,
)
from motionlab.privacy.obfuscate import ObfuscationConfig
from motionlab.privacy.pictures import grid, label, overlay
from motionlab.video import VideoReader

OUT = Path(__file__).resolve().parent / "images"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def panel(
    source: Path,
    templates: tuple[str, ...],
    out: Path,
    *,
    index: int,
    people: str = "one",
    crop: tuple[int, int, int, int] | None = None,
    columns: int = 5,
) -> None:
    """Frame ``index`` of ``source``: maps, obfuscation (motion, iid), pixelate16, blur-strong."""
    # ten frames of run-up: the noise moves, the matcher tracks
    with VideoReader(source, start=max(0, index - 10), stop=index + 1) as reader:
        frames = list(reader)
    matcher = get_matcher("landmarks", people=people)
    nr = noise_range_of(frames)
    results = {}
    for noise in ("motion", "iid"):
        config = ObfuscationConfig(templates, noise=noise, noise_range=nr, seed=0)
        *_, last = obfuscate_steps(frames, matcher=matcher, config=config)
        results[noise] = last
    step = results["motion"]
    frame = step.source
    named = [(frame, "original")]
    named += [(overlay(frame, m), n) for n, m in zip(templates, step.maps, strict=True)]
    named.append((overlay(frame, step.saliency, colour=(255, 255, 255), alpha=1.0), "saliency S"))
    named.append((step.output, "ours (motion noise)"))
    named.append((results["iid"].output, "ours, iid noise"))
    named.append((get_baseline("pixelate16")(frame), "pixelate16"))
    named.append((get_baseline("blur-strong")(frame), "blur-strong"))
    if crop is not None:  # a close-up of a wide shot
        x0, y0, x1, y1 = crop
        named = [(im[y0:y1, x0:x1], text) for im, text in named]
    tiles = [label(np.ascontiguousarray(im), text) for im, text in named]
    picture = grid(tiles, columns=columns)
    cv2.imwrite(str(out), picture[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]})")


def panning_clip(image: np.ndarray, *, frames: int, size: int, step: int) -> list[np.ndarray]:
    """A camera pan over ``image``: ``frames`` crops of ``size`` x ``size`` pixels, each
    ``step`` pixels right of and half a step below the last (so the noise has motion)."""
    return [
        np.ascontiguousarray(
            image[t * step // 2 : t * step // 2 + size, t * step : t * step + size]
        )
        for t in range(frames)
    ]


def replacements_panel(out: Path, *, tile: int = 200) -> None:
    """The replacements side by side on a bundled image: original, saliency, and each
    ``--replace`` inside the same soft mask of the face templates (last frame of a pan)."""
    from skimage.data import astronaut  # public domain (NASA), bundled with scikit-image

    frames = panning_clip(astronaut(), frames=12, size=320, step=3)
    matcher = get_matcher("landmarks")
    templates = ("forehead", "hair", "eyes", "cheek", "lips")
    nr = noise_range_of(frames)
    named = []
    for kind in REPLACEMENTS:
        config = ObfuscationConfig(templates, noise_range=nr, replace=Replacement(kind))
        *_, last = obfuscate_steps(frames, matcher=matcher, config=config)
        if not named:
            gray = np.repeat((last.saliency * 255).round().astype(np.uint8)[..., None], 3, 2)
            named += [(last.source, "original"), (gray, "saliency S")]
        named.append((last.output, f"--replace {kind}"))
    matcher.close()
    named.append((get_baseline("blur-strong")(frames[-1]), "baseline blur (frame)"))
    small = [cv2.resize(im, (tile, tile), interpolation=cv2.INTER_AREA) for im, _ in named]
    tiles = [label(im, text) for im, (_, text) in zip(small, named, strict=True)]
    picture = grid(tiles, columns=4)
    cv2.imwrite(str(out), picture[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]}, {out.stat().st_size} bytes)")


def main() -> int:
    replacements_panel(OUT / "privacy_replace.jpg")
    if "--replace" in sys.argv[1:]:
        return 0
    if not DATA.exists():
        print(f"needs {DATA}", file=sys.stderr)
        return 1
    face = ("forehead", "hair", "eyes", "cheek", "lips")
    panel(DATA / "ipn_face_gesture" / "frames", face, OUT / "privacy_face.jpg", index=20, columns=4)
    panel(
        DATA / "videos" / "pedestrians_vtest.avi",
        ("torso", "arm", "legs", "hand"),
        OUT / "privacy_body.jpg",
        index=100,
        people="many",
        crop=(280, 100, 680, 340),
        columns=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
