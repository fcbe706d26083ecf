"""``motionlab sample-video``, ``info`` and ``convert``: small video tools."""

from __future__ import annotations

import argparse
import json
import logging

from motionlab.cli.options import (
    CODEC_HELP,
    add_input_options,
    int_type,
    positive_float,
    reader_kwargs,
    size_type,
)
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")


def cmd_sample_video(args: argparse.Namespace) -> None:
    """Write the synthetic moving-disc clip (no data needed), with its provenance."""
    from motionlab.provenance import record
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import write_video

    if args.frames < 2:
        raise MotionlabError(f"--frames must be >= 2, got {args.frames}")
    frames = sample_video_frames(args.frames, size=args.size, seed=args.seed)
    settings = {"frames": args.frames, "size": args.size, "fps": args.fps_out, "codec": args.codec}
    meta = {"motionlab": json.dumps(record(settings=settings, seeds={"seed": args.seed}))}
    n = write_video(args.output, frames, fps=args.fps_out, codec=args.codec, metadata=meta)
    log.info("wrote %d frames to %s", n, args.output)


def cmd_info(args: argparse.Namespace) -> None:
    """Print size, rate and frame count of a video or frame folder as JSON, then the
    provenance motionlab stored with it (any output: see :mod:`motionlab.provenance`)."""
    from motionlab.cli.tools import print_info

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
    """Re-encode a video or frame folder (e.g. to lossless mkv or PNG frames); the output
    records its provenance, with the input's own record (if any) as ``source_provenance``."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.provenance import read, record
    from motionlab.video import VideoReader, write_video

    refuse_overwrite_input(args.output, args.input)
    settings = {**reader_kwargs(args), "codec": args.codec, "crf": args.crf}
    with VideoReader(args.input, **reader_kwargs(args)) as reader:  # input errors first
        rec = record(inputs=[args.input], settings=settings, source_provenance=read(args.input))
        meta = {"motionlab": json.dumps(rec, default=str)}
        n = write_video(
            args.output, reader, fps=reader.rate, codec=args.codec, crf=args.crf, metadata=meta
        )
    log.info("wrote %d frames to %s", n, args.output)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``sample-video``, ``info`` and ``convert`` to the ``motionlab`` command."""
    p = sub.add_parser(
        "sample-video",
        help="write a small synthetic test video (moving textured disc)",
        description="Write a synthetic clip with known motion: a textured background "
        "panning by (0.75, 0.25) px/frame and a disc moving by (3, -1) px/frame.",
    )
    p.add_argument("output", help="output video (.mp4, .mkv) or FOLDER/")
    p.add_argument("--frames", type=int, default=48, help="number of frames (default 48)")
    p.add_argument("--size", type=size_type, default=(320, 240), metavar="WxH", help="320x240")
    p.add_argument("--fps", dest="fps_out", type=positive_float, default=25.0, help="25")
    p.add_argument("--seed", type=int_type(0), default=0, help="texture seed (default 0)")
    p.add_argument("--codec", help=CODEC_HELP)
    p.set_defaults(func=cmd_sample_video)

    p = sub.add_parser(
        "info",
        help="print a video's size, frame rate and frame count, and how an output was made",
        description="Print a video's size, frame rate and frame count as JSON; for an output "
        "of motionlab (video, .flo, flow or STVI folder, checkpoint, study export or report) "
        "also its provenance: version, command line, settings, seeds and input hashes.",
    )
    p.add_argument("input", help="video file, frame folder or any motionlab output")
    p.add_argument("--fps", type=positive_float, help="frame rate of a frame folder")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "convert",
        help="re-encode a video or frame folder",
        description="Re-encode a video or frame folder, e.g. to lossless FFV1 (.mkv) or "
        "PNG frames (-o FOLDER/), optionally cut and resized.",
    )
    p.add_argument("input", help="video file or frame folder")
    p.add_argument("-o", "--output", required=True, help="out.mp4, out.mkv or FOLDER/")
    p.add_argument("--codec", help=CODEC_HELP)
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, 0-51 (default 18)")
    add_input_options(p)
    p.set_defaults(func=cmd_convert)
