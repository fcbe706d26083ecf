"""The motionlab command, run as a user would: outputs and every error path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from motionlab.flow import read_flo
from motionlab.video import probe, read_metadata, read_video, write_video

from conftest import DATA, RAFT_SMALL, need


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "motionlab", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The CLI's own synthetic sample video, 8 frames of 160x128."""
    folder = tmp_path_factory.mktemp("clip")
    res = run("sample-video", "clip.mkv", "--frames", "8", "--size", "160x128", cwd=folder)
    assert res.returncode == 0, res.stderr
    return folder / "clip.mkv"


def test_help_and_version(tmp_path):
    res = run("--help", cwd=tmp_path)
    assert res.returncode == 0
    for command in ("flow", "sample-video", "info", "convert"):
        assert command in res.stdout
    res = run("--version", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("motionlab ")


def test_sample_video_and_info(clip, tmp_path):
    res = run("info", clip, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert (info["width"], info["height"], info["num_frames"]) == (160, 128, 8)


def test_flow_video_to_colour_video(clip, tmp_path):
    res = run("flow", clip, "-o", "flow.mkv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    frames = read_video(tmp_path / "flow.mkv")
    assert frames.shape == (7, 128, 160, 3)  # one picture per pair
    # the disc moves right/up, the background right/down: the pictures are not white
    assert frames.std() > 5


def test_flow_video_to_flo_folder(clip, tmp_path):
    res = run("flow", clip, "-o", "flows/", "--direction", "backward", "--stop", "4", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "flows").iterdir())
    assert names == ["00000.flo", "00001.flo", "00002.flo", "flow.json"]
    meta = json.loads((tmp_path / "flows" / "flow.json").read_text())
    assert meta["direction"] == "backward" and meta["num_pairs"] == 3
    flow = read_flo(tmp_path / "flows" / "00000.flo")
    # backward flow of the background (moving +0.75, +0.25 px/frame) points back
    assert np.median(flow[16:-16, 16:-16, 0]) == pytest.approx(-0.75, abs=0.2)


def test_flow_pair_with_png(tmp_path):
    folder = need(DATA / "flow" / "flyingchairs")
    res = run(
        "flow",
        folder / "0000002-img0.ppm",
        folder / "0000002-img1.ppm",
        "-o",
        "p.flo",
        "--png",
        "p.png",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    flow = read_flo(tmp_path / "p.flo")
    gt = read_flo(folder / "0000002-gt.flo")
    assert flow.shape == gt.shape
    assert np.linalg.norm(flow - gt, axis=2).mean() < 6.0  # DIS: ~3.5 on this pair
    png = cv2.imread(str(tmp_path / "p.png"))
    assert png.shape == (384, 512, 3)


def test_flow_pair_raft_with_local_weights(tmp_path):
    weights = need(RAFT_SMALL)
    folder = need(DATA / "flow" / "flyingchairs")
    res = run(
        "flow",
        folder / "0000002-img0.ppm",
        folder / "0000002-img1.ppm",
        "-o",
        "r.flo",
        "--flow",
        "raft-small",
        "--weights",
        weights,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    gt = read_flo(folder / "0000002-gt.flo")
    assert np.linalg.norm(read_flo(tmp_path / "r.flo") - gt, axis=2).mean() < 2.0


def test_convert_to_png_frames_is_lossless(clip, tmp_path):
    res = run("convert", clip, "-o", "frames/", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(read_video(tmp_path / "frames"), read_video(clip))
    assert probe(tmp_path / "frames").num_frames == 8


# --- error paths: one line, exit 1, no traceback, nothing written -------------------


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    (tmp / "garbage.mp4").write_text("not a video\n")
    write_video(tmp / "good.mp4", np.repeat(frames, 3, 0), fps=10)
    data = (tmp / "good.mp4").read_bytes()
    (tmp / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (tmp / "good.mp4").unlink()
    write_video(tmp / "one.mkv", frames[:1], fps=10)
    (tmp / "empty").mkdir()
    (tmp / "mixed").mkdir()
    cv2.imwrite(str(tmp / "mixed" / "0.png"), frames[0])
    cv2.imwrite(str(tmp / "mixed" / "1.png"), frames[1, :16])
    (tmp / "zero.mkv").write_bytes(b"")
    return {
        "missing": tmp / "missing.mp4",
        "garbage": tmp / "garbage.mp4",
        "truncated": tmp / "truncated.mp4",
        "zero-bytes": tmp / "zero.mkv",
        "one-frame": tmp / "one.mkv",
        "empty-folder": tmp / "empty",
        "mixed-sizes": tmp / "mixed",
    }


EXPECTED = {
    "missing": "no such file",
    "garbage": "not a readable video",
    "truncated": "not a readable video",
    "zero-bytes": "video holds no frames|not a readable video|empty file \\(0 bytes\\)",
    "one-frame": "at least two frames",
    "empty-folder": "no image files",
    "mixed-sizes": "must have one size",
}


# a one-frame video is valid input for convert, not for flow
BAD_INPUT_CASES = [("flow", c) for c in sorted(EXPECTED)] + [
    ("convert", c) for c in sorted(EXPECTED) if c != "one-frame"
]


@pytest.mark.parametrize(("command", "case"), BAD_INPUT_CASES)
def test_bad_video_input(tmp_path, command, case):
    path = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    out.mkdir()
    res = run(command, path, "-o", out / "result.mkv", cwd=tmp_path)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("motionlab: error: ")
    assert re.search(EXPECTED[case], lines[0]), lines[0]
    assert list(out.iterdir()) == []  # nothing written, not even a temporary file


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--flow", "dis", "--weights", "w.pth"], "RAFT methods only"),
        (["--flow", "raft-small", "--preset", "fast"], "dis only"),
        (["--flow", "nope"], "unknown flow method"),
        (["--codec", "ffv1", "-o", "x.mp4"], "cannot be stored"),
        (["-o", "x.txt"], "unknown output type"),
        (["--flow", "raft-small", "--weights", "missing.pth"], "no such RAFT checkpoint"),
    ],
)
def test_bad_flow_options(clip, tmp_path, args, match):
    if "-o" not in args:
        args = [*args, "-o", "out.mkv"]
    res = run("flow", clip, *args, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and match in res.stderr, res.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_pair_inputs(clip, tmp_path):
    a = tmp_path / "a.png"
    b = tmp_path / "b.png"
    cv2.imwrite(str(a), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(b), np.zeros((40, 32, 3), np.uint8))
    res = run("flow", a, b, "-o", "p.flo", cwd=tmp_path)
    assert res.returncode == 1 and "differ in size" in res.stderr
    res = run("flow", a, a, "-o", "p.png", cwd=tmp_path)
    assert res.returncode == 1 and ".flo" in res.stderr
    (tmp_path / "c.png").write_bytes(b"broken")
    res = run("flow", a, tmp_path / "c.png", "-o", "p.flo", cwd=tmp_path)
    assert res.returncode == 1 and "cannot decode" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]


def test_usage_errors_exit_2(tmp_path):
    assert run("flow", cwd=tmp_path).returncode == 2
    assert run("sample-video", "x.mp4", "--size", "big", cwd=tmp_path).returncode == 2
    assert run("frobnicate", cwd=tmp_path).returncode == 2


# --- afd and afd-dataset ----------------------------------------------------------


def test_afd_is_lossless_and_matches_the_library(clip, tmp_path):
    from motionlab.afd import make_afd

    res = run("afd", clip, "-o", "afd.mkv", "--seed", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    written = read_video(tmp_path / "afd.mkv")
    expected = np.stack(list(make_afd(clip, seed=3)))
    np.testing.assert_array_equal(written, expected)
    meta = json.loads(read_metadata(tmp_path / "afd.mkv")["motionlab"])
    assert meta["afd"]["seed"] == 3 and meta["afd"]["mode"] == "advect"
    assert meta["afd"]["flow_options"] == {"preset": "fast"}
    # .mp4 is lossless too (libx264rgb) unless asked otherwise
    res = run("afd", clip, "-o", "afd.mp4", "--seed", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(read_video(tmp_path / "afd.mp4"), expected)


def test_afd_modes_folder_triptych_gif(clip, tmp_path):
    res = run("afd", clip, "-o", "frames/", "--mode", "first-frame", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert probe(tmp_path / "frames").num_frames == 8
    assert (tmp_path / "frames" / "00007.png").exists()
    res = run("afd", clip, "-o", "tri.mkv", "--triptych", "--gif", "--mode", "iid", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    tri = read_video(tmp_path / "tri.mkv")
    src = read_video(clip)
    assert tri.shape == (8, 128, 3 * 160, 3)
    np.testing.assert_array_equal(tri[:, :, :160], src)  # source | flow | AFD
    from PIL import Image

    with Image.open(tmp_path / "tri.gif") as gif:
        assert gif.n_frames == 8
    res = run("afd", clip, "-o", "g.mkv", "--grayscale", "--noise-range", "video", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    grey = read_video(tmp_path / "g.mkv")
    assert (grey[..., 0] == grey[..., 1]).all()
    assert grey.min() > 0 and grey.max() < 255  # mean +- std of the clip, not 0..255


def test_afd_lossy_output_warns(clip, tmp_path):
    res = run("afd", clip, "-o", "afd.mp4", "--codec", "h264", cwd=tmp_path)
    assert res.returncode == 0
    assert "lossy" in res.stderr


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("missing", "no such file"),
        ("garbage", "not a readable video"),
        ("truncated", "not a readable video"),
        ("one-frame", "at least two frames"),
        ("empty-folder", "no image files"),
        ("mixed-sizes", "must have one size"),
    ],
)
def test_afd_bad_input(tmp_path, case, match):
    path = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    out.mkdir()
    res = run("afd", path, "-o", out / "afd.mkv", cwd=tmp_path)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(match, lines[0]), res.stderr
    assert list(out.iterdir()) == []


def test_afd_dataset_command(tmp_path):
    from test_afd_dataset import make_dataset

    src = make_dataset(tmp_path)
    res = run("afd-dataset", src, "out", "--subset", "Other,JumpingJack", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert probe(tmp_path / "out" / "Other" / "v_Other_g01_c01.avi").num_frames == 5
    res = run("afd-dataset", src, "out", cwd=tmp_path)  # includes the corrupt video
    assert res.returncode == 1
    assert "1 of 5 videos failed" in res.stderr and "v_Lunges_g02_c01.avi" in res.stderr
    assert "3 already done" in res.stderr
    res = run("afd-dataset", src, "out2", "--subset", "Swing", cwd=tmp_path)
    assert res.returncode == 1 and "no class folder Swing" in res.stderr
    assert not (tmp_path / "out2").exists()


def test_afd_noise_from_given_statistics(clip, tmp_path):
    res = run(
        "afd",
        clip,
        "-o",
        "n.mkv",
        "--noise-mean",
        "100,120,140",
        "--noise-std",
        "10",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    afd = read_video(tmp_path / "n.mkv")
    for ch, mean in enumerate((100, 120, 140)):
        assert afd[..., ch].min() >= mean - 10 and afd[..., ch].max() <= mean + 10
    meta = json.loads(read_metadata(tmp_path / "n.mkv")["motionlab"])
    assert meta["afd"]["noise_low"] == [90.0, 110.0, 130.0]
    res = run("afd", clip, "-o", "m.mkv", "--noise-mean", "100", cwd=tmp_path)
    assert res.returncode == 1 and "go together" in res.stderr
    res = run("afd", clip, "-o", "m.mkv", "--noise-mean", "1,2", "--noise-std", "3", cwd=tmp_path)
    assert res.returncode == 2 and "R,G,B" in res.stderr


@pytest.mark.parametrize(
    ("bounds", "good", "bad", "message"),
    [
        ({"low": 0, "low_open": True}, ["1e-9", "3"], ["0", "-1", "nan"], "positive number"),
        ({"low": 0}, ["0", "2.5"], ["-0.1", "nan"], "number >= 0"),
        ({"low": 0, "high": 1}, ["0", "1", "0.5"], ["1.01", "-1e-6", "nan"], "number in [0, 1]"),
    ],
)
def test_number_type_bounds(bounds, good, bad, message):
    import argparse

    from motionlab.cli.options import number_type

    parse = number_type(**bounds)
    assert [parse(t) for t in good] == [float(t) for t in good]
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            parse(text)
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number, got 'x'"):
        parse("x")
