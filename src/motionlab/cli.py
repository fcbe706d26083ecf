"""The ``motionlab`` command: thin sub-commands over the library's functions.

Every failure caused by input (missing or corrupt files, bad options) prints one line,
``motionlab: error: ...``, and exits with status 1; usage errors exit with 2 (argparse);
Ctrl-C exits with 130. An exception no command foresaw is reported the same way, naming
the command's input files (:func:`unexpected_error`); ``-v`` prints its traceback first.
An OS error on an output's hidden temporary names the output (:func:`os_error_line`).
Outputs are written atomically, so a failed run leaves none, and an output that is one of
the command's inputs (same path, a link to it, a hard link, a path through ``..``) is
refused before any work (:func:`motionlab.atomic.refuse_overwrite_input`).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from motionlab import __version__
from motionlab.errors import MotionlabError
from motionlab.provenance import set_command

log = logging.getLogger("motionlab")


# --------------------------------------------------------------------------------------
# argument helpers


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        msg = f"expected WIDTHxHEIGHT such as 320x240, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return w, h


def number_type(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> Any:
    """An argparse ``type`` accepting a float in [low, high] (``(low, high]`` with
    ``low_open``; ``None`` leaves a side unbounded); NaN and infinities are always
    refused."""
    if low is not None and high is not None:
        what = f"a number in {'(' if low_open else '['}{low:g}, {high:g}]"
    elif low is not None:
        what = "a positive number" if (low == 0 and low_open) else f"a number >= {low:g}"
    elif high is not None:
        what = f"a number <= {high:g}"
    else:
        what = "a number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value)  # NaN and +-inf are never a setting
        if low is not None:
            ok = ok and (value > low if low_open else value >= low)
        if high is not None:
            ok = ok and value <= high
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_float = number_type(0, low_open=True)


def int_type(low: int | None = None, high: int | None = None) -> Any:
    """An argparse ``type`` accepting an integer in [low, high] (``None``: unbounded)."""
    if low is not None and high is not None:
        what = f"an integer in {low}..{high}"
    elif low is not None:
        what = f"an integer >= {low}"
    else:
        what = f"an integer <= {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def _add_reader_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("--start", type=int, default=0, help="first frame to read (0-based)")
    g.add_argument("--stop", type=int, default=None, help="stop before this frame")
    g.add_argument("--resize", type=_size, metavar="WxH", help="resize frames, e.g. 320x240")
    g.add_argument(
        "--fps", type=_positive_float, help="frame rate of a frame-folder input (default 25)"
    )


def _add_keep_audio_arg(p: argparse.ArgumentParser, why: str) -> None:
    p.add_argument(
        "--keep-audio",
        action="store_true",
        help="copy the input's audio streams into the output (transcoded where the output "
        f"container cannot hold the codec); default off: {why}. Timestamps (variable "
        "frame rates), frame rate and rotation of the input are always kept",
    )


def _reader_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"start": args.start, "stop": args.stop, "size": args.resize, "fps": args.fps}


def _add_flow_args(p: argparse.ArgumentParser) -> None:
    from motionlab.flow.estimators import DEFAULT_METHOD

    g = p.add_argument_group("optical flow")
    g.add_argument(
        "--method",
        "--flow",
        dest="method",
        default=DEFAULT_METHOD,
        help="dis (default), farneback, tvl1, deepflow, raft-small, raft-large",
    )
    g.add_argument(
        "--preset",
        choices=("ultrafast", "fast", "medium"),
        help="DIS preset (default: medium for flow, fast for afd)",
    )
    g.add_argument(
        "--weights",
        type=Path,
        help="RAFT checkpoint file: torchvision state dict or original RAFT .pth "
        "(default: torchvision's weights, downloaded on first use)",
    )
    g.add_argument("--iters", type=int_type(1), help="RAFT refinement iterations (default 12)")
    g.add_argument("--device", help="RAFT device: cpu (default), cuda, cuda:1, ...")
    g.add_argument("--batch-size", type=int, default=1, help="RAFT pairs per forward pass")
    g.add_argument(
        "--upsample",
        type=number_type(1),
        help="resize frames by this factor (>= 1) before estimating, e.g. 2 for 320x240",
    )


def _estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    raft = args.method.startswith("raft")
    opts: dict[str, Any] = {}
    if args.preset is not None:
        if args.method != "dis":
            raise MotionlabError("--preset applies to --method dis only")
        opts["preset"] = args.preset
    for name in ("weights", "iters", "device"):
        value = getattr(args, name)
        if value is not None:
            if not raft:
                raise MotionlabError(f"--{name} applies to the RAFT methods only")
            opts[name] = value
    if raft:
        opts["batch_size"] = args.batch_size
    if args.upsample is not None:
        opts["upsample"] = args.upsample
    return opts


def check_flow_size(source: Any, width: int, height: int) -> None:
    """Refuse frames too small for optical flow before any work, naming the input."""
    from motionlab.flow.estimators import MIN_FLOW_SIDE

    if min(width, height) < MIN_FLOW_SIDE:
        raise MotionlabError(
            f"{source}: frames are {width}x{height} pixels; optical flow needs at least "
            f"{MIN_FLOW_SIDE}x{MIN_FLOW_SIDE} (enlarge them with --resize)"
        )


def _frame_size(reader: Any) -> tuple[int, int]:
    """(width, height) of the frames a reader yields (after its resize)."""
    return reader.size or (reader.info.width, reader.info.height)


def _progress(total: int | None, desc: str, enabled: bool, unit: str = "pair") -> Any:
    from tqdm import tqdm

    # disable=None: bars only on a terminal, so logs and CI stay clean.
    return tqdm(total=total, desc=desc, unit=unit, disable=None if enabled else True)


# --------------------------------------------------------------------------------------
# sub-commands


def cmd_flow(args: argparse.Namespace) -> None:
    """motionlab flow IMG1 IMG2 -o out.flo | motionlab flow VIDEO -o OUT."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.flow import get_estimator

    if len(args.inputs) > 2:
        raise MotionlabError("give two images (a pair) or one video / frame folder")
    for out in (args.output, args.png):
        refuse_overwrite_input(out, *args.inputs, args.weights, writes=("[0-9]*.flo", "flow.json"))
    est = get_estimator(args.method, **_estimator_options(args))
    if len(args.inputs) == 2:
        _flow_pair(args, est)
    else:
        _flow_video(args, est)


