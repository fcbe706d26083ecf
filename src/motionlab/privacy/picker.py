"""Interactive point picker: the user clicks on an image to place a template.

``motionlab templates create NAME --image IMG --library LIB --pick`` shows the image in a
matplotlib window; a left click places the candidate point (a cross) and, when a preview
is given, tints the image with the saliency a template taken there would give (so the
user sees what the point selects before keeping it); more clicks move it; Enter, or
closing the window, keeps the last point; Escape cancels. The template is then made
exactly as with ``--point X,Y``.

The event logic lives in :class:`PointPicker`, whose handlers take matplotlib events and
can be driven without a display (tests call them with synthetic events on an Agg
figure). :func:`pick_point` opens the window, and refuses with a one-line error where no
window can be shown (no display, or a non-interactive backend such as Agg).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError

Preview = Callable[[float, float], np.ndarray]
"""``preview(x, y)`` -> ``(H, W)`` float map in [0, 1] of a template taken at pixel (x, y)."""

HELP = "click: place the point | Enter or close: keep it | Esc: cancel"


class PointPicker:
    """Event handlers of the picker, attached to a matplotlib ``Axes`` showing ``image``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes to draw in (its figure's canvas sends the events).
    image : (H, W, 3) uint8 ndarray
        The image the point is picked on.
    preview : callable, optional
        Saliency of a candidate point (see :data:`Preview`), drawn over the image.
    alpha : float
        Opacity of the preview tint at saliency 1.

    Attributes
    ----------
    point : (float, float) or None
        Candidate point, (x, y) in pixels of ``image`` (x right, y down; the centre of the
        top-left pixel is (0, 0)).
    state : {"picking", "done", "cancelled"}
    """

    def __init__(
        self, ax: Any, image: np.ndarray, *, preview: Preview | None = None, alpha: float = 0.6
    ) -> None:
        self.ax = ax
        self.image = check_frame(image, name="image")
        self.preview = preview
        self.alpha = alpha
        self.point: tuple[float, float] | None = None
        self.state = "picking"
        h, w = self.image.shape[:2]
        ax.imshow(self.image, interpolation="nearest")
        zeros = np.zeros((h, w, 4), np.float32)
        self._tint = ax.imshow(zeros, interpolation="bilinear")
        (self._marker,) = ax.plot([], [], "+", color="lime", markersize=16, markeredgewidth=2)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_title(HELP, fontsize=9)
        canvas = ax.figure.canvas
        self._ids = [
            canvas.mpl_connect("button_press_event", self.on_click),
            canvas.mpl_connect("key_press_event", self.on_key),
            canvas.mpl_connect("close_event", self.on_close),
        ]

    def on_click(self, event: Any) -> None:
        """Left click inside the image: move the candidate point there."""
        if self.state != "picking" or event.inaxes is not self.ax or event.button != 1:
            return
        if event.xdata is None or event.ydata is None:
            return
        h, w = self.image.shape[:2]
        x, y = float(event.xdata), float(event.ydata)
        if not (-0.5 <= x < w - 0.5 and -0.5 <= y < h - 0.5):
            return
        self.point = (min(max(x, 0.0), w - 1.0), min(max(y, 0.0), h - 1.0))
        self._marker.set_data([self.point[0]], [self.point[1]])
        if self.preview is not None:
            saliency = np.clip(np.asarray(self.preview(*self.point), np.float32), 0, 1)
            if saliency.shape != (h, w):
                raise MotionlabError(f"the preview gave a {saliency.shape} map for a {w}x{h} image")
            tint = np.zeros((h, w, 4), np.float32)
            tint[..., 0] = 1.0  # red, as `templates show`
            tint[..., 3] = self.alpha * saliency
            self._tint.set_data(tint)
        self.ax.set_title(f"({self.point[0]:.0f}, {self.point[1]:.0f}) - {HELP}", fontsize=9)
        self.ax.figure.canvas.draw_idle()

    def on_key(self, event: Any) -> None:
        """Enter: keep the point (if one was placed); Escape: cancel. Both end the picker."""
        if self.state != "picking":
            return
        if event.key == "enter" and self.point is not None:
            self._finish("done")
        elif event.key == "escape":
            self._finish("cancelled")

    def on_close(self, event: Any) -> None:
        """Closing the window keeps the last point, or cancels if none was placed."""
        if self.state == "picking":
            self.state = "done" if self.point is not None else "cancelled"

    def _finish(self, state: str) -> None:
        self.state = state
        import matplotlib.pyplot as plt

        plt.close(self.ax.figure)

    def result(self) -> tuple[float, float]:
        """The kept point, or raise if the picker was cancelled or closed without one."""
        if self.state != "done" or self.point is None:
            raise MotionlabError(
                "no point picked (cancelled, or the window was closed before a click); "
                "nothing written"
            )
        return self.point


def check_display() -> str:
    """Return matplotlib's interactive backend, or raise where no window can be shown."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise MotionlabError(
            "--pick needs a display (DISPLAY/WAYLAND_DISPLAY is not set); pass --point X,Y "
            "instead (`templates show` draws the point so it can be checked)"
        )
    try:
        import matplotlib
    except ImportError as exc:
        raise MotionlabError(f"--pick needs matplotlib ({exc}); pass --point X,Y instead") from None
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        names = backend_registry.list_builtin(BackendFilter.INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        from matplotlib import rcsetup

        names = rcsetup.interactive_bk
    backend = matplotlib.get_backend()  # resolves the automatic choice (Agg without GUI)
    if backend.lower() not in {b.lower() for b in names}:
        raise MotionlabError(
            f"--pick needs an interactive matplotlib backend, got {backend!r} (no window); "
            "install a GUI toolkit (e.g. Tk) or set MPLBACKEND, or pass --point X,Y instead"
        )
    return backend


def pick_point(
    image: np.ndarray, *, title: str = "motionlab: pick a point", preview: Preview | None = None
) -> tuple[float, float]:
    """Show ``image`` ``(H, W, 3)`` uint8 in a window and return the pixel the user picks.

    Raises :class:`~motionlab.errors.MotionlabError` before opening anything where no
    window can be shown (see :func:`check_display`), and when the user cancels.
    """
    check_display()
    import matplotlib.pyplot as plt

    try:
        _, ax = plt.subplots(num=title)
    except Exception as exc:  # e.g. a Tk backend without a reachable display
        raise MotionlabError(f"--pick could not open a window: {exc}") from None
    ax.set_axis_off()
    picker = PointPicker(ax, image, preview=preview)
    plt.show(block=True)
    return picker.result()
