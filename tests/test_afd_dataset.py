"""Whole datasets: mirroring, split files, saved flow, failures, resuming, executors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.afd import AFDConfig
from motionlab.afd_dataset import (
    FLOW_BOUND,
    MANIFEST,
    dequantize_flow,
    find_jobs,
    make_afd_dataset,
    quantize_flow,
    read_flow_video,
)
from motionlab.flow import estimate
from motionlab.synthetic import sample_video_frames
from motionlab.video import probe, read_video, write_video


def make_dataset(root: Path) -> Path:
    """UCF101-like tree: 3 classes, a corrupt video, split files."""
    src = root / "src"
    videos = {
        "JumpingJack/v_JumpingJack_g01_c01.avi": 9,
        "JumpingJack/v_JumpingJack_g02_c01.avi": 7,
        "Lunges/v_Lunges_g01_c01.avi": 6,
        "Other/v_Other_g01_c01.avi": 5,
    }
    for i, (rel, n) in enumerate(videos.items()):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(src / rel, sample_video_frames(n, size=(64, 48), seed=i), fps=25)
    (src / "Lunges" / "v_Lunges_g02_c01.avi").write_bytes(b"not a video")
    lists = src / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 JumpingJack\n2 Lunges\n3 Other\n")
    (lists / "trainlist01.txt").write_text(
        "JumpingJack/v_JumpingJack_g01_c01.avi 1\nOther/v_Other_g01_c01.avi 3\n"
    )
    return src


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_dataset(tmp_path)


def test_mirror_splits_flow_and_failures(src, tmp_path):
    dst = tmp_path / "dst"
    result = make_afd_dataset(src, dst, classes=["JumpingJack", "Lunges"], save_flow=True)
    assert (result.total, result.done, result.skipped) == (4, 3, 0)
    assert list(result.failed) == [str(src / "Lunges" / "v_Lunges_g02_c01.avi")]
    assert "not a readable video" in result.failed[str(src / "Lunges" / "v_Lunges_g02_c01.avi")]
    made = sorted(str(p.relative_to(dst)) for p in dst.rglob("*.avi"))
    assert made == [
        "JumpingJack/v_JumpingJack_g01_c01.avi",
        "JumpingJack/v_JumpingJack_g02_c01.avi",
        "Lunges/v_Lunges_g01_c01.avi",
    ]
    assert not (dst / "Other").exists()
    # same frame count and size as the source, lossless noise
    afd = read_video(dst / "JumpingJack" / "v_JumpingJack_g01_c01.avi")
    assert afd.shape == (9, 48, 64, 3)
    # split files filtered to the chosen classes
    assert (dst / "ucfTrainTestlist" / "classInd.txt").read_text() == "1 JumpingJack\n2 Lunges\n"
    train = (dst / "ucfTrainTestlist" / "trainlist01.txt").read_text()
    assert train == "JumpingJack/v_JumpingJack_g01_c01.avi 1\n"
    # the saved flow is the source's forward flow, to within the 8-bit step
    flows = list(read_flow_video(dst / "JumpingJack" / "v_JumpingJack_g01_c01.flow.mkv"))
    frames = read_video(src / "JumpingJack" / "v_JumpingJack_g01_c01.avi")
    assert len(flows) == 8
    direct = estimate(frames[2], frames[3], preset="fast")
    assert np.abs(flows[2] - direct).max() <= FLOW_BOUND / 255 + 1e-4
    manifest = (dst / MANIFEST).read_text()
    assert "v_Lunges_g02_c01.avi" in manifest and '"seed": 0' in manifest


def test_resume_after_interruption(src, tmp_path):
    dst = tmp_path / "dst"
    calls = []

    def interrupt_after_first(done: int, total: int) -> None:
        calls.append(done)
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_afd_dataset(src, dst, progress=interrupt_after_first)
    first = dst / "JumpingJack" / "v_JumpingJack_g01_c01.avi"
    assert first.exists()
    stamp = first.stat().st_mtime_ns
    # a leftover of a video cut off mid-write
    stale = dst / "JumpingJack" / ".v_JumpingJack_g02_c01.avi.tmp-abc123.avi"
    stale.write_bytes(b"half a video")
    result = make_afd_dataset(src, dst)
    assert result.skipped == 1 and result.done == 3 and len(result.failed) == 1
    assert first.stat().st_mtime_ns == stamp  # not redone
    assert not stale.exists()
    names = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert names == sorted(
        [
            "JumpingJack/v_JumpingJack_g01_c01.avi",
            "JumpingJack/v_JumpingJack_g02_c01.avi",
            "Lunges/v_Lunges_g01_c01.avi",
            "Other/v_Other_g01_c01.avi",
            MANIFEST,
            "ucfTrainTestlist/classInd.txt",
            "ucfTrainTestlist/trainlist01.txt",
        ]
    )
    # results do not depend on being interrupted: same as a fresh run
    fresh = tmp_path / "fresh"
    make_afd_dataset(src, fresh)
    for rel in ("JumpingJack/v_JumpingJack_g02_c01.avi", "Other/v_Other_g01_c01.avi"):
        np.testing.assert_array_equal(read_video(dst / rel), read_video(fresh / rel))


def test_workers_give_the_same_result(src, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    make_afd_dataset(src, one, classes=["JumpingJack"])
    make_afd_dataset(src, two, classes=["JumpingJack"], workers=2)
    for p in one.rglob("*.avi"):
        np.testing.assert_array_equal(read_video(p), read_video(two / p.relative_to(one)))


def test_ray_executor_on_a_local_instance(src, tmp_path):
    pytest.importorskip("ray", reason="the optional 'ray' extra is not installed")
    dst = tmp_path / "ray"
    result = make_afd_dataset(src, dst, classes=["Lunges", "Other"], executor="ray", workers=2)
    assert result.done == 2 and len(result.failed) == 1
    ref = tmp_path / "ref"
    make_afd_dataset(src, ref, classes=["Other"])
    rel = "Other/v_Other_g01_c01.avi"
    np.testing.assert_array_equal(read_video(dst / rel), read_video(ref / rel))


def test_frame_folders_and_other_suffixes(tmp_path):
    src = tmp_path / "src"
    write_video(f"{src}/A/clip_frames/", sample_video_frames(4, size=(40, 32)), fps=25)
    write_video(src / "A" / "clip.webm.mkv", sample_video_frames(3, size=(40, 32)), fps=25)
    jobs = find_jobs(src, tmp_path / "dst")
    assert [j.output.name for j in jobs] == ["clip.webm.mkv", "clip_frames"]
    make_afd_dataset(src, tmp_path / "dst")
    assert probe(tmp_path / "dst" / "A" / "clip_frames").num_frames == 4


def test_bad_dataset_arguments(src, tmp_path):
    with pytest.raises(MotionlabError, match="no such dataset folder"):
        make_afd_dataset(tmp_path / "nope", tmp_path / "dst")
    with pytest.raises(MotionlabError, match="no class folder Swing"):
        make_afd_dataset(src, tmp_path / "dst", classes=["Swing"])
    empty = tmp_path / "empty"
    (empty / "A").mkdir(parents=True)
    with pytest.raises(MotionlabError, match="no videos found"):
        make_afd_dataset(empty, tmp_path / "dst")
    with pytest.raises(MotionlabError, match="workers"):
        make_afd_dataset(src, tmp_path / "dst", workers=0)


def test_flow_quantisation_round_trip(rng):
    flow = rng.uniform(-25, 25, (8, 9, 2)).astype(np.float32)
    back = dequantize_flow(quantize_flow(flow))
    inside = np.abs(flow) <= FLOW_BOUND
    assert np.abs(back - flow)[inside].max() <= FLOW_BOUND / 255 + 1e-5
    assert np.abs(back[~inside]).max() == pytest.approx(FLOW_BOUND)


def test_config_is_recorded(src, tmp_path):
    cfg = AFDConfig(mode="iid", seed=42)
    make_afd_dataset(src, tmp_path / "d", config=cfg, classes=["Other"])
    text = (tmp_path / "d" / MANIFEST).read_text()
    assert '"mode": "iid"' in text and '"seed": 42' in text
    assert os.path.exists(tmp_path / "d" / "Other" / "v_Other_g01_c01.avi")
