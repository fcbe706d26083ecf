"""Run many independent jobs on this machine's cores or on a Ray cluster, with one code path.

:func:`run_jobs` takes a job function and a list of jobs (one video each, for
``afd-dataset``) and yields one :class:`Outcome` per job as jobs finish. Both backends run the
same wrapper, :func:`run_job`, around the job function, so a job fails the same way on both
(an exception becomes the outcome's ``error``; the other jobs go on), and the caller's
progress, failure list and resume logic see the same stream of outcomes:

* ``backend="local"``: ``workers`` processes on this machine (``spawn``ed; one job in this
  process when ``workers == 1``). Each worker ignores Ctrl-C (the parent stops the pool),
  dies with its parent, and on SIGTERM calls ``cleanup([job])`` for the job it was running.
* ``backend="ray"``: one Ray task per job, ``workers`` tasks in flight (default: the cluster's
  CPUs), on a cluster at ``address`` (``ray start`` on each node; ``host:port`` of the head)
  or, without an address, on a Ray instance started here and kept on 127.0.0.1. Job inputs
  and outputs must be on storage every node sees at the same path.

Leaving the generator early (Ctrl-C, an error, ``close()``) stops the jobs in flight at once
(local: SIGTERM, SIGKILL after 1 s; Ray: the driver disconnects, which ends its tasks) and
calls ``cleanup`` with the jobs that had been started and had not finished, so that nothing
half-made is left. A worker that
dies (killed, out of memory) stops the whole run with a :class:`MotionlabError`: on the
local pool it is not known which job it was running. (Ray first retries such a task, as it
does by default, up to 3 times.)
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from motionlab.errors import MotionlabError

J = TypeVar("J")
R = TypeVar("R")

BACKENDS = ("local", "ray")
WORKER_DIED = (
    "a worker process died (killed, or out of memory?); the finished videos are kept, "
    "run again to make the rest"
)


@dataclass(frozen=True)
class Outcome(Generic[J, R]):
    """What one job gave: ``value`` (the job function's result) or ``error`` (one line)."""

    job: J
    value: R | None
    error: str | None


_current: tuple[Any, Callable[[Sequence[Any]], None] | None] | None = None
"""The job this process is running and its cleanup (for the SIGTERM handler)."""


def run_job(
    fn: Callable[[J], R], job: J, cleanup: Callable[[Sequence[J]], None] | None = None
) -> Outcome[J, R]:
    """Run ``fn(job)``; an exception becomes ``Outcome.error`` (``MotionlabError``: its
    message; others: ``"TypeName: message"``). The one wrapper both backends run."""
    global _current
    _current = (job, cleanup)
    try:
        return Outcome(job, fn(job), None)
    except MotionlabError as exc:
        return Outcome(job, None, str(exc))
    except Exception as exc:  # one job's failure never stops the others
        return Outcome(job, None, f"{type(exc).__name__}: {exc}")
    finally:
        _current = None


def run_jobs(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    setup: Callable[[], None] | None = None,
    cleanup: Callable[[Sequence[J]], None] | None = None,
) -> Generator[Outcome[J, R], None, None]:
    """Run ``fn`` on every job; yield an :class:`Outcome` per job, in order of completion.

    Parameters
    ----------
    fn : callable
        ``fn(job) -> result``; a module-level function (or a ``functools.partial`` of one):
        it is pickled to the workers.
    jobs : sequence
        Picklable job descriptions.
    backend : {"local", "ray"}
        Processes on this machine, or Ray tasks.
    workers : int, optional
        Local processes (default 1: the jobs run in this process), or Ray tasks in flight
        (default: the cluster's CPUs).
    address : str, optional
        Ray only: the cluster's address (``host:port`` of the head node, or ``auto``);
        default: start a Ray instance here, on 127.0.0.1.
    setup : callable, optional
        Run once in each worker process before its first job (e.g. limit threads).
    cleanup : callable, optional
        ``cleanup(jobs)`` removes what unfinished jobs left behind; called for the jobs in
        flight when the run is stopped early (in the worker on SIGTERM, and here).

    Raises
    ------
    MotionlabError
        Unknown backend, ``workers < 1``, an address for the local backend, Ray missing, or
        a worker process died.
    """
    if backend not in BACKENDS:
        raise MotionlabError(f"backend must be 'local' or 'ray', got {backend!r}")
    if workers is not None and workers < 1:
        raise MotionlabError(f"workers must be >= 1, got {workers}")
    if address is not None and backend != "ray":
        raise MotionlabError("an address is for a Ray cluster: use the ray backend")
    if not jobs:
        return
    if backend == "ray":
        yield from _run_ray(fn, jobs, workers, address, setup, cleanup)
    elif (workers or 1) == 1:
        for job in jobs:
            yield run_job(fn, job, cleanup)
    else:
        yield from _run_pool(fn, jobs, workers or 1, setup, cleanup)


# --------------------------------------------------------------------------------------
# local processes


def _worker_init(
    parent: int, setup: Callable[[], None] | None, cleanup: Callable[[Sequence[Any]], None] | None
) -> None:
    """Set up a worker process of the local pool.

    Ctrl-C is the parent's business (it stops the pool): SIGINT is ignored here. SIGTERM
    (from the parent, or on its death) runs ``cleanup`` on the job being run and exits at
    once. The worker dies with its parent: PR_SET_PDEATHSIG on Linux, a thread watching the
    parent elsewhere."""
    if setup is not None:
        setup()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminated)
    if hasattr(signal, "pthread_sigmask"):  # the parent blocks SIGINT while it spawns us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if not _die_with_parent() or os.getppid() != parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _die_with_parent() -> bool:
    """Ask Linux to send SIGTERM to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    """Terminate this process once its parent is gone (it is then re-parented)."""
    while os.getppid() == parent:
        time.sleep(0.25)
    os.kill(os.getpid(), signal.SIGTERM)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM in a worker: clean up after the current job, exit now."""
    current = _current
    if current is not None and current[1] is not None:
        current[1]([current[0]])
    os._exit(128 + signum)


