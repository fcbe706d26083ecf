"""Sub-commands about motionlab itself: ``doctor`` and ``completion``; and the provenance
part of ``info`` (:func:`print_info`).

Kept apart from :mod:`motionlab.cli` (registered through its ``_COMMAND_MODULES``) so the
core command module stays about video work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from motionlab.errors import MotionlabError


def print_info(path: str | os.PathLike[str], *, fps: float | None = None) -> bool:
    """If ``path`` carries motionlab provenance, print it as one JSON object (with the
    video's size, rate and frame count first when it is a video) and return True; return
    False when it carries none (``info`` then prints the video's fields alone)."""
    from motionlab.provenance import read

    record = read(path)
    if record is None:
        return False
    out: dict[str, Any] = {}
    if os.path.isdir(path) or not str(path).lower().endswith((".flo", ".pt", ".pth")):
        try:
            from motionlab.video import probe

            info = probe(path, fps=fps)
            out = {
                "source": str(info.source),
                "width": info.width,
                "height": info.height,
                "fps": round(info.fps, 6),
                "num_frames": info.num_frames,
                "frame_folder": info.is_frame_folder,
            }
        except MotionlabError:  # not a video (flow folder, STVI folder, export, ...)
            out = {"source": str(path)}
    else:
        out = {"source": str(path)}
    out["provenance"] = record
    print(json.dumps(out, indent=2, default=str))
    return True


def cmd_doctor(args: argparse.Namespace) -> int:
    """motionlab doctor: versions, optional features, the command to add a missing one."""
    from motionlab.doctor import diagnose, format_report, to_json

    found = diagnose()
    print(to_json(found) if args.json else format_report(found))
    return 0


def cmd_completion(args: argparse.Namespace) -> None:
    """motionlab completion bash|zsh: print the shell completion script."""
    from motionlab.completion import script

    # the root parser comes with the arguments (cli.build_parser sets it): importing
    # motionlab.cli here would make the command line a circle
    sys.stdout.write(script(args.shell, args.root_parser))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``doctor`` and ``completion`` to the ``motionlab`` command."""
    from motionlab.completion import SHELLS

    p = sub.add_parser(
        "doctor",
        help="list versions and optional features, with the command that adds a missing one",
        description="Print motionlab's, Python's, torch's and torchvision's versions, then "
        "each optional feature (RAFT flow, privacy DINO and MediaPipe landmarks matchers, "
        "recognition zoo, study web app, Ray, the study's browser test), whether it is "
        "usable here, and for a missing one the exact command that installs it. Always "
        "exits 0.",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "completion",
        help="print a bash or zsh completion script",
        description="Print a completion script generated from this command's parser. "
        "bash: motionlab completion bash > ~/.local/share/bash-completion/completions/"
        "motionlab (or: source <(motionlab completion bash)); zsh: source <(motionlab "
        "completion zsh) in ~/.zshrc.",
    )
    p.add_argument("shell", choices=SHELLS, help="bash or zsh")
    p.set_defaults(func=cmd_completion)
