"""Run the rows of the bad-input table (``tests/test_bad_input.py``) in child processes.

Usage: ``python tests/badinput_runner.py TABLE.json RESULTS.json``. ``TABLE.json`` is a list
of rows ``{"id", "argv", "cwd", "stdout", "stderr", "timeout", "exec", "fsize", "user"}``;
``RESULTS.json`` gets ``{id: {"rc", "seconds", "hung"}}``.

Every row runs in its own process, in its own process group:

* ``exec`` rows run ``sys.executable -m motionlab ARGV`` (the real entry point);
* the others are forked from this process, which has imported motionlab, numpy, OpenCV,
  PyAV and torch once, and then call ``motionlab.cli.main(ARGV)`` exactly as
  ``python -m motionlab`` does (an exception escaping it prints its traceback and exits 1).
  Forking saves the 1-9 s of imports per row that would make the table too slow for the
  default test run on a busy two-core machine.

``fsize`` sets ``RLIMIT_FSIZE`` (bytes) with ``SIGXFSZ`` ignored, so a write past it raises
``EFBIG`` as on a full disk; ``user`` drops to that uid/gid (root's permission bits are not
enforced: this is how the unreadable-file and read-only-folder rows run as root). A row
still running after ``timeout`` seconds is killed with its process group and reported as
hung. At most ``MOTIONLAB_BADINPUT_JOBS`` (default 3) rows run at once.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

PREIMPORT = (
    "numpy",
    "cv2",
    "av",
    "scipy.ndimage",
    "skimage",
    "torch",
    "torchvision",
    "motionlab.cli",
    "motionlab.video",
    "motionlab.atomic",
    "motionlab.flow",
    "motionlab.afd",
    "motionlab.afd.dataset",
    "motionlab.afd.noise",
    "motionlab.pipeline",
    "motionlab.stvi.tubes",
    "motionlab.stvi.evaluate",
    "motionlab.privacy.templates",
    "motionlab.privacy.metrics",
    "motionlab.privacy.baselines",
    "motionlab.recognition.train",
    "motionlab.recognition.zoo",
    "motionlab.study.config",
    "motionlab.study.analysis",
    "motionlab.study.demo",
    "motionlab.study.export",
    "motionlab.study.storage",
    "motionlab.study.server",
    "motionlab.study.simulate",
    "fastapi.testclient",
    "matplotlib.pyplot",
    "motionlab.privacy.obfuscate",
    "motionlab.privacy.dino",
    "motionlab.recognition.synth_actions",
    "motionlab.recognition.data",
    "motionlab.stvi.io",
    "motionlab.stvi.pictures",
)


def _preimport() -> None:
    for name in PREIMPORT:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    from motionlab.cli import build_parser

    build_parser()


def _child(row: dict[str, Any]) -> None:
    """The forked child: never returns."""
    rc = 1
    try:
        os.setpgid(0, 0)
        os.chdir(row["cwd"])
        out = os.open(row["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(row["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        if row.get("fsize"):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (row["fsize"], row["fsize"]))
        if row.get("user") is not None:
            os.setgroups([])
            os.setgid(row["user"])
            os.setuid(row["user"])
        argv: list[str] = row["argv"]
        if row.get("exec"):
            args = [sys.executable, "-m", "motionlab", *argv]
            os.execv(sys.executable, [os.fsencode(a) for a in args])
        from motionlab.cli import main

        sys.argv = ["motionlab", *argv]
        try:
            rc = main(argv)
        except SystemExit as exc:  # as the interpreter does at exit
            if exc.code is None:
                rc = 0
            elif isinstance(exc.code, int):
                rc = exc.code
            else:
                print(exc.code, file=sys.stderr)
                rc = 1
        except BaseException:  # as an uncaught exception under `python -m motionlab`
            traceback.print_exc()
            rc = 1
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(rc & 0xFF)


def run(rows: list[dict[str, Any]], jobs: int) -> dict[str, dict[str, Any]]:
    """Run ``rows`` with at most ``jobs`` at a time; their results by id."""
    pending = list(rows)
    running: dict[int, tuple[dict[str, Any], float]] = {}
    results: dict[str, dict[str, Any]] = {}
    while pending or running:
        while pending and len(running) < jobs:
            row = pending.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(row)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)
            running[pid] = (row, time.monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid in running:
            row, t0 = running.pop(pid)
            with contextlib.suppress(OSError):  # workers it left behind
                os.killpg(pid, signal.SIGKILL)
            results[row["id"]] = {
                "rc": os.waitstatus_to_exitcode(status),
                "seconds": round(time.monotonic() - t0, 2),
                "hung": False,
            }
            continue
        if pid:  # a grandchild re-parented to us: ignore
            continue
        now = time.monotonic()
        for pid, (row, t0) in list(running.items()):
            if now - t0 > row["timeout"]:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                running.pop(pid)
                results[row["id"]] = {"rc": None, "seconds": round(now - t0, 2), "hung": True}
        time.sleep(0.02)
    return results


def main() -> None:
    table, out = sys.argv[1], sys.argv[2]
    with open(table) as f:
        rows = json.load(f)
    _preimport()
    jobs = int(os.environ.get("MOTIONLAB_BADINPUT_JOBS", "3"))
    results = run(rows, jobs)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