def _run_pool(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    workers: int,
    setup: Callable[[], None] | None,
    cleanup: Callable[[Sequence[J]], None] | None,
) -> Generator[Outcome[J, R], None, None]:
    """The jobs on a pool of ``workers`` processes, outcomes as they finish."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no forked OpenCV/numba thread pools
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(), setup, cleanup)
    )
    finished = False
    futures: dict[Any, J] = {}
    try:
        # Workers are spawned by submit(): block SIGINT meanwhile so that they start with
        # it blocked (until they ignore it); a Ctrl-C now is delivered right after.
        blocked = hasattr(signal, "pthread_sigmask")
        if blocked:
            old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for job in jobs:
                futures[pool.submit(run_job, fn, job, cleanup)] = job
        finally:
            if blocked:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise MotionlabError(WORKER_DIED) from None
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop_pool(pool, futures, cleanup)


def _stop_pool(
    pool: ProcessPoolExecutor,
    futures: dict[Any, J],
    cleanup: Callable[[Sequence[J]], None] | None,
) -> None:
    """Stop a pool now: cancel what has not started, SIGTERM the workers (SIGKILL after
    1 s), wait for them, and clean up after the jobs that had started."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
    for future in futures:  # now (shutdown's cancel_futures cancels later, in a thread)
        future.cancel()
    pool.shutdown(wait=False, cancel_futures=True)
    # not cancelled and not succeeded: running, or failed with the pool (a dead worker)
    started = [
        job
        for f, job in futures.items()
        if not f.cancelled() and (not f.done() or f.exception() is not None)
    ]
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + 1.0
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    if cleanup is not None:
        cleanup(started)


# --------------------------------------------------------------------------------------
# Ray