def _flow_settings(args: argparse.Namespace, est: Any) -> dict[str, Any]:
    """The flow settings recorded with every flow output (provenance)."""
    return {
        "method": est.name,
        "options": {k: str(v) for k, v in _estimator_options(args).items()},
        "direction": args.direction,
        "max_flow": args.max_flow,
    }


def _flow_pair(args: argparse.Namespace, est: Any) -> None:
    from motionlab.atomic import atomic_file
    from motionlab.flow import flow_to_color, write_flo
    from motionlab.provenance import stamp, write_sidecar
    from motionlab.video import read_image, write_image

    out = Path(args.output)
    if out.suffix.lower() != ".flo":
        raise MotionlabError(f"{out}: the flow of an image pair is written as a .flo file")
    if args.png is not None and args.png.suffix.lower() != ".png":
        raise MotionlabError(f"{args.png}: --png needs a file name ending in .png")
    a, b = (read_image(p) for p in args.inputs)
    for path, image in zip(args.inputs, (a, b), strict=True):
        check_flow_size(path, image.shape[1], image.shape[0])
    if a.shape != b.shape:
        raise MotionlabError(
            f"{args.inputs[1]}: is {b.shape[1]}x{b.shape[0]} pixels, {args.inputs[0]} is "
            f"{a.shape[1]}x{a.shape[0]}: the images of a pair differ in size; resize one of them"
        )
    flow = est(a, b)
    write_flo(out, flow)
    write_sidecar(out, stamp(_flow_settings(args, est), inputs=(*args.inputs, args.weights)))
    if args.png is not None:
        color = flow_to_color(flow, max_flow=args.max_flow)
        with atomic_file(args.png) as tmp:
            write_image(tmp, color[:, :, ::-1])
    log.info("wrote %s", out)


