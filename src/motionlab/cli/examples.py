"""Example lines shown by ``motionlab COMMAND --help`` (man-style "examples:" section).

:data:`EXAMPLES` maps a command path (``"afd"``, ``"study report"``; ``""`` is
``motionlab`` itself) to command lines, each optionally followed by ``  # what it does``.
:func:`attach_examples` walks a built parser and sets every sub-parser's ``epilog`` from
it. ``tests/test_cli_examples.py`` checks that every command has examples and that every
example parses with the real parser, so an example cannot rot.
"""

from __future__ import annotations

import argparse
import textwrap

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "motionlab sample-video sample.mp4 && motionlab afd sample.mp4 -o sample_afd.avi --gif",
        "motionlab flow sample.mp4 -o flow.mp4",
        "motionlab info sample_afd.avi   # how an output was made",
        "motionlab doctor                # what is installed, what is missing",
    ),
    "flow": (
        "motionlab flow frame1.png frame2.png -o pair.flo --png pair.png",
        "motionlab flow clip.mp4 -o flow.mp4                  # colour-coded flow video",
        "motionlab flow clip.mp4 -o flows/ --flow raft-small --weights raft-small.pth",
    ),
    "afd": (
        "motionlab afd clip.mp4 -o clip_afd.avi               # lossless, default mode advect",
        "motionlab afd clip.mp4 -o view.mkv --triptych --gif  # source | flow | AFD, and a GIF",
        "motionlab afd frames/ -o afd_frames/ --mode first-frame --seed 7",
    ),
    "afd-dataset": (
        "motionlab afd-dataset UCF101/ AFD101/ --workers 2 --save-flow",
        "motionlab afd-dataset UCF101/ AFD5/ --subset afd5",
    ),
    "sample-video": (
        "motionlab sample-video sample.mp4",
        "motionlab sample-video frames/ --frames 16 --size 160x120",
    ),
    "info": (
        "motionlab info clip.mp4          # size, frame rate, frame count",
        "motionlab info clip_afd.avi      # and, for an output of motionlab, its provenance",
    ),
    "convert": (
        "motionlab convert clip.mp4 -o clip.mkv                 # lossless FFV1",
        "motionlab convert clip.mp4 -o frames/ --start 10 --stop 40 --resize 320x240",
    ),
    "stvi": (
        "motionlab stvi DAVIS/JPEGImages/480p/blackswan --anchors "
        "DAVIS/Annotations/480p/blackswan -o results/blackswan/ --pictures",
    ),
    "stvi-eval": ("motionlab stvi-eval results/ --davis DAVIS",),
    "study": (
        "motionlab study demo demo/ && motionlab study serve --config demo/study.toml",
        "motionlab study report --config demo/study.toml -o report/",
    ),
    "study serve": (
        "motionlab study serve --config demo/study.toml            # prints the links",
        "motionlab study serve --config study.toml --db postgresql://lab@db/study --port 8000",
    ),
    "study export": ("motionlab study export --config demo/study.toml -o export/",),
    "study report": (
        "motionlab study report --config demo/study.toml -o report/",
        "motionlab study report --trials export/trials.csv -o report/ "
        "--model-predictions preds.csv",
    ),
    "study demo": ("motionlab study demo demo/   # synthetic clips, their AFD, demo/study.toml",),
    "study simulate": ("motionlab study simulate --config demo/study.toml --participants 10",),
    "models": (
        "motionlab models            # the zoo: streams, clip sampling, parameters",
        "motionlab models --count    # count parameters by building every model",
    ),
    "train": (
        "motionlab synth-actions synth/ && motionlab train --arch tiny3d --data synth "
        "-o runs/tiny --epochs 5",
        "motionlab train --arch e2s_x3d_m --data UCF101 --split 1 -o runs/e2s "
        "--flow-cache AFD101",
    ),
    "evaluate": (
        "motionlab evaluate runs/tiny/best.pt --data synth --json results.json",
        "motionlab evaluate runs/e2s/best.pt --data UCF101 --split 1 --condition afd",
    ),
    "diagnose": (
        "motionlab diagnose --model runs/tiny/best.pt --data synth -o diag   # uses motion?",
        "motionlab diagnose --model x3d_s --weights x3d_s.pt --data UCF101 -o diag",
    ),
    "predict": ("motionlab predict clip.mp4 --model runs/tiny/best.pt --top 5",),
    "synth-actions": (
        "motionlab synth-actions synth/ --videos-per-class 20 --seed 0",
        "motionlab synth-actions small/ --videos-per-class 4 --size 64x64 --frames 16",
    ),
    "obfuscate": (
        "motionlab obfuscate clip.mp4 -o hidden.mkv --templates face",
        "motionlab obfuscate clip.mp4 -o hidden.mkv --templates forehead,hair,eyes "
        "--save-saliency saliency/",
        "motionlab obfuscate street.avi -o hidden.mkv --templates body --people many",
        "motionlab obfuscate clip.mp4 -o blurred.mkv --templates face --replace blur",
    ),
    "baseline": ("motionlab baseline clip.mp4 -o pix.mp4 --method pixelate16",),
    "templates": (
        "motionlab templates create hair --image person.jpg --point 160,40 --library faces.json",
        "motionlab templates list --library faces.json",
    ),
    "templates create": (
        "motionlab templates create hair --image person.jpg --point 160,40 --library faces.json",
        "motionlab templates create eyes --image person.jpg --pick --library faces.json",
    ),
    "templates list": ("motionlab templates list --library faces.json",),
    "templates show": ("motionlab templates show hair --library faces.json -o hair.png",),
    "templates remove": ("motionlab templates remove hair --library faces.json",),
    "templates rebuild": (
        "motionlab templates rebuild --library faces.json --weights dino_deitsmall8_pretrain.pth",
    ),
    "templates similarity": (
        "motionlab templates similarity v1.mp4 v2.mp4 --templates all -o similarity.png",
    ),
    "privacy-eval": ("motionlab privacy-eval predictions.csv --lambda 0.5 --plot sweep.png",),
    "doctor": ("motionlab doctor", "motionlab doctor --json"),
    "completion": (
        "source <(motionlab completion bash)",
        "motionlab completion zsh > ~/.zfunc/_motionlab",
    ),
}


class ExamplesFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that indented lines (the examples) are kept as
    written instead of being wrapped together."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        for paragraph in text.split("\n\n"):
            if paragraph.startswith("  "):
                out.append(textwrap.indent(paragraph, indent))
            else:
                out.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(out)


def epilog(path: str) -> str:
    """The ``examples:`` section for a command path (empty if it has none)."""
    lines = EXAMPLES.get(path, ())
    return "examples:\n\n" + "\n".join(f"  {line}" for line in lines) if lines else ""


def subparsers(
    parser: argparse.ArgumentParser, path: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    """(command path, parser) of ``parser`` and of every sub-parser below it."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += subparsers(sub, f"{path} {name}".strip())
    return found


def attach_examples(parser: argparse.ArgumentParser) -> None:
    """Set the ``examples:`` epilog of ``parser`` and every sub-parser (in place)."""
    for path, p in subparsers(parser):
        text = epilog(path)
        if text:
            p.epilog = f"{p.epilog}\n\n{text}" if p.epilog else text
            p.formatter_class = ExamplesFormatter
