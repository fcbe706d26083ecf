"""Frames handed to a matcher as soon as they are read, a bounded number ahead.

:func:`motionlab.privacy.obfuscate.obfuscate_steps` needs, for frame t, the matcher's maps
and the noise frame. The noise of the first frame waits for its compiled kernels (about
0.3-0.8 s of start-up, :func:`~motionlab.privacy.obfuscate.preload`), which hold the GIL,
while the matcher's models run outside it: submitting each frame to the matcher when the
noise side *reads* it (:meth:`Lookahead.feed`), not when its noise frame is done, lets the
matcher work through the first frames during that time, and later keeps it busy while the
noise and blend of earlier frames are made.

At most ``limit`` frames are submitted and not yet finished by the caller (memory stays
bounded); a frame read beyond that waits in order and is submitted when the caller
finishes one (:meth:`Lookahead.done`). All submissions happen under one lock, in reading
order, so the matcher still sees every frame once and in order, whichever thread reads
them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, wait

import numpy as np


class Lookahead:
    """Submit frames to ``submit`` (``frame -> Future`` of its maps) as they are read, at
    most ``limit`` (>= 1) submitted and not yet :meth:`done`.

    ``fit``, if given, maps the first frame read to the limit to use from then on (no
    larger than ``limit``; e.g. fewer frames in flight for large frames)."""

    def __init__(
        self,
        submit: Callable[[np.ndarray], Future[np.ndarray]],
        limit: int,
        fit: Callable[[np.ndarray], int] | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._submit, self.limit, self._fit = submit, limit, fit
        self._lock = threading.Lock()
        self._read: deque[np.ndarray] = deque()  # read, not yet submitted
        self._submitted: deque[Future[np.ndarray]] = deque()  # not yet taken by next()
        self._open = 0  # submitted and not yet done
        self._closed = False
        self.most_open = 0  # the largest number of frames in flight at once (for tests)

    def feed(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield ``frames`` unchanged, submitting each (within the limit) as it is read."""
        for frame in frames:
            with self._lock:
                if self._fit is not None:
                    self.limit = max(1, min(self.limit, self._fit(frame)))
                    self._fit = None
                self._read.append(frame)
                self._pump()
            yield frame

    def next(self) -> Future[np.ndarray]:
        """The future maps of the next frame in reading order (a frame already read)."""
        with self._lock:  # reading and done() have submitted all the limit allows
            if not self._submitted:
                raise RuntimeError("no frame read whose maps are not taken")
            return self._submitted.popleft()

    def done(self) -> None:
        """The caller finished a frame: one more may be submitted."""
        with self._lock:
            self._open -= 1
            self._pump()

    def close(self) -> None:
        """Submit nothing more; cancel what has not started and wait for the rest."""
        with self._lock:
            self._closed = True
            self._read.clear()
            left = list(self._submitted)
            self._submitted.clear()
        for future in left:
            future.cancel()
        wait(left)

    def _pump(self) -> None:
        """Submit read frames in order while fewer than ``limit`` are open (lock held)."""
        while self._read and self._open < self.limit and not self._closed:
            self._submitted.append(self._submit(self._read.popleft()))
            self._open += 1
            self.most_open = max(self.most_open, self._open)