def _flow_video(args: argparse.Namespace, est: Any) -> None:
    from motionlab.atomic import atomic_dir
    from motionlab.flow import flow_to_color, video_flow, write_flo
    from motionlab.provenance import stamp
    from motionlab.video import VideoReader, VideoWriter, is_folder_target

    if args.png is not None:
        raise MotionlabError("--png applies to an image pair; for a video give -o out.mp4")
    if args.direction == "both":
        raise MotionlabError("write forward and backward flow with two runs")
    out_text = str(args.output)
    to_folder = is_folder_target(out_text) or Path(out_text).suffix == ""
    with VideoReader(args.inputs[0], **_reader_kwargs(args)) as reader:
        n_pairs = reader.info.num_frames - 1
        if n_pairs < 1:
            raise MotionlabError(
                f"{args.inputs[0]}: optical flow needs at least two frames, the video has 1"
            )
        check_flow_size(args.inputs[0], *_frame_size(reader))
        pairs = video_flow(
            reader, estimator=est, direction=args.direction, batch_size=args.batch_size
        )
        bar = _progress(n_pairs, f"flow ({est.name})", not args.quiet)
        written = 0
        if to_folder:
            with atomic_dir(Path(out_text)) as tmp:
                for pair in pairs:
                    flow = pair.forward if args.direction == "forward" else pair.backward
                    write_flo(tmp / f"{pair.index:05d}.flo", flow)
                    written += 1
                    bar.update()
                meta = {
                    **_flow_settings(args, est),
                    "motionlab": __version__,
                    "source": str(args.inputs[0]),
                    "naming": "NNNNN.flo is the flow of frame pair (N, N+1) of the input "
                    + (
                        "(maps frame N to N+1)"
                        if args.direction == "forward"
                        else "(maps frame N+1 to N)"
                    ),
                    "start": args.start,
                    "num_pairs": written,
                    "fps": reader.fps,
                }
                meta = stamp(meta, inputs=(args.inputs[0], args.weights))
                (tmp / "flow.json").write_text(json.dumps(meta, indent=2) + "\n")
        else:
            record = stamp(
                {**_flow_settings(args, est), "source": str(args.inputs[0]), "start": args.start},
                inputs=(args.inputs[0], args.weights),
            )
            meta = {"motionlab": json.dumps(record)}
            with VideoWriter(out_text, fps=reader.rate, codec=args.codec, metadata=meta) as writer:
                for pair in pairs:
                    flow = pair.forward if args.direction == "forward" else pair.backward
                    writer.write(flow_to_color(flow, max_flow=args.max_flow))
                    written += 1
                    bar.update()
        bar.close()
    log.info("wrote %d flow fields to %s", written, out_text)


def triple_type(what: str) -> Any:
    """An argparse ``type`` for three finite numbers ``a,b,c`` or one value used for all
    three (per-channel settings); ``what`` names the expected form in the error."""

    def parse(text: str) -> tuple[float, float, float]:
        try:
            values = tuple(float(x) for x in text.split(","))
        except ValueError:
            values = ()
        if len(values) == 1:
            values = values * 3
        if len(values) != 3 or not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected {what} or one value, got {text!r}")
        return values  # type: ignore[return-value]

    return parse


_rgb = triple_type("R,G,B (0..255)")


def _add_noise_args(p: argparse.ArgumentParser, *, per_video: bool) -> None:
    g = p.add_argument_group("noise")
    seed_help = (
        "noise seed (default 0)"
        if per_video
        else "dataset seed (default 0); each video's noise seed is a hash of it and the "
        "video's path relative to SRC (recorded in DST/afd_dataset.json)"
    )
    g.add_argument("--seed", type=int_type(0), default=0, help=seed_help)
    g.add_argument("--grayscale", action="store_true", help="one noise channel, repeated")
    choices = ("full", "video") if per_video else ("full",)
    g.add_argument(
        "--noise-range",
        choices=choices,
        default="full",
        help="full: uniform over 0..255 (default)"
        + (
            "; video: uniform over mean +- std of the input per channel (thesis eq. 5.3; "
            "reads the input twice)"
            if per_video
            else ""
        ),
    )
    g.add_argument(
        "--noise-mean",
        type=_rgb,
        metavar="R,G,B",
        help="with --noise-std: uniform over mean +- std per channel (eq. 5.3), e.g. a "
        "dataset's statistics in 0..255 units",
    )
    g.add_argument("--noise-std", type=_rgb, metavar="R,G,B", help="see --noise-mean")


