"""The flow estimator interface: :class:`FlowEstimator` and frame-pair validation.

The methods themselves (and their registry) live in :mod:`motionlab.flow.estimators`;
this module sits below them so that an estimator in its own module
(:mod:`motionlab.flow.raft`) subclasses :class:`FlowEstimator` without importing the
registry that lists it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError

MIN_FLOW_SIDE = 8  # pixels: the smallest frame side the estimators accept


def check_frame_pair(frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two frames for flow estimation; return them as ``(H, W, 3)`` uint8.

    Grey ``(H, W)`` frames are repeated over three channels.
    """
    out = []
    for name, frame in (("frame_a", frame_a), ("frame_b", frame_b)):
        frame = check_frame(frame, name=name, allow_gray=True)
        if min(frame.shape[:2]) < MIN_FLOW_SIDE:
            raise MotionlabError(f"{name} is {frame.shape[1]}x{frame.shape[0]}: too small for flow")
        out.append(frame)
    if out[0].shape != out[1].shape:
        raise MotionlabError(
            f"frames differ in size: {out[0].shape[1]}x{out[0].shape[0]} vs "
            f"{out[1].shape[1]}x{out[1].shape[0]}; resize one of them first"
        )
    return out[0], out[1]


class FlowEstimator(ABC):
    """Base class: validates frames, handles optional upsampling, delegates to ``_estimate``.

    Parameters
    ----------
    upsample : float
        Resize both frames by this factor before estimation and scale the flow back
        (``>= 1``). The original AFD code upsamples 320x240 video this way so that
        estimators tuned for larger images see enough pixels.
    """

    name: str = "?"

    def __init__(self, *, upsample: float = 1.0) -> None:
        if not upsample >= 1.0:
            raise MotionlabError(f"upsample must be >= 1 (a factor), got {upsample}")
        self.upsample = float(upsample)

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        """Forward flow from ``frame_a`` to ``frame_b``: ``float32 (H, W, 2)``, pixels."""
        return self.estimate_pairs([frame_a], [frame_b])[0]

    def estimate_pairs(
        self, frames_a: Sequence[np.ndarray], frames_b: Sequence[np.ndarray]
    ) -> list[np.ndarray]:
        """Forward flow of each pair ``(frames_a[i], frames_b[i])``.

        Estimators that gain from batching (RAFT) process the pairs together.
        """
        if len(frames_a) != len(frames_b):
            raise MotionlabError(f"{len(frames_a)} first frames but {len(frames_b)} second ones")
        pairs = [check_frame_pair(a, b) for a, b in zip(frames_a, frames_b, strict=True)]
        if self.upsample == 1.0:
            return self._estimate_batch([p[0] for p in pairs], [p[1] for p in pairs])
        h, w = pairs[0][0].shape[:2]
        big = (round(w * self.upsample), round(h * self.upsample))

        def up(x: np.ndarray) -> np.ndarray:
            return cv2.resize(x, big, interpolation=cv2.INTER_CUBIC)

        flows = self._estimate_batch([up(p[0]) for p in pairs], [up(p[1]) for p in pairs])
        out = []
        for flow in flows:
            small = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA)
            small[..., 0] *= w / big[0]
            small[..., 1] *= h / big[1]
            out.append(small.astype(np.float32))
        return out

    def _estimate_batch(
        self, frames_a: list[np.ndarray], frames_b: list[np.ndarray]
    ) -> list[np.ndarray]:
        return [self._estimate(a, b) for a, b in zip(frames_a, frames_b, strict=True)]

    @abstractmethod
    def _estimate(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        """Flow of one validated pair of equal-size RGB uint8 frames."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(upsample={self.upsample})"


def check_flow_size(source: Any, width: int, height: int) -> None:
    """Refuse frames too small for optical flow before any work, naming the input."""
    if min(width, height) < MIN_FLOW_SIDE:
        raise MotionlabError(
            f"{source}: frames are {width}x{height} pixels; optical flow needs at least "
            f"{MIN_FLOW_SIDE}x{MIN_FLOW_SIDE} (enlarge them with --resize)"
        )
