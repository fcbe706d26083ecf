"""One option vocabulary across the commands (issue 18): ``--flow METHOD``,
``--flow-opt KEY=VALUE``, ``-o/--output``, ``-q/-v/--log-json`` in every command; old
spellings still work, hidden from ``--help``, with a warning on stderr."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from motionlab.cli import build_parser, main
from motionlab.cli.examples import subparsers
from motionlab.cli.options import estimator_options, merge_flow_opts
from motionlab.errors import MotionlabError
from motionlab.flow.io import read_flo


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse as ``main`` does (``--flow-opt`` folded into the named flags)."""
    args = build_parser().parse_args(argv)
    del args.root_parser  # a new parser object each time
    merge_flow_opts(args)
    return args


# (old spelling argv, new spelling argv): both must parse to the same namespace
ALIASES = [
    (["flow", "v.mp4", "-o", "f/", "--method", "farneback"],
     ["flow", "v.mp4", "-o", "f/", "--flow", "farneback"]),
    (["afd", "v.mp4", "-o", "a.avi", "--method", "tvl1"],
     ["afd", "v.mp4", "-o", "a.avi", "--flow", "tvl1"]),
    (["stvi", "v.mp4", "--anchors", "m", "-o", "o/", "--method", "farneback"],
     ["stvi", "v.mp4", "--anchors", "m", "-o", "o/", "--flow", "farneback"]),
    (["train", "--arch", "x3d_xs", "--data", "d", "--out", "run"],
     ["train", "--arch", "x3d_xs", "--data", "d", "-o", "run"]),
    (["diagnose", "--model", "m.pt", "--data", "d", "--out", "o"],
     ["diagnose", "--model", "m.pt", "--data", "d", "--output", "o"]),
    (["train", "--arch", "x3d_xs", "--data", "d", "-o", "r", "--flow-method", "farneback"],
     ["train", "--arch", "x3d_xs", "--data", "d", "-o", "r", "--flow", "farneback"]),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), ALIASES, ids=lambda a: " ".join(a[:1] + a[-2:]))
def test_old_spellings_parse_like_the_new_ones_and_warn(
    old: list[str], new: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    a = parse(old)
    warning = capsys.readouterr().err
    b = parse(new)
    assert capsys.readouterr().err == ""
    assert vars(a) == vars(b)
    spelled = next(x for x in old if x not in new)
    assert f"{spelled} is an old spelling" in warning


def test_old_spellings_are_hidden_from_help() -> None:
    flow_help = dict(subparsers(build_parser()))["flow"]
    text = flow_help.format_help()
    assert "--flow METHOD" in text and "--flow-opt KEY=VALUE" in text
    assert "--method" not in text


def test_obfuscate_flow_preset_alias_and_flow_opt() -> None:
    base = ["obfuscate", "v.mp4", "-o", "o.avi", "--templates", "face"]
    old = parse([*base, "--flow-preset", "medium"])
    new = parse([*base, "--flow-opt", "preset=medium"])
    assert old.flow_preset == "medium" and new.flow_opt == [("preset", "medium")]


def test_flow_opt_equals_the_named_flags() -> None:
    base = ["afd", "v.mp4", "-o", "a.avi", "--flow", "raft-small"]
    named = estimator_options(parse([*base, "--iters", "5", "--device", "cpu"]))
    generic = estimator_options(parse([*base, "--flow-opt", "iters=5", "--flow-opt", "device=cpu"]))
    assert named == generic == {"iters": 5, "device": "cpu", "batch_size": 1}
    batched = estimator_options(parse([*base, "--flow-opt", "batch-size=4"]))
    assert batched["batch_size"] == 4
    dis = estimator_options(parse(["afd", "v.mp4", "-o", "a", "--flow-opt", "preset=medium"]))
    assert dis == {"preset": "medium"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--flow-opt", "iters=3"], "--iters applies to the RAFT methods only"),
        (["--preset", "fast", "--flow-opt", "preset=fast"], "both given"),
        (["--flow-opt", "preset=fast", "--flow-opt", "preset=medium"], "given twice"),
    ],
)
def test_flow_opt_conflicts_are_refused(extra: list[str], message: str) -> None:
    with pytest.raises(MotionlabError, match=message):
        estimator_options(parse(["flow", "v.mp4", "-o", "f/", *extra]))


