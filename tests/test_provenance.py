"""Provenance: every output records version, command, settings, seeds and input hashes,
and ``motionlab info`` prints it (container tags for .mkv, a sidecar for .avi and .flo)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from motionlab import __version__, provenance
from motionlab.cli import main
from motionlab.flow import read_flo
from motionlab.synthetic import sample_video_frames
from motionlab.video import write_video


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prov") / "clip.mkv"
    write_video(path, sample_video_frames(4, size=(64, 48), seed=1), fps=10)
    return path


def info(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    return json.loads(capsys.readouterr().out)


def test_hash_of_a_small_file_is_its_sha256(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"motion" * 1000)
    entry = provenance.hash_input(f)
    assert entry == {"path": str(f), "size": 6000, "sha256": sha256(f), "hashed": "all"}


def test_big_file_hashes_size_and_both_ends(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(provenance, "FULL_HASH_LIMIT", 2 * provenance.PART)
    rng = np.random.default_rng(0)
    data = bytearray(rng.integers(0, 256, 3 * provenance.PART + 5, dtype=np.uint8).tobytes())
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    part = provenance.PART
    expected = hashlib.sha256(str(len(data)).encode() + data[:part] + data[-part:]).hexdigest()
    entry = provenance.hash_input(f)
    assert entry["sha256"] == expected and entry["hashed"] == "size+first/last MiB"
    data[len(data) // 2] ^= 0xFF  # the middle is not read: same hash, as documented
    f.write_bytes(data)
    assert provenance.hash_input(f)["sha256"] == expected
    data[-1] ^= 0xFF
    f.write_bytes(data)
    assert provenance.hash_input(f)["sha256"] != expected


@pytest.mark.parametrize("suffix", ["avi", "mkv"])
def test_afd_info_prints_version_command_and_input_hash(
    clip: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"afd.{suffix}"
    argv = ["-q", "afd", str(clip), "-o", str(out), "--seed", "7"]
    assert main(argv) == 0
    side = provenance.sidecar_path(out)
    assert side.is_file() == (suffix == "avi")  # .avi keeps no free-form tags, .mkv does
    shown = info(out, capsys)
    assert shown["num_frames"] == 4  # the video fields are still there
    rec = shown["provenance"]
    assert rec["version"] == __version__
    assert rec["command"] == "motionlab " + " ".join(argv)
    assert rec["inputs"] == [
        {"path": str(clip), "size": clip.stat().st_size, "sha256": sha256(clip), "hashed": "all"}
    ]
    assert rec["seeds"] == {"seed": 7} and rec["afd"]["seed"] == 7


def test_flo_pair_gets_a_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = sample_video_frames(2, size=(64, 48), seed=2)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for path, frame in zip((a, b), frames, strict=True):
        assert cv2.imwrite(str(path), frame[:, :, ::-1])
    out = tmp_path / "f.flo"
    assert main(["-q", "flow", str(a), str(b), "-o", str(out), "--flow", "dis"]) == 0
    assert read_flo(out).shape == (48, 64, 2)  # the .flo itself is untouched Middlebury
    rec = info(out, capsys)["provenance"]
    assert rec["version"] == __version__
    assert rec["command"].startswith("motionlab -q flow ")
    assert [x["sha256"] for x in rec["inputs"]] == [sha256(a), sha256(b)]
    assert rec["method"] == "dis" and rec["direction"] == "forward"


def test_flow_folder_records_in_flow_json(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "flows"
    assert main(["-q", "flow", str(clip), "-o", f"{out}/"]) == 0
    rec = info(out, capsys)["provenance"]
    assert rec["inputs"][0]["sha256"] == sha256(clip) and rec["num_pairs"] == 3


def test_stale_sidecar_is_removed(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.avi"
    assert main(["-q", "afd", str(clip), "-o", str(out)]) == 0
    assert provenance.sidecar_path(out).is_file()
    write_video(out, sample_video_frames(3, size=(32, 24)), fps=10)  # records nothing
    assert not provenance.sidecar_path(out).exists()


@pytest.mark.parametrize("name", ["s.avi", "s.mkv", "frames/"])
def test_sample_video_records_its_settings_and_seed(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = f"{tmp_path}/{name}"  # Path() would drop the folder's trailing "/"
    argv = ["-q", "sample-video", out, "--frames", "3", "--size", "64x48", "--seed", "4"]
    assert main(argv) == 0
    rec = info(Path(out), capsys)["provenance"]
    assert rec["command"] == "motionlab " + " ".join(argv) and rec["version"] == __version__
    assert rec["seeds"] == {"seed": 4} and rec["inputs"] == []
    assert rec["settings"]["frames"] == 3 and rec["settings"]["size"] == [64, 48]


def test_convert_records_its_input_and_the_inputs_own_record(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afd = tmp_path / "a.avi"
    assert main(["-q", "afd", str(clip), "-o", str(afd), "--seed", "2"]) == 0
    afd_record = info(afd, capsys)["provenance"]
    out = tmp_path / "c.mkv"
    argv = ["-q", "convert", str(afd), "-o", str(out), "--stop", "3"]
    assert main(argv) == 0
    rec = info(out, capsys)["provenance"]
    assert rec["command"] == "motionlab " + " ".join(argv)
    assert rec["inputs"][0]["sha256"] == sha256(afd) and rec["settings"]["stop"] == 3
    assert rec["source_provenance"] == afd_record  # the chain back to clip.mkv
    again = tmp_path / "d.avi"  # an input without a record, to an .avi: a sidecar
    assert main(["-q", "convert", str(clip), "-o", str(again)]) == 0
    rec = info(again, capsys)["provenance"]
    assert rec["source_provenance"] is None and rec["inputs"][0]["sha256"] == sha256(clip)


def test_study_report_records_its_inputs_beside_the_export(
    tmp_path: Path, study_stimuli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
    from conftest import write_short_study

    config = write_short_study(tmp_path, study_stimuli)
    assert main(["-q", "study", "simulate", "--config", str(config), "--participants", "2"]) == 0
    export = tmp_path / "e"
    assert main(["-q", "study", "export", "--config", str(config), "-o", str(export)]) == 0
    trials = export / "trials.csv"
    argv = ["-q", "study", "report", "--trials", str(trials), "-o", str(export)]
    assert main(argv) == 0  # into the export's folder: both records kept
    assert "tables" in info(export, capsys)["provenance"]  # the folder: the export's
    rec = info(export / "report.md", capsys)["provenance"]
    assert rec["command"] == "motionlab " + " ".join(argv)
    assert [x["sha256"] for x in rec["inputs"]] == [sha256(trials)]
    assert rec["settings"]["include_pilot"] is False
    alone = tmp_path / "r"
    assert main(["-q", "study", "report", "--config", str(config), "-o", str(alone)]) == 0
    rec = info(alone, capsys)["provenance"]  # a report folder alone: its own record
    assert rec["settings"]["database"].startswith("sqlite")
    assert [Path(x["path"]).name for x in rec["inputs"]] == ["study.toml", "study.db"]


def test_info_without_provenance_is_one_json_line(
    clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["info", str(clip)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "provenance" not in json.loads(out)


def test_afd_dataset_videos_record_the_parent_command(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    (src / "A").mkdir(parents=True)
    video = src / "A" / "v.avi"
    write_video(video, sample_video_frames(3, size=(32, 24), seed=3), fps=10)
    argv = ["-q", "afd-dataset", str(src), str(tmp_path / "dst"), "--seed", "5"]
    assert main(argv) == 0
    rec = info(tmp_path / "dst" / "A" / "v.avi", capsys)["provenance"]
    assert rec["command"] == "motionlab " + " ".join(argv)
    assert rec["inputs"][0]["sha256"] == sha256(video) and rec["seeds"]["dataset_seed"] == 5