def _noise_range(args: argparse.Namespace) -> Any:
    from motionlab.noise import NoiseRange, video_mean_std_stream
    from motionlab.video import VideoReader

    if (args.noise_mean is None) != (args.noise_std is None):
        raise MotionlabError("--noise-mean and --noise-std go together")
    if args.noise_mean is not None:
        if args.noise_range != "full":
            raise MotionlabError("give either --noise-range video or --noise-mean/--noise-std")
        return NoiseRange.from_mean_std(args.noise_mean, args.noise_std, grayscale=args.grayscale)
    if args.noise_range == "full":
        return NoiseRange(grayscale=args.grayscale)
    with VideoReader(args.input, **_reader_kwargs(args)) as reader:
        mean, std = video_mean_std_stream(reader)
    return NoiseRange.from_mean_std(mean, std, grayscale=args.grayscale)


def _add_afd_args(p: argparse.ArgumentParser, *, per_video: bool) -> None:
    p.add_argument(
        "--mode",
        choices=("advect", "first-frame", "iid"),
        default="advect",
        help="advect (default): noise carried by the flow, every frame i.i.d.; first-frame: "
        "the published method (first noise frame warped by each pair's flow); iid: fresh "
        "noise every frame (no motion)",
    )
    _add_noise_args(p, per_video=per_video)
    p.add_argument(
        "--density",
        type=int_type(1),
        default=1,
        help="advect: particles per pixel side (default 1; 2: finer sub-pixel motion, slower)",
    )
    p.add_argument(
        "--first-frame-flow",
        choices=("backward", "forward"),
        default="backward",
        help="first-frame: sample the noise with the backward flow (texture moves with the "
        "scene; default) or, as the original code, with the forward flow",
    )


def _afd_config(args: argparse.Namespace) -> Any:
    from motionlab.afd import AFDConfig

    return AFDConfig(
        mode=args.mode,
        seed=args.seed,
        noise=_noise_range(args),
        density=args.density,
        first_frame_flow=args.first_frame_flow,
        flow_method=args.method,
        flow_options=_estimator_options(args),
    )


def _gif_path(output: str) -> Path:
    """The preview GIF written beside an afd output (``--gif``)."""
    return Path(str(output).rstrip("/")).with_suffix(".gif")


