"""File to file: a video with selected attributes hidden, written like ``motionlab obfuscate``.

:func:`write_obfuscation` is the driver behind ``motionlab obfuscate``: it opens the
source, builds the flow estimator the noise needs, streams
:func:`~motionlab.privacy.obfuscate.obfuscate_steps` into the writer (encoding in the
background while the matcher works on the next frames), optionally writes the saliency
maps, shows progress and records the provenance (settings, matcher, seed, input hashes)
in the output's metadata. Outputs are written atomically; the matcher is closed at the end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motionlab import __version__
from motionlab.afd.noise import NoiseRange
from motionlab.atomic import PathLike
from motionlab.errors import MotionlabError
from motionlab.flow.base import FlowEstimator
from motionlab.pipeline import write_in_background
from motionlab.privacy.base import Matcher
from motionlab.privacy.frame_stats import ChannelMoments, frames_mean_std
from motionlab.privacy.obfuscate import ObfuscationConfig, obfuscate_steps
from motionlab.privacy.pictures import saliency_to_gray
from motionlab.progress import Progress
from motionlab.provenance import stamp
from motionlab.video import (
    LOSSLESS_CODECS,
    VideoReader,
    VideoWriter,
    afd_codec_for,
    optional_writer,
)

log = logging.getLogger("motionlab")

KEEP_BYTES = 512 << 20
"""``range_from_video``: a video whose decoded frames fit in this many bytes is decoded
once, its frames kept in memory while its mean and deviation are computed; a longer one is
read a second time for them."""


def saliency_target(path: PathLike) -> str:
    """Where the saliency maps go: a name without suffix is a folder of PNGs (``NAME/``)."""
    text = str(path)
    if Path(text).suffix == "" and not text.endswith("/"):
        text += "/"
    return text


def check_frame_count(source: PathLike, total: int, *, with_noise: bool) -> None:
    """Refuse a one-frame input when the replacement is noise (it needs a pair for flow)."""
    if total < 2 and with_noise:
        raise MotionlabError(
            f"{source}: obfuscation with noise needs at least two frames, it has "
            f"{total} (--replace blur, pixelate, mask or colour work on one)"
        )


def write_obfuscation(
    source: PathLike,
    output: PathLike,
    *,
    matcher: Matcher,
    config: ObfuscationConfig,
    start: int = 0,
    stop: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    codec: str | None = None,
    estimator: FlowEstimator | None = None,
    saliency_output: PathLike | None = None,
    keep_audio: bool = False,
    provenance: dict[str, Any] | None = None,
    provenance_inputs: Sequence[PathLike | None] = (),
    progress: bool = True,
    range_from_video: bool = False,
    on_first_frame: Callable[[], None] | None = None,
) -> int:
    """Write ``source`` with the attributes ``config.attributes`` hidden to ``output``;
    return the number of frames written.

    Parameters
    ----------
    source : path
        A video file or frame folder (two frames at least when the replacement is noise).
    output : path
        ``.avi`` / ``.mkv`` / ``.mp4`` / ``FOLDER/``, lossless by suffix as for AFD
        (``codec`` overrides; H.264 smears the noise, a warning says so).
    matcher : Matcher
        The template matcher (``get_matcher("landmarks")``, ``"dino"``, ...); closed at
        the end.
    config : ObfuscationConfig
        Attributes, noise mode, seed and range, flow, and the replacement.
    start, stop, size, fps
        Frames ``start`` .. ``stop - 1``, resized to ``size = (W, H)``; ``fps`` of a folder.
    estimator : FlowEstimator, optional
        A built estimator to reuse (default: built from ``config``).
    saliency_output : path, optional
        Also write the saliency maps as a grey video (or ``NAME/`` PNG frames).
    keep_audio : bool
        Copy the source's audio (off by default: a voice identifies a person).
    provenance, provenance_inputs
        The settings recorded in the metadata (default: version, source, config, matcher)
        and further files whose hashes it records.
    progress : bool
        Show progress (see :mod:`motionlab.progress`).
    range_from_video : bool
        Noise: draw it from ``mean +- std`` of these frames per channel (thesis eq. 5.3;
        ``config.noise_range`` only gives ``grayscale``), found in the same decoding pass
        as the obfuscation when the frames fit in :data:`KEEP_BYTES` (kept in memory
        meanwhile), else by a pass of their own. The provenance's ``"obfuscation"``
        entry then records the range found.
    on_first_frame : callable, optional
        Called once, when the first frame is obfuscated (start-up is over: the command
        resumes the garbage collector there, see :mod:`motionlab.gcpause`).
    """
    replacement = config.replace
    with_noise = replacement.kind == "noise"
    codec = afd_codec_for(output, codec)
    if codec not in LOSSLESS_CODECS and with_noise:
        log.warning("H.264 (yuv420p) is lossy: it smears the noise; use .mkv or --codec x264rgb")
    afd = config.afd_config()
    if estimator is None and afd.directions != "none" and with_noise:
        from motionlab.flow import get_estimator

        estimator = get_estimator(afd.flow_method, **afd.resolved_flow_options)
    sal_path = None if saliency_output is None else saliency_target(saliency_output)
    with VideoReader(source, start=start, stop=stop, size=size, fps=fps) as reader:
        total = reader.info.num_frames
        check_frame_count(source, total, with_noise=with_noise)
        frames: Iterator[np.ndarray] = iter(reader)
        if range_from_video and with_noise:
            frames, (mean, std) = frames_with_moments(
                frames, lambda: VideoReader(source, start=start, stop=stop, size=size, fps=fps)
            )
            found = NoiseRange.from_mean_std(mean, std, grayscale=config.noise_range.grayscale)
            config = dataclasses.replace(config, noise_range=found)
            if provenance is not None:
                provenance = {**provenance, "obfuscation": config.to_dict()}
        record = provenance or {
            "version": __version__,
            "source": str(source),
            "obfuscation": config.to_dict(),
            "matcher": matcher.describe(),
        }
        record = stamp(record, inputs=(source, *provenance_inputs), seeds={"seed": config.seed})
        meta = {"motionlab": json.dumps(record)}
        what = f"{config.noise} noise" if with_noise else replacement.kind
        bar = Progress(total, f"obfuscate ({what})", "frame", enabled=progress)
        writer = VideoWriter(
            output, fps=reader.rate, codec=codec, metadata=meta, source=reader,
            keep_audio=keep_audio,
        )  # fmt: skip
        sal_codec = None if sal_path is None else afd_codec_for(sal_path, None)
        try:
            with (
                optional_writer(sal_path, fps=reader.rate, codec=sal_codec, metadata=meta) as sal,
                writer,
                write_in_background(writer.write) as put,
            ):
                for step in obfuscate_steps(
                    frames, matcher=matcher, config=config, estimator=estimator
                ):
                    put(step.output)
                    if on_first_frame is not None:
                        on_first_frame()
                        on_first_frame = None
                    if sal is not None:
                        sal.write(saliency_to_gray(step.saliency))
                    bar.update()
        finally:
            matcher.close()
        bar.close()
    return writer.count


def frames_with_moments(
    frames: Iterator[np.ndarray],
    reopen: Callable[[], Iterable[np.ndarray]],
    *,
    keep_bytes: int | None = None,
) -> tuple[Iterator[np.ndarray], tuple[tuple[float, ...], tuple[float, ...]]]:
    """Per-channel mean and deviation of a stream of RGB uint8 frames, and the same frames
    again: decoded once and kept while they fit in ``keep_bytes`` (default
    :data:`KEEP_BYTES`), else from ``reopen()``, a second pass over the same frames, for
    the statistics (the first ones kept stay in memory until given out).

    Returns ``(frames, (mean, std))``: the frames, each given out once and then
    released, and the values of :func:`~motionlab.privacy.frame_stats.frames_mean_std`.
    """
    limit = KEEP_BYTES if keep_bytes is None else keep_bytes
    kept: deque[np.ndarray] = deque()
    moments = ChannelMoments()
    size = 0
    for frame in frames:
        kept.append(frame)
        moments.add(frame)
        size += frame.nbytes
        if size > limit:  # too long to keep: the statistics from a pass of their own
            reread = reopen()
            try:
                stats = frames_mean_std(reread)
            finally:
                close = getattr(reread, "close", None)
                if close is not None:
                    close()
            return _drain(kept, frames), stats
    return _drain(kept, iter(())), moments.mean_std()


def _drain(kept: deque[np.ndarray], rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The frames of ``kept`` (each released as it is given out), then those of ``rest``."""
    while kept:
        yield kept.popleft()
    yield from rest


