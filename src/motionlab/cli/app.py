"""The ``motionlab`` command: the root parser, dispatch and one-line errors.

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
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from motionlab import __version__, progress
from motionlab.cli.examples import attach_examples, subparsers
from motionlab.cli.options import merge_flow_opts, positive_float
from motionlab.errors import MotionlabError
from motionlab.gcpause import freeze_at_exit
from motionlab.provenance import set_command

log = logging.getLogger("motionlab")


# One module per command family, in the order of ``motionlab --help``: each has
# ``register(sub)`` that adds its parsers to the sub-parsers action. They import heavy
# dependencies (torch, web frameworks) inside their command functions, so
# ``motionlab --help`` stays fast.
_COMMAND_MODULES: tuple[str, ...] = (
    "motionlab.cli.flow",
    "motionlab.cli.afd",
    "motionlab.cli.video",
    "motionlab.cli.stvi",
    "motionlab.cli.study",
    "motionlab.cli.recognition",
    "motionlab.cli.privacy",
    "motionlab.cli.tools",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``motionlab`` command."""
    parser = argparse.ArgumentParser(
        prog="motionlab",
        description="Motion-centric video tools: optical flow, appearance-free video, ...",
    )
    parser.add_argument("--version", action="version", version=f"motionlab {__version__}")
    add_log_options(parser, root=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for path, command in subparsers(parser):  # -q, -v, --log-json also after the command
        if path:
            add_log_options(command, root=False)
    attach_examples(parser)  # the "examples:" section of every COMMAND --help
    # commands that need the whole parser (completion) get it here, not by importing us
    parser.set_defaults(root_parser=parser)
    return parser


def add_log_options(parser: argparse.ArgumentParser, *, root: bool) -> None:
    """``-v``, ``-q``, ``--log-json`` and ``--progress-every``: on the root parser with
    their defaults, on every sub-command without (so ``motionlab -q afd ...`` and
    ``motionlab afd ... -q`` mean the same)."""
    kw: dict[str, Any] = {} if root else {"default": argparse.SUPPRESS}
    g = parser.add_argument_group("logging and progress")
    g.add_argument("-v", "--verbose", action="store_true", help="log debug messages", **kw)
    g.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or lines, warnings only",
        **kw,
    )  # fmt: skip
    g.add_argument(
        "--log-json", action="store_true",
        help="progress as one JSON object per line on stderr (for schedulers; also with -q)",
        **kw,
    )  # fmt: skip
    every: dict[str, Any] = {"default": 10.0} if root else kw
    g.add_argument(
        "--progress-every", type=positive_float, metavar="SECONDS",
        help="seconds between progress lines when stderr is not a terminal (default 10)",
        **every,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``motionlab`` command; return its exit status."""
    freeze_at_exit()  # the interpreter's shutdown skips the objects alive then (gcpause)
    parser = build_parser()
    args = parser.parse_args(argv)
    set_command(argv)  # recorded in every output's provenance
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    # -q silences bars and progress lines; --log-json asks for JSON progress explicitly
    args.show_progress = args.log_json or not args.quiet
    progress.configure("json" if args.log_json else "auto", every=args.progress_every)
    if not args.verbose:  # libraries' notes to their developers (torch.jit...) are noise here
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=level, format="motionlab: %(message)s", stream=sys.stderr)
    try:
        merge_flow_opts(args)  # --flow-opt KEY=VALUE into --KEY where it exists
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
