"""``motionlab afd`` and ``afd-dataset``: appearance-free videos and datasets."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from motionlab import __version__
from motionlab.cli.options import (
    add_afd_options,
    add_deprecated_alias,
    add_flow_options,
    add_input_options,
    add_keep_audio_option,
    afd_config,
    int_type,
    reader_kwargs,
)

log = logging.getLogger("motionlab")


def _gif_path(output: str) -> Path:
    """The preview GIF written beside an afd output (``--gif``)."""
    return Path(str(output).rstrip("/")).with_suffix(".gif")


def cmd_afd(args: argparse.Namespace) -> None:
    """motionlab afd INPUT -o OUT: the appearance-free version of a video."""
    from motionlab.afd.write import write_afd
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.video import afd_codec_for

    refuse_overwrite_input(args.output, args.input, args.weights)
    if args.gif:
        refuse_overwrite_input(_gif_path(args.output), args.input, args.weights)
    config = afd_config(args)
    record = {
        "version": __version__,
        "source": str(args.input),
        "start": args.start,
        "stop": args.stop,
        "resize": args.resize,
        "triptych": args.triptych,
        "afd": config.to_dict(),
    }
    count = write_afd(
        args.input,
        args.output,
        config=config,
        **reader_kwargs(args),
        codec=args.codec,
        triptych=args.triptych,
        gif=_gif_path(args.output) if args.gif else None,
        gif_frames=args.gif_frames,
        keep_audio=args.keep_audio,
        provenance=record,
        provenance_inputs=(args.weights,),
        progress=args.show_progress,
    )
    codec = afd_codec_for(args.output, args.codec)
    log.info("wrote %d frames to %s (%s, seed %d)", count, args.output, codec, args.seed)


def _interrupt(signum: int, frame: object) -> None:
    """Signal handler: stop like Ctrl-C."""
    raise KeyboardInterrupt


def cmd_afd_dataset(args: argparse.Namespace) -> int:
    """motionlab afd-dataset SRC DST: a whole class-folder dataset, resumable."""
    from motionlab.afd.dataset import (
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
    config = afd_config(args)
    progress = None
    if args.show_progress:
        progress = DatasetProgress(sys.stderr, every=args.log_every, json_lines=args.log_json)
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``afd`` and ``afd-dataset`` to the ``motionlab`` command."""
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
    add_afd_options(p, per_video=True)
    p.add_argument("--triptych", action="store_true", help="write source | flow | AFD side by side")
    p.add_argument("--gif", action="store_true", help="also write OUT.gif (a preview)")
    p.add_argument(
        "--gif-frames", type=int_type(1), default=100, help="frames in the GIF (default 100)"
    )
    p.add_argument("--codec", help="raw, ffv1, x264rgb (lossless), h264 (lossy); default by suffix")
    add_keep_audio_option(p, "an appearance-free video shows motion only")
    add_flow_options(p)
    add_input_options(p)
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
    add_afd_options(p, per_video=False)
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
    add_deprecated_alias(p, "--ray-address", "--address", dest="ray_address")
    p.add_argument(
        "--address",
        dest="ray_address",
        metavar="HOST:PORT",
        help="Ray cluster to run on (its head node; SRC and DST on storage every node sees "
        "at the same path); default with --executor ray: a Ray instance started here",
    )
    add_flow_options(p)
    p.set_defaults(func=cmd_afd_dataset)
