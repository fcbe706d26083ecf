"""Appearance-free versions of whole datasets (UCF101 layout -> AFD101, AFD5).

The source is a class-folder tree, ``SRC/<Class>/<video>`` (UCF101: ``ApplyEyeMakeup/
v_ApplyEyeMakeup_g08_c01.avi``); videos are files FFmpeg reads or numbered frame folders.
The output mirrors it, ``DST/<Class>/<video>`` with the same file name (so the split lists
stay valid), stored losslessly: uncompressed for ``.avi``, FFV1 for ``.mkv``, libx264rgb
qp 0 for ``.mp4``, PNG frames for frame folders. Split files (``*.txt`` at the top of SRC or in
``ucfTrainTestlist/``) are copied, filtered to the chosen classes.

The job is resumable: every output is written under a temporary name and renamed when
complete, so a run that is interrupted and started again skips finished videos, removes
the temporary leftovers, and redoes the rest. A video that fails (corrupt, too short) is
reported and skipped; the others go on; the exit status says so. ``afd_dataset.json`` in
DST records the settings and the failures.

Every video gets its own noise: its seed is :func:`video_seed` of the dataset seed and the
video's path relative to SRC (a stable hash), so no two videos share a noise field, yet the
result depends neither on the order, the number of workers, nor on interruptions. Each
video's seed is recorded in ``afd_dataset.json`` (``"seeds"``) and in the video's own
metadata; ``make_afd(source, seed=that)`` reproduces it. (Datasets made by motionlab before
this scheme used the dataset seed for every video: all their videos share one noise field.)

``save_flow`` also stores each video's forward flow next to its AFD video, as
``<video stem>.flow.mkv``: u and v quantised to 8 bits over +-20 px (TSN's bound; step
0.157 px) in the red and green channels of a lossless FFV1 video (see :func:`read_flow_video`).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from motionlab import __version__, datasets
from motionlab.afd.flowcache import FLOW_BOUND as FLOW_BOUND  # re-exported for old imports
from motionlab.afd.flowcache import dequantize_flow as dequantize_flow
from motionlab.afd.flowcache import quantize_flow as quantize_flow
from motionlab.afd.flowcache import read_flow_video as read_flow_video
from motionlab.afd.make import AFDConfig
from motionlab.atomic import atomic_file
from motionlab.datasets import SPLIT_FOLDER as SPLIT_FOLDER  # re-exported for old imports
from motionlab.datasets import VIDEO_SUFFIXES as VIDEO_SUFFIXES  # re-exported for old imports
from motionlab.errors import MotionlabError
from motionlab.provenance import command_line

log = logging.getLogger(__name__)

AFD5_CLASSES = ("JumpingJack", "Lunges", "PullUps", "PushUps", "Swing")
"""The five UCF101 classes of AFD5 / UCF5."""
MANIFEST = "afd_dataset.json"
SEED_SCHEME = "blake2b-64(f'{dataset seed}:{relative path}') >> 1"
"""How :func:`video_seed` derives a video's seed (recorded in the manifest)."""


def video_seed(seed: int, relpath: str | PurePath) -> int:
    """The noise seed of one video of a dataset: a stable hash of the dataset seed and the
    video's path relative to the dataset root (``Class/video.avi``, with ``/``).

    The first 8 bytes of BLAKE2b of ``f"{seed}:{relpath}"``, big-endian, shifted right by
    one bit: an int in ``[0, 2**63)``, the same on every machine and Python run (unlike the
    salted built-in ``hash``), accepted by ``numpy.random.default_rng``.
    """
    rel = relpath.as_posix() if isinstance(relpath, PurePath) else str(relpath)
    key = f"{seed}:{rel}".encode("utf-8", "surrogateescape")  # any file name
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True)
class VideoJob:
    """One video of the dataset: where it comes from, where its outputs go, its noise seed.

    ``key`` is the source's path relative to the dataset root (``Class/video.avi``); ``seed``
    is :func:`video_seed` of the dataset seed and ``key``.
    """

    source: Path
    output: Path
    flow_output: Path | None
    key: str = ""
    seed: int = 0
    command: str | None = None
    """The command line that asked for it (recorded in the output's provenance; worker
    processes and Ray tasks have command lines of their own)."""

    @property
    def done(self) -> bool:
        """True if every output exists (outputs appear only when complete)."""
        return self.output.exists() and (self.flow_output is None or self.flow_output.exists())