def write_baseline(
    source: PathLike,
    output: PathLike,
    *,
    method: str,
    native_size: bool = False,
    start: int = 0,
    stop: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    codec: str | None = None,
    keep_audio: bool = False,
    progress: bool = True,
) -> int:
    """Write ``source`` through one of the naive baselines of Table 5.2 (``pixelate4``,
    ``pixelate16``, ``blur-weak``, ``blur-strong``, ``mask``, ``mask-black``; whole frame, or
    the person mask for ``mask*``) to ``output``; return the number of frames written.

    ``native_size``: blur or pixelate at the input size instead of at 224x224 (the sizes of
    the methods are then pixels of the input). Other parameters as for
    :func:`write_obfuscation`. The provenance records the method and the work size.
    """
    from motionlab.privacy.baselines import WORK_SIZE, get_baseline

    with VideoReader(source, start=start, stop=stop, size=size, fps=fps):
        pass  # a missing or unreadable input fails here, before the segmenter model loads
    segmenter = None
    if method.startswith("mask"):
        from motionlab.privacy.landmarks import PersonSegmenter

        segmenter = PersonSegmenter()
    work_size = None if native_size else WORK_SIZE
    fn = get_baseline(method, person_mask=segmenter, work_size=work_size)
    record = {
        "version": __version__,
        "source": str(source),
        "baseline": method,
        "work_size": None if work_size is None else list(work_size),
    }
    meta = {"motionlab": json.dumps(stamp(record, inputs=(source,)))}
    try:
        with VideoReader(source, start=start, stop=stop, size=size, fps=fps) as reader:
            bar = Progress(reader.info.num_frames, method, "frame", enabled=progress)
            with VideoWriter(
                output, fps=reader.rate, codec=codec, metadata=meta, source=reader,
                keep_audio=keep_audio,
            ) as writer:  # fmt: skip
                for frame in reader:
                    writer.write(fn(frame))
                    bar.update()
            bar.close()
    finally:
        if segmenter is not None:
            segmenter.close()
    return writer.count
