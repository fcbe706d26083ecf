"""``motionlab flow``: optical flow of an image pair or a video."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from motionlab import __version__
from motionlab.cli.options import (
    CODEC_HELP,
    add_flow_options,
    add_input_options,
    check_flow_size,
    estimator_options,
    frame_size,
    positive_float,
    progress_bar,
    reader_kwargs,
)
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")


def cmd_flow(args: argparse.Namespace) -> None:
    """motionlab flow IMG1 IMG2 -o out.flo | motionlab flow VIDEO -o OUT."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.flow import get_estimator

    if len(args.inputs) > 2:
        raise MotionlabError("give two images (a pair) or one video / frame folder")
    for out in (args.output, args.png):
        refuse_overwrite_input(out, *args.inputs, args.weights, writes=("[0-9]*.flo", "flow.json"))
    est = get_estimator(args.method, **estimator_options(args))
    if len(args.inputs) == 2:
        _flow_pair(args, est)
    else:
        _flow_video(args, est)


def _flow_settings(args: argparse.Namespace, est: Any) -> dict[str, Any]:
    """The flow settings recorded with every flow output (provenance)."""
    return {
        "method": est.name,
        "options": {k: str(v) for k, v in estimator_options(args).items()},
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
    with VideoReader(args.inputs[0], **reader_kwargs(args)) as reader:
        n_pairs = reader.info.num_frames - 1
        if n_pairs < 1:
            raise MotionlabError(
                f"{args.inputs[0]}: optical flow needs at least two frames, the video has 1"
            )
        check_flow_size(args.inputs[0], *frame_size(reader))
        pairs = video_flow(
            reader, estimator=est, direction=args.direction, batch_size=args.batch_size
        )
        bar = progress_bar(n_pairs, f"flow ({est.name})", args.show_progress)
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``flow`` to the ``motionlab`` command."""
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
        type=positive_float,
        help="flow magnitude (px) drawn at full colour (default: each field's maximum)",
    )
    p.add_argument("--codec", help=CODEC_HELP)
    add_flow_options(p)
    add_input_options(p)
    p.set_defaults(func=cmd_flow)
