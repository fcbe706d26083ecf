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

:func:`freeze_at_exit` does the same for the end of a command: when the interpreter exits,
its last full collection walks every object still alive (and the module teardown frees
them one by one); frozen, they are skipped. Measured on the same kind of run (``obfuscate
--templates face`` on a 176x144 video, pinned to one core): the shutdown after the last
``atexit`` hook took 0.24-0.34 s of CPU (of 3.3-3.6 s), 0.03 s with the objects frozen.
Only what Python does not promise anyway is lost: finalizers of objects in reference
cycles still alive at exit do not run (the ``__del__`` of an object alive at exit is not
guaranteed, Python's data model says). Every output of ours is written, closed and renamed
before the command returns, so none depends on them.
"""

from __future__ import annotations

import atexit
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


_exit_freeze_registered = False


def freeze_at_exit() -> None:
    """At interpreter exit, after the ``atexit`` hooks registered later than this call
    (they run first), freeze every object alive (:func:`gc.freeze`), so the shutdown's
    last collection skips them. Registered once per process; the ``motionlab`` command
    calls it (the module docstring has the measurement)."""
    global _exit_freeze_registered
    if not _exit_freeze_registered:
        _exit_freeze_registered = True
        atexit.register(gc.freeze)
