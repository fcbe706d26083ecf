"""Progress that fits where a job runs (issue 20.3): a bar on a terminal, plain lines in
logs (never a carriage return), JSON lines with ``--log-json``, nothing with ``-q``."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from motionlab.progress import Progress, configure, settings, track

SRC = Path(__file__).resolve().parents[1] / "src"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_mode_writes_every_interval_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(100, "job", "frame", mode="lines", every=5.0, stream=out, clock=clock)
    for _ in range(100):
        clock.now += 0.25  # 4 frames/s (exact in binary)
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # one line every 5 s (20 frames), then the final one
    assert lines[0] == "job: 20/100 frames (20%), 4.0 frames/s, ETA 0:00:20"
    assert lines[3] == "job: 80/100 frames (80%), 4.0 frames/s, ETA 0:00:05"
    assert lines[5] == "job: done, 100 frames in 0:00:25, 4.0 frames/s"
    assert len(lines) == 6


def test_json_mode_lines_parse_and_carry_the_figures() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress(8, "afd", "frame", mode="json", every=1.0, stream=out, clock=clock) as bar:
        for _ in range(8):
            clock.now += 0.5
            bar.update()
            bar.set_note("loss 0.5")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["progress"] * 4 + ["done"]
    assert [r["done"] for r in records] == [2, 4, 6, 8, 8]
    first = records[0]
    assert first["total"] == 8 and first["unit"] == "frame" and first["task"] == "afd"
    assert first["rate"] == pytest.approx(2.0) and first["eta_s"] == pytest.approx(3.0)
    assert first["note"] == "loss 0.5"


def test_off_and_disabled_write_nothing_and_auto_follows_the_stream() -> None:
    for kwargs in ({"mode": "off"}, {"enabled": False, "mode": "lines"}):
        out = io.StringIO()
        with Progress(3, "x", stream=out, every=0.0001, **kwargs) as bar:
            bar.update(3)
        assert out.getvalue() == ""
    assert Progress(3, "x", stream=io.StringIO(), mode="auto").mode == "lines"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = Progress(3, "x", stream=tty, mode="auto")
    assert bar.mode == "bar"
    bar.update(3)
    bar.close()
    assert "\r" in tty.getvalue()  # tqdm redraws in place on a terminal


def test_configure_sets_the_default_and_refuses_nonsense() -> None:
    before = settings()
    try:
        configure("json", every=2.5)
        assert Progress(1, "x", stream=io.StringIO()).mode == "json"
        assert Progress(1, "x", stream=io.StringIO()).every == 2.5
        with pytest.raises(Exception, match="unknown progress mode"):
            configure("loud")
        with pytest.raises(Exception, match="> 0"):
            configure("lines", every=0)
    finally:
        configure(*before)


def test_track_counts_every_item() -> None:
    out = io.StringIO()
    items = list(track(range(5), "t", mode="lines", every=1e9, stream=out))
    assert items == [0, 1, 2, 3, 4]
    assert out.getvalue() == "t: done, 5 steps in 0:00:00, " + out.getvalue().split(", ")[-1]
    assert out.getvalue().startswith("t: done, 5 steps")


# -- the command, as a user meets it ---------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "clip.mp4"
    _run(["sample-video", str(path), "--frames", "8", "--size", "64x48"], check=True)
    return path


def _run(args: list[str], check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "motionlab", *args], capture_output=True, text=True, env=env,
        check=check,
    )  # fmt: skip


def test_afd_in_a_pipe_writes_lines_not_bar_redraws(clip: Path, tmp_path: Path) -> None:
    proc = _run(["afd", str(clip), "-o", str(tmp_path / "a.avi"), "--progress-every", "0.001"])
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("afd (advect):")]
    assert lines[-1].startswith("afd (advect): done, 8 frames in ")
    assert any("/8 frames (" in x and "frames/s" in x for x in lines[:-1])


def test_afd_log_json_and_quiet(clip: Path, tmp_path: Path) -> None:
    proc = _run(["afd", str(clip), "-o", str(tmp_path / "b.avi"), "-q", "--log-json",
                 "--progress-every", "0.001"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    assert records and records[-1]["event"] == "done" and records[-1]["done"] == 8
    assert all(r["total"] == 8 and r["task"] == "afd (advect)" for r in records)
    quiet = _run(["-q", "afd", str(clip), "-o", str(tmp_path / "c.avi")])
    assert quiet.returncode == 0 and quiet.stderr == ""
    after = _run(["afd", str(clip), "-o", str(tmp_path / "d.avi"), "-q"])  # -q after the command
    assert after.returncode == 0 and after.stderr == ""


@pytest.mark.parametrize("sized", [True, False], ids=["100 columns", "no size (script)"])
def test_afd_on_a_terminal_draws_a_bar(clip: Path, tmp_path: Path, sized: bool) -> None:
    """Run under a pseudo-terminal: stderr is a TTY, so tqdm's bar (with redraws), also on
    a terminal that reports no size (tqdm alone would draw nothing there)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = tmp_path / "e.avi"
    pid, fd = pty.fork()
    if pid == 0:  # child: its stdin/stdout/stderr are the terminal, 100 columns wide
        if sized:
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execve(sys.executable, [sys.executable, "-m", "motionlab", "afd", str(clip), "-o",
                                   str(out)], env)  # fmt: skip
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\r" in text and "8/8" in text and "afd (advect)" in text
    assert "done, 8 frames" not in text  # no log line on a terminal


def test_dataset_progress_json_lines() -> None:
    """afd-dataset with --log-json: one JSON object per progress line, no bar, no text."""
    from motionlab.afd.dataset import DatasetProgress

    out, clock = io.StringIO(), FakeClock()
    report = DatasetProgress(out, tty=True, every=2, clock=clock, json_lines=True)
    for done in range(1, 5):
        clock.now += 10.0
        report(done, 4, frames=100 * done)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["done"] for r in records] == [2, 4]
    assert [r["event"] for r in records] == ["progress", "done"]
    assert records[0]["unit"] == "video" and records[0]["total"] == 4
    assert records[0]["eta_s"] == pytest.approx(20.0)  # 2 left at 1 video / 10 s