def ray_safe_environment() -> dict[str, str]:
    """Environment that keeps a Ray instance on this machine off the network (set before
    ``import ray``, and for ``ray start``): no usage stats, no cloud metadata probes (they
    go to a closed port through a proxy), no authentication tokens."""
    return {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "disabled",
        "http_proxy": "http://127.0.0.1:9",
        "no_proxy": "127.0.0.1,localhost",
    }


def is_loopback_address(address: str) -> bool:
    """True for ``127.x.y.z:port``, ``localhost:port`` or ``[::1]:port`` (a cluster on
    this machine only)."""
    host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_ray_address(address: str, *, timeout: float = 5.0) -> None:
    """Fail at once, with one line, if nothing accepts connections at a Ray cluster's
    ``host:port`` (``ray.init`` would retry for minutes); ``auto`` is not checked.

    Raises
    ------
    MotionlabError
        Not ``host:port``, or no connection within ``timeout`` seconds.
    """
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise MotionlabError(
            f"a Ray cluster address is HOST:PORT (e.g. 10.0.0.1:6379), got {address!r}"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise MotionlabError(
            f"no Ray cluster at {address} ({reason}); start one with `ray start --head` "
            "or check the address"
        ) from None


_ray_setup_done = False


def _ray_task(
    fn: Callable[[J], R],
    job: J,
    setup: Callable[[], None] | None,
    cleanup: Callable[[Sequence[J]], None] | None,
) -> Outcome[J, R]:
    """One job in a Ray worker: ``setup`` once per worker process, then :func:`run_job`."""
    global _ray_setup_done
    if setup is not None and not _ray_setup_done:
        setup()
        _ray_setup_done = True
    return run_job(fn, job, cleanup)


def _connect_ray(workers: int | None, address: str | None) -> tuple[Any, bool]:
    """Import Ray and connect (or start a local instance); return (ray, started here)."""
    local = address is None or is_loopback_address(address)
    if local:
        os.environ.update(ray_safe_environment())
    try:
        import ray
    except ImportError as exc:
        raise MotionlabError("the ray backend needs Ray: pip install 'motionlab[ray]'") from exc
    if ray.is_initialized():
        return ray, False
    import logging

    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if local:
        options["_node_ip_address"] = "127.0.0.1"
    if address is None:
        options.update(
            num_cpus=workers or os.cpu_count() or 1,
            include_dashboard=False,
            object_store_memory=200 * 1024**2,
        )
    if address is not None:
        check_ray_address(address)
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise MotionlabError(f"no Ray cluster at {address} ({exc})") from None
    return ray, True


def _run_ray(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    workers: int | None,
    address: str | None,
    setup: Callable[[], None] | None,
    cleanup: Callable[[Sequence[J]], None] | None,
) -> Generator[Outcome[J, R], None, None]:
    """The jobs as Ray tasks, ``workers`` in flight, outcomes as they finish."""
    ray, started_here = _connect_ray(workers, address)
    in_flight: dict[Any, J] = {}
    finished = False
    try:
        limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(num_cpus=1)(_ray_task)
        queue = list(reversed(jobs))
        while queue or in_flight:
            while queue and len(in_flight) < limit:
                job = queue.pop()
                in_flight[task.remote(fn, job, setup, cleanup)] = job
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            job = in_flight.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # the worker or its node died
                if cleanup is not None:
                    cleanup([job])
                raise MotionlabError(f"{WORKER_DIED} ({type(exc).__name__})") from None
            yield outcome
        finished = True
    finally:
        stopped = list(in_flight.values()) if not finished else []
        if stopped and cleanup is not None:
            cleanup(stopped)
        if started_here:
            # Disconnecting ends this Ray job: the cluster kills its tasks (and a Ray
            # instance started here stops). ray.cancel is avoided: in Ray 2.60, cancelling
            # a task while the driver was interrupted may crash the driver ("Tried to
            # complete task that was not pending").
            ray.shutdown()
        else:  # a Ray session of the caller's: it lives on, so cancel our tasks in it
            for ref in in_flight:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
        if stopped and cleanup is not None:
            cleanup(stopped)  # what a task wrote before it was stopped
