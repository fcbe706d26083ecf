"""Bottom-up baselines of Table 6.1 with the same tube selection as STVI.

* :func:`slico_per_frame`: SLICO superpixels (Achanta et al. 2012, the zero-parameter SLIC)
  in every frame on its own.
* :func:`slic_supervoxels`: 3D SLIC supervoxels over the whole video (full frames, Lab
  colour and position only: no object-centred volume, no motion).

Both come from scikit-image. Their segments are then selected like STVI's tubes
(:func:`motionlab.stvi.tubes.select_tubes`, overlap with the anchor masks > omega).
A per-frame superpixel lives in one frame only, so outside the anchor frames there is no
mask to judge it by: we judge it against the nearest anchor's mask carried to its frame by
the tracked box (a translation, :func:`carried_masks`). That is our choice; without it the
per-frame baseline would select nothing between anchors.

The number of segments is set so that the object gets about ``k`` of them, like STVI:
``k * frame area / mean box area`` (per frame for SLICO, per video for the supervoxels,
whose count also scales with the number of frames over the frames per supervoxel).
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.segmentation import slic

from motionlab.stvi.tracking import carried_masks
from motionlab.stvi.tubes import select_tubes


def _segments_for_object(frame_area: float, boxes: np.ndarray, k: int) -> int:
    box_area = float(np.mean((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
    return max(k, round(k * frame_area / max(box_area, 1.0)))


def slico_per_frame(frames: np.ndarray, boxes: np.ndarray, k: int = 15) -> np.ndarray:
    """SLICO superpixels per frame, ids unique over the video: ``(T, H, W)`` int32.

    OpenCV's ximgproc SLICO (the same algorithm as scikit-image's ``slic_zero``, ~20x
    faster here) on Lab frames, with a region size that gives the object about ``k``.
    """
    t_n, h, w = frames.shape[:3]
    n = _segments_for_object(h * w, boxes, k)
    region = max(4, round(np.sqrt(h * w / n)))
    out = np.empty((t_n, h, w), np.int32)
    offset = 0
    for t in range(t_n):
        lab = cv2.cvtColor(frames[t], cv2.COLOR_RGB2Lab)
        sp = cv2.ximgproc.createSuperpixelSLIC(lab, cv2.ximgproc.SLICO, region)
        sp.iterate(10)
        seg = sp.getLabels()
        out[t] = seg + offset
        offset += int(seg.max()) + 1
    return out


def slic_supervoxels(
    frames: np.ndarray, boxes: np.ndarray, k: int = 15, *, compactness: float = 10.0
) -> np.ndarray:
    """3D SLIC supervoxels of the whole ``(T, H, W, 3)`` RGB video, ``(T, H, W)`` int32:
    scikit-image's ``slic`` in Lab with its usual compactness, no connectivity enforcement
    (like STVI's tubes). The temporal grid step equals the spatial one."""
    t_n, h, w = frames.shape[:3]
    per_frame = _segments_for_object(h * w, boxes, k)
    step = np.sqrt(h * w / per_frame)  # spatial grid step of the object's share
    n = max(k, round(per_frame * t_n / step))
    return slic(
        frames,
        n_segments=n,
        compactness=compactness,
        channel_axis=-1,
        convert2lab=True,
        enforce_connectivity=False,
        start_label=0,
    ).astype(np.int32)


def select_segments(
    segments: np.ndarray,
    anchors: dict[int, np.ndarray],
    boxes: np.ndarray,
    omega: float,
    *,
    per_frame: bool,
) -> np.ndarray:
    """Tube selection of the baselines: :func:`select_tubes` against the anchor masks, or
    for per-frame segments against :func:`carried_masks`. Returns ``(T, H, W)`` int32 tube
    ids, 0 = not the object."""
    masks = carried_masks(anchors, boxes) if per_frame else anchors
    tubes, _ = select_tubes(segments, masks, omega)
    return tubes
