"""What is never overwritten: an output that is an input (every command), device nodes,
FIFOs and sockets (the final step of an atomic write). See docs/guarantees.md."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from motionlab.atomic import atomic_dir, atomic_file, check_output_target, refuse_overwrite_input
from motionlab.cli import main
from motionlab.errors import MotionlabError
from motionlab.video import read_video, write_video

# --------------------------------------------------------------------------------------
# defect 2: an output that resolves to an input is refused before any work


def _video(path: Path) -> Path:
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 24, 3), dtype=np.uint8)
    write_video(path, frames, fps=10, codec="ffv1")
    return path


def _frames(folder: Path) -> Path:
    frames = np.random.default_rng(1).integers(0, 256, (3, 16, 24, 3), dtype=np.uint8)
    write_video(str(folder) + "/", frames, fps=10)
    return folder


def _blob(path: Path, data: bytes = b"not really a checkpoint\n") -> Path:
    path.write_bytes(data)
    return path


def _digest(path: Path) -> str:
    """Bytes of a file, or of every file below a folder (names included)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path.parent)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# Each command: (make the input in tmp -> its path, argv with {IN} for the input and
# {OUT} for the output name under test). The output aliases the input.
FILE_COMMANDS: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "afd": (lambda t: _video(t / "v.mkv"), ["afd", "{IN}", "-o", "{OUT}"]),
    "afd --gif": (  # the preview GIF is named after -o: OUT.mkv -> OUT.gif, the input
        lambda t: _blob(t / "v.gif", b"GIF89a"),
        ["afd", "{IN}", "--gif", "-o", "{OUT}.mkv"],
    ),
    "flow (video)": (lambda t: _video(t / "v.mkv"), ["flow", "{IN}", "-o", "{OUT}"]),
    "flow (pair)": (lambda t: _blob(t / "a.flo"), ["flow", "{IN}", "{IN}", "-o", "{OUT}"]),
    "flow --png": (
        lambda t: _blob(t / "a.png"),
        ["flow", "{IN}", "{IN}", "-o", "x.flo", "--png", "{OUT}"],
    ),
    "convert": (lambda t: _video(t / "v.mkv"), ["convert", "{IN}", "-o", "{OUT}"]),
    "baseline": (
        lambda t: _video(t / "v.mkv"),
        ["baseline", "{IN}", "-o", "{OUT}", "--method", "pixelate4"],
    ),
    "obfuscate": (
        lambda t: _video(t / "v.mkv"),
        ["obfuscate", "{IN}", "-o", "{OUT}", "--templates", "hair"],
    ),
    "obfuscate --save-saliency": (
        lambda t: _video(t / "v.mkv"),
        ["obfuscate", "{IN}", "-o", "o.mkv", "--templates", "hair", "--save-saliency", "{OUT}"],
    ),
    "evaluate --json": (
        lambda t: _blob(t / "best.pt"),
        ["evaluate", "{IN}", "--data", ".", "--json", "{OUT}"],
    ),
    "templates show": (
        lambda t: _blob(t / "face.png"),
        ["templates", "show", "hair", "--image", "{IN}", "-o", "{OUT}"],
    ),
    "templates create": (
        lambda t: _blob(t / "face.png"),
        ["templates", "create", "hair", "--image", "{IN}", "--point", "1,1", "--library", "{OUT}"],
    ),
    "templates similarity": (
        lambda t: _video(t / "v.mkv"),
        ["templates", "similarity", "{IN}", "--templates", "hair", "-o", "{OUT}"],
    ),
    "privacy-eval --plot": (
        lambda t: _blob(t / "pred.csv", b"method,video\n"),
        ["privacy-eval", "{IN}", "--plot", "{OUT}"],
    ),
}
# Folder outputs: the same folder as a folder input (no hard links to folders).
FOLDER_COMMANDS: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "afd (frames)": (lambda t: _frames(t / "frames"), ["afd", "{IN}", "-o", "{OUT}/"]),
    "convert (frames)": (lambda t: _frames(t / "frames"), ["convert", "{IN}", "-o", "{OUT}/"]),
    "flow (frames)": (lambda t: _frames(t / "frames"), ["flow", "{IN}", "-o", "{OUT}/"]),
    "stvi": (
        lambda t: _frames(t / "frames"),
        ["stvi", "{IN}", "--anchors", "{IN}", "-o", "{OUT}"],
    ),
    "afd-dataset": (lambda t: _frames(t / "ucf" / "Run"), ["afd-dataset", "{IN}/..", "{OUT}/.."]),
    "synth-actions": (
        lambda t: _frames(t / "davis"),
        ["synth-actions", "{OUT}", "--davis", "{IN}"],
    ),
    "train --out": (
        lambda t: _frames(t / "data"),
        ["train", "--arch", "x3d_xs", "--data", "{IN}", "-o", "{OUT}"],
    ),
}


