"""The bad-input table (issue 13, defect 7): every sub-command × classes of bad input.

Each row runs the command line in a child process (``tests/badinput_runner.py``: forked
from a process that has imported motionlab once, or, for the rows marked ``exec``, the
real ``python -m motionlab``) and asserts:

* the exit status: non-zero for bad input (``error``; ``usage`` = argparse's 2), 0 where
  the input is legitimately fine (``ok``), or either, cleanly (``either``: tiny frames,
  where failing or succeeding are both honest);
* on an error, exactly one line on stderr, ``motionlab: error: ...``, naming the file
  (the strings in ``names``); ``usage`` rows: argparse's usage and one ``error:`` line;
* no ``Traceback`` on stdout or stderr;
* no output left behind after an error: the row's folder (where every output goes)
  holds exactly what it held before, so no ``-o`` file and no ``.NAME.tmp-*``;
* the input files' bytes unchanged (digests before and after the whole table);
* finished within the row's time limit (a timeout is a hang and fails the row).

Classes: missing, empty, folder-for-file, file-for-folder, truncated, not a video (text
named .mp4), one frame, tiny (2×2) frames, huge dimensions in a header (PNG, ``.flo``,
``.npy`` in ``labels.npz``), mismatched sizes, wrong dtypes (16-bit PNG, float/object
``.npy``), unreadable input, read-only output folder, full disk (``RLIMIT_FSIZE``),
non-UTF-8 file names and negative/NaN/inf numeric options. As root, permission bits are
not enforced, so the unreadable-input and read-only-folder rows drop to the ``nobody``
user in the child; without that user (or when not root and unable to chmod) they skip.

The whole table runs once per session (``bad_input_results``); each row is one test.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import motionlab

RUNNER = Path(__file__).with_name("badinput_runner.py")
FSIZE = 4096  # bytes: the "full disk" of the full-disk rows (RLIMIT_FSIZE)


@dataclass(frozen=True)
class Row:
    """One command line and what it must do.

    ``argv``: shell-like words, ``{I}`` = the session's input folder; outputs are relative
    names (the child runs in the row's own empty folder). ``expect``: error, usage, ok or
    either. ``names``: strings the error line must contain. ``setup``: what the row's
    folder holds first (``outfile``: a file ``out``; ``ro``: a read-only folder ``ro/``;
    ``locked``: an unreadable copy of the good video ``locked.mkv``). ``creates``: names a
    successful run may add to the row's folder.
    """

    id: str
    argv: str
    expect: str = "error"
    names: tuple[str, ...] = ()
    setup: str = ""
    creates: tuple[str, ...] = ()
    heavy: bool = False  # imports torch / builds models: a longer limit
    fsize: int | None = None
    exec: bool = False
    raw_argv: tuple[bytes, ...] = field(default=())  # replaces argv (non-UTF-8 names)
    slow: bool = False  # only with -m slow (exec rows of torch/web commands: 5-15 s each)

    @property
    def user(self) -> bool:
        return self.setup in ("ro", "locked")

    @property
    def timeout(self) -> float:
        return 240.0 if self.heavy else 120.0  # generous: a busy machine is not a hang


def _video_rows(cmd: str, argv: str, out: str, *, one: str, tiny: str, heavy: bool = False):
    """The input-file classes for a command whose input is a video (``{V}`` in argv)."""
    cases = {
        "missing": ("{I}/nosuch.mkv", "error", ("nosuch.mkv",)),
        "empty": ("{I}/empty.mkv", "error", ("empty.mkv",)),
        "folder-for-file": ("{I}/folder.mkv", "error", ("folder.mkv",)),
        "text-as-mp4": ("{I}/text.mp4", "error", ("text.mp4",)),
        "truncated": ("{I}/trunc.mp4", "error", ("trunc.mp4",)),
        "one-frame": ("{I}/one.mkv", one, ("one.mkv",)),
        "tiny-2x2": ("{I}/tiny.mkv", tiny, ()),
    }
    for case, (path, expect, names) in cases.items():
        yield Row(
            f"{cmd}/{case}",
            argv.replace("{V}", path),
            expect,
            names,
            creates=(out,) if out else (),
            heavy=heavy,
        )


def _rows() -> list[Row]:
    rows: list[Row] = []
    add = rows.append
    # ---- video commands: the input classes
    rows += _video_rows("afd", "afd {V} -o out.mkv", "out.mkv", one="error", tiny="either")
    rows += _video_rows("flow", "flow {V} -o out/", "out", one="error", tiny="either")
    rows += _video_rows("convert", "convert {V} -o out.mkv", "out.mkv", one="ok", tiny="ok")
    rows += _video_rows("info", "info {V}", "", one="ok", tiny="ok")
    rows += _video_rows(
        "baseline", "baseline {V} -o out.mkv --method blur-weak", "out.mkv", one="ok", tiny="ok"
    )
    rows += _video_rows(
        "stvi", "stvi {V} --anchors {I}/masks -o out", "out", one="error", tiny="either"
    )
    for r in _video_rows(
        "obfuscate", "obfuscate {V} -o out.mkv --templates hair", "out.mkv", one="either",
        tiny="either", heavy=True,
    ):  # fmt: skip
        if r.id.split("/")[1] in ("missing", "text-as-mp4", "one-frame"):
            rows.append(r)
    for r in _video_rows(
        "templates-similarity", "templates similarity {V} --templates hair -o sim.png",
        "sim.png", one="either", tiny="either", heavy=True,
    ):  # fmt: skip
        if r.id.split("/")[1] in ("missing", "empty", "truncated"):
            rows.append(r)

    # ---- outputs: file-for-folder, read-only folder, full disk, unreadable input
    add(Row("flow/out-is-file", "flow {I}/good.mkv -o out/", names=("out",), setup="outfile"))
    add(Row("stvi/out-is-file", "stvi {I}/good.mkv --anchors {I}/masks -o out", setup="outfile"))
    add(Row("convert/out-is-file", "convert {I}/good.mkv -o out/", setup="outfile"))
    add(Row("afd-dataset/dst-is-file", "afd-dataset {I}/ds_good out", setup="outfile"))
    add(Row("synth-actions/out-is-file", "synth-actions out --no-davis", setup="outfile"))
    add(Row("study-demo/out-is-file", "study demo out", setup="outfile"))
    add(Row("study-export/out-is-file", "study export --db {I}/text.db -o out", setup="outfile"))
    for cmd, argv in {
        "afd": "afd {I}/good.mkv -o ro/out.avi",
        "convert": "convert {I}/good.mkv -o ro/out.avi",
        "flow": "flow {I}/good.mkv -o ro/flow/",
        "sample-video": "sample-video ro/v.avi --frames 4 --size 32x24",
        "privacy-eval": "privacy-eval {I}/pred.csv --plot ro/p.png",
    }.items():
        add(Row(f"{cmd}/read-only-folder", argv, names=("ro",), setup="ro"))
    for cmd, argv in {
        "afd": "afd locked.mkv -o out.mkv",
        "convert": "convert locked.mkv -o out.mkv",
        "info": "info locked.mkv",
        "flow": "flow locked.mkv -o out/",
    }.items():
        add(Row(f"{cmd}/unreadable-input", argv, names=("locked.mkv",), setup="locked"))
    for rid, argv, name in (
        ("afd/full-disk", "afd {I}/good.mkv -o out.avi", "out.avi"),
        ("convert/full-disk", "convert {I}/good.mkv -o out.avi", "out.avi"),
        ("convert/full-disk-frames", "convert {I}/good.mkv -o frames/ --resize 128x96", "frames"),
        ("flow/full-disk", "flow {I}/good.mkv -o flow/", "flow"),
        ("flow/full-disk-pair", "flow {I}/a.png {I}/b.png -o out.flo", "out.flo"),
        ("baseline/full-disk", "baseline {I}/good.mkv -o out.avi --method blur-weak", "out.avi"),
        ("sample-video/full-disk", "sample-video v.avi --frames 6 --size 64x48", "v.avi"),
        ("stvi/full-disk", "stvi {I}/good.mkv --anchors {I}/masks -o res", "res"),
        ("study-demo/full-disk", "study demo demo --per-class 1 --frames 4 --size 32x24", "demo"),
        ("privacy-eval/full-disk", "privacy-eval {I}/pred.csv --plot p.png", "p.png"),
    ):
        # STVI's result files are small: a smaller "disk" for it
        add(Row(rid, argv, names=(name,), fsize=512 if rid.startswith("stvi") else FSIZE))
    add(Row(
        "synth-actions/full-disk",
        "synth-actions out --no-davis --videos-per-class 1 --actors 2 --test-actors 1 "
        "--frames 4 --size 32x32", names=("out",), fsize=FSIZE, heavy=True,
    ))  # fmt: skip

    # ---- image pairs, headers, sizes, dtypes
    add(Row("flow/pair-ok", "flow {I}/a.png {I}/b.png -o out.flo", "ok", creates=("out.flo",)))
    add(Row("flow/pair-mismatched-sizes", "flow {I}/a.png {I}/big.png -o out.flo",
            names=("big.png",)))  # fmt: skip
    add(Row("flow/pair-huge-png-header", "flow {I}/huge.png {I}/a.png -o out.flo",
            names=("huge.png",)))  # fmt: skip
    add(Row("flow/pair-huge-flo-header", "flow {I}/huge.flo {I}/huge.flo -o out.flo",
            names=("huge.flo",)))  # fmt: skip
    add(Row("flow/pair-16bit-png", "flow {I}/a16.png {I}/b.png -o out.flo", "either",
            creates=("out.flo",)))  # fmt: skip
    add(Row("flow/pair-text-png", "flow {I}/text.png {I}/b.png -o out.flo", names=("text.png",)))
    add(Row("flow/pair-empty-png", "flow {I}/empty.png {I}/b.png -o out.flo",
            names=("empty.png",)))  # fmt: skip
    add(Row("flow/pair-missing", "flow {I}/nosuch.png {I}/b.png -o out.flo",
            names=("nosuch.png",)))  # fmt: skip
    add(Row("stvi/masks-mismatched-size", "stvi {I}/good.mkv --anchors {I}/bigmasks -o out",
            names=("bigmasks", "64x48")))  # fmt: skip
    add(Row("stvi/masks-no-first-frame", "stvi {I}/good.mkv --anchors {I}/latemasks -o out",
            names=("first frame",)))  # fmt: skip
    add(Row("stvi/masks-empty", "stvi {I}/good.mkv --anchors {I}/blankmasks -o out",
            names=("empty",)))  # fmt: skip
    add(Row("stvi/detector-weights-missing", "stvi {I}/good.mkv --detector-weights {I}/no.pth "
            "-o out", names=("no.pth",), heavy=True))  # fmt: skip
    add(Row("stvi/detector-weights-text", "stvi {I}/good.mkv --detector-weights {I}/text.pt "
            "-o out", names=("text.pt",), heavy=True))  # fmt: skip
    add(Row("stvi/detector-class-unknown", "stvi {I}/good.mkv --detector-class persn -o out",
            names=("persn",), heavy=True))  # fmt: skip
    add(Row("stvi/masks-missing", "stvi {I}/good.mkv --anchors {I}/nosuch -o out",
            names=("nosuch",)))  # fmt: skip
    add(Row("stvi/masks-empty-folder", "stvi {I}/good.mkv --anchors {I}/ds_empty -o out",
            names=("ds_empty",)))  # fmt: skip
    # two bad inputs: the missing video is named, not the anchor folder after it
    add(Row("stvi/missing-and-masks-empty", "stvi {I}/nosuch.mkv --anchors {I}/ds_empty -o out",
            names=("nosuch.mkv",)))  # fmt: skip
    for case in ("huge", "f64", "object", "text", "empty", "nolabels"):
        add(Row(f"stvi-eval/labels-{case}", f"stvi-eval {{I}}/res_{case} --davis {{I}}/davis",
                names=(f"res_{case}",)))  # fmt: skip
    add(Row("stvi-eval/results-missing", "stvi-eval {I}/nosuch --davis {I}/davis",
            names=("nosuch",)))  # fmt: skip
    add(Row("stvi-eval/results-is-file", "stvi-eval {I}/text.mp4 --davis {I}/davis",
            names=("text.mp4",)))  # fmt: skip
    add(Row("stvi-eval/davis-missing", "stvi-eval {I}/res_f64 --davis {I}/nosuch",
            names=("nosuch",)))  # fmt: skip

    # ---- numeric options: negative, zero, NaN, inf
    for rid, argv, expect in (
        ("afd/density-negative", "afd {I}/good.mkv -o out.mkv --density -1", "error"),
        ("afd/density-zero", "afd {I}/good.mkv -o out.mkv --density 0", "error"),
        ("afd/gif-frames-negative", "afd {I}/good.mkv -o out.mkv --gif --gif-frames -5", "error"),
        ("afd/start-negative", "afd {I}/good.mkv -o out.mkv --start -3", "error"),
        ("afd/stop-before-start", "afd {I}/good.mkv -o out.mkv --start 3 --stop 1", "error"),
        ("afd/upsample-nan", "afd {I}/good.mkv -o out.mkv --upsample nan", "error"),
        ("afd/upsample-inf", "afd {I}/good.mkv -o out.mkv --upsample inf", "error"),
        ("afd/fps-inf", "afd {I}/frames -o out.mkv --fps inf", "error"),
        (
            "afd/noise-std-nan",
            "afd {I}/good.mkv -o out.mkv --noise-mean 1 --noise-std nan",
            "error",
        ),
        (
            "afd/noise-mean-inf",
            "afd {I}/good.mkv -o out.mkv --noise-mean inf --noise-std 1",
            "error",
        ),
        ("flow/max-flow-nan", "flow {I}/good.mkv -o out/ --max-flow nan", "usage"),
        ("flow/batch-size-zero", "flow {I}/good.mkv -o out/ --batch-size 0", "error"),
        ("flow/resize-zero", "flow {I}/good.mkv -o out/ --resize 0x0", "usage"),
        ("convert/crf-negative", "convert {I}/good.mkv -o out.mp4 --crf -5", "error"),
        ("convert/crf-nan", "convert {I}/good.mkv -o out.mp4 --crf nan", "usage"),
        ("sample-video/frames-negative", "sample-video v.mkv --frames -4", "error"),
        ("sample-video/size-zero", "sample-video v.mkv --size 0x0", "usage"),
        ("sample-video/fps-nan", "sample-video v.mkv --fps nan", "usage"),
        ("sample-video/fps-inf", "sample-video v.mkv --fps inf --frames 3", "error"),
        ("info/fps-negative", "info {I}/frames --fps -1", "usage"),
        ("stvi/every-zero", "stvi {I}/good.mkv --anchors {I}/masks -o out --every 0", "error"),
        ("stvi/k-negative", "stvi {I}/good.mkv --anchors {I}/masks -o out --k -1", "error"),
        ("stvi/sigma-nan", "stvi {I}/good.mkv --anchors {I}/masks -o out --sigma nan", "error"),
        ("stvi/omega-inf", "stvi {I}/good.mkv --anchors {I}/masks -o out --omega inf", "error"),
        (
            "stvi/mask-weight-unused",
            "stvi {I}/good.mkv --anchors {I}/masks -o out --anchor-frames-only --mask-weight 9",
            "error",
        ),
        (
            "stvi/clusters-zero",
            "stvi {I}/good.mkv --anchors {I}/masks -o out --clusters 0",
            "error",
        ),
        (
            "stvi-eval/resolution-negative",
            "stvi-eval {I}/res_f64 --davis {I}/davis --resolution -1",
            "error",
        ),
        (
            "baseline/stop-negative",
            "baseline {I}/good.mkv -o out.mkv --method mask --stop -2",
            "error",
        ),
        ("privacy-eval/lambda-nan", "privacy-eval {I}/pred.csv --lambda nan", "error"),
        ("privacy-eval/lambda-inf", "privacy-eval {I}/pred.csv --lambda inf", "error"),
        ("privacy-eval/lambda-negative", "privacy-eval {I}/pred.csv --lambda -1", "error"),
        ("study-demo/per-class-negative", "study demo out --per-class -1", "error"),
        ("study-demo/frames-zero", "study demo out --frames 0", "error"),
        ("study-demo/rest-nan", "study demo out --rest-seconds nan", "error"),
        ("study-demo/size-zero", "study demo out --size 0x0", "usage"),
        ("afd-dataset/workers-negative", "afd-dataset {I}/ds_good out --workers -1", "error"),
        ("afd-dataset/density-zero", "afd-dataset {I}/ds_good out --density 0", "error"),
    ):
        add(Row(rid, argv, expect, creates=()))
    for rid, argv, expect in (
        ("synth-actions/frames-zero", "synth-actions out --no-davis --frames 0", "error"),
        (
            "synth-actions/videos-negative",
            "synth-actions out --no-davis --videos-per-class -1",
            "error",
        ),
        (
            "synth-actions/test-actors-too-many",
            "synth-actions out --no-davis --actors 2 --test-actors 5",
            "error",
        ),
        ("synth-actions/size-zero", "synth-actions out --no-davis --size 0x0", "usage"),
        ("train/lr-nan", "train --arch x3d_xs --data {I}/ds_good -o run --lr nan", "error"),
        (
            "train/epochs-negative",
            "train --arch x3d_xs --data {I}/ds_good -o run --epochs -1",
            "error",
        ),
        (
            "train/val-fraction-nan",
            "train --arch x3d_xs --data {I}/ds_good -o run --val-fraction nan",
            "error",
        ),
        (
            "train/batch-size-zero",
            "train --arch x3d_xs --data {I}/ds_good -o run --batch-size 0",
            "error",
        ),
        (
            "train/frames-negative",
            "train --arch x3d_xs --data {I}/ds_good -o run --frames -8",
            "error",
        ),
        (
            "evaluate/eval-batch-size-zero",
            "evaluate {I}/text.pt --data {I}/ds_good --eval-batch-size 0",
            "error",
        ),
        (
            "diagnose/min-accuracy-nan",
            "diagnose --model {I}/text.pt --rgb {I}/ds_good --afd {I}/ds_good --min-accuracy nan",
            "error",
        ),
        (
            "diagnose/k-negative",
            "diagnose --model {I}/text.pt --rgb {I}/ds_good --afd {I}/ds_good -k -1",
            "error",
        ),
        (
            "templates-create/stride-zero",
            "templates create hair --image {I}/a.png --point 4,4 --library lib.json --stride 0",
            "error",
        ),
        (
            "templates-create/point-outside",
            "templates create hair --image {I}/a.png --point=-5,-5 --library lib.json",
            "error",
        ),
        (
            "templates-create/point-nan",
            "templates create hair --image {I}/a.png --point nan,nan --library lib.json",
            "error",
        ),
        (
            "templates-create/layer-negative",
            "templates create hair --image {I}/a.png --point 4,4 --library lib.json --layer -40",
            "error",
        ),
        (
            "templates-similarity/every-zero",
            "templates similarity {I}/good.mkv --templates hair -o sim.png --every 0",
            "error",
        ),
        (
            "obfuscate/seed-negative",
            "obfuscate {I}/good.mkv -o out.mkv --templates hair --seed -1",
            "either",
        ),
    ):
        add(Row(rid, argv, expect, heavy=True, creates=("out.mkv",)))

    # ---- checkpoints, datasets (torch)
    for case in ("text", "empty", "trunc", "folder"):
        name = f"{case}.pt"
        add(Row(f"evaluate/checkpoint-{case}", f"evaluate {{I}}/{name} --data {{I}}/ds_good",
                names=(name,), heavy=True))  # fmt: skip
    add(Row("evaluate/checkpoint-missing", "evaluate {I}/nosuch.pt --data {I}/ds_good",
            names=("nosuch.pt",), heavy=True))  # fmt: skip
    add(Row("diagnose/model-text", "diagnose --model {I}/text.pt --rgb {I}/ds_good --afd "
            "{I}/ds_good", names=("text.pt",), heavy=True))  # fmt: skip
    add(Row("diagnose/rgb-missing", "diagnose --model {I}/trunc.pt --rgb {I}/nosuch --afd "
            "{I}/ds_good", heavy=True))  # fmt: skip
    add(Row("predict/video-missing", "predict {I}/nosuch.mkv --model {I}/text.pt",
            names=("nosuch.mkv",), heavy=True))  # fmt: skip
    add(Row("predict/model-text", "predict {I}/good.mkv --model {I}/text.pt",
            names=("text.pt",), heavy=True))  # fmt: skip
    add(Row("predict/top-zero", "predict {I}/good.mkv --model {I}/text.pt --top 0",
            expect="usage", heavy=True))  # fmt: skip
    for case, data in (("missing", "nosuch"), ("empty", "ds_empty"), ("file", "text.mp4"),
                       ("text-videos", "ds_bad")):  # fmt: skip
        add(Row(f"train/data-{case}", f"train --arch x3d_xs --data {{I}}/{data} -o run "
                "--epochs 1 --steps-per-epoch 1", names=(data,), heavy=True))  # fmt: skip
    add(Row("train/arch-unknown", "train --arch nosuch --data {I}/ds_good -o run",
            names=("nosuch",), heavy=True))  # fmt: skip
    add(Row("train/weights-text", "train --arch x3d_xs --data {I}/ds_good -o run "
            "--weights {I}/text.pt", names=("text.pt",), heavy=True))  # fmt: skip
    add(Row("models/ok", "models", "ok", heavy=True))
    add(Row("doctor/ok", "doctor", "ok", heavy=True))  # imports every optional feature
    add(Row("doctor/bad-option", "doctor --nope", "usage", names=("--nope",)))
    add(Row("completion/ok", "completion bash", "ok"))
    add(Row("completion/bad-shell", "completion fish", "usage", names=("fish",)))
    add(Row("synth-actions/davis-is-file", "synth-actions out --davis {I}/text.mp4 "
            "--videos-per-class 1 --frames 4 --size 32x32", "either", creates=("out",),
            heavy=True))  # fmt: skip

    # ---- afd-dataset
    add(Row("afd-dataset/src-missing", "afd-dataset {I}/nosuch out", names=("nosuch",)))
    add(Row("afd-dataset/src-is-file", "afd-dataset {I}/text.mp4 out", names=("text.mp4",)))
    add(Row("afd-dataset/src-empty", "afd-dataset {I}/ds_empty out", names=("ds_empty",)))
    # by design a dataset job reports each failed video, keeps the others and lists the
    # failures in DST/afd_failures.csv (resumable): one line per failure plus a summary
    add(Row("afd-dataset/text-videos", "afd-dataset {I}/ds_bad out", "partial",
            names=("v01.mp4", "afd_failures.csv"),
            creates=("out", "out/Run", "out/afd_dataset.json",
                     "out/afd_failures.csv")))  # fmt: skip
    add(Row("afd-dataset/subset-unknown", "afd-dataset {I}/ds_good out --subset Nosuch",
            names=("Nosuch",)))  # fmt: skip

    # ---- privacy: templates, predictions
    for case in ("nosuch", "empty", "text", "folder", "wrongtypes", "list"):
        lib = f"lib_{case}.json"
        add(Row(f"templates-list/library-{case}", f"templates list --library {{I}}/{lib}",
                names=(lib,)))  # fmt: skip
        add(Row(f"templates-remove/library-{case}",
                f"templates remove hair --library {{I}}/{lib}", names=(lib,)))  # fmt: skip
        if case in ("nosuch", "text", "wrongtypes"):
            add(
                Row(
                    f"templates-rebuild/library-{case}",
                    f"templates rebuild --library {{I}}/{lib}",
                    names=(lib,),
                    heavy=True,
                )
            )
            add(Row(f"templates-show/library-{case}",
                    f"templates show hair --library {{I}}/{lib} -o show.png", names=(lib,),
                    heavy=True))  # fmt: skip
            add(Row(f"obfuscate/library-{case}", f"obfuscate {{I}}/good.mkv -o out.mkv "
                    f"--templates hair --matcher dino --library {{I}}/{lib}", names=(lib,),
                    heavy=True))  # fmt: skip
    add(Row("templates-list/ok", "templates list", "ok"))
    for case in ("nosuch", "empty", "text", "huge", "folder"):
        img = {"folder": "folder.mkv"}.get(case, f"{case}.png")
        add(Row(f"templates-create/image-{case}", f"templates create hair --image {{I}}/{img} "
                "--point 4,4 --library lib.json", names=(img,), heavy=True))  # fmt: skip
        add(Row(f"templates-show/image-{case}", f"templates show hair --image {{I}}/{img} "
                "-o show.png", names=(img,), heavy=True))  # fmt: skip
    add(Row("templates-show/output-suffix", "templates show hair --image {I}/a.png -o show.txt",
            names=("show.txt",), heavy=True))  # fmt: skip
    for case in ("nosuch", "empty", "header", "binary", "folder", "columns"):
        csvf = "folder.mkv" if case == "folder" else f"pred_{case}.csv"
        add(Row(f"privacy-eval/{case}", f"privacy-eval {{I}}/{csvf}", names=(csvf,)))
    add(Row("privacy-eval/ok", "privacy-eval {I}/pred.csv", "ok"))
    # labels are class names (strings): "nan" and "inf" are names like any other
    add(Row("privacy-eval/nan-labels-ok", "privacy-eval {I}/pred_nan.csv", "ok"))
    add(Row("privacy-eval/plot-suffix", "privacy-eval {I}/pred.csv --plot p.txt", names=("p.txt",)))
    add(Row("baseline/method-missing-input", "baseline {I}/nosuch.mkv -o out.mkv --method mask",
            names=("nosuch.mkv",)))  # fmt: skip

    # ---- study
    for case in ("nosuch", "empty", "garbage", "folder", "binary", "badvalues"):
        cfg = "folder.mkv" if case == "folder" else f"study_{case}.toml"
        add(Row(f"study-export/config-{case}", f"study export --config {{I}}/{cfg} -o e",
                names=(cfg,)))  # fmt: skip
        add(Row(f"study-report/config-{case}", f"study report --config {{I}}/{cfg} -o r",
                names=(cfg,)))  # fmt: skip
        add(Row(f"study-serve/config-{case}", f"study serve --config {{I}}/{cfg} --port 1",
                names=(cfg,)))  # fmt: skip
        add(Row(f"study-simulate/config-{case}", f"study simulate --config {{I}}/{cfg}",
                names=(cfg,)))  # fmt: skip
    for case in ("text", "empty", "folder"):
        db = "folder.mkv" if case == "folder" else f"{case}.db"
        add(Row(f"study-export/db-{case}", f"study export --db {{I}}/{db} -o e", names=(db,)))
    for case in ("nosuch", "empty", "binary", "header", "folder"):
        t = "folder.mkv" if case == "folder" else f"pred_{case}.csv"
        add(Row(f"study-report/trials-{case}", f"study report --trials {{I}}/{t} -o r",
                names=(t,)))  # fmt: skip
    add(
        Row(
            "study-simulate/participants-negative",
            "study simulate --config {I}/study.toml --db sim.db --participants -1",
        )
    )
    add(
        Row(
            "study-serve/port-negative",
            "study serve --config {I}/study.toml --db srv.db --port -1 --no-prepare",
        )
    )
    add(
        Row(
            "study-serve/rest-nan",
            "study serve --config {I}/study.toml --db srv.db --rest-seconds nan --no-prepare",
        )
    )

    # ---- non-UTF-8 names, and the real entry point
    add(Row("info/non-utf8-name-ok", "", "ok", raw_argv=(b"info", b"{I}/v\xff.mkv"), exec=True))
    add(
        Row(
            "convert/non-utf8-names-ok",
            "",
            "ok",
            creates=("o\udcff.mkv",),
            raw_argv=(b"convert", b"{I}/v\xff.mkv", b"-o", b"o\xff.mkv"),
            exec=True,
        )
    )
    add(
        Row(
            "afd/non-utf8-missing",
            "",
            names=("nosuch",),
            raw_argv=(b"afd", b"{I}/nosuch\xff.mkv", b"-o", b"o.mkv"),
            exec=True,
        )
    )
    add(
        Row(
            "afd/non-utf8-output-ok",
            "",
            "ok",
            creates=("o\udcff.mkv",),
            raw_argv=(b"afd", b"{I}/good.mkv", b"-o", b"o\xff.mkv"),
        )
    )
    add(
        Row(
            "privacy-eval/non-utf8-missing",
            "",
            names=("nosuch",),
            raw_argv=(b"privacy-eval", b"{I}/nosuch\xff.csv"),
        )
    )
    add(Row("afd/exec-missing", "afd {I}/nosuch.mkv -o o.mkv", names=("nosuch.mkv",), exec=True))
    add(Row("evaluate/exec-text", "evaluate {I}/text.pt --data {I}/ds_good", names=("text.pt",),
            exec=True, heavy=True, slow=True))  # fmt: skip
    add(Row("study-export/exec-nosuch", "study export --config {I}/nosuch.toml -o e",
            names=("nosuch.toml",), exec=True, slow=True))  # fmt: skip
    return rows


ROWS = _rows()
_ids = [r.id for r in ROWS]
assert len(_ids) == len(set(_ids)), sorted(x for x in _ids if _ids.count(x) > 1)


# --------------------------------------------------------------------------------------
# inputs, made once per session


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose IHDR claims ``width`` x ``height`` and holds one tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def _npz_with_header(path: Path, header: dict, payload: bytes = b"") -> None:
    """A ``labels.npz`` whose ``labels.npy`` has ``header`` (shape, dtype) and ``payload``."""
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("labels.npy", buf.getvalue() + payload)


def _make_inputs(root: Path) -> None:
    import cv2
    import torch

    from motionlab.synthetic import sample_video_frames
    from motionlab.video import write_video

    frames = np.stack(list(sample_video_frames(6, size=(32, 24), seed=0)))
    write_video(root / "good.mkv", frames, fps=10, codec="ffv1")
    write_video(str(root / "frames") + "/", frames[:3], fps=10)
    write_video(root / "one.mkv", frames[:1], fps=10, codec="ffv1")
    write_video(root / "tiny.mkv", np.zeros((4, 2, 2, 3), np.uint8) + 90, fps=10, codec="ffv1")
    mp4 = root / "good.mp4"
    write_video(mp4, list(sample_video_frames(12, size=(64, 48), seed=1)), fps=10, codec="h264")
    data = mp4.read_bytes()
    (root / "trunc.mp4").write_bytes(data[: len(data) // 2])
    mp4.unlink()
    (root / "empty.mkv").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n")
    (root / "folder.mkv").mkdir()
    shutil.copy(root / "good.mkv", os.fsencode(root) + b"/v\xff.mkv")
    # stvi masks: a box in frames 0 and 5 (and at another size), in frame 5 only, empty
    for name, (w, h), indices, value in (
        ("masks", (32, 24), (0, 5), 255),
        ("bigmasks", (64, 48), (0, 5), 255),
        ("latemasks", (32, 24), (5,), 255),
        ("blankmasks", (32, 24), (0, 5), 0),
    ):
        (root / name).mkdir()
        for i in indices:
            m = np.zeros((h, w), np.uint8)
            m[h // 4 : 3 * h // 4, w // 4 : w // 2] = value
            cv2.imwrite(str(root / name / f"{i:05d}.png"), m)
    # images
    cv2.imwrite(str(root / "a.png"), frames[0][:, :, ::-1])
    cv2.imwrite(str(root / "b.png"), frames[1][:, :, ::-1])
    cv2.imwrite(str(root / "big.png"), cv2.resize(frames[1], (48, 40)))
    cv2.imwrite(str(root / "a16.png"), frames[0].astype(np.uint16) * 257)
    _png_header_only(root / "huge.png", 100_000, 100_000)
    (root / "text.png").write_text("not an image\n")
    (root / "empty.png").write_bytes(b"")
    (root / "huge.flo").write_bytes(b"PIEH" + struct.pack("<ii", 100_000, 100_000) + b"\0" * 64)
    # STVI result folders with bad labels.npz, and an empty DAVIS root
    (root / "davis" / "Annotations" / "480p" / "seq").mkdir(parents=True)
    for i in range(2):
        m = np.zeros((4, 4), np.uint8)
        m[1:3, 1:3] = 255
        cv2.imwrite(str(root / "davis" / "Annotations" / "480p" / "seq" / f"{i:05d}.png"), m)
    for case in ("huge", "f64", "object", "text", "empty", "nolabels"):
        seq = root / f"res_{case}" / "seq"
        seq.mkdir(parents=True)
        labels = seq / "labels.npz"
        if case == "huge":
            hdr = {"descr": "<i4", "fortran_order": False, "shape": (100_000, 100_000, 100_000)}
            _npz_with_header(labels, hdr, b"\0" * 64)
        elif case == "f64":
            np.savez(labels, labels=np.full((2, 4, 4), np.nan))
        elif case == "object":
            np.savez(labels, labels=np.array([{"a": 1}, None], dtype=object))
        elif case == "text":
            labels.write_text("not a zip\n")
        elif case == "empty":
            labels.write_bytes(b"")
        else:
            np.savez(labels, other=np.zeros(3))
    # checkpoints
    (root / "text.pt").write_text("not a checkpoint\n")
    (root / "empty.pt").write_bytes(b"")
    torch.save({"model": {"w": torch.zeros(64)}, "classes": ["a", "b"]}, root / "full.pt")
    data = (root / "full.pt").read_bytes()
    (root / "trunc.pt").write_bytes(data[: len(data) // 2])
    (root / "full.pt").unlink()
    (root / "folder.pt").mkdir()
    (root / "text.db").write_text("not a database\n")
    (root / "empty.db").write_bytes(b"")
    # datasets
    (root / "ds_empty").mkdir()
    (root / "ds_bad" / "Run").mkdir(parents=True)
    (root / "ds_bad" / "Run" / "v01.mp4").write_text("not a video\n")
    (root / "ds_good" / "Run").mkdir(parents=True)
    (root / "ds_good" / "Jump").mkdir(parents=True)
    for cls in ("Run", "Jump"):
        for g in (1, 2, 3):
            shutil.copy(root / "good.mkv", root / "ds_good" / cls / f"v_{cls}_g{g:02d}_c01.mkv")
    (root / "ds_good" / "classInd.txt").write_text("1 Jump\n2 Run\n")
    (root / "ds_good" / "trainlist01.txt").write_text(
        "".join(f"{c}/v_{c}_g{g:02d}_c01.mkv {k}\n" for k, c in ((1, "Jump"), (2, "Run"))
                for g in (1, 3))
    )  # fmt: skip
    (root / "ds_good" / "testlist01.txt").write_text(
        "Jump/v_Jump_g02_c01.mkv\nRun/v_Run_g02_c01.mkv\n"
    )
    # template libraries
    (root / "lib_empty.json").write_bytes(b"")
    (root / "lib_text.json").write_text("not json {\n")
    (root / "lib_folder.json").mkdir()
    (root / "lib_wrongtypes.json").write_text('{"templates": 5, "version": "x"}\n')
    (root / "lib_list.json").write_text("[1, 2, 3]\n")
    # prediction CSVs (also trials CSVs for study report)
    header = "method,video,action_true,action_pred,privacy_true,privacy_pred\n"
    (root / "pred.csv").write_text(header + "m,v1,a,a,p,q\nm,v2,a,b,p,p\n")
    (root / "pred_empty.csv").write_bytes(b"")
    (root / "pred_header.csv").write_text(header)
    (root / "pred_binary.csv").write_bytes(bytes(range(256)) * 4)
    (root / "pred_nan.csv").write_text(header + "m,v1,nan,inf,nan,-1\n")
    (root / "pred_columns.csv").write_text("a,b\n1,2\n")
    # study configs
    (root / "study_empty.toml").write_bytes(b"")
    (root / "study_garbage.toml").write_text("[study\ntitle = \n")
    (root / "study_binary.toml").write_bytes(b"\xff\xfe\x00[study]\x80\n")
    (root / "study_badvalues.toml").write_text(
        '[study]\ntitle = 5\nclasses = "x"\nfps = { default = nan, min = -1, max = inf }\n'
    )
    (root / "study.toml").write_text(
        '[study]\ntitle = "t"\nclasses = ["Run"]\n\n[stimuli.rgb]\n'
        f'root = "{root}/ds_good"\npattern = "{{class}}/*.mkv"\n\n'
        '[[phases]]\nkind = "test"\nsource = "rgb"\nper_class = 1\n\n'
        '[[phases]]\nkind = "thanks"\n'
    )


def _tree(folder: Path) -> list[str]:
    """Every name below ``folder`` (hidden ones included), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _digests(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(folder))] = "folder"
    return out


