"""Appearance-free versions of whole datasets (UCF101 layout -> AFD101, AFD5).

The source is a class-folder tree, ``SRC/<Class>/<video>`` (UCF101: ``ApplyEyeMakeup/
v_ApplyEyeMakeup_g08_c01.avi``); videos are files FFmpeg reads or numbered frame folders.
The output mirrors it, ``DST/<Class>/<video>`` with the same file name (so the split lists
stay valid), stored losslessly: uncompressed for ``.avi``, FFV1 for ``.mkv``, libx264rgb
qp 0 for ``.mp4``, PNG frames for frame folders. Split files (``*.txt`` at the top of SRC or in
``ucfTrainTestlist/``) are copied, filtered to the chosen classes.

The job is resumable: every output is written under a temporary name and renamed when
complete, so a run that is interrupted and started again skips finished videos, removes
the temporary leftovers, and redoes the rest. A video that fails (unreadable, empty, too
short, no room left on the disk) is reported and skipped; the others go on; the failures
are listed in ``DST/afd_failures.csv`` (:func:`write_failures`) and the exit status says
so. ``afd_dataset.json`` in DST records the settings and the failures.

The videos are made by :func:`motionlab.jobs.run_jobs`: worker processes on this machine
or tasks on a Ray cluster, the same job function (:func:`process_video`) either way.

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

import csv
import dataclasses
import errno
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
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
from motionlab.progress import clock_time
from motionlab.provenance import command_line, has_tags, sidecar_path

log = logging.getLogger(__name__)

AFD5_CLASSES = ("JumpingJack", "Lunges", "PullUps", "PushUps", "Swing")
"""The five UCF101 classes of AFD5 / UCF5."""
MANIFEST = "afd_dataset.json"
FAILURES = "afd_failures.csv"
"""The videos that failed in the last run, one line each (``video,path,reason``)."""
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
        """True if every output exists with its provenance (outputs appear only when
        complete; an output in a container without tags, ``.avi``, is committed just
        before its ``.motionlab.json`` sidecar, so without the sidecar it was cut off
        between the two and is made again)."""
        return all(_finished(out) for out in (self.output, self.flow_output) if out is not None)


def _finished(out: Path) -> bool:
    """``out`` exists, and so does its sidecar where its record lives in one."""
    if not out.exists():
        return False
    return out.is_dir() or has_tags(out) or sidecar_path(out).exists()


@dataclass(frozen=True)
class DatasetResult:
    """What a dataset run did."""

    total: int
    skipped: int
    done: int
    failed: dict[str, str] = field(default_factory=dict)
    """Source path -> reason, for every video that failed."""
    failures_file: Path | None = None
    """``DST/afd_failures.csv`` when some failed."""


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
    try:
        # as before the driver existed: no timestamps copied, encoding inline (one core
        # per worker), no bar per video (the dataset shows its own progress)
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
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        # The writers removed their temporary files. An output committed just before its
        # provenance sidecar (or the flow video) ran out of room would look finished to
        # a rerun: this video is remade by the next run, so drop what it has.
        for out in (job.output, job.flow_output):
            if out is not None:
                sidecar_path(out).unlink(missing_ok=True)
                if out.is_dir():
                    shutil.rmtree(out, ignore_errors=True)
                else:
                    out.unlink(missing_ok=True)
        raise MotionlabError(
            f"{job.output}: {os.strerror(errno.ENOSPC)} (the output disk is full)"
        ) from None


def limit_threads() -> None:
    """One thread per library in a worker process (OpenCV, and torch if RAFT is used: it
    reads OMP_NUM_THREADS when imported), so that each worker stays on one core."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)


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
    workers: int | None = None,
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
    workers : int, optional
        Processes on this machine (``executor="local"``, default 1), or videos in flight on
        Ray (default: the cluster's CPUs).
    executor : {"local", "ray"}
        The backend of :func:`motionlab.jobs.run_jobs` (the same job function, failure and
        progress handling on both). ``ray`` sends each video to a Ray cluster at
        ``ray_address`` (default: a Ray instance started here, on 127.0.0.1); SRC and DST
        must then be on storage every node sees at the same path. Needs the ``ray`` extra.
    progress : callable, optional
        Called as ``progress(done, total, frames)`` once before the first video and after
        every video: videos done (finished earlier included) of ``total``, and frames made
        by this run so far.

    Returns
    -------
    DatasetResult
        Counts, and the failed videos with their reasons; these are also written to
        ``DST/afd_failures.csv`` (:data:`FAILURES`; removed when a run has none).

    Raises
    ------
    MotionlabError
        Bad arguments, or DST holds a dataset made with other settings or by a motionlab
        that gave every video the same seed (resuming would mix the two), or a worker
        process died.
    KeyboardInterrupt
        Passed on after the workers are stopped and their unfinished outputs removed.
    """
    from motionlab.jobs import check_ray_address, run_jobs

    src, dst = Path(src), Path(dst)
    if workers is not None and workers < 1:
        raise MotionlabError(f"workers must be >= 1, got {workers}")
    if executor not in ("local", "ray"):
        raise MotionlabError(f"executor must be 'local' or 'ray', got {executor!r}")
    if ray_address is not None and executor != "ray":
        raise MotionlabError("a Ray cluster address needs executor 'ray'")
    if ray_address is not None:  # before DST is made
        check_ray_address(ray_address)
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
    # one video in this process: decode and flow in a thread of their own
    in_process = executor == "local" and (workers or 1) == 1
    make = functools.partial(process_video, config=config, threaded=in_process)
    outcomes = run_jobs(
        make,
        todo,
        backend=executor,
        workers=workers,
        address=ray_address,
        setup=limit_threads,
        cleanup=_remove_temporaries_of_jobs,
    )
    try:
        for outcome in outcomes:
            finished += 1
            source = str(outcome.job.source)
            if outcome.error is not None:
                failed[source] = outcome.error
                error = outcome.error
                log.warning("failed: %s", error if source in error else f"{source}: {error}")
            else:
                frames += outcome.value or 0
            if progress:
                progress(finished, len(jobs), frames)
    finally:
        outcomes.close()  # an early exit stops the workers now, not when collected
    remove_temporaries(dst)  # left by Ray tasks that were retried elsewhere
    failures_file = write_failures(dst, jobs, failed)
    result = DatasetResult(len(jobs), skipped, len(todo) - len(failed), failed, failures_file)
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
    try:
        with atomic_file(dst / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:  # a full disk: the videos made are kept all the same
        log.error("could not write %s: %s", dst / MANIFEST, exc)
    return result


def write_failures(dst: Path, jobs: Sequence[VideoJob], failed: dict[str, str]) -> Path | None:
    """Write ``DST/afd_failures.csv`` (columns ``video``: path relative to SRC, ``path``:
    the source, ``reason``: one line), or remove an earlier one when nothing failed.

    Returns the file, or None when nothing failed or it could not be written (a full
    disk: then the failures are logged, one line each)."""
    path = dst / FAILURES
    if not failed:
        path.unlink(missing_ok=True)
        return None
    keys = {str(job.source): job.key for job in jobs}
    try:
        with atomic_file(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["video", "path", "reason"])
            for source, reason in failed.items():
                reason = " ".join(reason.removeprefix(f"{source}: ").split())
                out.writerow([keys.get(source, source), source, reason])
    except OSError as exc:
        log.error("could not write %s (%s); the failed videos:", path, exc)
        for source, reason in failed.items():
            log.error("  %s: %s", source, reason)
        return None
    return path


def failure_summary(result: DatasetResult, dst: str | os.PathLike[str]) -> str:
    """The closing line of a run with failures: ``N of M videos failed, see FILE``, and
    what to do when the disk was full."""
    where = result.failures_file or Path(dst) / MANIFEST
    line = f"{len(result.failed)} of {result.total} videos failed, see {where}"
    full = os.strerror(errno.ENOSPC)  # "No space left on device"
    if any(full in reason for reason in result.failed.values()):
        line += "; the disk was full: free some space and run again (videos made are kept)"
    return line


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
        left = "?" if eta is None else clock_time(eta)
        self.stream.write(f"afd-dataset: {done}/{total} videos, {fps:.1f} frames/s, ETA {left}\n")
        self.stream.flush()

    def close(self) -> None:
        """Close the bar (if any)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


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


def _remove_temporaries_of_jobs(jobs: Sequence[VideoJob]) -> None:
    """Delete the temporary outputs (``.NAME.tmp-*``) of ``jobs``, and of their provenance
    sidecars (``.NAME.motionlab.json.tmp-*``: containers without tags, e.g. ``.avi``, get
    one; a worker stopped while writing it leaves its temporary file), reading each folder
    once (fast for thousands of jobs); other files are never touched."""
    names: dict[Path, set[str]] = {}
    for job in jobs:
        for out in (job.output, job.flow_output):
            if out is not None:
                names.setdefault(out.parent, set()).update({out.name, sidecar_path(out).name})
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
