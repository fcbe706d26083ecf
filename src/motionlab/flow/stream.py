"""Optical flow of a whole video, streamed pair by pair in bounded memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.flow.estimators import DEFAULT_METHOD, FlowEstimator, get_estimator

Direction = Literal["forward", "backward", "both"]
DIRECTIONS: tuple[str, ...] = ("forward", "backward", "both")


@dataclass(frozen=True)
class FlowPair:
    """The flow of frame pair ``(index, index + 1)``.

    Attributes
    ----------
    index : int
        Index t of the first frame of the pair.
    forward : (H, W, 2) float32 ndarray or None
        Maps pixel p of frame t to p + forward[p] in frame t + 1.
    backward : (H, W, 2) float32 ndarray or None
        Maps pixel p of frame t + 1 to p + backward[p] in frame t (what backward
        warping of frame t onto frame t + 1 samples with).
    """

    index: int
    forward: np.ndarray | None
    backward: np.ndarray | None


def video_flow(
    frames: Iterable[np.ndarray],
    *,
    method: str = DEFAULT_METHOD,
    direction: Direction = "forward",
    estimator: FlowEstimator | None = None,
    batch_size: int = 1,
    **options: Any,
) -> Iterator[FlowPair]:
    """Yield the flow of every consecutive pair of ``frames``, holding ``batch_size + 1``
    frames at most.

    Parameters
    ----------
    frames : iterable of (H, W, 3) uint8 ndarray
        E.g. a :class:`motionlab.video.VideoReader`.
    method, **options
        Estimator to build (see :func:`motionlab.flow.get_estimator`), unless an
        ``estimator`` is passed.
    direction : {"forward", "backward", "both"}
        Which flows each :class:`FlowPair` carries.
    batch_size : int
        Pairs handed to the estimator at once (RAFT runs them as one batch).

    Raises
    ------
    MotionlabError
        If ``frames`` holds fewer than two frames.
    """
    if direction not in DIRECTIONS:
        raise MotionlabError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if batch_size < 1:
        raise MotionlabError(f"batch_size must be >= 1, got {batch_size}")
    est = estimator if estimator is not None else get_estimator(method, **options)
    want_fwd = direction in ("forward", "both")
    want_bwd = direction in ("backward", "both")

    def run(batch: list[np.ndarray], first_index: int) -> Iterator[FlowPair]:
        firsts, seconds = batch[:-1], batch[1:]
        a = (firsts if want_fwd else []) + (seconds if want_bwd else [])
        b = (seconds if want_fwd else []) + (firsts if want_bwd else [])
        flows = est.estimate_pairs(a, b)
        n = len(firsts)
        fwd = flows[:n] if want_fwd else [None] * n
        bwd = flows[-n:] if want_bwd else [None] * n
        for k in range(n):
            yield FlowPair(first_index + k, fwd[k], bwd[k])

    batch: list[np.ndarray] = []
    index = 0  # index of batch[0]
    count = 0
    for frame in frames:
        count += 1
        batch.append(frame)
        if len(batch) == batch_size + 1:
            yield from run(batch, index)
            index += batch_size
            batch = batch[-1:]
    if count < 2:
        raise MotionlabError(f"optical flow needs at least two frames, the video has {count}")
    if len(batch) > 1:
        yield from run(batch, index)