@dataclass(frozen=True)
class DatasetResult:
    """What a dataset run did."""

    total: int
    skipped: int
    done: int
    failed: dict[str, str] = field(default_factory=dict)


def output_paths(
    source: Path, src_root: Path, dst_root: Path, *, save_flow: bool
) -> tuple[Path, Path | None]:
    """The AFD output (and flow output) of ``source``: the same relative path under
    ``dst_root``; ``.mov/.webm/...`` become ``.mkv``; the flow is ``<stem>.flow.mkv``."""
    rel = source.relative_to(src_root)
    out = dst_root / rel
    if not source.is_dir() and out.suffix.lower() not in (".avi", ".mkv", ".mp4"):
        out = out.with_suffix(".mkv")
    flow = (dst_root / rel).parent / f"{rel.name.split('.')[0]}.flow.mkv" if save_flow else None
    return out, flow


def find_jobs(
    src: Path,
    dst: Path,
    *,
    classes: Sequence[str] | None = None,
    save_flow: bool = False,
    seed: int = 0,
) -> list[VideoJob]:
    """List the videos of a class-folder tree (sorted), with their output paths and seeds
    (:func:`video_seed` of ``seed`` and the path relative to ``src``).

    Raises
    ------
    MotionlabError
        SRC is missing or holds no class folder with videos, or a requested class is absent.
    """
    if not src.is_dir():
        raise MotionlabError(f"{src}: no such dataset folder")
    names = datasets.list_classes(src)
    if classes is not None:
        missing = [c for c in classes if c not in names]
        if missing:
            raise MotionlabError(
                f"{src}: no class folder {', '.join(missing)} (it has {len(names)} classes)"
            )
        names = [name for name in names if name in set(classes)]
    jobs = []
    for name in names:
        # frame folders are videos here; hidden names are our own temporaries; a flow
        # video of an earlier --save-flow run in SRC is a video like any other
        for video in datasets.list_videos(
            src / name, frame_folders=True, hidden=False, flow_files=True
        ):
            out, flow = output_paths(video, src, dst, save_flow=save_flow)
            key = video.relative_to(src).as_posix()
            jobs.append(VideoJob(video, out, flow, key, video_seed(seed, key)))
    if not jobs:
        raise MotionlabError(
            f"{src}: no videos found; expected class folders of videos (Class/video.avi)"
        )
    return jobs


def process_video(job: VideoJob, config: AFDConfig, *, threaded: bool = False) -> int:
    """Make the AFD video (and flow video) of one job; return its frame count.

    ``config`` holds the dataset's settings; the noise uses the job's own seed
    (``job.seed``), which the output's metadata records as ``afd.seed`` (the dataset seed
    as ``dataset_seed``).

    ``threaded``: decode and estimate flow in a background thread (when this is the only
    video being made; with several worker processes, each stays on one core)."""
    from motionlab.afd.write import write_afd

    dataset_seed = config.seed
    config = dataclasses.replace(config, seed=job.seed)
    record = {
        "version": __version__,
        "source": str(job.source),
        "afd": config.to_dict(),
        "dataset_seed": dataset_seed,
        "video": job.key,
        "seed_scheme": SEED_SCHEME,
    }
    if job.command is not None:
        record["command"] = job.command
    target = f"{job.output}/" if job.source.is_dir() else job.output  # PNG frames
    # as before the driver existed: no timestamps copied, encoding inline (one core per
    # worker), no bar per video (the dataset shows its own progress)
    return write_afd(
        job.source,
        target,
        config=config,
        keep_timing=False,
        flow_output=job.flow_output,
        threaded=threaded,
        background=False,
        provenance=record,
        seeds={"seed": job.seed, "dataset_seed": dataset_seed},
        progress=False,
    )


_CURRENT_JOB: VideoJob | None = None
"""The job a worker process is making (for its SIGTERM handler)."""