def test_flow_opt_without_a_named_flag_is_checked_per_method() -> None:
    """obfuscate has no --iters: its --flow-opt pairs are checked against the method."""
    from motionlab.cli.options import flow_opt_dict

    with pytest.raises(MotionlabError, match="applies to raft-small, raft-large only"):
        flow_opt_dict("dis", [("iters", 3)])
    assert flow_opt_dict("dis", [("preset", "fast")]) == {"preset": "fast"}


def test_flow_opt_weights_is_the_weights_file() -> None:
    """--flow-opt weights=W is --weights W: overwrite checks and provenance see it."""
    args = parse(["afd", "v.mp4", "-o", "a.avi", "--flow", "raft-small", "--flow-opt",
                  "weights=w.pth"])  # fmt: skip
    assert args.weights == Path("w.pth") and args.flow_opt == []


@pytest.mark.parametrize("bad", ["iters", "bogus=1", "iters=0", "upsample=nan", "iters=x"])
def test_bad_flow_opt_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["flow", "v.mp4", "-o", "f/", "--flow", "raft-small", "--flow-opt", bad])
    assert exc.value.code == 2
    assert "--flow-opt" in capsys.readouterr().err


def test_train_still_needs_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["train", "--arch", "x3d_xs", "--data", "d"])
    assert exc.value.code == 2
    assert "-o/--output" in capsys.readouterr().err


def test_every_command_takes_the_log_options_before_or_after() -> None:
    parser = build_parser()
    for path, sub in subparsers(parser)[1:]:  # [0] is the root parser
        strings = {s for a in sub._actions for s in a.option_strings}
        assert {"-q", "-v", "--log-json", "--progress-every"} <= strings, path
    before = parser.parse_args(["-q", "sample-video", "x.mp4"])
    after = parser.parse_args(["sample-video", "x.mp4", "-q"])
    neither = parser.parse_args(["sample-video", "x.mp4"])
    assert before.quiet is True and after.quiet is True and neither.quiet is False
    assert neither.progress_every == 10.0 and neither.log_json is False


def test_old_and_new_flow_spellings_make_the_same_file(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    assert main(["-q", "sample-video", str(clip), "--frames", "3", "--size", "64x48"]) == 0
    assert main(["-q", "flow", str(clip), "-o", str(tmp_path / "old/"), "--method",
                 "farneback"]) == 0  # fmt: skip
    assert main(["-q", "flow", str(clip), "-o", str(tmp_path / "new/"), "--flow",
                 "farneback"]) == 0  # fmt: skip
    for name in ("00000.flo", "00001.flo"):
        old, new = read_flo(tmp_path / "old" / name), read_flo(tmp_path / "new" / name)
        assert np.array_equal(old, new)
    ref = tmp_path / "dis/"
    assert main(["-q", "flow", str(clip), "-o", str(ref)]) == 0
    assert not np.array_equal(read_flo(ref / "00000.flo"), read_flo(tmp_path / "new/00000.flo"))


def test_the_parser_default_flow_is_the_library_default() -> None:
    from motionlab.cli.options import DEFAULT_FLOW
    from motionlab.flow.estimators import DEFAULT_METHOD

    assert DEFAULT_FLOW == DEFAULT_METHOD
    assert parse(["flow", "v.mp4", "-o", "f/"]).method == DEFAULT_METHOD


def test_the_parser_dis_presets_are_the_library_presets() -> None:
    from motionlab.cli.options import DIS_PRESETS
    from motionlab.flow import estimators

    assert DIS_PRESETS == estimators.DIS_PRESETS
    assert parse(["flow", "v.mp4", "-o", "f/", "--preset", "medium-full"]).preset == "medium-full"


def test_building_the_parser_imports_no_heavy_library() -> None:
    """``motionlab --help`` and every command's start pay for argparse only: no OpenCV,
    PyAV, numpy, torch (measured: the parser took 0.6 s when it imported the flow package)."""
    import subprocess
    import sys

    code = (
        "import sys; from motionlab.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('cv2', 'av', 'numpy', 'torch', 'mediapipe') if m in sys.modules))"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": src}, check=True).stdout  # fmt: skip
    assert out.strip() == "[]"
