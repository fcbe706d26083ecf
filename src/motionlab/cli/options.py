"""Option types and option groups shared by the ``motionlab`` sub-commands.

One vocabulary for every command that has the concept: input frames (``--start``,
``--stop``, ``--resize``, ``--fps``), optical flow (``--flow``, ``--flow-opt``,
``--batch-size``, ``--device``, ...), noise (``--seed``, ``--noise-range``, ...), audio
(``--keep-audio``) and progress bars. Types refuse NaN, infinities and out-of-range
values with argparse's one-line usage error (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import Any

from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")

CODEC_HELP = (
    "output codec: h264 (lossy, .mp4), ffv1 (lossless, .mkv/.avi), x264rgb (lossless, "
    ".mkv/.mp4), raw (uncompressed, .avi); default by suffix; a name ending in '/' writes "
    "PNG frames"
)


def size_type(text: str) -> tuple[int, int]:
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


positive_float = number_type(0, low_open=True)


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


def add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("--start", type=int, default=0, help="first frame to read (0-based)")
    g.add_argument("--stop", type=int, default=None, help="stop before this frame")
    g.add_argument("--resize", type=size_type, metavar="WxH", help="resize frames, e.g. 320x240")
    g.add_argument(
        "--fps", type=positive_float, help="frame rate of a frame-folder input (default 25)"
    )


def add_keep_audio_option(p: argparse.ArgumentParser, why: str) -> None:
    p.add_argument(
        "--keep-audio",
        action="store_true",
        help="copy the input's audio streams into the output (transcoded where the output "
        f"container cannot hold the codec); default off: {why}. Timestamps (variable "
        "frame rates), frame rate and rotation of the input are always kept",
    )


def reader_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"start": args.start, "stop": args.stop, "size": args.resize, "fps": args.fps}


DEFAULT_FLOW = "dis"
"""The default flow method (``motionlab.flow.estimators.DEFAULT_METHOD``; spelled out here
so that building the parser does not import OpenCV; a test keeps them equal)."""
DIS_PRESETS = ("ultrafast", "fast", "medium", "medium-full")
"""The DIS presets (``motionlab.flow.estimators.DIS_PRESETS``, spelled out for the same
reason; the same test keeps them equal)."""


class _DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores like the new one, says so on stderr."""

    def __init__(self, option_strings: list[str], dest: str, *, new: str, **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
        option_string: str | None = None,
    ) -> None:  # fmt: skip
        print(
            f"motionlab: warning: {option_string} is an old spelling; use {self.new} "
            "(the old one will go in a later release)",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def add_deprecated_alias(container: Any, old: str, new: str, *, dest: str, **kwargs: Any) -> None:
    """Accept ``old`` as a hidden spelling of the option ``new`` (same ``dest``), with a
    warning on stderr; ``kwargs`` (``type``, ``choices``) as for ``new``."""
    container.add_argument(
        old, dest=dest, action=_DeprecatedAlias, new=new, default=argparse.SUPPRESS,
        help=argparse.SUPPRESS, **kwargs,
    )  # fmt: skip


# --flow-opt KEY=VALUE: the estimator options by name, with their types and the methods
# they apply to (None: every method)
FLOW_OPTIONS: dict[str, tuple[Any, tuple[str, ...] | None]] = {
    "preset": (str, ("dis",)),
    "weights": (Path, ("raft-small", "raft-large")),
    "iters": (int_type(1), ("raft-small", "raft-large")),
    "device": (str, ("raft-small", "raft-large")),
    "batch_size": (int_type(1), ("raft-small", "raft-large")),
    "upsample": (number_type(1), None),
}


def flow_opt_type(text: str) -> tuple[str, Any]:
    """An argparse ``type`` for ``--flow-opt KEY=VALUE`` (keys: :data:`FLOW_OPTIONS`;
    ``batch-size`` and ``batch_size`` are the same key)."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as iters=20, got {text!r}")
    if key not in FLOW_OPTIONS:
        known = ", ".join(sorted(FLOW_OPTIONS))
        raise argparse.ArgumentTypeError(f"unknown flow option {key!r}; known: {known}")
    kind, _ = FLOW_OPTIONS[key]
    try:
        return key, kind(value.strip())
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"flow option {key}: {exc}") from None


def add_flow_opt(g: Any) -> None:
    """The generic ``--flow-opt KEY=VALUE`` option (repeatable), dest ``flow_opt``."""
    g.add_argument(
        "--flow-opt", dest="flow_opt", action="append", type=flow_opt_type, default=[],
        metavar="KEY=VALUE",
        help="an option of the flow method, repeatable: " + ", ".join(sorted(FLOW_OPTIONS))
        + " (e.g. --flow-opt iters=20 --flow-opt device=cuda)",
    )  # fmt: skip


def flow_opt_dict(method: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``--flow-opt`` pairs as a dict, refusing keys given twice or for another method."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        methods = FLOW_OPTIONS[key][1]
        if methods is not None and method not in methods:
            raise MotionlabError(
                f"--flow-opt {key} applies to {', '.join(methods)} only, not to {method}"
            )
        if key in out:
            raise MotionlabError(f"--flow-opt {key} given twice")
        out[key] = value
    return out


def merge_flow_opts(args: argparse.Namespace) -> None:
    """Fold ``--flow-opt KEY=VALUE`` into the named flag of the same key (``--weights``,
    ``--iters``, ...: every key of :data:`FLOW_OPTIONS` has one in :func:`add_flow_options`),
    so the rest of the command (overwrite checks, provenance of the weights file) sees one
    value; one key given both ways, or twice, is refused. Idempotent. Commands without the
    named flags (obfuscate) keep ``flow_opt`` and use :func:`flow_opt_dict`."""
    pairs = getattr(args, "flow_opt", None)
    if not pairs or not hasattr(args, "preset"):
        return
    seen = set()
    for key, value in pairs:
        if key in seen:
            raise MotionlabError(f"--flow-opt {key} given twice")
        seen.add(key)
        current = getattr(args, key)
        if key == "batch_size" and current == 1:  # the flag's default
            current = None
        if current is not None:
            flag = "--" + key.replace("_", "-")
            raise MotionlabError(f"{flag} and --flow-opt {key} both given; give one")
        setattr(args, key, value)
    args.flow_opt = []


def add_flow_options(p: argparse.ArgumentParser) -> None:
    """Optical flow: ``--flow METHOD`` (old spelling ``--method``), ``--flow-opt``, and the
    named shortcuts ``--preset``, ``--weights``, ``--iters``, ``--device``,
    ``--batch-size``, ``--upsample``."""
    g = p.add_argument_group("optical flow")
    g.add_argument(
        "--flow",
        dest="method",
        default=DEFAULT_FLOW,
        metavar="METHOD",
        help="dis (default), farneback, tvl1, deepflow, raft-small, raft-large",
    )
    add_deprecated_alias(g, "--method", "--flow", dest="method")
    add_flow_opt(g)
    g.add_argument(
        "--preset",
        choices=DIS_PRESETS,
        help="DIS preset (default: medium for flow, fast for afd, medium-full for stvi)",
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


def estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator options of :func:`add_flow_options`' flags, ``--flow-opt``s folded
    in first (:func:`merge_flow_opts`)."""
    merge_flow_opts(args)
    raft = args.method.startswith("raft")
    opts: dict[str, Any] = {}
    if args.preset is not None:
        if args.method != "dis":
            raise MotionlabError("--preset applies to --flow dis only")
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


def progress_bar(total: int | None, desc: str, enabled: bool, unit: str = "pair") -> Any:
    """A :class:`motionlab.progress.Progress` (bar on a terminal, lines in logs, JSON with
    ``--log-json``, nothing when not ``enabled``)."""
    from motionlab.progress import Progress

    return Progress(total, desc, unit, enabled=enabled)


def add_noise_options(p: argparse.ArgumentParser, *, per_video: bool) -> None:
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
            "reads the input twice; obfuscate once, keeping up to 512 MB of frames)"
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


def noise_range(args: argparse.Namespace) -> Any:
    from motionlab.afd.noise import NoiseRange, video_mean_std_stream
    from motionlab.video import VideoReader

    if (args.noise_mean is None) != (args.noise_std is None):
        raise MotionlabError("--noise-mean and --noise-std go together")
    if args.noise_mean is not None:
        if args.noise_range != "full":
            raise MotionlabError("give either --noise-range video or --noise-mean/--noise-std")
        return NoiseRange.from_mean_std(args.noise_mean, args.noise_std, grayscale=args.grayscale)
    if args.noise_range == "full":
        return NoiseRange(grayscale=args.grayscale)
    with VideoReader(args.input, **reader_kwargs(args)) as reader:
        mean, std = video_mean_std_stream(reader)
    return NoiseRange.from_mean_std(mean, std, grayscale=args.grayscale)


def add_afd_options(p: argparse.ArgumentParser, *, per_video: bool) -> None:
    p.add_argument(
        "--mode",
        choices=("advect", "first-frame", "iid"),
        default="advect",
        help="advect (default): noise carried by the flow, every frame i.i.d.; first-frame: "
        "the published method (first noise frame warped by each pair's flow); iid: fresh "
        "noise every frame (no motion)",
    )
    add_noise_options(p, per_video=per_video)
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


def afd_config(args: argparse.Namespace) -> Any:
    from motionlab.afd import AFDConfig

    return AFDConfig(
        mode=args.mode,
        seed=args.seed,
        noise=noise_range(args),
        density=args.density,
        first_frame_flow=args.first_frame_flow,
        flow_method=args.method,
        flow_options=estimator_options(args),
    )
