"""Run a producer (decoding, flow estimation) in a background thread while the caller
consumes (noise, encoding): both cores busy, bounded memory."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], *, depth: int = 4) -> Iterator[T]:
    """Yield ``items``, produced ``depth`` ahead in a background thread.

    Exceptions of the producer are re-raised in the consumer at the point they occurred;
    when the consumer stops early (break, exception, close), the producer is told to stop
    and is joined, so no thread outlives the loop. Useful only when the producer releases
    the GIL (OpenCV, PyAV, torch and numba kernels do).
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(exc)

    thread = threading.Thread(target=run, name="motionlab-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def write_in_background(
    write: Callable[[T], object], *, depth: int = 8
) -> Iterator[Callable[[T], None]]:
    """Run ``write(item)`` for every item put, in a background thread (e.g. encoding while
    the next frame is computed). Yields ``put``; leaving the block waits for the queue to
    drain. An exception of ``write`` is re-raised by the next ``put`` or at the end; an
    exception in the block stops the writer without writing the rest."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def run() -> None:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if failure:
                continue  # drain after a failure
            try:
                write(item)  # type: ignore[arg-type]
            except BaseException as exc:
                failure.append(exc)

    thread = threading.Thread(target=run, name="motionlab-writer", daemon=True)
    thread.start()

    def put(item: T) -> None:
        if failure:
            raise failure[0]
        q.put(item)

    try:
        yield put
    except BaseException:
        failure.append(RuntimeError("stopped"))
        q.put(_DONE)
        thread.join()
        raise
    q.put(_DONE)
    thread.join()
    if failure:
        raise failure[0]
