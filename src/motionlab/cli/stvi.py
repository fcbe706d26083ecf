"""``motionlab stvi`` and ``motionlab stvi-eval``."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from motionlab.cli.options import check_flow_size, number_type
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")


_nonneg = number_type(0)


def _frame_names(source: Path, n: int) -> list[str]:
    from motionlab.video import list_frame_files

    if source.is_dir():
        files = list_frame_files(source)
        if len(files) >= n:
            return [f.stem for f in files[:n]]
    return [f"{i:05d}" for i in range(n)]


def cmd_stvi(args: argparse.Namespace) -> int:
    """motionlab stvi INPUT [--anchors MASKS] -o OUT/ (no --anchors: Mask R-CNN)."""

    from motionlab.atomic import check_output_target, refuse_overwrite_input
    from motionlab.cli.options import estimator_options
    from motionlab.flow import get_estimator
    from motionlab.stvi.anchors import (
        FolderMasks,
        STVIInputError,
        anchor_indices,
        check_anchors,
        load_anchors,
    )
    from motionlab.stvi.io import write_result
    from motionlab.stvi.tubes import STVIParams, compute_flows, stvi
    from motionlab.video import read_video

    refuse_overwrite_input(
        args.output, args.input, args.anchors, args.weights, args.detector_weights,
        writes=("labels", "mask", "pictures", "labels.npz", "stvi.json"),
    )  # fmt: skip
    check_output_target(args.output, directory=True)  # before minutes of work
    started = time.perf_counter()
    params = STVIParams(
        k=args.k,
        clusters=args.clusters,
        omega=args.omega,
        sigma=args.sigma,
        tau=args.tau,
        alpha=args.alpha,
        beta=args.beta,
    )
    if args.anchors is not None:
        for name in ("detector_weights", "detector_class"):
            if getattr(args, name) is not None:
                raise MotionlabError(f"--{name.replace('_', '-')} applies without --anchors only")
        masks = FolderMasks(args.anchors)
    else:  # the weights load now: a failed download fails before any other work
        from motionlab.stvi import detect

        detect.check_class(args.detector_class, args.detector)
        segmenter = detect.load_segmenter(args.detector, args.detector_weights)
    frames = read_video(args.input, start=args.start, stop=args.stop)
    t_n, h, w = frames.shape[:3]
    if t_n < 2:
        raise STVIInputError(f"{args.input}: STVI needs at least two frames, got {t_n}")
    check_flow_size(args.input, w, h)
    # mask files are named by the frame index of the input, so a --start offset applies
    every = anchor_indices(t_n, args.every)

    def source(i: int, size: tuple[int, int]) -> Any:
        return masks(i + args.start, size)

    if args.anchors is not None:
        anchors = load_anchors(source, every, (w, h))
        check_anchors(anchors, t_n, (w, h))  # before minutes of flow
        log.info("%d frames %dx%d, anchors at frames %s", t_n, w, h, sorted(anchors))
    else:  # no object in the first frame fails here, before the flow
        found = detect.DetectedObject(segmenter, frames, every, label=args.detector_class)
        log.info("detector: the object is a %s (score %.2f)", found.label, found.score)

    est = get_estimator(args.method, **estimator_options(args))
    flows = compute_flows(frames, estimator=est, progress=args.show_progress)
    if args.anchors is None:
        anchors = found.anchors(flows)
        check_anchors(anchors, t_n, (w, h))
        log.info("%d frames %dx%d, detected anchors at %s", t_n, w, h, sorted(anchors))
    log.info("clustering the space-time volume ...")
    result = stvi(frames, anchors, flows=flows, params=params)
    elapsed = time.perf_counter() - started
    info = {
        "input": str(args.input),
        "flow": args.method,
        "every": args.every,
        "k": args.k,
        "omega": args.omega,
        "seconds": round(elapsed, 2),
    }
    if args.anchors is None:
        info["detector"] = {"model": args.detector, "class": found.label, "score": found.score}
    from motionlab.provenance import stamp

    info = stamp(info, inputs=(args.input, args.anchors, args.detector_weights))
    write_result(
        args.output,
        result,
        _frame_names(Path(args.input), t_n),
        info,
        frames=frames if args.pictures else None,
    )
    log.info(
        "%d tubes kept of %d clusters (sigma %.1f px, tau %.2f frames) in %.1f s -> %s",
        result.labels.max(),
        len(result.overlaps),
        result.scales.sigma,
        result.scales.tau,
        elapsed,
        args.output,
    )
    return 0


def cmd_stvi_eval(args: argparse.Namespace) -> int:
    """motionlab stvi-eval RESULTS --davis DAVIS."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.stvi.evaluate import evaluate_results, mean_row, thesis_rows, write_tables

    stem = args.output if args.output is not None else Path(args.results) / "stvi_eval"
    for suffix in (".csv", ".md"):
        refuse_overwrite_input(Path(stem).with_suffix(suffix), args.results, args.davis, args.parts)
    rows = evaluate_results(
        args.results,
        args.davis,
        args.sequences,
        resolution=args.resolution,
        parts_root=args.parts,
    )
    write_tables(rows, stem)
    mean = mean_row(rows)
    print(
        f"mean over {len(rows)} sequences: "
        + "  ".join(f"{k} {v:.3f}" for k, v in mean.items() if k not in ("sequence", "frames"))
    )
    print("\n".join(thesis_rows(mean)))
    print(f"tables: {Path(stem).with_suffix('.csv')} and {Path(stem).with_suffix('.md')}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``stvi`` and ``stvi-eval`` to the ``motionlab`` command."""
    from motionlab.cli.options import add_flow_options

    p = sub.add_parser(
        "stvi",
        help="split an object into part tubes (space-time volumes of interest)",
        description=(
            "Decompose the object marked by anchor masks into tubes of coherent appearance "
            "and object-relative motion (thesis ch. 6). Without --anchors, Mask R-CNN finds "
            "the object (its highest-scoring instance in the first frame). Writes "
            "OUT/labels/*.png (tube ids, 0 = not the object), OUT/mask/*.png, "
            "OUT/labels.npz and OUT/stvi.json."
        ),
    )
    p.add_argument("input", type=Path, help="video file or frame folder")
    p.add_argument(
        "--anchors",
        type=Path,
        help="folder of object masks named by frame index (e.g. DAVIS Annotations/480p/SEQ); "
        "one for the first frame is required (default: masks from Mask R-CNN)",
    )
    d = p.add_argument_group("detector (without --anchors)")
    d.add_argument(
        "--detector",
        choices=("maskrcnn-v2", "maskrcnn"),
        default="maskrcnn-v2",
        help="torchvision Mask R-CNN, COCO weights (maskrcnn-v2)",
    )
    d.add_argument(
        "--detector-weights",
        type=Path,
        help="local weights file (default: downloaded to the torch hub cache on first use)",
    )
    d.add_argument(
        "--detector-class",
        help="the object is the best instance of this COCO class, e.g. person (default: any)",
    )
    p.add_argument("--every", type=int, default=20, help="use the mask of every n-th frame (20)")
    p.add_argument(
        "--pictures",
        action="store_true",
        help="also write OUT/pictures/: tubes over frames, x-t / y-t slices, trajectories",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="result folder OUT/")
    g = p.add_argument_group("method (default: automatic, the 0-parameter mode)")
    g.add_argument("--k", type=int, default=15, help="at most this many tubes (15)")
    g.add_argument(
        "--clusters",
        type=int,
        help="SLIC clusters over the sub-volume (default: about 3k on the object, "
        "at most 12k, merged into k tubes; --clusters K = the thesis's literal step 6)",
    )
    g.add_argument("--omega", type=_nonneg, default=0.7, help="tube selection overlap (0.7)")
    g.add_argument("--sigma", type=_nonneg, help="spatial scale, pixels")
    g.add_argument("--tau", type=_nonneg, help="temporal scale, frames")
    g.add_argument("--alpha", type=_nonneg, help="weight of position (x, y, t)")
    g.add_argument("--beta", type=_nonneg, help="weight of the object-relative flow")
    p.add_argument("--start", type=int, default=0, help="first frame to use (0-based)")
    p.add_argument("--stop", type=int, default=None, help="stop before this frame")
    add_flow_options(p)
    p.set_defaults(func=cmd_stvi)

    p = sub.add_parser(
        "stvi-eval",
        help="ACC, UE, TEX, J, F (and part scores) of STVI results on DAVIS",
        description=(
            "Evaluate RESULTS/SEQ folders written by `motionlab stvi` against DAVIS "
            "annotations; writes a CSV and a Markdown table (per sequence and mean)."
        ),
    )
    p.add_argument("results", type=Path, help="folder of per-sequence STVI results")
    p.add_argument("--davis", required=True, type=Path, help="DAVIS root (with Annotations/)")
    p.add_argument("--sequences", nargs="+", help="sequences to evaluate (default: all found)")
    p.add_argument("--resolution", default="480p", help="DAVIS resolution folder (480p)")
    p.add_argument("--parts", type=Path, help="root of part annotations PARTS/SEQ/*.png")
    p.add_argument(
        "-o", "--output", type=Path, help="table path without suffix (RESULTS/stvi_eval)"
    )
    p.set_defaults(func=cmd_stvi_eval)
