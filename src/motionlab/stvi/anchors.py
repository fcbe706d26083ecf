"""Anchor masks: the top-down part of STVI (thesis Sec. 6.3, step 1).

The thesis took an instance mask of the object from Mask R-CNN every n-th frame. Its
weights cannot be downloaded everywhere, so anchors come from a *mask source*: anything
that, given a frame index and the frame size, returns a boolean ``(H, W)`` mask or ``None``
when it has none for that frame. :class:`FolderMasks` reads a folder of mask images named
by frame index (DAVIS annotation PNGs are one); a detector plugs in as another callable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from motionlab.errors import MotionlabError
from motionlab.video import IMAGE_SUFFIXES

DEFAULT_EVERY = 20
"""Anchor spacing n of the thesis, in frames."""


class MaskSource(Protocol):
    """Gives the object's mask in frame ``index`` or ``None`` when it has none."""

    def __call__(self, index: int, size: tuple[int, int]) -> np.ndarray | None:
        """``size`` is the frame's ``(width, height)``; return a bool ``(H, W)`` mask."""
        ...


class FolderMasks:
    """Masks from image files whose name's last number is the frame index.

    ``00020.png`` is the mask of frame 20 (0-based, like DAVIS). Any non-zero pixel is the
    object. Masks of another size than the frame are resized (nearest neighbour), so masks
    annotated at full resolution serve a resized video.

    Raises
    ------
    MotionlabError
        If ``folder`` does not exist or holds no numbered image.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MotionlabError(f"{self.folder}: no such mask folder")
        self.files: dict[int, Path] = {}
        for path in self.folder.iterdir():
            numbers = re.findall(r"\d+", path.stem)
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and numbers:
                self.files[int(numbers[-1])] = path
        if not self.files:
            raise MotionlabError(f"{self.folder}: no mask images named by frame index")

    def __call__(self, index: int, size: tuple[int, int]) -> np.ndarray | None:
        path = self.files.get(index)
        if path is None:
            return None
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise MotionlabError(f"{path}: not a readable image")
        if img.ndim == 3:
            img = img.max(axis=2)
        if (img.shape[1], img.shape[0]) != tuple(size):
            img = cv2.resize(img, tuple(size), interpolation=cv2.INTER_NEAREST)
        return img > 0


def anchor_indices(n_frames: int, every: int = DEFAULT_EVERY) -> list[int]:
    """Frames 0, n, 2n, ... below ``n_frames``: where anchors are asked for."""
    if every < 1:
        raise MotionlabError(f"anchor spacing must be >= 1 frame, got {every}")
    return list(range(0, n_frames, every))


def load_anchors(
    source: MaskSource, indices: Iterable[int], size: tuple[int, int]
) -> dict[int, np.ndarray]:
    """Ask ``source`` for the masks of ``indices``; keep the non-empty ones.

    Returns
    -------
    dict
        Frame index -> bool ``(H, W)`` mask.

    Raises
    ------
    MotionlabError
        If no asked-for frame has a non-empty mask (nothing to anchor the object to).
    """
    indices = list(indices)
    anchors = {}
    for i in indices:
        mask = source(i, size)
        if mask is not None and mask.any():
            anchors[i] = np.asarray(mask, bool)
    if not anchors:
        raise MotionlabError(
            f"no anchor mask: none of frames {indices[:5]}{'...' if len(indices) > 5 else ''} "
            "has a non-empty object mask"
        )
    return anchors
