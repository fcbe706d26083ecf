"""``motionlab flow``: optical flow of an image pair or a video."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from motionlab.cli.options import (
    CODEC_HELP,
    add_flow_options,
    add_input_options,
    estimator_options,
    positive_float,
    reader_kwargs,
)
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")


def cmd_flow(args: argparse.Namespace) -> None:
    """motionlab flow IMG1 IMG2 -o out.flo | motionlab flow VIDEO -o OUT."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.flow import get_estimator
    from motionlab.flow.write import write_flow, write_flow_pair

    if len(args.inputs) > 2:
        raise MotionlabError("give two images (a pair) or one video / frame folder")
    for out in (args.output, args.png):
        refuse_overwrite_input(out, *args.inputs, args.weights, writes=("[0-9]*.flo", "flow.json"))
    est = get_estimator(args.method, **estimator_options(args))
    settings = {
        "method": est.name,
        "options": {k: str(v) for k, v in estimator_options(args).items()},
        "direction": args.direction,
        "max_flow": args.max_flow,
    }
    if len(args.inputs) == 2:
        out = write_flow_pair(
            *args.inputs, args.output, estimator=est, png=args.png, max_flow=args.max_flow,
            settings=settings, provenance_inputs=(args.weights,),
        )  # fmt: skip
        log.info("wrote %s", out)
        return
    if args.png is not None:
        raise MotionlabError("--png applies to an image pair; for a video give -o out.mp4")
    written = write_flow(
        args.inputs[0], args.output, estimator=est, direction=args.direction,
        max_flow=args.max_flow, batch_size=args.batch_size, **reader_kwargs(args),
        codec=args.codec, settings=settings, provenance_inputs=(args.weights,),
        progress=args.show_progress,
    )  # fmt: skip
    log.info("wrote %d flow fields to %s", written, args.output)


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
