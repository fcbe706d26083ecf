"""Lookahead: frames go to the matcher as they are read, in order, a bounded number ahead."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from motionlab.privacy.lookahead import Lookahead


class Recorder:
    """A stand-in for ``matcher.submit``: records the frames (their first pixel) in the
    order submitted; its futures are settled by the test."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.futures: list[Future[np.ndarray]] = []

    def __call__(self, frame: np.ndarray) -> Future[np.ndarray]:
        self.seen.append(int(frame[0, 0, 0]))
        future: Future[np.ndarray] = Future()
        self.futures.append(future)
        return future


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((2, 3, 3), k, np.uint8) for k in range(n)]


def test_submits_on_reading_up_to_the_limit_then_as_frames_are_done() -> None:
    rec = Recorder()
    look = Lookahead(rec, 3)
    read = look.feed(_frames(6))
    for _ in range(5):  # the reader runs ahead: 5 frames read before any is finished
        next(read)
    assert rec.seen == [0, 1, 2]  # submitted while read, then the limit
    first = look.next()
    assert first is rec.futures[0]
    look.done()  # frame 0 finished: frame 3 goes
    assert rec.seen == [0, 1, 2, 3]
    for _ in range(4):
        look.next()
        look.done()
    assert rec.seen == [0, 1, 2, 3, 4]  # frame 5 not read yet
    next(read)
    assert rec.seen == [0, 1, 2, 3, 4, 5] and look.most_open == 3


def test_a_frame_held_back_by_the_limit_goes_when_one_is_done() -> None:
    rec = Recorder()
    look = Lookahead(rec, 1)
    read = look.feed(_frames(3))
    next(read), next(read)
    assert rec.seen == [0]
    assert look.next() is rec.futures[0]
    look.done()
    assert look.next() is rec.futures[1] and rec.seen == [0, 1]


def test_fit_lowers_the_limit_from_the_first_frame() -> None:
    rec = Recorder()
    sizes: list[tuple[int, ...]] = []
    look = Lookahead(rec, 8, fit=lambda f: sizes.append(f.shape) or 2)  # type: ignore[func-returns-value]
    read = look.feed(_frames(5))
    for _ in range(5):
        next(read)
    assert look.limit == 2 and rec.seen == [0, 1] and sizes == [(2, 3, 3)]  # asked once


def test_order_kept_when_two_threads_submit() -> None:
    """The reader (another thread) and the caller both submit; the order is the reading
    order and no frame goes twice."""
    rec = Recorder()
    look = Lookahead(rec, 2)
    frames = _frames(200)
    reader = threading.Thread(target=lambda: list(look.feed(frames)))
    reader.start()
    taken = 0
    while taken < 200:
        try:
            look.next()
        except RuntimeError:  # not read yet
            continue
        look.done()
        taken += 1
    reader.join()
    assert rec.seen == list(range(200)) and look.most_open <= 2


def test_close_cancels_what_has_not_started_and_submits_nothing_more() -> None:
    release = threading.Event()
    seen: list[int] = []
    with ThreadPoolExecutor(1) as pool:

        def submit(frame: np.ndarray) -> Future[np.ndarray]:
            seen.append(int(frame[0, 0, 0]))
            return pool.submit(lambda: (release.wait(), frame)[1])

        look = Lookahead(submit, 4)
        read = look.feed(_frames(6))
        first = [next(read) for _ in range(3)]
        futures = list(look._submitted)
        threading.Timer(0.2, release.set).start()  # frame 0 runs until then
        look.close()  # returns once frame 0 is done and 1, 2 are cancelled
        assert futures[0].result() is first[0]
        assert futures[1].cancelled() and futures[2].cancelled()
        next(read), next(read)  # within the limit, but closed
        assert seen == [0, 1, 2]  # nothing submitted after close
    with pytest.raises(ValueError, match="limit"):
        Lookahead(submit, 0)
