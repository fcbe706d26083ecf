"""The template picker in a real window: ``templates create --pick`` runs as a user runs it,
with matplotlib's Tk backend on an X server (Xvfb), and real X mouse and key events
(xdotool). Skips, with the reason, where Xvfb, xdotool or Tk is missing (``bash .ci/run``
installs the first two from Debian when it can)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

for tool in ("Xvfb", "xdotool", "xwininfo"):
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool} (Debian: xvfb, xdotool, x11-utils)", allow_module_level=True)
pytest.importorskip("tkinter", reason="needs Tk for matplotlib's TkAgg backend")
timm = pytest.importorskip("timm")

TITLE = "motionlab: template 'x'"
IMAGE = (96, 64)  # width, height of the picked image


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private X server for this module's windows."""
    for number in range(91, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists():
            break
    # -noreset: without it Xvfb resets whenever its last client disconnects (each probe
    # below, each xdotool call), and a client connecting during the reset is refused:
    # matplotlib then finds no display and falls back to 'headless' (measured: 7 of 300
    # connections right after an xwininfo refused without the flag, 0 of 300 with it)
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10

    def ready() -> bool:  # the socket, and the server answering a client on it
        if not Path(f"/tmp/.X11-unix/X{number}").exists():
            return False
        probe = subprocess.run(
            ["xwininfo", "-root", "-display", f":{number}"], capture_output=True, timeout=10
        )
        return probe.returncode == 0

    while not ready():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.skip(f"Xvfb could not start display :{number}")
        time.sleep(0.1)
    yield f":{number}"
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import torch

    root = tmp_path_factory.mktemp("pick")
    torch.manual_seed(0)
    weights = root / "random-dino.pth"
    torch.save(timm.create_model("vit_small_patch8_224.dino").state_dict(), weights)
    image = np.zeros((IMAGE[1], IMAGE[0], 3), np.uint8)
    image[:, : IMAGE[0] // 2] = (40, 40, 200)
    image[: IMAGE[1] // 2, IMAGE[0] // 2 :] = (40, 200, 40)
    cv2.imwrite(str(root / "frame.png"), image)
    return root / "frame.png", weights


def _xdotool(display: str, *args: str) -> str:
    out = subprocess.run(
        ["xdotool", *args], env={**os.environ, "DISPLAY": display},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return out.stdout


def _screen_point(display: str, window: str, x: float, y: float) -> tuple[int, int]:
    """Screen pixel showing image pixel (x, y): the figure's canvas is the window's widest
    child at its top; the image fills matplotlib's default subplot box (left 0.125, right
    0.9, bottom 0.11, top 0.88 of the canvas) with equal aspect, centred."""
    tree = subprocess.run(
        ["xwininfo", "-tree", "-id", window], env={**os.environ, "DISPLAY": display},
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    # child lines read "0x400021 (has no name): ()  666x500+0+0  +0+0"
    sizes = []
    for line in tree.splitlines():
        parts = line.split()
        if parts and parts[-1].startswith("+") and "x" in parts[-2]:
            wh, *_ = parts[-2].split("+")
            abs_x, abs_y = (int(v) for v in parts[-1][1:].split("+"))
            w, h = (int(v) for v in wh.split("x"))
            sizes.append((w * h, w, h, abs_x, abs_y))
    # the canvas: the largest child that is not the whole window's frame (toolbar is short)
    _, cw, ch, cx, cy = sorted(sizes)[-2] if len(sizes) > 1 else sorted(sizes)[-1]
    box_w, box_h = 0.775 * cw, 0.77 * ch
    scale = min(box_w / IMAGE[0], box_h / IMAGE[1])
    left = 0.125 * cw + (box_w - scale * IMAGE[0]) / 2
    top = 0.12 * ch + (box_h - scale * IMAGE[1]) / 2
    return round(cx + left + (x + 0.5) * scale), round(cy + top + (y + 0.5) * scale)


def _start(display: str, inputs: tuple[Path, Path], library: Path) -> subprocess.Popen[str]:
    image, weights = inputs
    env = {**os.environ, "DISPLAY": display, "MPLBACKEND": "TkAgg", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "motionlab", "templates", "create", "x", "--image", str(image),
           "--pick", "--library", str(library), "--layer", "2", "--load-size", "32",
           "--stride", "8", "--weights", str(weights)]  # fmt: skip
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _window(display: str, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _xdotool(display, "search", "--name", TITLE).split()
        if found:
            time.sleep(1.0)  # let Tk map and lay out the canvas
            return found[0]
        if proc.poll() is not None:
            pytest.fail(f"the picker exited before showing a window: {proc.stdout.read()}")  # type: ignore[union-attr]
        time.sleep(0.2)
    proc.kill()
    pytest.fail("no picker window within 60 s")


def _pick(
    display: str,
    inputs: tuple[Path, Path],
    library: Path,
    x: float,
    y: float,
    *keys: str,
    click: bool = True,
) -> tuple[int, str]:
    """Run the picker, point at image pixel (x, y) (and click it), press ``keys``; return
    the exit code and the output."""
    proc = _start(display, inputs, library)
    window = _window(display, proc)
    sx, sy = _screen_point(display, window, x, y)
    _xdotool(display, "mousemove", str(sx), str(sy), *(["click", "1"] if click else []))
    time.sleep(0.5)
    _xdotool(display, "key", *keys)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


def test_click_and_enter_in_a_real_window_store_the_clicked_point(
    display: str, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    library = tmp_path / "lib.json"
    code, out = _pick(display, inputs, library, 70, 20, "Return")
    assert code == 0, out
    (template,) = json.loads(library.read_text())["templates"]
    # one screen pixel is about 1/5 image pixel: the click lands within a pixel of (70, 20)
    assert template["point"] == pytest.approx([70, 20], abs=1.0), template["point"]
    assert "picked point 70,20" in out


def test_escape_in_a_real_window_cancels_and_writes_nothing(
    display: str, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    library = tmp_path / "lib.json"
    code, out = _pick(display, inputs, library, 48, 32, "Escape", click=False)
    assert code == 1, out
    assert "no point picked" in out and not library.exists()
