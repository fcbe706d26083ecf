"""afd-dataset on bad input: unreadable, empty and too-short videos, mixed sizes, a full
disk. Each bad video is reported, skipped and listed in DST/afd_failures.csv; the others
are made; the exit status is 1 and the last line says how many failed and where."""

from __future__ import annotations

import csv
import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest

from motionlab.afd.dataset import FAILURES, make_afd_dataset
from motionlab.synthetic import sample_video_frames
from motionlab.video import VideoWriter, probe, read_video, write_video

REPO = Path(__file__).resolve().parents[1]

GOOD = {  # video -> (frames, (width, height)): mixed sizes, odd ones too
    "A/small.avi": (6, (64, 48)),
    "A/odd.avi": (4, (35, 21)),
    "B/wide.mkv": (5, (160, 90)),
    "B/frames": (4, (40, 32)),  # a frame folder
}
BAD = {  # video -> what the failures file says about it
    "A/empty.avi": "empty file (0 bytes), not a video",
    "A/corrupt.mp4": "not a readable video",
    "B/no_frames.mkv": "video holds no frames",
    "B/one_frame.avi": "an appearance-free video needs at least two frames, it has 1",
}


def _bad_dataset(root: Path) -> Path:
    src = root / "src"
    for i, (rel, (n, size)) in enumerate(GOOD.items()):
        target = f"{src / rel}/" if "." not in rel else src / rel
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        write_video(target, sample_video_frames(n, size=size, seed=i), fps=25)
    (src / "A" / "empty.avi").write_bytes(b"")
    (src / "A" / "corrupt.mp4").write_bytes(bytes(range(256)) * 4)
    with av.open(str(src / "B" / "no_frames.mkv"), "w") as container:  # a header, no frame
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "bgr0"
        container.start_encoding()
    with VideoWriter(src / "B" / "one_frame.avi", fps=25) as writer:
        writer.write(np.zeros((30, 40, 3), np.uint8))
    return src


