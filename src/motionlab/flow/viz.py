"""Middlebury colour coding of optical flow.

The colour wheel of Baker et al. (IJCV 2011, Fig. 6 and their ``flowToColor`` code):
55 hues in six ramps (red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11,
blue-magenta 13, magenta-red 6). Hue is the flow direction, saturation its magnitude
relative to a maximum: white is no motion, right is red, down is yellow-green, left is cyan,
up is blue-violet. Magnitudes above the maximum are drawn darker (x 0.75).
"""

from __future__ import annotations

import numpy as np

from motionlab.flow.io import check_flow

_RAMPS = (("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6))


def make_colorwheel() -> np.ndarray:
    """The Middlebury colour wheel: ``(55, 3)`` float64, RGB in 0..255."""
    ncols = sum(n for _, n in _RAMPS)
    wheel = np.zeros((ncols, 3))
    col = 0
    for name, n in _RAMPS:
        ramp = np.floor(255 * np.arange(n) / n)
        # Each ramp holds one channel at 255, raises one channel or lowers another.
        full, up, down = {
            "RY": (0, 1, None),
            "YG": (1, None, 0),
            "GC": (1, 2, None),
            "CB": (2, None, 1),
            "BM": (2, 0, None),
            "MR": (0, None, 2),
        }[name]
        wheel[col : col + n, full] = 255
        if up is not None:
            wheel[col : col + n, up] = ramp
        if down is not None:
            wheel[col : col + n, down] = 255 - ramp
        col += n
    return wheel


_WHEEL = make_colorwheel()


def flow_to_color(flow: np.ndarray, *, max_flow: float | None = None) -> np.ndarray:
    """Colour-code a flow field with the Middlebury colour wheel.

    Parameters
    ----------
    flow : (H, W, 2) float ndarray
        u, v in pixels. Non-finite values (unknown flow) are drawn black.
    max_flow : float, optional
        Magnitude drawn at full saturation. Default: the largest finite magnitude of
        ``flow`` (per call, so a video's frames are each normalised on their own; pass a
        fixed value for comparable colours across frames).

    Returns
    -------
    image : (H, W, 3) uint8 ndarray
        RGB picture.
    """
    flow = check_flow(flow)
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    valid = np.isfinite(u) & np.isfinite(v)
    u = np.where(valid, u, 0.0)
    v = np.where(valid, v, 0.0)
    rad = np.hypot(u, v)
    if max_flow is None:
        max_flow = float(rad.max()) if valid.any() else 0.0
    elif not max_flow > 0:
        raise ValueError(f"max_flow must be positive, got {max_flow}")
    eps = np.finfo(np.float64).eps
    scale = 1.0 / (max_flow + eps)
    u, v, rad = u * scale, v * scale, rad * scale

    ncols = _WHEEL.shape[0]
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; right (u > 0, v = 0) -> -1 -> red
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = (k0 + 1) % ncols
    f = (fk - k0)[..., None]
    col = ((1 - f) * _WHEEL[k0 % ncols] + f * _WHEEL[k1]) / 255.0
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    image = np.floor(255 * col).astype(np.uint8)
    image[~valid] = 0
    return image
