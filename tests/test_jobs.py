"""motionlab.jobs.run_jobs: one job wrapper, two backends (local processes, Ray)."""

from __future__ import annotations

import functools
import json
import math
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from motionlab import MotionlabError
from motionlab.jobs import Outcome, check_ray_address, is_loopback_address, run_job, run_jobs


def _record(path: Path, jobs: Sequence[object]) -> None:
    """A cleanup that appends the jobs it is given to a JSON-lines file (any process)."""
    with open(path, "a") as f:
        f.write(json.dumps(list(jobs)) + "\n")


def _outcomes(**kwargs: object) -> list[tuple[float, float | None, str | None]]:
    got = run_jobs(math.sqrt, [4.0, -1.0, 9.0, 2.25], **kwargs)
    return sorted((o.job, o.value, o.error) for o in got)


EXPECTED = [
    (-1.0, None, "ValueError: math domain error"),  # a failing job is reported, not raised
    (2.25, 1.5, None),
    (4.0, 2.0, None),
    (9.0, 3.0, None),
]


@pytest.mark.parametrize("workers", [1, 2])
def test_local_backend_runs_every_job_once(workers):
    assert _outcomes(workers=workers) == EXPECTED


def test_ray_backend_gives_the_same_outcomes():
    pytest.importorskip("ray", reason="the optional 'ray' extra is not installed")
    assert _outcomes(backend="ray", workers=2) == EXPECTED


def test_run_job_turns_exceptions_into_one_line():
    def bad(job: int) -> int:
        raise MotionlabError(f"video {job} is broken")

    assert run_job(bad, 3) == Outcome(3, None, "video 3 is broken")
    assert run_job(int, "x").error == "ValueError: invalid literal for int() with base 10: 'x'"
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C is not a failure of one job
        run_job(lambda job: (_ for _ in ()).throw(KeyboardInterrupt), 1)


def test_leaving_early_stops_the_pool_and_cleans_up_started_jobs(tmp_path):
    log = tmp_path / "cleanup.jsonl"
    outcomes = run_jobs(
        time.sleep,
        [0.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0],
        workers=2,
        cleanup=functools.partial(_record, log),
    )
    assert next(outcomes).job == 0.0
    time.sleep(0.5)  # the two workers are in their 30 s and 31 s jobs
    start = time.monotonic()
    outcomes.close()
    assert time.monotonic() - start < 3.0
    cleaned = [job for line in log.read_text().splitlines() for job in json.loads(line)]
    # the jobs that had started (in the worker on SIGTERM, and again by the parent), never
    # the finished one, never those still waiting. The pool also counts as started those
    # it had moved to its call queue for the workers: up to workers + EXTRA_QUEUED_CALLS
    # (CPython's concurrent.futures.process: 2 + 1) besides the two running, so 32-34
    # may be among them, depending on how far its feeder thread got before the close
    from concurrent.futures.process import EXTRA_QUEUED_CALLS

    queued = [32.0, 33.0, 34.0, 35.0, 36.0][: 2 + EXTRA_QUEUED_CALLS]
    assert {30.0, 31.0} <= set(cleaned) <= {30.0, 31.0, *queued}


def test_bad_arguments():
    with pytest.raises(MotionlabError, match="backend must be"):
        list(run_jobs(abs, [1], backend="dask"))
    with pytest.raises(MotionlabError, match="workers must be >= 1"):
        list(run_jobs(abs, [1], workers=0))
    with pytest.raises(MotionlabError, match="address is for a Ray cluster"):
        list(run_jobs(abs, [1], address="127.0.0.1:6379"))
    assert list(run_jobs(abs, [])) == []


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:6379", True),
        ("localhost:6379", True),
        ("[::1]:6379", True),
        ("10.0.0.5:6379", False),
        ("head.cluster:6379", False),
        ("auto", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback_address(address) is loopback


def test_check_ray_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(MotionlabError, match=rf"no Ray cluster at 127.0.0.1:{closed} \("):
        check_ray_address(f"127.0.0.1:{closed}")
    with pytest.raises(MotionlabError, match="HOST:PORT"):
        check_ray_address("head-node")
    with socket.socket() as s:  # something listening: accepted
        s.bind(("127.0.0.1", 0))
        s.listen()
        check_ray_address(f"127.0.0.1:{s.getsockname()[1]}")
    check_ray_address("auto")  # Ray finds it
