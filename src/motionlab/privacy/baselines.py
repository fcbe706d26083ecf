"""The naive obfuscation baselines of thesis Table 5.2: pixelation, blur, person masking.

Pixelation and blur work, as in the thesis, on frames rescaled to the recogniser's input
size of 224x224: ``pixelate4`` / ``pixelate16`` average-pool 4x4 / 16x16 blocks (a 56x56 /
14x14 grid), ``blur-weak`` / ``blur-strong`` are Gaussian blurs with kernel 13 / 21 and
sigma 10. We then scale the result back to the input size (nearest neighbour for the
blocks, bilinear for blur) so that every output has the size of its input like the other
commands; ``work_size=None`` applies them at the native size instead. ``mask`` /
``mask-black`` fill the pixels of people (a person-segmentation map) with the masked
region's mean colour or black.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError

WORK_SIZE = (224, 224)
"""(width, height) the thesis applies pixelation and blur at."""

BASELINES: tuple[str, ...] = (
    "pixelate4",
    "pixelate16",
    "blur-weak",
    "blur-strong",
    "mask",
    "mask-black",
)
BLUR_SETTINGS: dict[str, tuple[int, float]] = {"blur-weak": (13, 10.0), "blur-strong": (21, 10.0)}
"""Gaussian kernel size kappa and sigma of the blur baselines (Table 5.2)."""


def _to_work(frame: np.ndarray, work_size: tuple[int, int] | None) -> np.ndarray:
    if work_size is None or frame.shape[1::-1] == tuple(work_size):
        return frame
    return cv2.resize(frame, work_size, interpolation=cv2.INTER_AREA)


def _back(out: np.ndarray, shape: tuple[int, ...], interpolation: int) -> np.ndarray:
    h, w = shape[:2]
    if out.shape[:2] == (h, w):
        return out
    return cv2.resize(out, (w, h), interpolation=interpolation)


def pixelate(
    frame: np.ndarray, *, block: int, work_size: tuple[int, int] | None = WORK_SIZE
) -> np.ndarray:
    """Average-pool ``block x block`` pixels and repeat each mean over its block.

    Parameters
    ----------
    frame : (H, W, 3) uint8 ndarray
    block : int
        Side of the pooling window in pixels of the working size (4 or 16 in the thesis).
    work_size : (width, height) or None
        Size the pooling is applied at (default 224x224); None: the frame's own size.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        Constant over each block. Partial blocks at the right/bottom border are averaged
        over the pixels they hold.
    """
    frame = check_frame(frame)
    if block < 1:
        raise MotionlabError(f"pixelation block must be >= 1, got {block}")
    x = _to_work(frame, work_size).astype(np.float32)
    h, w = x.shape[:2]
    gh, gw = -(-h // block), -(-w // block)
    pad = np.zeros((gh * block, gw * block, 3), np.float32)
    count = np.zeros((gh * block, gw * block, 1), np.float32)
    pad[:h, :w] = x
    count[:h, :w] = 1
    sums = pad.reshape(gh, block, gw, block, 3).sum((1, 3))
    counts = count.reshape(gh, block, gw, block, 1).sum((1, 3))
    means = np.rint(sums / counts).astype(np.uint8)
    out = np.repeat(np.repeat(means, block, 0), block, 1)[:h, :w]
    return _back(np.ascontiguousarray(out), frame.shape, cv2.INTER_NEAREST)


def blur(
    frame: np.ndarray,
    *,
    kernel: int,
    sigma: float,
    work_size: tuple[int, int] | None = WORK_SIZE,
) -> np.ndarray:
    """Gaussian blur with an odd ``kernel`` size and ``sigma`` (pixels of the working size).

    Borders are reflected (OpenCV's default, ``BORDER_REFLECT_101``).
    """
    frame = check_frame(frame)
    if kernel < 1 or kernel % 2 == 0:
        raise MotionlabError(f"blur kernel size must be odd and positive, got {kernel}")
    if not sigma > 0:
        raise MotionlabError(f"blur sigma must be positive, got {sigma}")
    out = cv2.GaussianBlur(_to_work(frame, work_size), (kernel, kernel), sigma)
    return _back(out, frame.shape, cv2.INTER_LINEAR)


def mask_region(frame: np.ndarray, mask: np.ndarray, *, fill: str = "mean") -> np.ndarray:
    """Fill the pixels where ``mask`` is set with the region's mean colour or black.

    Parameters
    ----------
    frame : (H, W, 3) uint8 ndarray
    mask : (H, W) bool or float ndarray
        Region to hide; float maps (e.g. a soft person segmentation) are cut at 0.5.
    fill : {"mean", "black"}
        ``mean``: the per-channel mean of the original pixels inside the region.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        Unchanged outside the region (and everywhere if the region is empty).
    """
    frame = check_frame(frame)
    m = np.asarray(mask)
    if m.shape != frame.shape[:2]:
        raise MotionlabError(f"mask {m.shape} must have the frame's size {frame.shape[:2]}")
    region = m > 0.5 if m.dtype != bool else m
    out = frame.copy()
    if not region.any():
        return out
    if fill == "mean":
        colour = np.rint(frame[region].reshape(-1, 3).mean(0)).astype(np.uint8)
    elif fill == "black":
        colour = np.zeros(3, np.uint8)
    else:
        raise MotionlabError(f"mask fill must be 'mean' or 'black', got {fill!r}")
    out[region] = colour
    return out


def get_baseline(
    method: str,
    *,
    person_mask: Callable[[np.ndarray], np.ndarray] | None = None,
    work_size: tuple[int, int] | None = WORK_SIZE,
) -> Callable[[np.ndarray], np.ndarray]:
    """A frame -> frame function for one of :data:`BASELINES`.

    ``mask`` and ``mask-black`` need ``person_mask``: a function from a frame to an
    ``(H, W)`` map in [0, 1] of the people in it (e.g.
    :meth:`motionlab.privacy.landmarks.PersonSegmenter.__call__`).
    """
    if method == "pixelate4":
        return lambda f: pixelate(f, block=4, work_size=work_size)
    if method == "pixelate16":
        return lambda f: pixelate(f, block=16, work_size=work_size)
    if method in BLUR_SETTINGS:
        k, s = BLUR_SETTINGS[method]
        return lambda f: blur(f, kernel=k, sigma=s, work_size=work_size)
    if method in ("mask", "mask-black"):
        if person_mask is None:
            raise MotionlabError(f"baseline {method!r} needs a person segmentation")
        fill = "mean" if method == "mask" else "black"
        segment = person_mask
        return lambda f: mask_region(f, segment(f), fill=fill)
    raise MotionlabError(f"unknown baseline {method!r}; choose one of {', '.join(BASELINES)}")
