"""The interactive template picker, driven headlessly: synthetic mouse and key events on an
Agg figure, and the refusal where no window can be shown."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.backend_bases import CloseEvent, KeyEvent, MouseEvent  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from motionlab.errors import MotionlabError  # noqa: E402
from motionlab.privacy.picker import PointPicker, check_display, pick_point  # noqa: E402

H, W = 40, 60


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _picker(preview: Any = None) -> PointPicker:
    fig = Figure(figsize=(6, 4), dpi=50)
    FigureCanvasAgg(fig)
    return PointPicker(fig.add_subplot(), _image(), preview=preview)


def click(picker: PointPicker, x: float, y: float, button: int = 1) -> None:
    """A mouse press at image pixel (x, y), sent through the canvas like a real one."""
    canvas = picker.ax.figure.canvas
    dx, dy = picker.ax.transData.transform((x, y))
    event = MouseEvent("button_press_event", canvas, dx, dy, button=button)
    canvas.callbacks.process("button_press_event", event)


def key(picker: PointPicker, name: str) -> None:
    canvas = picker.ax.figure.canvas
    canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, name))


def close(picker: PointPicker) -> None:
    canvas = picker.ax.figure.canvas
    canvas.callbacks.process("close_event", CloseEvent("close_event", canvas))


def test_click_places_and_moves_the_point_with_its_preview() -> None:
    asked: list[tuple[float, float]] = []

    def preview(x: float, y: float) -> np.ndarray:
        asked.append((x, y))
        m = np.zeros((H, W), np.float32)
        m[round(y), :] = 1.0  # the picked row
        return m

    p = _picker(preview)
    click(p, 12.0, 30.0)
    assert p.point == pytest.approx((12.0, 30.0), abs=1e-6) and asked == [p.point]
    tint = np.asarray(p._tint.get_array())
    assert tint.shape == (H, W, 4)
    assert np.allclose(tint[30, :, 3], 0.6) and not tint[np.arange(H) != 30, :, 3].any()
    assert p._marker.get_xdata()[0] == pytest.approx(12.0)
    click(p, 50.3, 5.7)  # a second click moves it
    assert p.point == pytest.approx((50.3, 5.7), abs=1e-6) and len(asked) == 2
    click(p, 20.0, 20.0, button=3)  # right button: ignored
    click(p, 200.0, 20.0)  # outside the image (and the axes): ignored
    assert p.point == pytest.approx((50.3, 5.7), abs=1e-6) and len(asked) == 2
    assert p.state == "picking"


def test_enter_keeps_the_point_and_ends_picking() -> None:
    p = _picker()
    key(p, "enter")  # nothing placed yet: Enter does nothing
    assert p.state == "picking"
    click(p, 7.0, 9.0)
    key(p, "enter")
    assert p.state == "done" and p.result() == pytest.approx((7.0, 9.0), abs=1e-6)
    click(p, 30.0, 30.0)  # after confirming, clicks change nothing
    assert p.result() == pytest.approx((7.0, 9.0), abs=1e-6)


def test_escape_or_closing_without_a_point_cancels() -> None:
    p = _picker()
    click(p, 7.0, 9.0)
    key(p, "escape")
    assert p.state == "cancelled"
    with pytest.raises(MotionlabError, match="no point picked"):
        p.result()
    q = _picker()
    close(q)
    with pytest.raises(MotionlabError, match="nothing written"):
        q.result()


def test_closing_the_window_keeps_the_last_point() -> None:
    p = _picker()
    click(p, 59.0, 39.0)  # the bottom-right pixel
    close(p)
    assert p.result() == pytest.approx((59.0, 39.0), abs=1e-6)


def test_a_preview_of_the_wrong_size_is_an_error() -> None:
    p = _picker(lambda x, y: np.zeros((H + 1, W), np.float32))
    with pytest.raises(MotionlabError, match="preview"):
        click(p, 5.0, 5.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is an X11 matter")
def test_no_display_is_refused_before_any_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(MotionlabError, match="needs a display") as err:
        pick_point(_image())
    assert "\n" not in str(err.value) and "--point" in str(err.value)


def test_a_non_interactive_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setitem(matplotlib.rcParams, "backend", "agg")
    with pytest.raises(MotionlabError, match="interactive matplotlib backend, got 'agg'"):
        check_display()
