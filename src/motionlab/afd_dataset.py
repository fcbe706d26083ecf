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

``save_flow`` also stores each video's forward flow next to its AFD video, as
``<video stem>.flow.mkv``: u and v quantised to 8 bits over +-20 px (TSN's bound; step
0.157 px) in the red and green channels of a lossless FFV1 video (see :func:`read_flow_video`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionlab import __version__
from motionlab.afd import AFDConfig, afd_steps
from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError
from motionlab.video import IMAGE_SUFFIXES, VideoReader, VideoWriter, afd_codec_for

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
AFD5_CLASSES = ("JumpingJack", "Lunges", "PullUps", "PushUps", "Swing")
"""The five UCF101 classes of AFD5 / UCF5."""
SPLIT_FOLDER = "ucfTrainTestlist"
MANIFEST = "afd_dataset.json"
FLOW_BOUND = 20.0
"""Flow saved with ``save_flow`` is clipped to +-FLOW_BOUND px and quantised to 8 bits."""


@dataclass(frozen=True)
class VideoJob:
    """One video of the dataset: where it comes from and where its outputs go."""

    source: Path
    output: Path
    flow_output: Path | None

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


def _is_video(path: Path) -> bool:
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in VIDEO_SUFFIXES


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
    src: Path, dst: Path, *, classes: Sequence[str] | None = None, save_flow: bool = False
) -> list[VideoJob]:
    """List the videos of a class-folder tree (sorted), with their output paths.

    Raises
    ------
    MotionlabError
        SRC is missing or holds no class folder with videos, or a requested class is absent.
    """
    if not src.is_dir():
        raise MotionlabError(f"{src}: no such dataset folder")
    class_dirs = sorted(p for p in src.iterdir() if p.is_dir() and p.name != SPLIT_FOLDER)
    if classes is not None:
        names = {p.name for p in class_dirs}
        missing = [c for c in classes if c not in names]
        if missing:
            raise MotionlabError(
                f"{src}: no class folder {', '.join(missing)} (it has {len(names)} classes)"
            )
        class_dirs = [p for p in class_dirs if p.name in set(classes)]
    jobs = []
    for class_dir in class_dirs:
        for video in sorted(class_dir.iterdir()):
            if video.name.startswith(".") or not _is_video(video):
                continue
            out, flow = output_paths(video, src, dst, save_flow=save_flow)
            jobs.append(VideoJob(video, out, flow))
    if not jobs:
        raise MotionlabError(
            f"{src}: no videos found; expected class folders of videos (Class/video.avi)"
        )
    return jobs


def quantize_flow(flow: np.ndarray) -> np.ndarray:
    """(H, W, 2) float flow -> (H, W, 3) uint8: R = u, G = v over +-FLOW_BOUND px, B = 0."""
    q = np.clip(np.rint((flow + FLOW_BOUND) * (255.0 / (2 * FLOW_BOUND))), 0, 255)
    out = np.zeros((*flow.shape[:2], 3), np.uint8)
    out[..., :2] = q.astype(np.uint8)
    return out