def cmd_afd(args: argparse.Namespace) -> None:
    """motionlab afd INPUT -o OUT: the appearance-free version of a video."""
    import numpy as np

    from motionlab.afd import afd_steps
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.flow import flow_to_color, get_estimator
    from motionlab.pipeline import write_in_background
    from motionlab.provenance import stamp
    from motionlab.video import (
        LOSSLESS_CODECS,
        VideoReader,
        VideoWriter,
        afd_codec_for,
        write_gif,
    )

    refuse_overwrite_input(args.output, args.input, args.weights)
    if args.gif:
        refuse_overwrite_input(_gif_path(args.output), args.input, args.weights)
    codec = afd_codec_for(args.output, args.codec)
    if codec not in LOSSLESS_CODECS:
        log.warning("H.264 (yuv420p) is lossy: it smears i.i.d. noise; use .mkv or --codec x264rgb")
    config = _afd_config(args)
    estimator = None
    if config.directions != "none":
        estimator = get_estimator(config.flow_method, **config.resolved_flow_options)
    meta = {
        "motionlab": json.dumps(
            stamp(
                {
                    "version": __version__,
                    "source": str(args.input),
                    "start": args.start,
                    "stop": args.stop,
                    "resize": args.resize,
                    "triptych": args.triptych,
                    "afd": config.to_dict(),
                },
                inputs=(args.input, args.weights),
                seeds={"seed": config.seed},
            )
        )
    }
    gif_frames: list[Any] = []
    with VideoReader(args.input, **_reader_kwargs(args)) as reader:
        total = reader.info.num_frames
        if total < 2:
            raise MotionlabError(
                f"{args.input}: an appearance-free video needs at least two frames, it has {total}"
            )
        if estimator is not None:
            check_flow_size(args.input, *_frame_size(reader))
        bar = _progress(total, f"afd ({config.mode})", not args.quiet, unit="frame")
        with (
            VideoWriter(
                args.output,
                fps=reader.rate,
                codec=codec,
                metadata=meta,
                source=reader,
                keep_audio=args.keep_audio,
            ) as writer,
            write_in_background(writer.write) as put,  # encode while the next frame is made
        ):
            for step in afd_steps(reader, config=config, estimator=estimator):
                frame = step.afd
                if args.triptych:
                    flow = None if step.flow is None else step.flow.forward
                    if flow is None and step.flow is not None and step.flow.backward is not None:
                        flow = -step.flow.backward
                    color = np.full_like(step.source, 255) if flow is None else flow_to_color(flow)
                    frame = np.concatenate([step.source, color, step.afd], axis=1)
                put(frame)
                if args.gif and len(gif_frames) < args.gif_frames:
                    gif_frames.append(frame)
                bar.update()
        bar.close()
        if args.gif:
            gif = _gif_path(args.output)
            write_gif(gif, gif_frames, fps=reader.fps, max_frames=args.gif_frames)
            log.info("wrote %s", gif)
    log.info("wrote %d frames to %s (%s, seed %d)", writer.count, args.output, codec, args.seed)


def _interrupt(signum: int, frame: object) -> None:
    """Signal handler: stop like Ctrl-C."""
    raise KeyboardInterrupt


def cmd_afd_dataset(args: argparse.Namespace) -> int:
    """motionlab afd-dataset SRC DST: a whole class-folder dataset, resumable."""
    from motionlab.afd_dataset import (
        AFD5_CLASSES,
        DatasetProgress,
        failure_summary,
        make_afd_dataset,
    )
    from motionlab.atomic import check_output_target, refuse_overwrite_input

    # DST mirrors SRC's class folders: SRC equal to DST, or inside it, would be overwritten
    refuse_overwrite_input(args.dst, args.src, writes=("*",))
    refuse_overwrite_input(args.dst, args.weights)
    check_output_target(args.dst, directory=True)
    classes = None
    if args.subset:
        names = [c.strip() for c in args.subset.split(",") if c.strip()]
        classes = list(AFD5_CLASSES) if names in (["afd5"], ["ucf5"]) else names
    config = _afd_config(args)
    progress = None if args.quiet else DatasetProgress(sys.stderr, every=args.log_every)
    # SIGTERM (kill, a job scheduler) stops the run like Ctrl-C: workers stopped, their
    # unfinished outputs removed
    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = make_afd_dataset(
            args.src,
            args.dst,
            config=config,
            classes=classes,
            save_flow=args.save_flow,
            workers=args.workers,
            executor=args.executor or ("ray" if args.ray_address else "local"),
            ray_address=args.ray_address,
            progress=progress,
        )
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        if progress is not None:
            progress.close()
    log.info(
        "%d videos: %d made, %d already done, %d failed",
        result.total,
        result.done,
        result.skipped,
        len(result.failed),
    )
    if result.failed:  # each failure was logged as it happened
        print(f"motionlab: error: {failure_summary(result, args.dst)}", file=sys.stderr)
        return 1
    return 0


def cmd_sample_video(args: argparse.Namespace) -> None:
    """Write the synthetic moving-disc clip (no data needed)."""
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import write_video

    if args.frames < 2:
        raise MotionlabError(f"--frames must be >= 2, got {args.frames}")
    frames = sample_video_frames(args.frames, size=args.size, seed=args.seed)
    n = write_video(args.output, frames, fps=args.fps_out, codec=args.codec)
    log.info("wrote %d frames to %s", n, args.output)


