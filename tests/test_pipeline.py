"""Background producer/consumer helpers: order, errors, early stops, no stray threads."""

from __future__ import annotations

import threading

import pytest

from motionlab.pipeline import prefetch, write_in_background


def test_prefetch_keeps_order_and_reraises():
    assert list(prefetch(range(50), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise ValueError("bad frame")

    it = prefetch(broken())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad frame"):
        next(it)


def test_prefetch_stops_its_thread_when_the_consumer_stops():
    before = threading.active_count()
    for i in prefetch(iter(range(10_000)), depth=2):
        if i == 3:
            break
    assert threading.active_count() == before


def test_write_in_background_writes_everything_in_order():
    out: list[int] = []
    with write_in_background(out.append, depth=2) as put:
        for i in range(100):
            put(i)
    assert out == list(range(100))


def test_write_in_background_reports_a_failing_writer():
    def write(item: int) -> None:
        if item == 5:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), write_in_background(write) as put:
        for i in range(1000):
            put(i)


def test_write_in_background_stops_on_an_error_in_the_block():
    out: list[int] = []
    with pytest.raises(KeyboardInterrupt), write_in_background(out.append) as put:
        put(1)
        raise KeyboardInterrupt
    assert out in ([], [1])
