"""Soft attribute regions from landmarks: polygons and limbs drawn as masks, softened.

Pure geometry on arrays (no model), so it is testable without MediaPipe. Landmark
indices are those of MediaPipe's face mesh (468 + 10 iris points) and pose (33 points).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

# Face mesh (MediaPipe canonical face model) index sets.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109)  # fmt: skip
FOREHEAD = (162, 21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251, 389,  # top of the oval
            300, 293, 334, 296, 336, 107, 66, 105, 63, 70)  # upper edge of the brows  # fmt: skip
EYE_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246,
             46, 53, 52, 65, 55, 70, 63, 105, 66, 107)  # eye contour + brow  # fmt: skip
EYE_LEFT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466,
            276, 283, 282, 295, 285, 300, 293, 334, 296, 336)  # fmt: skip
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40,
        185)  # outer lip contour  # fmt: skip
CHEEK_RIGHT = (116, 117, 118, 119, 100, 126, 203, 206, 216, 212, 214, 192, 213, 147, 123)
CHEEK_LEFT = (345, 346, 347, 348, 329, 355, 423, 426, 436, 432, 434, 416, 433, 376, 352)

# Pose (BlazePose 33 landmarks).
SHOULDERS = (11, 12)
HIPS = (23, 24)
ARMS = ((11, 13), (13, 15), (12, 14), (14, 16))
HANDS_POSE = ((15, 17, 19, 21), (16, 18, 20, 22))  # wrist, pinky, index, thumb
LEGS = ((23, 25), (25, 27), (27, 29), (29, 31), (27, 31), (24, 26), (26, 28), (28, 30),
        (30, 32), (28, 32))  # fmt: skip
# Hand (21 landmarks) bones.
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10),
              (10, 11), (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17),
              (17, 18), (18, 19), (19, 20))  # fmt: skip
PALM = (0, 1, 5, 9, 13, 17)


def hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Filled convex hull of ``points`` ``(N, 2)`` (x, y pixels) as an ``(H, W)`` uint8 mask
    (1 inside). Points may lie outside the frame."""
    mask = np.zeros(shape, np.uint8)
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if len(pts) >= 3:
        hull = cv2.convexHull(np.rint(pts).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8)
    return mask


def limbs_mask(
    points: np.ndarray,
    segments: Iterable[Sequence[int]],
    shape: tuple[int, int],
    *,
    thickness: float,
    visible: np.ndarray | None = None,
) -> np.ndarray:
    """Thick line segments between landmark pairs as an ``(H, W)`` uint8 mask.

    ``segments`` are index pairs into ``points`` ``(N, 2)``; a segment is drawn when both
    ends are ``visible`` (default all). ``thickness`` in pixels.
    """
    mask = np.zeros(shape, np.uint8)
    t = max(1, round(thickness))
    pts = np.asarray(points, np.float64)
    big = 4 * max(shape)  # keep far-away points from overflowing OpenCV's int coordinates
    for a, b in segments:
        if visible is not None and not (visible[a] and visible[b]):
            continue
        pa = np.clip(np.rint(pts[a]), -big, big).astype(int)
        pb = np.clip(np.rint(pts[b]), -big, big).astype(int)
        cv2.line(mask, tuple(pa.tolist()), tuple(pb.tolist()), 1, thickness=t)
    return mask


def soften(mask: np.ndarray, margin: float) -> np.ndarray:
    """Soft map of a binary region: 1 inside and within ``margin`` pixels of it, then a
    smooth (smoothstep) fall-off to 0 at ``2 * margin``.

    Parameters
    ----------
    mask : (H, W) bool or uint8 ndarray
    margin : float
        Pixels; at least 0.5.

    Returns
    -------
    (H, W) float32 ndarray in [0, 1]; all 0 if the mask is empty.
    """
    m = np.asarray(mask) > 0
    out = np.zeros(m.shape, np.float32)
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    if not len(rows):
        return out
    margin = max(float(margin), 0.5)
    # Only pixels within 2 * margin of the region can be non-zero: compute the distance
    # on the region's bounding box grown by that much (the 3x3 chamfer distance of a pixel
    # to the nearest region pixel never leaves the box, so the values are identical to a
    # full-frame transform, at a fraction of the cost for small regions).
    pad = int(np.ceil(2 * margin)) + 1
    h, w = m.shape
    y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)
    x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)
    inv = np.ascontiguousarray(~m[y0:y1, x0:x1]).view(np.uint8)
    dist = cv2.distanceTransform(inv, cv2.DIST_L2, 3)
    x = np.clip((2 * margin - dist) / margin, 0.0, 1.0)
    out[y0:y1, x0:x1] = x * x * (3 - 2 * x)
    return out