def _nobody() -> int | None:
    """The uid to drop to for the permission rows (root), or None where they cannot run."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None


def _skip_reason(row: Row) -> str | None:
    if row.user and os.geteuid() == 0 and _nobody() is None:
        return "as root permission bits are not enforced and there is no 'nobody' user to drop to"
    if row.user and os.geteuid() != 0:
        return None  # chmod works for a normal user
    return None


def _substitute(word: str, inputs: Path) -> str:
    return word.replace("{I}", str(inputs))


@pytest.fixture(scope="session")
def bad_input_results(request: pytest.FixtureRequest) -> dict:
    """Run the table's selected rows once; per row: rc, seconds, hung, stdout, stderr, the
    row folder's tree before and after, and the inputs that changed."""
    selected = {
        item.callspec.params["row"].id
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("row"), Row)
    }
    base = Path(tempfile.mkdtemp(prefix="motionlab-badinput-"))
    base.chmod(0o755)
    inputs = base / "in"
    inputs.mkdir()
    _make_inputs(inputs)
    for p in [inputs, *inputs.rglob("*")]:  # readable by the unprivileged rows
        p.chmod(p.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0))
    logs = base / "logs"
    logs.mkdir()
    nobody = _nobody()
    table, before_tree = [], {}
    for i, row in enumerate(ROWS):
        if _skip_reason(row) or row.id not in selected:
            continue
        cwd = base / "rows" / f"{i:03d}"
        cwd.mkdir(parents=True)
        if row.setup == "outfile":
            (cwd / "out").write_text("a file where a folder is expected\n")
        elif row.setup == "ro":
            (cwd / "ro").mkdir()
            (cwd / "ro").chmod(0o555)
        elif row.setup == "locked":
            shutil.copy(inputs / "good.mkv", cwd / "locked.mkv")
            (cwd / "locked.mkv").chmod(0o000)
        if row.user and nobody is not None:
            cwd.chmod(0o777)
        before_tree[row.id] = _tree(cwd)
        if row.raw_argv:
            argv = [os.fsdecode(w.replace(b"{I}", os.fsencode(inputs))) for w in row.raw_argv]
        else:
            argv = [_substitute(w, inputs) for w in shlex.split(row.argv)]
        table.append(
            {
                "id": row.id,
                "argv": ["-q", *argv],
                "cwd": str(cwd),
                "stdout": str(logs / f"{i:03d}.out"),
                "stderr": str(logs / f"{i:03d}.err"),
                "timeout": row.timeout,
                "exec": row.exec or bool(os.environ.get("MOTIONLAB_BADINPUT_EXEC")),
                "fsize": row.fsize,
                "user": nobody if row.user else None,
            }
        )
    digests = _digests(inputs)
    (base / "table.json").write_text(json.dumps(table))
    env = dict(os.environ)
    src = str(Path(motionlab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("MOTIONLAB_NO_DOWNLOAD", "1")
    subprocess.run(
        [sys.executable, str(RUNNER), str(base / "table.json"), str(base / "results.json")],
        env=env, check=True, timeout=1800,
    )  # fmt: skip
    results = json.loads((base / "results.json").read_text())
    after = _digests(inputs)
    changed = {k for k in set(digests) | set(after) if digests.get(k) != after.get(k)}
    for entry in table:
        r = results[entry["id"]]
        r["stdout"] = Path(entry["stdout"]).read_bytes().decode("utf-8", "backslashreplace")
        r["stderr"] = Path(entry["stderr"]).read_bytes().decode("utf-8", "backslashreplace")
        r["before"] = before_tree[entry["id"]]
        r["after"] = _tree(Path(entry["cwd"]))
        r["argv"] = entry["argv"]
        r["changed_inputs"] = sorted(
            k for k in changed if any(str(inputs / k.split("/")[0]) in a for a in entry["argv"])
        )
    (base / "results.json").write_text(json.dumps(results, indent=1))
    yield results
    if os.environ.get("MOTIONLAB_BADINPUT_KEEP"):  # for a look at the rows' files
        print(f"bad-input table kept in {base}")
        return
    for p in base.rglob("*"):  # make everything removable
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def _error_line_ok(row: Row, res: dict, problems: list[str]) -> None:
    lines = [x for x in res["stderr"].splitlines() if x.strip()]
    if row.expect == "usage" or res["rc"] == 2:
        if res["rc"] != 2 or not lines or ": error: " not in lines[-1]:
            problems.append(f"expected an argparse usage error (status 2), got {res['rc']}")
        return
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, expected one")
    elif not lines[0].startswith("motionlab: error: "):
        problems.append("the stderr line does not start with 'motionlab: error: '")
    for name in row.names:
        if not any(name in x for x in lines):
            problems.append(f"the error does not name {name!r}")
    if res["after"] != res["before"]:
        left = sorted(set(res["after"]) - set(res["before"]))
        problems.append(f"left behind: {left}")


def _partial_ok(row: Row, res: dict) -> list[str]:
    """A batch job with failed items: status 1, every line a motionlab message, only the
    named outputs kept, no temporary files."""
    problems = []
    lines = [x for x in res["stderr"].splitlines() if x.strip()]
    if res["rc"] != 1:
        problems.append(f"exit status {res['rc']}, expected 1")
    if not lines or not all(x.startswith("motionlab: ") for x in lines):
        problems.append("stderr lines that are not motionlab messages")
    for name in row.names:
        if not any(name in x for x in lines):
            problems.append(f"the errors do not name {name!r}")
    extra = sorted(set(res["after"]) - set(res["before"]) - set(row.creates))
    if extra:
        problems.append(f"left behind: {extra}")
    return problems


def check_row(row: Row, res: dict) -> list[str]:
    """What is wrong with one row's run (empty: the row passes)."""
    problems: list[str] = []
    if res["hung"]:
        return [f"hung: still running after {row.timeout:.0f} s"]
    out = res["stdout"] + res["stderr"]
    if "Traceback" in out:
        problems.append("a traceback")
    if res["rc"] is not None and res["rc"] < 0:
        problems.append(f"killed by signal {-res['rc']}")
    if res["changed_inputs"]:
        problems.append(f"inputs changed: {res['changed_inputs']}")
    ok = res["rc"] == 0
    if row.expect == "partial":
        return problems + _partial_ok(row, res)
    if row.expect == "ok" and not ok:
        problems.append(f"exit status {res['rc']}, expected 0")
    elif row.expect in ("error", "usage") and ok:
        problems.append("exit status 0, expected an error")
    if not ok:
        _error_line_ok(row, res, problems)
    else:
        new = set(res["after"]) - set(res["before"])
        stray = [n for n in new if re.search(r"(^|/)\.[^/]*\.tmp-", n)]
        if stray:
            problems.append(f"temporary files left: {stray}")
    return problems


@pytest.mark.parametrize(
    "row", [pytest.param(r, marks=pytest.mark.slow) if r.slow else r for r in ROWS], ids=_ids
)
def test_bad_input(row: Row, bad_input_results: dict) -> None:
    reason = _skip_reason(row)
    if reason:
        pytest.skip(reason)
    res = bad_input_results[row.id]
    problems = check_row(row, res)
    assert not problems, (
        f"{row.id}: {'; '.join(problems)}\n  argv: {res['argv']}\n  status: {res['rc']}\n"
        f"  stderr: {res['stderr'][-1500:]}\n  stdout: {res['stdout'][-300:]}"
    )


def test_table_covers_every_command() -> None:
    """Every sub-command of the parser has rows (the table grows with the CLI)."""
    from motionlab.cli import build_parser

    parser = build_parser()
    commands = set()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            if nested:
                commands |= {f"{name}-{n}" for n in nested[0].choices}
            else:
                commands.add(name)
    covered = {r.id.split("/")[0] for r in ROWS}
    missing = sorted(commands - covered)
    assert not missing, f"commands without bad-input rows: {missing}"


# --------------------------------------------------------------------------------------
# the command boundary, directly


def test_unexpected_exception_is_one_line_and_v_shows_the_traceback(
    tmp_path, monkeypatch, capsys
) -> None:
    """A library failing in an unforeseen way: one line naming the input, status 1; -v
    adds the traceback (for bug reports)."""
    import motionlab.video
    from motionlab.cli import main

    video = tmp_path / "clip.mkv"
    video.write_bytes(b"x")

    def boom(*args, **kwargs):
        raise RuntimeError("decoder exploded\nsecond line")

    monkeypatch.setattr(motionlab.video, "probe", boom)
    assert main(["info", str(video)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"motionlab: error: {video}: unexpected failure: RuntimeError: ")
    assert "decoder exploded; second line" in err and "-v" in err
    assert main(["-v", "info", str(video)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: decoder exploded" in err
    assert err.strip().splitlines()[-1].startswith(f"motionlab: error: {video}: unexpected")


def test_os_error_names_the_output_not_its_temporary() -> None:
    """EACCES on ``.out.avi.tmp-XXXX.avi`` names ``out.avi``; a write without a file name
    (EFBIG, ENOSPC) names the command's outputs."""
    import argparse
    import errno as errno_mod

    from motionlab.cli.app import os_error_line

    args = argparse.Namespace(output="res/out.avi")
    exc = PermissionError(errno_mod.EACCES, "Permission denied", "res/.out.avi.tmp-ab_12xyz.avi")
    assert os_error_line(exc, args) == "res/out.avi: cannot write the output: Permission denied"
    exc = OSError(errno_mod.EFBIG, "File too large", "res/.frames.tmp-k2j3h4g5/00003.png")
    line = os_error_line(exc, args)
    assert line.startswith("res/frames: cannot write the output: File too large (")
    exc = OSError(errno_mod.ENOSPC, "No space left on device")
    assert os_error_line(exc, args).startswith("res/out.avi: cannot write the output: No space")
    exc = FileNotFoundError(errno_mod.ENOENT, "No such file or directory", "in.mkv")
    assert os_error_line(exc, args) == "in.mkv: No such file or directory"


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999"])
def test_number_options_refuse_non_finite(text: str) -> None:
    import argparse

    from motionlab.cli.options import number_type

    with pytest.raises(argparse.ArgumentTypeError):
        number_type(0)(text)
    assert number_type(0)("2.5") == 2.5


def test_labels_header_claiming_huge_array_is_refused_before_allocation(tmp_path) -> None:
    """A labels.npz whose header claims 10^15 int32 labels: refused from the header (the
    bytes claimed are not the bytes held), never allocated; float labels refused too."""
    from motionlab.errors import MotionlabError
    from motionlab.stvi.io import read_labels

    hdr = {"descr": "<i4", "fortran_order": False, "shape": (100_000, 100_000, 100_000)}
    _npz_with_header(tmp_path / "labels.npz", hdr, b"\0" * 64)
    with pytest.raises(MotionlabError, match=r"claims .* bytes"):
        read_labels(tmp_path)
    np.savez(tmp_path / "labels.npz", labels=np.zeros((2, 3, 4), np.float64))
    with pytest.raises(MotionlabError, match="integer"):
        read_labels(tmp_path)
    np.savez(tmp_path / "labels.npz", labels=np.arange(24, dtype=np.int64).reshape(2, 3, 4))
    assert read_labels(tmp_path).tolist() == np.arange(24).reshape(2, 3, 4).tolist()
