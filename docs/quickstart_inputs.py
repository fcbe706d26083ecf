"""Inputs for docs/quickstart.md that no motionlab command makes: a clip with a real face
and a synthetic two-part object with its masks.

    python docs/quickstart_inputs.py [FOLDER]     # default: the current folder

writes ``face.mkv`` (scikit-image's astronaut, a public-domain NASA photograph, panning
right: 24 frames of 256x256 at 10 fps) and ``object/frames/00000.png ...`` with
``object/masks/00000.png ...`` (:func:`motionlab.synthetic.two_part_scene`: a body moving
right with a limb swinging on it, 48 frames of 160x120; a mask for every 20th frame, the
anchors ``motionlab stvi`` needs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def face_clip(path: Path, *, frames: int = 24, size: int = 256) -> None:
    """A clip of a real face panning right by 4 px/frame."""
    from skimage import data, transform

    from motionlab.video import write_video

    img = (transform.resize(data.astronaut(), (size, size)) * 255).astype(np.uint8)
    write_video(path, [np.roll(img, 4 * t, axis=1) for t in range(frames)], fps=10)


def two_part_object(folder: Path, *, frames: int = 48, every: int = 20) -> None:
    """``folder/frames/NNNNN.png`` and the object's masks ``folder/masks/NNNNN.png``
    (white = object) at frames 0, every, 2 * every, ..."""
    from motionlab.synthetic import two_part_scene
    from motionlab.video import write_video

    video, parts = two_part_scene(frames, size=(160, 120), seed=3)
    write_video(f"{folder}/frames/", video, fps=25)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    for t in range(0, frames, every):
        assert cv2.imwrite(str(folder / "masks" / f"{t:05d}.png"), (parts[t] > 0) * np.uint8(255))


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path()
    out.mkdir(parents=True, exist_ok=True)
    face_clip(out / "face.mkv")
    two_part_object(out / "object")
    print(f"wrote {out / 'face.mkv'} and {out / 'object'}/frames, masks")


if __name__ == "__main__":
    main(sys.argv[1:])