def cmd_info(args: argparse.Namespace) -> None:
    """Print size, rate and frame count of a video or frame folder as JSON, then the
    provenance motionlab stored with it (any output: see :mod:`motionlab.provenance`)."""
    from motionlab.tools_cli import print_info

    if print_info(args.input, fps=args.fps):
        return
    from motionlab.video import probe

    info = probe(args.input, fps=args.fps)
    print(
        json.dumps(
            {
                "source": str(info.source),
                "width": info.width,
                "height": info.height,
                "fps": round(info.fps, 6),
                "num_frames": info.num_frames,
                "frame_folder": info.is_frame_folder,
            }
        )
    )


def cmd_convert(args: argparse.Namespace) -> None:
    """Re-encode a video or frame folder (e.g. to lossless mkv or PNG frames)."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.video import VideoReader, write_video

    refuse_overwrite_input(args.output, args.input)
    with VideoReader(args.input, **_reader_kwargs(args)) as reader:
        n = write_video(args.output, reader, fps=reader.rate, codec=args.codec, crf=args.crf)
    log.info("wrote %d frames to %s", n, args.output)


# --------------------------------------------------------------------------------------
# parser


_CODEC_HELP = (
    "output codec: h264 (lossy, .mp4), ffv1 (lossless, .mkv/.avi), x264rgb (lossless, "
    ".mkv/.mp4), raw (uncompressed, .avi); default by suffix; a name ending in '/' writes "
    "PNG frames"
)


# Feature packages add their sub-commands here: each module has ``register(sub)`` that
# adds its parsers to the sub-parsers action. They import heavy dependencies (torch,
# web frameworks) inside their command functions, so ``motionlab --help`` stays fast.
_COMMAND_MODULES: tuple[str, ...] = (
    "motionlab.stvi.cli",
    "motionlab.study.cli",
    "motionlab.recognition.cli",
    "motionlab.privacy.cli",
    "motionlab.tools_cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``motionlab`` command."""
    parser = argparse.ArgumentParser(
        prog="motionlab",
        description="Motion-centric video tools: optical flow, appearance-free video, ...",
    )
    parser.add_argument("--version", action="version", version=f"motionlab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars, warnings only"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "flow",
        help="estimate optical flow of an image pair or a video",
        description="Estimate forward (or backward) optical flow. Two images: write one "
        "Middlebury .flo (and optionally a colour-coded PNG). One video or frame folder: "
        "write a folder of .flo files (NNNNN.flo = pair N, N+1; -o ending in '/') or a "
        "Middlebury colour-coded video (-o out.mp4 / out.mkv).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="IMG1 IMG2, or VIDEO / FOLDER")
    p.add_argument("-o", "--output", required=True, help="out.flo, FOLDER/ or out.mp4")
    p.add_argument("--png", type=Path, help="also write the colour-coded flow of a pair")
    p.add_argument(
        "--direction",
        choices=("forward", "backward"),
        default="forward",
        help="forward: frame t -> t+1 (default); backward: frame t+1 -> t",
    )
    p.add_argument(
        "--max-flow",
        type=_positive_float,
        help="flow magnitude (px) drawn at full colour (default: each field's maximum)",
    )
    p.add_argument("--codec", help=_CODEC_HELP)
    _add_flow_args(p)
    _add_reader_args(p)
    p.set_defaults(func=cmd_flow)

    p = sub.add_parser(
        "afd",
        help="make the appearance-free version of a video (noise animated by its flow)",
        description="Make an appearance-free video: every frame is i.i.d. noise, the motion "
        "is the input's. Outputs are LOSSLESS by default (lossy codecs smear i.i.d. noise): "
        ".avi -> uncompressed (the fastest; noise does not compress anyway), .mkv -> FFV1, "
        ".mp4 -> libx264rgb qp 0, FOLDER/ -> PNG frames; --codec h264 gives a small lossy "
        "file for viewing only. Provenance (mode, seed, flow) is stored in the "
        "output's metadata.",
    )
    p.add_argument("input", help="video file or frame folder")
    p.add_argument("-o", "--output", required=True, help="out.avi, out.mkv, out.mp4 or FOLDER/")
    _add_afd_args(p, per_video=True)
    p.add_argument("--triptych", action="store_true", help="write source | flow | AFD side by side")
    p.add_argument("--gif", action="store_true", help="also write OUT.gif (a preview)")
    p.add_argument(
        "--gif-frames", type=int_type(1), default=100, help="frames in the GIF (default 100)"
    )
    p.add_argument("--codec", help="raw, ffv1, x264rgb (lossless), h264 (lossy); default by suffix")
    _add_keep_audio_arg(p, "an appearance-free video shows motion only")
    _add_flow_args(p)
    _add_reader_args(p)
    p.set_defaults(func=cmd_afd)

    p = sub.add_parser(
        "afd-dataset",
        help="make the appearance-free version of a class-folder dataset (UCF101 -> AFD101)",
        description="Mirror SRC/<Class>/<video> into DST with appearance-free videos of the "
        "same names (lossless: uncompressed for .avi, FFV1 for .mkv, libx264rgb for .mp4, "
        "PNG for frame folders) and copy the split files. Resumable: finished videos are skipped, "
        "unfinished ones redone. A failing video (unreadable, empty, no room left on the "
        "disk) is reported, skipped and listed in DST/afd_failures.csv; the others are made; "
        "the exit status is 1 if any failed.",
    )
    p.add_argument("src", type=Path, help="dataset root with one folder per class")
    p.add_argument("dst", type=Path, help="output root (created)")
    p.add_argument(
        "--subset",
        help="comma-separated class names, or 'afd5' for JumpingJack,Lunges,PullUps,PushUps,Swing",
    )
    _add_afd_args(p, per_video=False)
    p.add_argument(
        "--save-flow",
        action="store_true",
        help="also store each video's forward flow as <stem>.flow.mkv (8-bit, +-20 px)",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="parallel videos (default: 1 here, the cluster's CPUs on Ray)",
    )
    p.add_argument(
        "--log-every",
        type=int,
        metavar="N",
        help="when stderr is not a terminal: a progress line every N videos "
        "(default: 1%% of the videos)",
    )
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        help="local processes (default) or a Ray cluster (pip install 'motionlab[ray]'; "
        "default with --address)",
    )
    p.add_argument(
        "--address",
        "--ray-address",
        dest="ray_address",
        metavar="HOST:PORT",
        help="Ray cluster to run on (its head node; SRC and DST on storage every node sees "
        "at the same path); default with --executor ray: a Ray instance started here",
    )
    _add_flow_args(p)
    p.set_defaults(func=cmd_afd_dataset)

    p = sub.add_parser(
        "sample-video",
        help="write a small synthetic test video (moving textured disc)",
        description="Write a synthetic clip with known motion: a textured background "
        "panning by (0.75, 0.25) px/frame and a disc moving by (3, -1) px/frame.",
    )
    p.add_argument("output", help="output video (.mp4, .mkv) or FOLDER/")
    p.add_argument("--frames", type=int, default=48, help="number of frames (default 48)")
    p.add_argument("--size", type=_size, default=(320, 240), metavar="WxH", help="320x240")
    p.add_argument("--fps", dest="fps_out", type=_positive_float, default=25.0, help="25")
    p.add_argument("--seed", type=int_type(0), default=0, help="texture seed (default 0)")
    p.add_argument("--codec", help=_CODEC_HELP)
    p.set_defaults(func=cmd_sample_video)

    p = sub.add_parser(
        "info",
        help="print a video's size, frame rate and frame count, and how an output was made",
        description="Print a video's size, frame rate and frame count as JSON; for an output "
        "of motionlab (video, .flo, flow or STVI folder, checkpoint, study export) also its "
        "provenance: version, command line, settings, seeds and input hashes.",
    )
    p.add_argument("input", help="video file, frame folder or any motionlab output")
    p.add_argument("--fps", type=_positive_float, help="frame rate of a frame folder")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "convert",
        help="re-encode a video or frame folder",
        description="Re-encode a video or frame folder, e.g. to lossless FFV1 (.mkv) or "
        "PNG frames (-o FOLDER/), optionally cut and resized.",
    )
    p.add_argument("input", help="video file or frame folder")
    p.add_argument("-o", "--output", required=True, help="out.mp4, out.mkv or FOLDER/")
    p.add_argument("--codec", help=_CODEC_HELP)
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, 0-51 (default 18)")
    _add_reader_args(p)
    p.set_defaults(func=cmd_convert)

    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    # commands that need the whole parser (completion) get it here, not by importing us
    parser.set_defaults(root_parser=parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``motionlab`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    set_command(argv)  # recorded in every output's provenance
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    if not args.verbose:  # libraries' notes to their developers (torch.jit...) are noise here
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=level, format="motionlab: %(message)s", stream=sys.stderr)
    try:
        status = args.func(args)
    except MotionlabError as exc:
        print(f"motionlab: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("motionlab: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. permission denied, disk full, output folder is a file
        if args.verbose:
            traceback.print_exc()
        print(f"motionlab: error: {os_error_line(exc, args)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a library failed in a way we did not foresee: still one line
        if args.verbose:
            traceback.print_exc()
        print(f"motionlab: error: {unexpected_error(exc, args)}", file=sys.stderr)
        return 1
    return int(status or 0)


def _one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line (line breaks become ``; ``), cut to ``limit`` characters."""
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."


# ".NAME.tmp-XXXXXXXX[.suffix]": the hidden temporary of an output (motionlab.atomic)
_TEMP_NAME = re.compile(r"^\.(?P<name>.+?)\.tmp-[A-Za-z0-9_]+(\.[^.]*)?$")
_WRITE_HINTS = {
    errno.EFBIG: "the disk is full or a file size limit was reached",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
}


def _output_names(args: argparse.Namespace) -> list[str]:
    """The output names among a command's arguments."""
    keys = ("output", "out", "dst", "json", "plot", "png", "save_saliency", "folder")
    return [str(v) for k in keys if (v := getattr(args, k, None)) is not None]


def os_error_line(exc: OSError, args: argparse.Namespace) -> str:
    """One line for an operating-system error, naming the file the user knows.

    A failure on an output's hidden temporary (``.NAME.tmp-XXXX``, or a file inside a
    temporary folder) names the output ``NAME`` instead; a failed write without a file
    name (a full disk, ``EFBIG`` past a file size limit) names the command's outputs.
    """
    reason = exc.strerror or _one_line(str(exc), 400)
    name = None if exc.filename is None else os.fsdecode(exc.filename)
    if name is not None:
        path = Path(name)
        for part in (path, *path.parents):
            match = _TEMP_NAME.match(part.name)
            if match:
                name = str(part.parent / match["name"])
                reason = f"cannot write the output: {reason}"
                break
    elif exc.errno in _WRITE_HINTS and _output_names(args):
        name = ", ".join(_output_names(args))
        reason = f"cannot write the output: {reason}"
    hint = _WRITE_HINTS.get(exc.errno or 0)
    if hint:
        reason = f"{reason} ({hint})"
    return f"{name}: {reason}" if name is not None else reason


def _input_names(args: argparse.Namespace) -> list[str]:
    """The file names among a command's arguments, inputs first (for an error line)."""
    names: list[str] = []
    for key in ("input", "inputs", "src", "checkpoint", "predictions", "results", "data",
                "config", "db", "trials", "library", "image", "model", "rgb", "afd", "anchors",
                "templates", "weights"):  # fmt: skip
        value = getattr(args, key, None)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str | Path) and str(v) and os.path.lexists(v):
                names.append(str(v))
    return names


def unexpected_error(exc: BaseException, args: argparse.Namespace) -> str:
    """The one-line report of an exception no command turned into a MotionlabError.

    Names the command's input files (so the user knows what it was working on), the
    exception's type and message, and how to get the traceback for a bug report.
    """
    names = _input_names(args)
    where = f"{', '.join(names)}: " if names else ""
    what = _one_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, 400)
    hint = "" if args.verbose else " (run with -v for the traceback to report)"
    return f"{where}unexpected failure: {what}{hint}"


if __name__ == "__main__":
    sys.exit(main())