def _alias(tmp: Path, target: Path, how: str) -> str:
    """A name for ``target`` made ``how``: the same path, a symlink, a hard link, via ``..``."""
    if how == "same":
        return str(target)
    if how == "symlink":
        link = tmp / f"link{target.suffix}"
        link.symlink_to(target)
        return str(link)
    if how == "hardlink":
        link = tmp / f"hard{target.suffix}"
        os.link(target, link)
        return str(link)
    (target.parent / "sub").mkdir()
    return str(target.parent / "sub" / ".." / target.name)


def _argv(template: list[str], **values: str) -> list[str]:
    out = []
    for a in template:
        for k, v in values.items():
            a = a.replace("{" + k + "}", v)
        out.append(a)
    return out


def _check_refused(
    argv: list[str], protected: Path, capsys: pytest.CaptureFixture[str], *names: str
) -> None:
    before = _digest(protected)
    status = main(["-q", *argv])
    err = capsys.readouterr().err
    assert status == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("motionlab: error: "), lines[0]
    assert re.search("is the input|would overwrite the input", lines[0]), lines[0]
    for name in names:
        assert name in lines[0], lines[0]
    assert _digest(protected) == before  # the input's bytes are unchanged


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotdot"])
@pytest.mark.parametrize("command", sorted(FILE_COMMANDS))
def test_output_that_is_an_input_is_refused(command, how, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make, template = FILE_COMMANDS[command]
    target = make(tmp_path)
    out = _alias(tmp_path, target, how)
    if command == "afd --gif":
        out = out.removesuffix(".gif")
    _check_refused(_argv(template, IN=str(target), OUT=out), target, capsys, out, str(target))


@pytest.mark.parametrize("how", ["same", "symlink", "dotdot"])
@pytest.mark.parametrize("command", sorted(FOLDER_COMMANDS))
def test_output_folder_that_is_an_input_is_refused(command, how, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make, template = FOLDER_COMMANDS[command]
    target = make(tmp_path)
    out = _alias(tmp_path, target, how)
    argv = _argv(template, IN=str(target), OUT=out)
    _check_refused(argv, target.parent if command == "afd-dataset" else target, capsys)


def test_output_folder_that_would_overwrite_an_input_inside_it(tmp_path, monkeypatch, capsys):
    """Folder outputs: inputs at the names the command writes are protected too."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    weights = _blob(run / "best.pt")
    argv = ["train", "--arch", "x3d_xs", "--data", ".", "--weights", str(weights)]
    _check_refused([*argv, "-o", str(run)], weights, capsys, "best.pt")
    res = tmp_path / "res"
    anchors = _frames(res / "mask")
    argv = ["stvi", str(_frames(tmp_path / "frames")), "--anchors", str(anchors), "-o", str(res)]
    _check_refused(argv, anchors, capsys, str(anchors))
    # an unrelated input inside the output folder is fine (export, then report into it)
    other = _blob(run / "notes.txt")
    refuse_overwrite_input(run, other, writes=("*.pt", "log.csv", "config.json"))


def test_output_equal_to_input_refused_as_a_user_runs_it(tmp_path):
    """The issue's example, as a subprocess: exit 1, one line, the input kept."""
    video = _video(tmp_path / "v.mkv")
    before = video.read_bytes()
    res = subprocess.run(
        [sys.executable, "-m", "motionlab", "afd", "v.mkv", "-o", "v.mkv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "v.mkv is the input v.mkv" in res.stderr, res.stderr
    assert video.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mkv"]


def test_different_outputs_are_not_refused(tmp_path):
    a = _blob(tmp_path / "a.mkv")
    _blob(tmp_path / "b.mkv")
    refuse_overwrite_input(tmp_path / "b.mkv", a)  # an existing, different file
    refuse_overwrite_input(tmp_path / "new.mkv", a, tmp_path / "missing.mkv")
    refuse_overwrite_input(None, a)
    (tmp_path / "c.mkv").symlink_to(tmp_path / "b.mkv")
    refuse_overwrite_input(tmp_path / "c.mkv", a)
    with pytest.raises(MotionlabError, match=r"the output .*b\.mkv is the input .*c\.mkv"):
        refuse_overwrite_input(tmp_path / "b.mkv", tmp_path / "c.mkv")  # input is a link


# --------------------------------------------------------------------------------------
# defect 3: the final step never replaces a device node, FIFO or socket


def _fifo_reader(path: Path) -> tuple[threading.Thread, dict[str, bytes]]:
    got: dict[str, bytes] = {}

    def read() -> None:
        with open(path, "rb") as f:  # blocks until the writer opens the FIFO
            got["data"] = f.read()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, got


def _leftovers(name: str) -> list[Path]:
    import tempfile

    return list(Path(tempfile.gettempdir()).glob(f".{name}.tmp-*"))


def test_atomic_file_streams_into_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    thread, got = _fifo_reader(fifo)
    with atomic_file(fifo) as tmp:
        tmp.write_bytes(b'{"ok": 1}\n')
    thread.join(10)
    assert got["data"] == b'{"ok": 1}\n'
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.json"]
    assert not _leftovers("pipe.json")


def test_afd_writes_a_finished_video_into_a_fifo(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _video(tmp_path / "v.mkv")
    fifo = tmp_path / "out.mkv"
    os.mkfifo(fifo)
    thread, got = _fifo_reader(fifo)
    assert main(["-q", "afd", "v.mkv", "-o", "out.mkv"]) == 0, capsys.readouterr().err
    thread.join(30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    (tmp_path / "copy.mkv").write_bytes(got["data"])
    assert read_video(tmp_path / "copy.mkv").shape == (3, 16, 24, 3)
    assert not _leftovers("out.mkv")


def _char_device(path: Path) -> Path:
    """A clone of /dev/null (char 1:3) in ``path``; skip where nodes cannot be made."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError as exc:
        pytest.skip(f"cannot make a device node here ({exc}); needs root")
    return path


def test_atomic_file_writes_into_a_character_device(tmp_path):
    null = _char_device(tmp_path / "null.json")
    with atomic_file(null) as tmp:
        tmp.write_text("{}\n")
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert os.lstat(null).st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null.json"]
    # the same through a symbolic link: the device is written, the link kept
    link = tmp_path / "link.json"
    link.symlink_to(null)
    with atomic_file(link) as tmp:
        tmp.write_text("{}\n")
    assert link.is_symlink() and stat.S_ISCHR(os.lstat(null).st_mode)


def test_dev_null_stays_a_device(tmp_path):
    """/dev/null itself, run only after a clone of it survived the same write (a broken
    commit would otherwise replace the machine's /dev/null when run as root)."""
    clone = _char_device(tmp_path / "null")
    with atomic_file(clone) as tmp:
        tmp.write_text("x")
    if not stat.S_ISCHR(os.lstat(clone).st_mode):
        pytest.fail("the clone of /dev/null was replaced; not touching the real one")
    null = Path("/dev/null")
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    with atomic_file(null) as tmp:
        tmp.write_text("x")
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert not list(Path("/dev").glob(".null.tmp-*"))


def test_block_devices_sockets_and_folders_are_refused(tmp_path):
    with contextlib.suppress(OSError):  # not root: the socket and folder cases still run
        os.mknod(tmp_path / "disk", stat.S_IFBLK | 0o600, os.makedev(7, 250))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    (tmp_path / "folder").mkdir()
    for name, match in (("disk", "block device"), ("sock", "socket"), ("folder", "a folder")):
        path = tmp_path / name
        if not os.path.lexists(path):
            continue
        mode = os.lstat(path).st_mode
        with pytest.raises(MotionlabError, match=match), atomic_file(path) as tmp:
            tmp.write_text("x")
        assert os.lstat(path).st_mode == mode
    sock.close()
    with pytest.raises(MotionlabError, match="FIFO"):
        os.mkfifo(tmp_path / "fifo")
        with atomic_dir(tmp_path / "fifo") as tmp:
            (tmp / "a.txt").write_text("x")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert check_output_target(tmp_path / "new", directory=False) == "new"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_symlink_output_is_replaced_and_its_target_kept(tmp_path):
    """Documented choice: a link to a regular file is replaced by the new file; the file it
    pointed to (e.g. an original in a dataset of links) is left as it was."""
    original = _blob(tmp_path / "original.txt", b"original\n")
    link = tmp_path / "out.txt"
    link.symlink_to(original)
    with atomic_file(link) as tmp:
        tmp.write_bytes(b"new\n")
    assert not link.is_symlink() and link.read_bytes() == b"new\n"
    assert original.read_bytes() == b"original\n"


def test_folder_output_through_a_symlink_fills_the_linked_folder(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with atomic_dir(link) as tmp:
        (tmp / "a.txt").write_text("a")
    assert link.is_symlink() and (real / "a.txt").read_text() == "a"
