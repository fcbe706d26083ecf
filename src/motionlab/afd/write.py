"""File to file: the appearance-free version of a video, written like ``motionlab afd``.

:func:`write_afd` is the driver behind ``motionlab afd`` and behind every video of
``motionlab afd-dataset``: it opens the source, builds the flow estimator, streams
:func:`~motionlab.afd.make.afd_steps` into a lossless writer (encoding in the background
while the next frame is made), shows progress, and records the provenance (version,
settings, seed, input hashes) in the output's metadata. The output is written atomically:
a failure or an interrupt leaves no output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import closing, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from motionlab import __version__
from motionlab.afd.flowcache import FLOW_BOUND, quantize_flow
from motionlab.afd.make import AFDConfig, AFDStep, afd_steps
from motionlab.atomic import PathLike
from motionlab.errors import MotionlabError
from motionlab.flow.base import FlowEstimator, check_flow_size
from motionlab.pipeline import write_in_background
from motionlab.progress import Progress
from motionlab.provenance import stamp
from motionlab.video import (
    LOSSLESS_CODECS,
    VideoReader,
    VideoWriter,
    afd_codec_for,
    optional_writer,
    write_gif,
)

log = logging.getLogger("motionlab")


def triptych_frame(step: AFDStep) -> np.ndarray:
    """``(H, 3W, 3)`` uint8: source | colour-coded flow | AFD frame of one step (white
    where the mode has no flow for the pair)."""
    from motionlab.flow import flow_to_color

    flow = None if step.flow is None else step.flow.forward
    if flow is None and step.flow is not None and step.flow.backward is not None:
        flow = -step.flow.backward
    color = np.full_like(step.source, 255) if flow is None else flow_to_color(flow)
    return np.concatenate([step.source, color, step.afd], axis=1)


def write_afd(
    source: PathLike,
    output: PathLike,
    *,
    config: AFDConfig = AFDConfig(),
    start: int = 0,
    stop: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    codec: str | None = None,
    estimator: FlowEstimator | None = None,
    triptych: bool = False,
    gif: PathLike | None = None,
    gif_frames: int = 100,
    keep_audio: bool = False,
    keep_timing: bool = True,
    flow_output: PathLike | None = None,
    threaded: bool = True,
    background: bool = True,
    provenance: dict[str, Any] | None = None,
    provenance_inputs: Sequence[PathLike | None] = (),
    seeds: dict[str, int] | None = None,
    progress: bool = True,
) -> int:
    """Write the appearance-free version of the video ``source`` to ``output``; return the
    number of frames written.

    Parameters
    ----------
    source : path
        A video file or a folder of numbered frames (at least two frames).
    output : path
        ``.avi`` (uncompressed), ``.mkv`` (FFV1), ``.mp4`` (libx264rgb qp 0) or ``FOLDER/``
        (PNG frames); ``codec`` overrides the choice by suffix (``h264`` is lossy and
        smears i.i.d. noise: a warning says so).
    config : AFDConfig
        Mode, noise seed and range, flow method and options.
    start, stop, size, fps
        Frames ``start`` .. ``stop - 1`` of the source, resized to ``size = (W, H)``; ``fps``
        is the rate of a frame folder.
    estimator : FlowEstimator, optional
        A built estimator to reuse (default: built from ``config``).
    triptych : bool
        Write source | flow | AFD side by side (``(H, 3W, 3)`` frames).
    gif, gif_frames
        Also write a preview GIF of the first ``gif_frames`` output frames to ``gif``.
    keep_audio, keep_timing
        Copy the source's audio streams; copy its timestamps and rotation (default).
    flow_output : path, optional
        Also store the forward flow of every pair, quantised to 8 bits over +-20 px, as a
        lossless FFV1 video (read it back with :func:`motionlab.afd.flowcache.read_flow_video`).
    threaded, background
        Decode and estimate flow in a background thread; encode in another one.
    provenance, provenance_inputs, seeds
        The settings recorded in the output's metadata (default: version, source and
        ``config``), the files whose hashes it records besides ``source``, and the seeds
        (default ``{"seed": config.seed}``).
    progress : bool
        Show progress (see :mod:`motionlab.progress` for where and how).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from motionlab.synthetic import sample_video_frames
    >>> from motionlab.video import write_video, read_video
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_video(folder / "clip.mkv", sample_video_frames(5, size=(64, 48)), fps=25)
    >>> write_afd(folder / "clip.mkv", folder / "afd.avi", config=AFDConfig(seed=3),
    ...           progress=False)
    5
    >>> read_video(folder / "afd.avi").shape
    (5, 48, 64, 3)
    """
    codec = afd_codec_for(output, codec)
    if codec not in LOSSLESS_CODECS:
        log.warning("H.264 (yuv420p) is lossy: it smears i.i.d. noise; use .mkv or --codec x264rgb")
    if estimator is None and (config.directions != "none" or flow_output is not None):
        from motionlab.flow import get_estimator

        estimator = get_estimator(config.flow_method, **config.resolved_flow_options)
    record = provenance or {"version": __version__, "source": str(source), "afd": config.to_dict()}
    record = stamp(
        record,
        inputs=(source, *provenance_inputs),
        seeds={"seed": config.seed} if seeds is None else seeds,
    )
    meta = {"motionlab": json.dumps(record)}
    with VideoReader(source, start=start, stop=stop, size=size, fps=fps) as reader:
        total = reader.info.num_frames
        if total < 2:
            raise MotionlabError(
                f"{source}: an appearance-free video needs at least two frames, it has {total}"
            )
        if estimator is not None:
            check_flow_size(source, *reader.frame_size)
        bar = Progress(total, f"afd ({config.mode})", "frame", enabled=progress)
        writer = VideoWriter(
            output, fps=reader.rate, codec=codec, metadata=meta,
            source=reader if keep_timing else None, keep_audio=keep_audio,
        )  # fmt: skip
        flow_meta = {"motionlab_flow": json.dumps({"bound_px": FLOW_BOUND, **meta})}
        preview: list[np.ndarray] = []
        encode = write_in_background(writer.write) if background else nullcontext(writer.write)
        with (
            optional_writer(flow_output, fps=reader.rate, codec="ffv1", metadata=flow_meta) as fw,
            writer,
            encode as put,
        ):
            # closed on the way out: if writing fails, the decode + flow thread stops while
            # the reader is still open (left to the garbage collector, it went on decoding
            # from a closed container: a segfault on a full disk)
            steps = afd_steps(
                reader, config=config, estimator=estimator, threaded=threaded,
                need_forward=fw is not None,
            )  # fmt: skip
            with closing(steps):
                for step in steps:
                    frame = triptych_frame(step) if triptych else step.afd
                    put(frame)
                    if fw is not None and step.flow is not None:
                        assert step.flow.forward is not None
                        fw.write(quantize_flow(step.flow.forward))
                    if gif is not None and len(preview) < gif_frames:
                        preview.append(frame)
                    bar.update()
        bar.close()
        if gif is not None:
            write_gif(Path(gif), preview, fps=reader.fps, max_frames=gif_frames)
            log.info("wrote %s", gif)
    return writer.count