def _worker_init(parent: int | None = None) -> None:
    """Set up a worker process of the local pool.

    One thread per library (OpenCV, and torch if RAFT is used: it reads OMP_NUM_THREADS when
    imported), so that each worker stays on one core. Ctrl-C is the parent's business (it
    stops the pool): SIGINT is ignored here. SIGTERM (from the parent, or on its death)
    removes the temporary outputs of the video being made and exits at once. The worker
    dies with its parent: PR_SET_PDEATHSIG on Linux, a thread watching the parent
    elsewhere."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    if parent is None:  # Ray worker: Ray manages its processes
        return
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
    """SIGTERM in a worker: drop the unfinished outputs of the current video, exit now."""
    job = _CURRENT_JOB
    if job is not None:
        for out in (job.output, job.flow_output):
            if out is not None:
                _remove_temporaries_of(out)
    os._exit(128 + signum)


def _remove_temporaries_of(output: Path) -> None:
    """Delete the temporary siblings (``.NAME.tmp-*``) of one output; never ``output``."""
    for tmp in output.parent.glob(glob.escape(f".{output.name}.tmp-") + "*"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def _run_one(
    job: VideoJob, config: AFDConfig, threaded: bool = False
) -> tuple[str, int, str | None]:
    global _CURRENT_JOB
    _CURRENT_JOB = job
    try:
        return str(job.source), process_video(job, config, threaded=threaded), None
    except MotionlabError as exc:
        return str(job.source), 0, str(exc)
    except Exception as exc:  # report any failure of one video, keep the dataset going
        return str(job.source), 0, f"{type(exc).__name__}: {exc}"
    finally:
        _CURRENT_JOB = None


def remove_temporaries(dst: Path) -> int:
    """Delete leftovers of interrupted runs (``.NAME.tmp-*``) under ``dst``; return count."""
    removed = 0
    if not dst.exists():
        return 0
    for tmp in dst.rglob(".*.tmp-*"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def copy_split_files(src: Path, dst: Path, classes: Sequence[str] | None) -> list[Path]:
    """Copy ``*.txt`` split files (top of SRC and ``ucfTrainTestlist/``), keeping only lines
    of the chosen classes (lines are ``Class/video ...`` or ``index Class``)."""
    copied = []
    candidates = list(src.glob("*.txt")) + list((src / SPLIT_FOLDER).glob("*.txt"))
    for path in sorted(candidates):
        target = dst / path.relative_to(src)
        lines = path.read_text().splitlines(keepends=True)
        if classes is not None:
            lines = [line for line in lines if datasets.split_line_class(line) in set(classes)]
        with atomic_file(target) as tmp:
            tmp.write_text("".join(lines))
        copied.append(target)
    return copied


def make_afd_dataset(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    config: AFDConfig = AFDConfig(),
    classes: Sequence[str] | None = None,
    save_flow: bool = False,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> DatasetResult:
    """Make the appearance-free version of every video of a class-folder dataset.

    Parameters
    ----------
    src, dst : path
        Source tree ``SRC/<Class>/<video>`` and output root (created).
    config : AFDConfig
        AFD settings (mode, flow...). ``config.seed`` is the dataset seed: each video's noise
        uses :func:`video_seed` of it and the video's path relative to ``src``, so videos
        never share a noise field and results do not depend on the order or the number of
        workers.
    classes : sequence of str, optional
        Only these class folders (e.g. :data:`AFD5_CLASSES`).
    save_flow : bool
        Also store each video's forward flow (``<stem>.flow.mkv``).
    workers : int
        Processes on this machine (``executor="local"``), or tasks in flight on Ray.
    executor : {"local", "ray"}
        ``ray`` sends each video to a Ray cluster (``ray_address``; default: a local
        instance bound to loopback). Needs the ``ray`` extra.
    progress : callable, optional
        Called as ``progress(done, total, frames)`` once before the first video and after
        every video: videos done (finished earlier included) of ``total``, and frames made
        by this run so far.

    Returns
    -------
    DatasetResult

    Raises
    ------
    MotionlabError
        Bad arguments, or DST holds a dataset made with other settings or by a motionlab
        that gave every video the same seed (resuming would mix the two).
    KeyboardInterrupt
        Passed on after the workers are stopped and their unfinished outputs removed.
    """
    src, dst = Path(src), Path(dst)
    if workers < 1:
        raise MotionlabError(f"workers must be >= 1, got {workers}")
    if executor not in ("local", "ray"):
        raise MotionlabError(f"executor must be 'local' or 'ray', got {executor!r}")
    jobs = find_jobs(src, dst, classes=classes, save_flow=save_flow, seed=config.seed)
    _check_earlier_run(dst, config)
    jobs = [dataclasses.replace(job, command=command_line()) for job in jobs]
    dst.mkdir(parents=True, exist_ok=True)
    stale = remove_temporaries(dst)
    if stale:
        log.info("removed %d unfinished outputs of an earlier run", stale)
    todo = [j for j in jobs if not j.done]
    skipped = len(jobs) - len(todo)
    for job in todo:
        job.output.parent.mkdir(parents=True, exist_ok=True)
    copy_split_files(src, dst, classes)
    failed: dict[str, str] = {}
    finished = skipped
    frames = 0
    started = time.time()
    if progress:
        progress(finished, len(jobs), frames)
    results = _execute(todo, config, workers, executor, ray_address)
    try:
        for source, count, error in results:
            finished += 1
            frames += count
            if error is not None:
                failed[source] = error
                log.warning("failed: %s", error if source in error else f"{source}: {error}")
            if progress:
                progress(finished, len(jobs), frames)
    finally:
        results.close()  # an early exit stops the workers now, not when collected
    result = DatasetResult(len(jobs), skipped, len(todo) - len(failed), failed)
    manifest = {
        "motionlab": __version__,
        "source": str(src),
        "classes": list(classes) if classes is not None else "all",
        "save_flow": save_flow,
        "afd": config.to_dict(),
        "seed_scheme": SEED_SCHEME,
        "seeds": {job.key: job.seed for job in jobs},
        "videos": len(jobs),
        "skipped_existing": skipped,
        "made": result.done,
        "failed": failed,
        "seconds": round(time.time() - started, 1),
    }
    with atomic_file(dst / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    return result


class DatasetProgress:
    """A ``progress(done, total, frames)`` callback for :func:`make_afd_dataset` that shows
    videos done / total, frames/s and the time left.

    On a terminal (``tty``; default: ``stream.isatty()``) it draws a tqdm bar; otherwise it
    writes one plain line (``json_lines``: one JSON object) every ``every`` videos and at
    the end (default: 1 % of the videos, at least 1), never a carriage return, so that
    logs stay readable::

        afd-dataset: 40/13320 videos, 152.3 frames/s, ETA 2:03:10

    Rates count only the videos made by this run (not those skipped as already done): the
    time left is (videos left) / (videos made per second so far).
    """

    def __init__(
        self,
        stream: Any = None,
        *,
        tty: bool | None = None,
        every: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        json_lines: bool = False,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        if every is not None and every < 1:
            raise MotionlabError(f"the progress interval must be >= 1 video, got {every}")
        self.every = every
        self.clock = clock
        self.json_lines = json_lines  # one JSON object per line instead of a bar or text
        if json_lines:
            self.tty = False
        self._start: tuple[float, int] | None = None  # (time, videos done) at the first call
        self._last_line = -1
        self._bar: Any = None

    def rates(self, done: int, total: int, frames: int) -> tuple[float, float | None]:
        """(frames per second, seconds left or None while unknown) at this call."""
        if self._start is None:
            self._start = (self.clock(), done)
        elapsed = self.clock() - self._start[0]
        made = done - self._start[1]
        fps = frames / elapsed if elapsed > 0 else 0.0
        eta = (total - done) * elapsed / made if made > 0 else None
        return fps, eta

    def __call__(self, done: int, total: int, frames: int) -> None:
        fps, eta = self.rates(done, total, frames)
        if self.tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(
                    total=total, initial=done, desc="afd-dataset", unit="video", file=self.stream
                )
            self._bar.set_postfix_str(f"{fps:.1f} frames/s", refresh=False)
            self._bar.update(done - self._bar.n)
            return
        every = self.every or max(1, total // 100)
        if done == self._last_line or not (done % every == 0 or done == total):
            return
        self._last_line = done
        if self.json_lines:
            record = {
                "event": "progress" if done < total else "done",
                "task": "afd-dataset",
                "unit": "video",
                "done": done,
                "total": total,
                "frames_per_s": round(fps, 3),
                "eta_s": None if eta is None else round(eta, 3),
            }
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()
            return
        left = "?" if eta is None else _clock_time(eta)
        self.stream.write(f"afd-dataset: {done}/{total} videos, {fps:.1f} frames/s, ETA {left}\n")
        self.stream.flush()

    def close(self) -> None:
        """Close the bar (if any)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _clock_time(seconds: float) -> str:
    """``H:MM:SS`` of a duration in seconds."""
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _check_earlier_run(dst: Path, config: AFDConfig) -> None:
    """Refuse to add videos to a dataset made with other AFD settings or the old one-seed
    scheme (its manifest says so)."""
    path = dst / MANIFEST
    if not path.is_file():
        return
    try:
        earlier = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionlabError(f"{path}: unreadable manifest of an earlier run ({exc})") from None
    if not isinstance(earlier, dict):
        raise MotionlabError(f"{path}: unreadable manifest of an earlier run (not an object)")
    if earlier.get("seed_scheme") != SEED_SCHEME:
        raise MotionlabError(
            f"{dst}: made by an older motionlab that gave every video the same noise field; "
            "write the dataset into a new folder"
        )
    if earlier.get("afd") != json.loads(json.dumps(config.to_dict())):
        raise MotionlabError(
            f"{dst}: made with other AFD settings ({path}); use the same settings to resume, "
            "or write into a new folder"
        )