def _motionlab(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(env or os.environ, PYTHONPATH=str(REPO / "src"))
    command = [sys.executable, "-m", "motionlab", "-q", *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _failures(dst: Path) -> dict[str, str]:
    with open(dst / FAILURES, newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(set(row) == {"video", "path", "reason"} for row in rows)
    return {row["video"]: row["reason"] for row in rows}


def _temporaries(dst: Path) -> list[Path]:
    return list(dst.rglob(".*.tmp-*"))


def test_bad_videos_are_listed_and_the_others_made(tmp_path):
    src = _bad_dataset(tmp_path)
    dst = tmp_path / "dst"
    run = _motionlab("afd-dataset", src, dst, "--workers", "2")
    total = len(GOOD) + len(BAD)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        f"motionlab: error: {len(BAD)} of {total} videos failed, see {dst / FAILURES}"
    )
    assert "Traceback" not in run.stderr
    failures = _failures(dst)
    assert sorted(failures) == sorted(BAD)
    for video, reason in BAD.items():
        assert failures[video].startswith(reason), failures[video]
        assert f"failed: {src / video}: {reason}" in run.stderr  # reported as it happened
        assert not (dst / video).exists()
    for video, (n, (w, h)) in GOOD.items():  # each at its own size
        assert read_video(dst / video).shape == (n, h, w, 3), video
    assert _temporaries(dst) == []
    # the bad videos fixed (here: removed), a rerun makes nothing new and drops the list
    for video in BAD:
        (src / video).unlink()
    again = _motionlab("afd-dataset", src, dst)
    assert again.returncode == 0, again.stderr
    assert not (dst / FAILURES).exists()


def test_a_video_that_hits_a_full_disk_fails_alone(src_and_reference, monkeypatch):
    """ENOSPC simulated: the writer raises it on the third frame of one video."""
    src, reference, tmp_path = src_and_reference
    write = VideoWriter.write

    def full_disk_for_one_video(self: VideoWriter, frame: np.ndarray) -> None:
        if "big" in self.path.name and self.count == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        write(self, frame)

    monkeypatch.setattr(VideoWriter, "write", full_disk_for_one_video)
    dst = tmp_path / "dst"
    result = make_afd_dataset(src, dst)
    assert list(result.failed) == [str(src / "A" / "big.avi")]
    assert _failures(dst) == {
        "A/big.avi": f"{dst / 'A' / 'big.avi'}: No space left on device (the output disk "
        "is full)"
    }
    _check_full_disk_run(src, dst, reference)


@pytest.fixture
def src_and_reference(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three small videos (50 kB of AFD each) and a big one (7 MB); the AFD dataset of
    the small ones made on a disk with room."""
    src = tmp_path / "src"
    (src / "A").mkdir(parents=True)
    for i in range(3):
        frames = sample_video_frames(5, size=(64, 48), seed=i)
        write_video(src / "A" / f"small{i}.avi", frames, fps=25)
    write_video(src / "A" / "big.avi", sample_video_frames(30, size=(320, 240), seed=9), fps=25)
    reference = tmp_path / "reference"
    make_afd_dataset(src, reference)
    return src, reference, tmp_path


def _check_full_disk_run(src: Path, dst: Path, reference: Path) -> None:
    """Only the big video failed; the small ones are complete and as on a roomy disk."""
    assert sorted(p.name for p in (dst / "A").glob("*.avi")) == [
        "small0.avi",
        "small1.avi",
        "small2.avi",
    ]
    for i in range(3):
        rel = Path("A") / f"small{i}.avi"
        assert (dst / rel).read_bytes() == (reference / rel).read_bytes()
    assert _temporaries(dst) == []
    assert not (dst / "A" / "big.avi.motionlab.json").exists()


def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        check = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh", folder],
            capture_output=True,
        )
    return check.returncode == 0


@pytest.mark.skipif(
    not _can_mount_tmpfs(),
    reason="needs Linux and the right to mount a tmpfs in a private mount namespace "
    "(unshare -m; root)",
)
def test_a_real_full_disk(src_and_reference):
    """DST on a 1 MiB tmpfs (in a private mount namespace, gone with the command): the
    three small AFD videos fit, the big one does not."""
    src, reference, tmp_path = src_and_reference
    dst, kept = tmp_path / "dst", tmp_path / "kept"
    dst.mkdir()
    script = (
        'mount -t tmpfs -o size=1m tmpfs "$1" && "$3" -m motionlab -q afd-dataset "$4" "$1"; '
        'status=$?; cp -a "$1/." "$2/"; exit $status'
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    run = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", dst, kept, sys.executable, src],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"motionlab: error: 1 of 4 videos failed, see {dst / FAILURES}")
    assert last.endswith("the disk was full: free some space and run again (videos made are kept)")
    assert _failures(kept) == {
        "A/big.avi": f"{dst / 'A' / 'big.avi'}: No space left on device (the output disk "
        "is full)"
    }
    _check_full_disk_run(src, kept, reference)
    assert probe(kept / "A" / "small0.avi").num_frames == 5


CHILD = """
import errno, sys, threading, time
import motionlab.afd.write as afd_write
from motionlab.afd import write_afd
from motionlab.synthetic import sample_video_frames
from motionlab.video import write_video

src, out = sys.argv[1], sys.argv[2]
write_video(src, sample_video_frames(40, size=(64, 48)), fps=25)
written = []

def full_disk(self, frame):
    if len(written) == 3:
        raise OSError(errno.ENOSPC, "No space left on device")
    written.append(frame)

afd_write.VideoWriter.write = full_disk
try:
    write_afd(src, out)
except OSError as exc:
    held = exc  # the traceback, held as a job runner holds it, keeps write_afd's frame alive
    assert held.__traceback__ is not None
    alive = [t.name for t in threading.enumerate() if t.name == "motionlab-prefetch"]
    time.sleep(0.5)  # a thread still decoding from the closed container crashed here
    print("alive", alive)
else:
    print("no error")
"""


def test_a_failing_write_stops_the_decode_thread_before_the_reader_closes(tmp_path):
    """The full-disk run once crashed (segfault): the write failed, the reader closed, and
    the decode + flow thread went on decoding from the closed container until the failed
    job's traceback was collected. Now the thread is joined before the error leaves. Run
    in a child process, so a regression fails this test instead of crashing the session."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "long.avi"), str(tmp_path / "out.avi")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, f"child exited {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.strip().splitlines()[-1] == "alive []"
