"""Whole datasets: mirroring, split files, saved flow, failures, resuming, executors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.afd import AFDConfig, make_afd
from motionlab.afd.dataset import (
    FAILURES,
    FLOW_BOUND,
    MANIFEST,
    DatasetProgress,
    dequantize_flow,
    find_jobs,
    make_afd_dataset,
    quantize_flow,
    read_flow_video,
    video_seed,
)
from motionlab.flow import estimate
from motionlab.synthetic import sample_video_frames
from motionlab.video import probe, read_metadata, read_video, write_video

from conftest import ctrl_c_as_in_a_terminal

REPO = Path(__file__).resolve().parents[1]


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

    def interrupt_after_first(done: int, total: int, frames: int) -> None:
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
    files = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    names = [n for n in files if not n.endswith(".motionlab.json")]
    # each .avi has its provenance sidecar (AVI keeps no free-form tags)
    assert [n for n in files if n.endswith(".motionlab.json")] == [
        n + ".motionlab.json" for n in names if n.endswith(".avi")
    ]
    assert names == sorted(
        [
            "JumpingJack/v_JumpingJack_g01_c01.avi",
            "JumpingJack/v_JumpingJack_g02_c01.avi",
            "Lunges/v_Lunges_g01_c01.avi",
            "Other/v_Other_g01_c01.avi",
            FAILURES,
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


def test_an_avi_without_its_provenance_sidecar_is_made_again(src, tmp_path):
    """An ``.avi`` is committed just before its ``.motionlab.json`` (AVI keeps no tags):
    a run stopped between the two leaves a video without its record, which a rerun must
    not count as done (it would stay without provenance)."""
    dst = tmp_path / "dst"
    make_afd_dataset(src, dst)
    video = dst / "JumpingJack" / "v_JumpingJack_g01_c01.avi"
    sidecar = video.with_name(video.name + ".motionlab.json")
    record = json.loads(sidecar.read_text())
    sidecar.unlink()  # as if stopped between the video's commit and its sidecar's
    stamp = video.stat().st_mtime_ns
    result = make_afd_dataset(src, dst)
    assert result.skipped == 3 and result.done == 1  # the other three stay
    assert video.stat().st_mtime_ns != stamp and json.loads(sidecar.read_text()) == record


def test_workers_give_the_same_result(src, tmp_path):
    one, again, two = tmp_path / "one", tmp_path / "again", tmp_path / "two"
    make_afd_dataset(src, one, classes=["JumpingJack"])
    make_afd_dataset(src, again, classes=["JumpingJack"])
    make_afd_dataset(src, two, classes=["JumpingJack"], workers=2)
    made = sorted(one.rglob("*.avi"))
    assert len(made) == 2
    for p in made:  # byte-identical files, made twice, with 1 and 2 workers
        rel = p.relative_to(one)
        assert p.read_bytes() == (again / rel).read_bytes() == (two / rel).read_bytes()
    assert (one / MANIFEST).read_text().split('"seconds"')[0] == (
        (two / MANIFEST).read_text().split('"seconds"')[0]
    )


def test_video_seed_is_a_stable_hash_of_seed_and_path():
    digest = hashlib.blake2b(b"7:Lunges/v_Lunges_g01_c01.avi", digest_size=8).digest()
    expected = int.from_bytes(digest, "big") >> 1
    assert video_seed(7, "Lunges/v_Lunges_g01_c01.avi") == expected
    assert video_seed(7, PurePosixPath("Lunges/v_Lunges_g01_c01.avi")) == expected
    # pinned: the same on every machine and Python run (no salted hash())
    assert video_seed(0, "A/v.avi") == 0x0D58FEE372D892DB
    seeds = {video_seed(s, p) for s in (0, 1) for p in ("A/v.avi", "A/w.avi", "B/v.avi")}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
    np.random.default_rng(max(seeds))  # numpy takes it


def test_each_video_has_its_own_noise_field(src, tmp_path):
    dst = tmp_path / "dst"
    make_afd_dataset(src, dst, config=AFDConfig(seed=5), classes=["JumpingJack"])
    a = read_video(dst / "JumpingJack" / "v_JumpingJack_g01_c01.avi")
    b = read_video(dst / "JumpingJack" / "v_JumpingJack_g02_c01.avi")
    # independent i.i.d. uniform 8-bit noise: 1/256 = 0.4 % of the values agree
    assert (a[0] == b[0]).mean() < 0.02
    manifest = json.loads((dst / MANIFEST).read_text())
    assert manifest["afd"]["seed"] == 5  # the dataset seed
    for key, video in (("v_JumpingJack_g01_c01.avi", a), ("v_JumpingJack_g02_c01.avi", b)):
        key = f"JumpingJack/{key}"
        seed = manifest["seeds"][key]
        assert seed == video_seed(5, key)
        # the recorded seed reproduces the video with the single-video function
        np.testing.assert_array_equal(video, np.stack(list(make_afd(src / key, seed=seed))))


def test_resuming_needs_the_same_settings_and_seed_scheme(src, tmp_path):
    dst = tmp_path / "dst"
    make_afd_dataset(src, dst, classes=["Other"])
    with pytest.raises(MotionlabError, match="other AFD settings"):
        make_afd_dataset(src, dst, classes=["Other"], config=AFDConfig(seed=1))
    manifest = json.loads((dst / MANIFEST).read_text())
    del manifest["seed_scheme"], manifest["seeds"]  # as written by older versions
    (dst / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(MotionlabError, match=r"older motionlab .* same noise field"):
        make_afd_dataset(src, dst, classes=["Other"])


def test_progress_lines_for_logs():
    out = io.StringIO()
    now = [0.0]
    report = DatasetProgress(out, tty=False, every=2, clock=lambda: now[0])
    report(4, 10, 0)  # 4 done by an earlier run
    now[0] = 3.0
    report(5, 10, 30)  # no line: not a multiple of 2
    now[0] = 6.0
    report(6, 10, 60)  # 2 videos in 6 s: 4 left take 12 s
    now[0] = 9.0
    report(10, 10, 100)  # the last one always gets a line
    assert out.getvalue() == (
        "afd-dataset: 4/10 videos, 0.0 frames/s, ETA ?\n"
        "afd-dataset: 6/10 videos, 10.0 frames/s, ETA 0:00:12\n"
        "afd-dataset: 10/10 videos, 11.1 frames/s, ETA 0:00:00\n"
    )
    tty = io.StringIO()
    bar = DatasetProgress(tty, tty=True, clock=lambda: now[0])
    bar(0, 3, 0)
    bar(3, 3, 30)
    bar.close()
    assert "\r" in tty.getvalue() and "3/3" in tty.getvalue()  # a bar, redrawn


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
    make_afd_dataset(src, tmp_path / "dst", config=AFDConfig(seed=3))
    assert probe(tmp_path / "dst" / "A" / "clip_frames").num_frames == 4
    # each video's own metadata records its seed (AVI files keep no custom tags)
    for key in ("A/clip.webm.mkv", "A/clip_frames"):
        record = json.loads(read_metadata(tmp_path / "dst" / key)["motionlab"])
        assert record["afd"]["seed"] == video_seed(3, key)
        assert record["dataset_seed"] == 3 and record["video"] == key


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


# --- interrupts: Ctrl-C and a killed parent, with worker processes -----------------

LONG_VIDEOS, LONG_FRAMES = 5, 80


@pytest.fixture(scope="module")
def long_src(tmp_path_factory) -> Path:
    """Five 160x120 videos of 80 frames (a panning noise texture): about 0.4 s each."""
    src = tmp_path_factory.mktemp("long") / "src"
    rng = np.random.default_rng(0)
    for i in range(LONG_VIDEOS):
        texture = rng.integers(0, 256, (120 + LONG_FRAMES, 160 + LONG_FRAMES, 3), np.uint8)
        frames = (texture[t : t + 120, t : t + 160] for t in range(LONG_FRAMES))
        path = src / "A" / f"v{i}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, frames, fps=25)
    return src


def _start(src: Path, dst: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.Popen(
        [sys.executable, "-m", "motionlab", "afd-dataset", src, dst, "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def _descendants(pid: int) -> list[int]:
    """Processes below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _survivors(pids: list[int], deadline: float) -> list[int]:
    """The processes of ``pids`` still alive at ``deadline`` (time.monotonic); they are
    killed then, so that a failing test leaves nothing running."""
    while (alive := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


def test_stopped_jobs_leave_no_temporary_of_their_outputs_or_sidecars(tmp_path):
    """The parent's clean-up after an interrupt removes the temporaries of the jobs that had
    started: the video's and its provenance sidecar's (a worker stopped while writing the
    ``.avi``'s ``.motionlab.json`` left ``.v1.avi.motionlab.json.tmp-*.json`` behind in a CI
    run), and nothing else."""
    from motionlab.afd.dataset import VideoJob, _remove_temporaries_of_jobs

    folder = tmp_path / "A"
    folder.mkdir()
    job = VideoJob(source=tmp_path / "v1.avi", output=folder / "v1.avi", flow_output=None)
    theirs = [".v1.avi.tmp-abc.avi", ".v1.avi.motionlab.json.tmp-def.json"]
    others = [".v2.avi.tmp-ghi.avi", ".v2.avi.motionlab.json.tmp-jkl.json", "v1.avi.motionlab.json"]
    for name in theirs + others:
        (folder / name).write_text("x")
    _remove_temporaries_of_jobs([job])
    assert sorted(p.name for p in folder.iterdir()) == sorted(others)


def _temporaries(dst: Path) -> list[Path]:
    return list(dst.rglob(".*.tmp-*"))


def _interrupt_mid_run(
    src: Path, dst: Path, sig: int, *, group: bool = False
) -> tuple[subprocess.Popen[str], list[int]]:
    """Start the command; once a video is finished and another is being written, send
    ``sig`` to the parent (``kill -INT``), or to its whole process group (``group``: what
    Ctrl-C in a terminal does); return the process and its descendants just before."""
    proc = _start(src, dst)
    deadline = time.monotonic() + 60
    while not (_temporaries(dst) and list(dst.rglob("v*.avi"))):
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be interrupted: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no video was finished within 60 s")
        time.sleep(0.01)
    workers = _descendants(proc.pid)
    assert len(workers) >= 2  # the pool (and multiprocessing's resource tracker)
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    return proc, workers


def _check_outputs(src: Path, dst: Path) -> list[Path]:
    """Every output that looks finished is complete; return them."""
    made = sorted(dst.rglob("v*.avi"))
    for path in made:
        assert probe(path).num_frames == LONG_FRAMES, path
    assert not (dst / MANIFEST).exists()  # only a finished run writes the manifest
    return made


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "target",
    [
        "parent",
        pytest.param("group", marks=pytest.mark.slow),
        pytest.param("sigterm", marks=pytest.mark.slow),
    ],
)
def test_ctrl_c_stops_the_workers_at_once_and_a_rerun_resumes(long_src, tmp_path, target):
    """Ctrl-C as ``kill -INT`` of the command (``parent``) or of its process group (a
    terminal), and SIGTERM of the command, which is handled the same way."""
    dst = tmp_path / "dst"
    sig = signal.SIGTERM if target == "sigterm" else signal.SIGINT
    proc, workers = _interrupt_mid_run(long_src, dst, sig, group=target == "group")
    sent = time.monotonic()
    try:
        status = proc.wait(timeout=10)
    finally:
        proc.kill()
    stopped = time.monotonic() - sent
    stderr = proc.stderr.read()
    assert status != 0 and "interrupted" in stderr and "Traceback" not in stderr
    assert stopped < 2.0, f"ran on for {stopped:.1f} s after {sig.name}"
    assert _survivors(workers, sent + 2.0) == []
    assert _temporaries(dst) == []
    made = _check_outputs(long_src, dst)
    assert 1 <= len(made) < LONG_VIDEOS
    if target != "parent":
        return  # the rerun is the same as after a SIGINT to the parent alone
    stamps = {p: p.stat().st_mtime_ns for p in made}
    # the rerun skips what was finished and makes the rest; its log has no bar redraws
    rerun = _start(long_src, dst)
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert f"{len(made)} already done" in stderr
    assert f"afd-dataset: {LONG_VIDEOS}/{LONG_VIDEOS} videos" in stderr and "\r" not in stderr
    assert {p: p.stat().st_mtime_ns for p in made} == stamps
    assert len(sorted(dst.rglob("v*.avi"))) == LONG_VIDEOS and _temporaries(dst) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(long_src, tmp_path):
    dst = tmp_path / "dst"
    proc, workers = _interrupt_mid_run(long_src, dst, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _survivors(workers, time.monotonic() + 2.0) == [], "workers outlived their parent"
    # the workers removed what they were writing; what remains is complete
    assert _temporaries(dst) == []
    _check_outputs(long_src, dst)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_dead_worker_stops_the_run_with_one_line(long_src, tmp_path):
    dst = tmp_path / "dst"
    proc, processes = _interrupt_mid_run(long_src, dst, 0)  # signal 0: nothing sent
    workers = [p for p in processes if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
    try:
        status = proc.wait(timeout=10)
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert status == 1 and "Traceback" not in stderr
    assert "error: a worker process died" in stderr.splitlines()[-1]
    assert _survivors(processes, time.monotonic() + 2.0) == []
    assert _temporaries(dst) == []
    _check_outputs(long_src, dst)


# --------------------------------------------------------------------------------------
# AFD on the fly (motionlab.afd.stream)


def _good_videos(src: Path) -> list[Path]:
    return [src / rel for rel in (
        "JumpingJack/v_JumpingJack_g01_c01.avi", "JumpingJack/v_JumpingJack_g02_c01.avi",
        "Lunges/v_Lunges_g01_c01.avi", "Other/v_Other_g01_c01.avi",
    )]  # fmt: skip


@pytest.mark.parametrize("mode", ["advect", "first-frame"])
def test_on_the_fly_afd_equals_the_stored_tree(src, tmp_path, mode):
    """Same dataset seed and settings: every frame made on the fly is byte-equal to the
    stored (lossless) afd-dataset output, for whole videos and for clips at any start."""
    from motionlab.afd.stream import AFDSource

    dst = tmp_path / "dst"
    config = AFDConfig(mode=mode, seed=11)
    make_afd_dataset(src, dst, config=config)
    source = AFDSource(src, config, keep=1)
    for video in _good_videos(src):
        stored = read_video(dst / video.relative_to(src))
        np.testing.assert_array_equal(source.video(video), stored)
        idx = np.array([5, 1, 4]) % len(stored)
        fresh = AFDSource(src, config, keep=0)  # nothing in memory: frames 0..5 recomputed
        np.testing.assert_array_equal(fresh.frames(video, idx), stored[idx])
        assert source.seed_of(video) == video_seed(11, video.relative_to(src).as_posix())


def test_on_the_fly_afd_clip_dataset_matches_the_stored_tree(src, tmp_path):
    """`ClipDataset(condition="afd")` on the RGB tree gives the tensors that a ClipDataset
    over the stored AFD tree gives (evaluation clips)."""
    from motionlab.afd.stream import AFDSource
    from motionlab.recognition.data import ClipDataset, Sample
    from motionlab.recognition.zoo import StreamSpec

    dst = tmp_path / "dst"
    make_afd_dataset(src, dst, config=AFDConfig(seed=2))
    videos = _good_videos(src)
    streams = (StreamSpec("rgb", 3, 2, 32),)
    fly = ClipDataset([Sample(v, 0) for v in videos], streams, train=False, condition="afd",
                      afd=AFDSource(src, AFDConfig(seed=2)))  # fmt: skip
    disk = ClipDataset([Sample(dst / v.relative_to(src), 0) for v in videos], streams, train=False)
    for i in range(len(videos)):
        np.testing.assert_array_equal(fly[i][0][0].numpy(), disk[i][0][0].numpy())


def test_on_the_fly_afd_reads_a_flow_cache(src, tmp_path):
    """With the flow cache of --save-flow the noise moves with the cached (8-bit) flow:
    frame 0 (the video's own seed) equals the stored tree, later frames follow the cached
    flow, which is within 0.08 px of the estimate."""
    from motionlab.afd import afd_from_flows
    from motionlab.afd.stream import AFDSource
    from motionlab.flow import FlowPair

    dst = tmp_path / "dst"
    config = AFDConfig(seed=4)
    make_afd_dataset(src, dst, config=config, save_flow=True)
    video = _good_videos(src)[2]
    source = AFDSource(src, config, flow_cache=dst)
    got = source.video(video)
    stored = read_video(dst / video.relative_to(src))
    assert got.shape == stored.shape
    np.testing.assert_array_equal(got[0], stored[0])
    flows = list(read_flow_video(dst / "Lunges" / "v_Lunges_g01_c01.flow.mkv"))
    seeded = AFDConfig(seed=source.seed_of(video))
    want = list(afd_from_flows([FlowPair(t, f, None) for t, f in enumerate(flows)],
                               height=48, width=64, config=seeded))  # fmt: skip
    np.testing.assert_array_equal(got, np.stack(want))
    with pytest.raises(MotionlabError, match="needs backward flow"):
        AFDSource(src, AFDConfig(mode="first-frame"), flow_cache=dst)
    with pytest.raises(MotionlabError, match="not under the dataset root"):
        source.frames(tmp_path / "elsewhere.avi", np.array([0]))