def _execute(
    jobs: list[VideoJob], config: AFDConfig, workers: int, executor: str, address: str | None
) -> Generator[tuple[str, int, str | None], None, None]:
    if not jobs:
        return
    if executor == "ray":
        yield from _execute_ray(jobs, config, workers, address)
    elif workers == 1:
        for job in jobs:
            yield _run_one(job, config, threaded=True)
    else:
        yield from _execute_local(jobs, config, workers)


def _execute_local(
    jobs: list[VideoJob], config: AFDConfig, workers: int
) -> Iterator[tuple[str, int, str | None]]:
    """Run the jobs on a pool of ``workers`` processes; yield results as they finish.

    Leaving early (Ctrl-C, an error, the consumer closing the generator) terminates the
    workers at once, waits for them (SIGKILL after 1 s) and removes the temporary
    outputs they leave; videos already finished stay."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no forked OpenCV/numba thread pools
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    )
    finished = False
    futures: dict[Any, VideoJob] = {}
    try:
        # Workers are spawned by submit(): block SIGINT meanwhile so that they start with
        # it blocked (until they ignore it); a Ctrl-C now is delivered right after.
        blocked = hasattr(signal, "pthread_sigmask")
        if blocked:
            old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for job in jobs:
                futures[pool.submit(_run_one, job, config)] = job
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
                    # which video's worker died is not known: all pending ones fail
                    raise MotionlabError(
                        "a worker process died (killed, or out of memory?); the finished "
                        "videos are kept, run again to make the rest"
                    ) from None
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop_pool(pool, futures)


def _stop_pool(pool: ProcessPoolExecutor, futures: dict[Any, VideoJob]) -> None:
    """Stop a pool now: cancel what has not started, SIGTERM the workers (SIGKILL after
    1 s), wait for them, and remove the temporary outputs of the jobs that had started."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
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
    _remove_temporaries_of_jobs(started)


