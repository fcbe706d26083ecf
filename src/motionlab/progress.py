"""Progress of long jobs that fits where they run.

One :class:`Progress` per job (frames of a video, batches of an epoch, ...), in one of
four modes:

``bar``
    a tqdm bar (count, rate, time left), redrawn in place: for a terminal.
``lines``
    one plain line every ``every`` seconds and one at the end, never a carriage return,
    so logs of CI, ``nohup``, Slurm or ``| tee`` stay readable::

        afd (advect): 120/480 frames (25%), 151.2 frames/s, ETA 0:00:02

``json``
    the same figures as one JSON object per line, for schedulers and dashboards::

        {"event": "progress", "task": "afd (advect)", "unit": "frame", "done": 120,
         "total": 480, "rate": 151.2, "elapsed_s": 0.79, "eta_s": 2.4}

    and ``"event": "done"`` at the end.
``off``
    nothing.

``auto`` (the default) is ``bar`` when the stream is a terminal and ``lines`` otherwise.
The command line sets the mode for the whole run with :func:`configure` (``-q``: off,
``--log-json``: json, ``--progress-every``: the interval); library functions that take
``progress=True`` follow it.

>>> import io
>>> out = io.StringIO()
>>> clock = iter([0.0, 0.5, 1.0, 1.5, 2.0, 2.0]).__next__
>>> with Progress(4, "demo", mode="lines", every=1.0, stream=out, clock=clock) as p:
...     for _ in range(4):
...         p.update()
>>> print(out.getvalue(), end="")
demo: 2/4 frames (50%), 2.0 frames/s, ETA 0:00:01
demo: 4/4 frames (100%), 2.0 frames/s, ETA 0:00:00
demo: done, 4 frames in 0:00:02, 2.0 frames/s
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

from motionlab.errors import MotionlabError

MODES = ("auto", "bar", "lines", "json", "off")
"""The progress modes (see the module docstring)."""

_SETTINGS: dict[str, Any] = {"mode": "auto", "every": 10.0}
T = TypeVar("T")


def configure(mode: str = "auto", every: float = 10.0) -> None:
    """Set the mode and the interval (seconds between lines in ``lines`` and ``json``
    mode) used by every :class:`Progress` made without its own."""
    if mode not in MODES:
        raise MotionlabError(f"unknown progress mode {mode!r}; expected one of {MODES}")
    if not every > 0:
        raise MotionlabError(f"the progress interval must be > 0 seconds, got {every}")
    _SETTINGS.update(mode=mode, every=float(every))


def settings() -> tuple[str, float]:
    """The mode and interval :func:`configure` set (``("auto", 10.0)`` by default)."""
    return _SETTINGS["mode"], _SETTINGS["every"]


def clock_time(seconds: float) -> str:
    """``H:MM:SS`` of a duration in seconds (rounded).

    >>> clock_time(3725.4)
    '1:02:05'
    """
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _terminal_width(stream: IO[str]) -> int:
    """Columns of the terminal behind ``stream`` (0 when unknown)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class Progress:
    """Progress of one job of ``total`` steps (``None``: unknown) named ``desc``.

    ``mode``/``every``: see the module docstring (``None``: what :func:`configure` set);
    ``enabled=False`` is ``mode="off"``. ``stream``: where it writes (standard error).
    ``clock``: seconds (monotonic), replaceable in tests. Use :meth:`update` per step and
    :meth:`close` at the end (or ``with``).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "frame",
        *,
        mode: str | None = None,
        every: float | None = None,
        enabled: bool = True,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        default_mode, default_every = settings()
        mode = "off" if not enabled else (mode or default_mode)
        if mode not in MODES:
            raise MotionlabError(f"unknown progress mode {mode!r}; expected one of {MODES}")
        self.stream = sys.stderr if stream is None else stream
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode = mode
        self.total = total
        self.desc = desc
        self.unit = unit
        self.every = default_every if every is None else every
        self.clock = clock
        self.done = 0
        self.note = ""
        self._start = clock() if mode in ("lines", "json") else 0.0
        self._last = self._start
        self._closed = False
        self._bar: Any = None
        if mode == "bar":
            from tqdm import tqdm

            # a terminal that reports no size (a fresh pty, `script`) gets no bar at all from
            # tqdm (0 rows hide it): draw it 80 x 24 there
            size: dict[str, Any] = {} if _terminal_width(self.stream) > 0 else {
                "ncols": 80, "nrows": 24}  # fmt: skip
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, **size)

    def figures(self, now: float | None = None) -> dict[str, Any]:
        """done, total, rate (steps/s), elapsed and time left (s; None while unknown) at
        ``now`` (default: the clock's time)."""
        elapsed = (self.clock() if now is None else now) - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = None
        if self.total is not None and rate > 0:
            eta = max(self.total - self.done, 0) / rate
        return {"done": self.done, "total": self.total, "rate": rate, "elapsed_s": elapsed,
                "eta_s": eta}  # fmt: skip

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps (and write a line when one is due)."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode in ("lines", "json"):
            now = self.clock()
            if now - self._last >= self.every:
                self._last = now
                self._write("progress", now)

    def set_total(self, total: int | None) -> None:
        """Change the number of steps (when it becomes known)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_note(self, text: str) -> None:
        """A short status shown with the figures (e.g. the running loss)."""
        self.note = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        """End the job: close the bar, or write the final line."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.mode in ("lines", "json"):
            self._write("done", self.clock())

    def _write(self, event: str, now: float) -> None:
        f = self.figures(now)
        units = f"{self.unit}s"
        if self.mode == "json":
            record = {"event": event, "task": self.desc, "unit": self.unit, **f}
            if self.note:
                record["note"] = self.note
            for key in ("rate", "elapsed_s", "eta_s"):
                if record[key] is not None:
                    record[key] = round(record[key], 3)
            line = json.dumps(record)
        elif event == "done":
            line = (f"{self.desc}: done, {f['done']} {units} in {clock_time(f['elapsed_s'])}, "
                    f"{f['rate']:.1f} {units}/s")  # fmt: skip
        else:
            of = "" if self.total is None else f"/{self.total}"
            pct = "" if not self.total else f" ({100 * f['done'] // self.total}%)"
            eta = "" if f["eta_s"] is None else f", ETA {clock_time(f['eta_s'])}"
            line = f"{self.desc}: {f['done']}{of} {units}{pct}, {f['rate']:.1f} {units}/s{eta}"
        if self.note and self.mode == "lines":
            line += f" ({self.note})"
        self.stream.write(line + "\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(
    items: Iterable[T],
    desc: str,
    *,
    total: int | None = None,
    unit: str = "step",
    enabled: bool = True,
    **kwargs: Any,
) -> Iterator[T]:
    """Yield ``items`` while showing their progress (``total`` defaults to ``len(items)``
    when it has one); the final line is written when the iteration ends."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, unit, enabled=enabled, **kwargs) as bar:
        for item in items:
            yield item
            bar.update()
