"""Anchor masks: the top-down part of STVI (thesis Sec. 6.3, step 1).

The thesis took an instance mask of the object from Mask R-CNN in the first frame and every
n-th frame after it. Anchors come from a *mask source*: anything that, given a frame index
and the frame size, returns a boolean ``(H, W)`` mask or ``None`` when it has none for that
frame. :class:`FolderMasks` reads a folder of mask images named by frame index (DAVIS
annotation PNGs are one); :mod:`motionlab.stvi.detect` finds them with Mask R-CNN.

What STVI accepts (:func:`check_anchors`): masks of exactly the frame size, a non-empty
mask in the first frame (the thesis starts the object's box there: "Mask R-CNN is used in
the first frame to detect objects of interest, and provides us with an initial ROI"), no
empty mask among the anchors, and a clip of at least two frames. Anything else raises
:class:`STVIInputError`, a :class:`MotionlabError` (one line on the command line) and a
:class:`ValueError` (for Python callers).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from motionlab.errors import MotionlabError
from motionlab.video import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

DEFAULT_EVERY = 20
"""Anchor spacing n of the thesis, in frames."""


class STVIInputError(MotionlabError, ValueError):
    """Input STVI cannot run on: bad anchor masks or a clip too short. The message says
    what is wrong and how to fix it."""


class MaskSource(Protocol):
    """Gives the object's mask in frame ``index`` or ``None`` when it has none."""

    def __call__(self, index: int, size: tuple[int, int]) -> np.ndarray | None:
        """``size`` is the frame's ``(width, height)``; return a bool ``(H, W)`` mask."""
        ...


class FolderMasks:
    """Masks from image files whose name's last number is the frame index.

    ``00020.png`` is the mask of frame 20 (0-based, like DAVIS). Any non-zero pixel is the
    object. A mask must have the frame's size: one of another size raises
    :class:`STVIInputError` naming the file (a mask drawn on other frames does not say where
    the object is in these; resize the masks or the video first).

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
            raise STVIInputError(
                f"{path}: mask is {img.shape[1]}x{img.shape[0]}, the frames are "
                f"{size[0]}x{size[1]}; give masks of the frame size"
            )
        return img > 0


def anchor_indices(n_frames: int, every: int = DEFAULT_EVERY) -> list[int]:
    """Frames 0, n, 2n, ... below ``n_frames``: where anchors are asked for."""
    if every < 1:
        raise MotionlabError(f"anchor spacing must be >= 1 frame, got {every}")
    return list(range(0, n_frames, every))


def load_anchors(
    source: MaskSource, indices: Iterable[int], size: tuple[int, int]
) -> dict[int, np.ndarray]:
    """Ask ``source`` for the masks of ``indices`` (the first one is the clip's first
    frame); keep the non-empty ones.

    The first asked-for frame must have a non-empty mask (the object's initial box, thesis
    Sec. 6.3). A later frame without a mask, or with an empty one (the object hidden or out
    of view there), is skipped with a warning: tracking then carries the box on to the next
    anchor.

    Returns
    -------
    dict
        Frame index -> bool ``(H, W)`` mask, the first asked-for frame included.

    Raises
    ------
    STVIInputError
        If the first frame has no mask or an empty one, or a mask is not ``size``.
    """
    indices = list(indices)
    if not indices:
        raise STVIInputError("no anchor frames asked for (an empty clip?)")
    anchors = {}
    skipped = []
    for i in indices:
        mask = source(i, size)
        if mask is not None and np.shape(mask) != (size[1], size[0]):
            raise STVIInputError(
                f"anchor mask of frame {i} has shape {np.shape(mask)}, the frames are "
                f"{size[0]}x{size[1]}; give masks of the frame size"
            )
        if mask is not None and np.asarray(mask).any():
            anchors[i] = np.asarray(mask, bool)
        elif i == indices[0]:
            what = "no object mask" if mask is None else "an empty object mask"
            raise STVIInputError(
                f"no anchor in the first frame (frame {i}): it has {what}; STVI starts "
                "from the object's mask in the first frame (thesis Sec. 6.3): give a "
                "non-empty mask for it (or start the clip where the object is visible)"
            )
        else:
            skipped.append(i)
    if skipped:
        log.warning("no object mask in anchor frames %s: skipped", skipped)
    return anchors


def check_anchors(anchors: Mapping[int, np.ndarray], n_frames: int, size: tuple[int, int]) -> None:
    """Refuse anchors STVI cannot use, with a message that says how to fix them.

    Parameters
    ----------
    anchors : mapping
        Frame index -> bool ``(H, W)`` object mask.
    n_frames : int
        Frames of the clip; at least two (STVI needs motion).
    size : (int, int)
        The frames' ``(width, height)``.

    Raises
    ------
    STVIInputError
        Fewer than two frames; no anchor; an anchor outside ``0..n_frames - 1``; a mask of
        another size than the frames; an empty mask; no mask for frame 0.
    """
    w, h = size
    if n_frames < 2:
        raise STVIInputError(f"STVI needs at least two frames, got {n_frames}: give a longer clip")
    if not anchors:
        raise STVIInputError("STVI needs at least one anchor mask (the first frame's)")
    for i in sorted(anchors):
        m = np.asarray(anchors[i])
        if not 0 <= i < n_frames:
            raise STVIInputError(f"anchor frame {i} outside the clip's 0..{n_frames - 1}")
        if m.ndim != 2 or m.shape != (h, w):
            shown = f"{m.shape[1]}x{m.shape[0]}" if m.ndim == 2 else f"of shape {m.shape}"
            raise STVIInputError(
                f"anchor mask of frame {i} is {shown}, the frames are {w}x{h}; give masks "
                "of the frame size"
            )
        if not m.any():
            raise STVIInputError(
                f"anchor mask of frame {i} is empty; leave that frame out of the anchors "
                "(tracking carries the box past it)"
            )
    if 0 not in anchors:
        raise STVIInputError(
            f"no anchor in the first frame (anchors at {sorted(anchors)[:5]}): STVI starts "
            "from the object's mask in frame 0 (thesis Sec. 6.3); give a mask for frame 0"
        )