def _remove_temporaries_of_jobs(jobs: Sequence[VideoJob]) -> None:
    """Delete the temporary outputs (``.NAME.tmp-*``) of ``jobs``, reading each folder
    once (fast for thousands of jobs); other files are never touched."""
    names: dict[Path, set[str]] = {}
    for job in jobs:
        for out in (job.output, job.flow_output):
            if out is not None:
                names.setdefault(out.parent, set()).add(out.name)
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if (
                name.startswith(".")
                and ".tmp-" in name
                and name[1 : name.rindex(".tmp-")] in wanted
            ):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    Path(entry.path).unlink(missing_ok=True)


def ray_safe_environment() -> dict[str, str]:
    """Environment that keeps a local Ray instance on loopback and off the network (set
    before ``import ray``): no usage stats, no cloud metadata probes through a proxy."""
    return {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "disabled",
        "http_proxy": "http://127.0.0.1:9",
        "no_proxy": "127.0.0.1,localhost",
    }


def _execute_ray(
    jobs: list[VideoJob], config: AFDConfig, workers: int, address: str | None
) -> Iterator[tuple[str, int, str | None]]:
    if address is None:
        os.environ.update(ray_safe_environment())
    try:
        import ray
    except ImportError as exc:
        raise MotionlabError("--executor ray needs Ray: pip install 'motionlab[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            ray.init(
                num_cpus=max(workers, 1),
                include_dashboard=False,
                object_store_memory=200 * 1024**2,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
            )
        else:
            ray.init(address=address)
    try:
        remote = ray.remote(num_cpus=1)(_run_one_ray)
        pending: list[Any] = []
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < workers:
                pending.append(remote.remote(queue.pop(0), config))
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started_here:
            ray.shutdown()


def _run_one_ray(job: VideoJob, config: AFDConfig) -> tuple[str, int, str | None]:
    _worker_init()
    return _run_one(job, config)
