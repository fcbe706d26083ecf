"""Python's cyclic garbage collector held off while a command starts up.

Starting ``motionlab obfuscate`` imports numba, MediaPipe, OpenCV and PyAV and loads the
compiled noise kernels and the models: a few hundred thousand Python objects that live until
the process ends. The cyclic collector, run every 700 allocations, walks them again and
again (and every older generation now and then); measured on a 120-frame 176x144 video,
pinned to one core, that was 327 collections, about 0.1 s of the run's 2.2 s of CPU (33
collections, 6 ms, with the pause). :func:`paused_gc` turns
it off until the caller says start-up is over (``resume()``), then moves every object
alive into the permanent generation (:func:`gc.freeze`), so the collections of the frame
loop no longer walk them, and turns it back on.

Reference counting frees everything as before; only reference *cycles* that became garbage
during start-up wait (a few MB at most). Nothing computed depends on the collector, so the
outputs are the same. On leaving, the frozen objects are handed back to the collector
(:func:`gc.unfreeze`, unless something else had frozen objects before) and its former
state (enabled or not) is restored, so a longer-lived process (tests, notebooks) is left
as it was.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[Callable[[], None]]:
    """Pause the cyclic collector; yield ``resume``, to be called once start-up is over
    (later calls do nothing). Without a call, the collector is only re-enabled on leaving."""
    enabled = gc.isenabled()
    frozen_before = gc.get_freeze_count()
    resumed = False

    def resume() -> None:
        nonlocal resumed
        if resumed:
            return
        resumed = True
        gc.freeze()
        if enabled:
            gc.enable()

    gc.disable()
    try:
        yield resume
    finally:
        if resumed and frozen_before == 0:  # (objects frozen by others stay frozen)
            gc.unfreeze()
        if enabled:
            gc.enable()
