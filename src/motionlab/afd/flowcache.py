"""Forward flow stored beside AFD videos (``afd-dataset --save-flow``) and read back.

``<video stem>.flow.mkv``: u and v quantised to 8 bits over +-:data:`FLOW_BOUND` px
(TSN's bound; step 0.157 px) in the red and green channels of a lossless FFV1 video, one
frame per pair of the source. :class:`motionlab.afd.AFDSource` and the recognition
datasets read it instead of estimating the flow again.

>>> import numpy as np
>>> flow = np.array([[[0.5, -3.2], [25.0, 0.0]]], dtype=np.float32)
>>> dequantize_flow(quantize_flow(flow)).astype(np.float64).round(2).tolist()
[[[0.55, -3.22], [20.0, 0.08]]]
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from motionlab.video import VideoReader

FLOW_BOUND = 20.0
"""Flow saved with ``save_flow`` is clipped to +-FLOW_BOUND px and quantised to 8 bits."""


def quantize_flow(flow: np.ndarray) -> np.ndarray:
    """(H, W, 2) float flow -> (H, W, 3) uint8: R = u, G = v over +-FLOW_BOUND px, B = 0."""
    q = np.clip(np.rint((flow + FLOW_BOUND) * (255.0 / (2 * FLOW_BOUND))), 0, 255)
    out = np.zeros((*flow.shape[:2], 3), np.uint8)
    out[..., :2] = q.astype(np.uint8)
    return out


def dequantize_flow(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_flow` (to within half a step, 0.078 px, inside the bound)."""
    return image[..., :2].astype(np.float32) * (2 * FLOW_BOUND / 255.0) - FLOW_BOUND


def read_flow_video(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Yield the ``(H, W, 2)`` float32 forward flows stored by ``save_flow``."""
    with VideoReader(path) as reader:
        for image in reader:
            yield dequantize_flow(image)
