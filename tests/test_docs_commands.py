"""Docs that run: every ``motionlab`` command line of README.md and docs/*.md is checked.

How the lines are found is said in ``tests/docs_commands.py`` (fenced shell blocks,
continuations joined, comments cut, ``&&``/``;``/``|`` split, ``[...]`` optional groups).

1. **Parse** (fast, default run): every command, with and without each optional group,
   goes through the real parser, :func:`motionlab.cli.build_parser`. A documented option
   that was renamed or removed fails here.
2. **Run** (default run): each document's cheap commands run in document order in one
   temporary folder, on generated inputs: a file the docs name (``clip.mp4``,
   ``person.jpg``, ``UCF101/`` ...) is made by :data:`GENERATORS` when a command first
   needs it (scikit-image's astronaut for faces, :mod:`motionlab.synthetic` for motion,
   ``synth-actions`` for datasets). Files a command makes (``demo/``, ``faces.json``,
   ``runs/``) are used by the later ones, as a reader would.
3. **Slow** (``-m slow``): the same with the heavy commands too (training, DINO, DAVIS):
   training gets ``--epochs 1`` and small clips appended (:data:`SHRINK`) so that it ends
   in seconds; DAVIS lines need ``../shared/data/davis2016`` and skip without it.

:func:`plan` says for every command whether it runs, runs only in the slow job, or is
skipped, and why; ``python tests/docs_commands.py`` prints the whole list and the counts.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import logging
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docs_commands import REPO, Command, all_commands, documents
from motionlab.cli import build_parser, main

from conftest import DATA

COMMANDS = all_commands()
QUICKSTART_INPUTS = REPO / "docs" / "quickstart_inputs.py"
DOCS = [p.relative_to(REPO).as_posix() for p in documents()]


# --------------------------------------------------------------------------------------
# what runs


def _is_placeholder(word: str) -> bool:
    """A synopsis metavar such as MODEL or RGB_ROOT (not a generated input's name), or a
    value to fill in such as ``<head-ip>:6379``."""
    if "<" in word and ">" in word:
        return True
    stem = word.split("/")[0]
    return stem.replace("_", "").isalpha() and stem.isupper() and stem not in GENERATORS


def plan(cmd: Command) -> tuple[str, str]:
    """("run" | "slow" | "skip", why) for one documented command."""
    argv = cmd.argv
    head = argv[:2]
    if "torchrun" in cmd.text:
        return "skip", "DDP under torchrun: tests/test_recognition_train.py -k ddp runs it (slow)"
    if head == ("study", "serve"):
        return "skip", "a web server that runs until stopped (tests/test_study_cli.py serves)"
    if "--pick" in argv:
        return "slow", "DINO; --pick opens a window: run with --point 128,100 instead"
    if "KTH" in argv:
        return "skip", "needs the KTH dataset (not in ../shared); --split kth: test_recognition_*"
    if any(_is_placeholder(w) for w in argv):
        return "skip", "a synopsis with placeholders; its options are parsed"
    if "--splits" in argv:
        return "skip", "needs three trained checkpoints; --splits: tests/test_recognition_train.py"
    if argv[0] == "stvi" and "--anchors" not in argv and "--detector-weights" not in argv:
        return "skip", (
            "downloads Mask R-CNN's COCO weights; tests/test_stvi_detect.py runs this path "
            "with masks injected"
        )
    if "DAVIS" in " ".join(argv):
        return "slow", "DAVIS 2016 from ../shared/data/davis2016"
    if argv[0] in ("train", "evaluate", "diagnose", "predict"):
        return "slow", "trains or runs a model (shrunk: --epochs 1, small clips)"
    if (argv[0] == "templates" and argv[1] != "similarity") or "--library" in argv:
        return "slow", "DINO ViT-S/8 with random weights (file, and as the hub's cached copy)"
    if argv == ("models", "--count"):
        return "slow", "builds every model of the zoo"
    per_class = argv[argv.index("--videos-per-class") + 1] if "--videos-per-class" in argv else "20"
    if argv[0] == "synth-actions" and int(per_class) > 12:
        return "slow", f"{5 * int(per_class)} videos"
    return "run", ""


# Training and model runs get these appended (argparse: the last value wins) so that the
# documented line runs in seconds on the generated dataset.
SHRINK: dict[str, tuple[str, ...]] = {
    "train": ("--epochs", "1", "--frames", "4", "--size", "32", "--batch-size", "2"),
    "diagnose": ("--bootstrap", "20"),  # a motionlab checkpoint brings its clip size
}


def run_argv(cmd: Command) -> list[str]:
    """What a run executes: the line with its literal optional groups (but none that asks
    for CUDA on a machine without it) and, for model commands, :data:`SHRINK`."""
    import torch

    from docs_commands import usable

    keep = [
        i
        for i, (_, group) in enumerate(cmd.groups)
        if usable(group) and ("cuda" not in group or torch.cuda.is_available())
    ]
    argv = list(cmd.with_groups(keep))
    if "--pick" in argv:  # a click in a window: the point it would give
        argv[argv.index("--pick") : argv.index("--pick") + 1] = ["--point", "128,100"]
    return ["-q", *argv, *SHRINK.get(argv[0], ())]


# --------------------------------------------------------------------------------------
# generated inputs, by the name the docs give them


def _astronaut(size: int = 256) -> np.ndarray:
    from skimage import data, transform

    return (transform.resize(data.astronaut(), (size, size)) * 255).astype(np.uint8)


def _face_clip(path: Path, shift: int = 3) -> None:
    """Six frames of scikit-image's astronaut (a real face) panning right."""
    from motionlab.video import write_video

    img = _astronaut()
    write_video(path, [np.roll(img, shift * t, axis=1) for t in range(6)], fps=10)


def _image(path: Path) -> None:
    import cv2

    assert cv2.imwrite(str(path), _astronaut()[:, :, ::-1])


def _frames(path: Path) -> None:
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import write_video

    write_video(f"{path}/", sample_video_frames(8, size=(128, 96), seed=0), fps=25)


def _synth(path: Path) -> None:
    """The synthetic actions, small: 5 classes x 6 videos of 3 actors (1 for testing)."""
    argv = ["-q", "synth-actions", f"{path}/", "--videos-per-class", "6", "--actors", "3"]
    assert main([*argv, "--test-actors", "1", "--size", "64x64", "--frames", "16"]) == 0


def _afd_flow(path: Path) -> None:
    _generate(path.parent / "UCF101")
    assert main(["-q", "afd-dataset", str(path.parent / "UCF101"), str(path), "--save-flow"]) == 0


def _persons(path: Path) -> None:
    """A person -> part table for SYNTH (metadata.csv's persons, one to test)."""
    _generate(path.parent / "SYNTH")
    with open(path.parent / "SYNTH" / "metadata.csv", newline="") as f:
        persons = sorted({r["person"] for r in csv.DictReader(f)})
    rows = [f"{p},{'test' if i == len(persons) - 1 else 'train'}" for i, p in enumerate(persons)]
    path.write_text("person,split\n" + "\n".join(rows) + "\n")


def _privacy_predictions(path: Path) -> None:
    """Per-video predictions of two methods (privacy-eval's CSV format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["method,video,action_true,action_pred,privacy_true,privacy_pred"]
    for method, hit in (("none", 1), ("ours", 0)):
        for v in range(4):
            rows.append(f"{method},v{v},a{v % 2},a{v % 2},p{v},p{v if hit else v + 1}")
    path.write_text("\n".join(rows) + "\n")


def _study_predictions(path: Path) -> None:
    """A model's answers on the demo study's classes (study report's CSV format)."""
    from motionlab.study.config import load_config

    classes = list(load_config(path.parent / "demo" / "study.toml").classes)
    rows = ["truth,prediction,modality"]
    rows += [f"{c},{classes[(i + k) % len(classes)]},afd" for i, c in enumerate(classes)
             for k in (0, 0, 1)]  # fmt: skip
    path.write_text("\n".join(rows) + "\n")


def _dino_weights(path: Path, *, hub: bool = False) -> None:
    """DINO ViT-S/8 with random weights (no download): in the original checkpoint's layout
    (``dino_deitsmall8_pretrain.pth``), or ``hub=True`` as timm's hub file."""
    import torch

    from motionlab.privacy.dino import DinoExtractor, DinoSettings

    state = DinoExtractor(settings=DinoSettings(), weights="random", seed=0).model.state_dict()
    if hub:
        torch.save(state, path)
    else:
        torch.save({"teacher": {f"module.{k}": v for k, v in state.items()}}, path)


def _quickstart_inputs() -> Any:
    """docs/quickstart_inputs.py, the script docs/quickstart.md has the reader run."""
    spec = importlib.util.spec_from_file_location("quickstart_inputs", QUICKSTART_INPUTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _davis(path: Path) -> None:
    davis = DATA / "davis2016"
    if not davis.is_dir():
        pytest.skip(f"needs {davis} (the project's ../shared data, absent on this machine)")
    path.symlink_to(davis, target_is_directory=True)


GENERATORS: dict[str, Callable[[Path], None]] = {
    "clip.mp4": _face_clip,
    "sbu_clip.mp4": _face_clip,
    "street.avi": _face_clip,
    "v1.mp4": _face_clip,
    "v2.mp4": lambda p: _face_clip(p, shift=-4),
    "v_JumpingJack_g01_c01.avi": _face_clip,
    "person.jpg": _image,
    "frames": _frames,
    "UCF101": _synth,
    "SYNTH": _synth,
    "AFD101": _afd_flow,
    "persons.csv": _persons,
    "predictions.csv": _privacy_predictions,
    "WORK": lambda p: _privacy_predictions(p / "privacy" / "predictions_e2s_tiny.csv"),
    "preds.csv": _study_predictions,
    "dino_deitsmall8_pretrain.pth": _dino_weights,
    "DAVIS": _davis,
    "face.mkv": lambda p: _quickstart_inputs().face_clip(p),
    "object": lambda p: _quickstart_inputs().two_part_object(p),
}
"""Inputs the docs name but no documented command makes, keyed by the first part of the
name; each writes its input at the path it is given (the current folder's name)."""


def _generate(path: Path) -> None:
    if not os.path.lexists(path):
        GENERATORS[path.name](path)


# After a documented command, what a reader does next that is no command line: people take
# the demo study (serve is not run), so export and report have answers to read.
AFTER: dict[tuple[str, ...], Callable[[list[str]], None]] = {
    ("study", "demo"): lambda argv: _simulate(argv[-1]),
}


def _simulate(folder: str) -> None:
    config = str(Path(folder) / "study.toml")
    assert main(["-q", "study", "simulate", "--config", config, "--participants", "2"]) == 0


# --------------------------------------------------------------------------------------
# tests


def test_lines_are_found() -> None:
    """The extraction sees the documented commands at all (not zero by a broken rule)."""
    assert len(COMMANDS) >= 50
    docs = {c.doc for c in COMMANDS}
    assert {"README.md", "docs/afd.md", "docs/privacy.md", "docs/quickstart.md"} <= docs
    first = [c for c in COMMANDS if c.doc == "README.md"][:2]  # README's first line
    assert [c.argv for c in first] == [
        ("sample-video", "sample.mp4"),
        ("afd", "sample.mp4", "-o", "sample_afd.avi", "--gif"),
    ]


def test_extraction_rules(tmp_path: Path) -> None:
    from docs_commands import documented_commands

    doc = tmp_path / "x.md"
    doc.write_text(
        "```bash\n"
        "motionlab afd a.mp4 \\\n"
        "    -o b.avi   # comment\n"
        "# motionlab commented out\n"
        "pip install x && motionlab info b.avi; PYTHONPATH=src python -m motionlab doctor\n"
        "motionlab flow a.png b.png -o f.flo [--png f.png] [--method M|N]\n"
        "```\n"
        "```text\nmotionlab synopsis [--x]\n```\n"
        "```\nmotionlab models\n```\n"
    )
    import docs_commands

    old = docs_commands.REPO
    docs_commands.REPO = tmp_path
    try:
        found = documented_commands(doc)
    finally:
        docs_commands.REPO = old
    assert [(c.line, c.argv) for c in found] == [
        (2, ("afd", "a.mp4", "-o", "b.avi")),
        (5, ("info", "b.avi")),
        (5, ("doctor",)),
        (6, ("flow", "a.png", "b.png", "-o", "f.flo")),
        (12, ("models",)),
    ]
    flow = found[3]
    assert flow.variants() == [flow.argv, (*flow.argv, "--png", "f.png")]  # M|N: not literal


def _id(c: Command) -> str:
    """``README.md:86:study-demo``: where, and the (sub-)command."""
    words = c.argv[:2] if c.argv[0] in ("study", "templates") else c.argv[:1]
    return f"{c.where}:{'-'.join(words)}"


@pytest.mark.parametrize("cmd", COMMANDS, ids=[_id(c) for c in COMMANDS])
def test_documented_line_parses(cmd: Command) -> None:
    """Every documented command (with and without each optional group) is accepted by the
    real parser: a renamed or removed option or sub-command fails here."""
    parser = build_parser()
    for argv in cmd.variants():
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(list(argv))
        except SystemExit as exc:
            if exc.code not in (0, None):
                pytest.fail(f"{cmd.where}: `motionlab {shlex.join(argv)}` does not parse: "
                            f"{err.getvalue().strip().splitlines()[-1]}")  # fmt: skip


def test_every_command_has_a_plan() -> None:
    """Print (with -s) and check the count the issue note quotes."""
    kinds = [plan(c)[0] for c in COMMANDS]
    summary = (
        f"{len(COMMANDS)} documented command lines, "
        f"{sum(len(c.variants()) for c in COMMANDS)} variants parsed; "
        f"run {kinds.count('run')}, slow {kinds.count('slow')}, skip {kinds.count('skip')}"
    )
    print(summary)
    assert kinds.count("run") >= 25, summary
    for c, k in zip(COMMANDS, kinds, strict=True):
        assert k == "run" or plan(c)[1], c.where  # every exception says why


def _outputs(argv: list[str]) -> set[str]:
    """The words of ``argv`` that name what the command writes (never generated)."""
    args = build_parser().parse_args(argv)
    keys = ("output", "out", "dst", "folder", "json", "plot", "png", "save_saliency")
    return {str(v) for k in keys if (v := getattr(args, k, None)) is not None} | {
        str(v).rstrip("/") + "/" for k in keys if (v := getattr(args, k, None)) is not None
    }


def _docs_with(kinds: set[str]) -> list[str]:
    """The documents with at least one command of these kinds."""
    return [d for d in DOCS if any(c.doc == d and plan(c)[0] in kinds for c in COMMANDS)]


def _run_doc(doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kinds: set[str]) -> None:
    cmds = [c for c in COMMANDS if c.doc == doc and plan(c)[0] in kinds]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never download in a test
    if "slow" in kinds:  # lines without --weights use the hub's copy: as if downloaded
        from motionlab.privacy import dino_features

        hub = tmp_path.parent / f"{tmp_path.name}_hub_dino.pth"
        monkeypatch.setattr(dino_features, "_cached_hub_file", lambda _name: hub)
        _dino_weights(hub, hub=True)
    failures: list[str] = []
    skipped: list[str] = []
    simulates = any(c.argv[:2] == ("study", "simulate") for c in cmds)  # the doc does it
    for cmd in cmds:
        argv = run_argv(cmd)
        outputs = _outputs(argv)
        try:
            for word in argv:
                if word.split("/")[0] in GENERATORS and word not in outputs:
                    _generate(tmp_path / word.split("/")[0])
        except pytest.skip.Exception as exc:  # an input that is not here (../shared data)
            skipped.append(f"{cmd.where}: {exc.msg}")
            continue
        logging.getLogger().handlers.clear()  # main() configures logging per run
        out = io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out):
                status = main(argv)
        except SystemExit as exc:
            status = exc.code
        print(f"{cmd.where}: {time.perf_counter() - started:5.1f} s  motionlab {shlex.join(argv)}")
        if status != 0:
            failures.append(f"{cmd.where}: `motionlab {shlex.join(argv)}` exited {status}")
            continue
        if tuple(argv[1:3]) in AFTER and not simulates:
            AFTER[tuple(argv[1:3])](argv)
    assert not failures, "\n".join(failures)
    if skipped:
        print("skipped:", *skipped, sep="\n  ")
        if len(skipped) == len(cmds):
            pytest.skip("; ".join(skipped))


@pytest.mark.parametrize("doc", _docs_with({"run"}))
def test_documented_commands_run(
    doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document's cheap commands run, in order, on generated inputs, and exit 0."""
    _run_doc(doc, tmp_path, monkeypatch, {"run"})


@pytest.mark.slow
@pytest.mark.parametrize("doc", _docs_with({"slow"}))
def test_documented_commands_run_slow(
    doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All of a document's runnable commands, heavy ones included, in order."""
    _run_doc(doc, tmp_path, monkeypatch, {"run", "slow"})


def test_quickstart_pictures_script_runs_the_quickstart() -> None:
    """docs/make_quickstart_pictures.py runs exactly docs/quickstart.md's commands, so its
    pictures are the ones those commands make."""
    spec = importlib.util.spec_from_file_location(
        "make_quickstart_pictures", REPO / "docs" / "make_quickstart_pictures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scripted = [tuple(line.split()) for lines in module.STEPS.values() for line in lines]
    documented = [c.argv for c in COMMANDS if c.doc == "docs/quickstart.md"]
    assert scripted == documented