def dequantize_flow(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_flow` (to within half a step, 0.078 px, inside the bound)."""
    return image[..., :2].astype(np.float32) * (2 * FLOW_BOUND / 255.0) - FLOW_BOUND


def read_flow_video(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Yield the ``(H, W, 2)`` float32 forward flows stored by ``save_flow``."""
    with VideoReader(path) as reader:
        for image in reader:
            yield dequantize_flow(image)


def process_video(job: VideoJob, config: AFDConfig, *, threaded: bool = False) -> int:
    """Make the AFD video (and flow video) of one job; return its frame count.

    ``threaded``: decode and estimate flow in a background thread (when this is the only
    video being made; with several worker processes, each stays on one core)."""
    from motionlab.flow import get_estimator

    save_flow = job.flow_output is not None
    est = None
    if config.directions != "none" or save_flow:
        est = get_estimator(config.flow_method, **config.resolved_flow_options)
    meta = {"motionlab": json.dumps({"version": __version__, "afd": config.to_dict()})}
    with VideoReader(job.source) as reader:
        fps = reader.rate
        target = f"{job.output}/" if job.source.is_dir() else job.output  # PNG frames
        writer = VideoWriter(target, fps=fps, codec=afd_codec_for(target), metadata=meta)
        flow_writer = None
        if save_flow:
            flow_meta = {"motionlab_flow": json.dumps({"bound_px": FLOW_BOUND, **meta})}
            flow_writer = VideoWriter(job.flow_output, fps=fps, codec="ffv1", metadata=flow_meta)
        try:
            steps = afd_steps(
                reader, config=config, estimator=est, threaded=threaded, need_forward=save_flow
            )
            for step in steps:
                writer.write(step.afd)
                if flow_writer is not None and step.flow is not None:
                    assert step.flow.forward is not None
                    flow_writer.write(quantize_flow(step.flow.forward))
        except BaseException:
            writer.abort()
            if flow_writer is not None:
                flow_writer.abort()
            raise
        writer.close()
        if flow_writer is not None:
            flow_writer.close()
    return writer.count


def _worker_init() -> None:
    # one process per core: OpenCV, and torch if RAFT is used (it reads OMP_NUM_THREADS
    # when imported), to one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)


def _run_one(
    job: VideoJob, config: AFDConfig, threaded: bool = False
) -> tuple[str, int, str | None]:
    try:
        return str(job.source), process_video(job, config, threaded=threaded), None
    except MotionlabError as exc:
        return str(job.source), 0, str(exc)
    except Exception as exc:  # report any failure of one video, keep the dataset going
        return str(job.source), 0, f"{type(exc).__name__}: {exc}"


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


def _split_line_class(line: str) -> str | None:
    """Class of a split-file line: ``Class/video.avi [label]`` or ``index Class``."""
    words = line.strip().split()
    if not words:
        return None
    return words[0].split("/")[0] if "/" in words[0] else words[-1]


def copy_split_files(src: Path, dst: Path, classes: Sequence[str] | None) -> list[Path]:
    """Copy ``*.txt`` split files (top of SRC and ``ucfTrainTestlist/``), keeping only lines
    of the chosen classes (lines are ``Class/video ...`` or ``index Class``)."""
    copied = []
    candidates = list(src.glob("*.txt")) + list((src / SPLIT_FOLDER).glob("*.txt"))
    for path in sorted(candidates):
        target = dst / path.relative_to(src)
        lines = path.read_text().splitlines(keepends=True)
        if classes is not None:
            lines = [line for line in lines if _split_line_class(line) in set(classes)]
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
    progress: Callable[[int, int], None] | None = None,
) -> DatasetResult:
    """Make the appearance-free version of every video of a class-folder dataset.

    Parameters
    ----------
    src, dst : path
        Source tree ``SRC/<Class>/<video>`` and output root (created).
    config : AFDConfig
        AFD settings (mode, seed, flow...). Every video uses the same seed: results do not
        depend on the order or the number of workers.
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
        Called as ``progress(done, total)`` after every video.

    Returns
    -------
    DatasetResult
    """
    src, dst = Path(src), Path(dst)
    if workers < 1:
        raise MotionlabError(f"workers must be >= 1, got {workers}")
    if executor not in ("local", "ray"):
        raise MotionlabError(f"executor must be 'local' or 'ray', got {executor!r}")
    jobs = find_jobs(src, dst, classes=classes, save_flow=save_flow)
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
    started = time.time()
    if progress:
        progress(finished, len(jobs))
    for source, _frames, error in _execute(todo, config, workers, executor, ray_address):
        finished += 1
        if error is not None:
            failed[source] = error
            log.warning("failed: %s", error if source in error else f"{source}: {error}")
        if progress:
            progress(finished, len(jobs))
    result = DatasetResult(len(jobs), skipped, len(todo) - len(failed), failed)
    manifest = {
        "motionlab": __version__,
        "source": str(src),
        "classes": list(classes) if classes is not None else "all",
        "save_flow": save_flow,
        "afd": config.to_dict(),
        "videos": len(jobs),
        "skipped_existing": skipped,
        "made": result.done,
        "failed": failed,
        "seconds": round(time.time() - started, 1),
    }
    with atomic_file(dst / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    return result


def _execute(
    jobs: list[VideoJob], config: AFDConfig, workers: int, executor: str, address: str | None
) -> Iterator[tuple[str, int, str | None]]:
    if not jobs:
        return
    if executor == "ray":
        yield from _execute_ray(jobs, config, workers, address)
    elif workers == 1:
        for job in jobs:
            yield _run_one(job, config, threaded=True)
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no forked OpenCV/numba thread pools
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
            futures = [pool.submit(_run_one, job, config) for job in jobs]
            for future in futures:
                yield future.result()


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
