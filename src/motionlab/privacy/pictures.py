"""Pictures for people: saliency overlays and side-by-side panels."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from motionlab.checks import check_frame


def saliency_to_gray(saliency: np.ndarray) -> np.ndarray:
    """An ``(H, W)`` map in [0, 1] as an ``(H, W, 3)`` uint8 grey image (white = 1)."""
    g = np.clip(np.rint(np.asarray(saliency, np.float32) * 255), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def overlay(
    frame: np.ndarray,
    saliency: np.ndarray,
    *,
    colour: tuple[int, int, int] = (255, 0, 0),
    alpha: float = 0.6,
) -> np.ndarray:
    """``frame`` tinted with ``colour`` in proportion to ``saliency`` (``(H, W)`` in [0, 1])."""
    frame = check_frame(frame)
    a = alpha * np.clip(np.asarray(saliency, np.float32), 0, 1)[..., None]
    out = frame.astype(np.float32) * (1 - a) + np.asarray(colour, np.float32) * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``image`` with ``text`` written in its top-left corner."""
    out = image.copy()
    scale = max(0.35, image.shape[0] / 500)
    thick = max(1, round(scale * 2))
    org = (4, int(16 * scale / 0.5))
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0), thick, cv2.LINE_AA)
    return out


def mark_point(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """A copy of ``image`` with a cross at pixel (x, y)."""
    out = image.copy()
    size = max(4, image.shape[0] // 30)
    cv2.drawMarker(out, (round(x), round(y)), (0, 255, 0), cv2.MARKER_CROSS, size, 2)
    return out


def grid(images: Sequence[np.ndarray], *, columns: int) -> np.ndarray:
    """Equal-size ``(H, W, 3)`` images tiled row by row (missing tiles are white)."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    out = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    return out
