"""Validation of the array conventions (docs/conventions.md), shared by every module."""

from __future__ import annotations

import numpy as np

from motionlab.errors import MotionlabError


def check_frame(frame: object, *, name: str = "frame", allow_gray: bool = False) -> np.ndarray:
    """Return ``frame`` as a contiguous RGB ``(H, W, 3)`` uint8 array, or raise.

    Parameters
    ----------
    frame : (H, W, 3) uint8 ndarray, or (H, W) if ``allow_gray``
        Grey frames are repeated over three channels.
    name : str
        What to call the array in error messages.

    Raises
    ------
    MotionlabError
        Not an array, not uint8, or not of shape (H, W, 3).
    """
    if not isinstance(frame, np.ndarray):
        raise MotionlabError(f"{name} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise MotionlabError(
            f"{name} must be uint8 (0..255), got {frame.dtype}; convert with "
            "np.clip(x, 0, 255).astype(np.uint8)"
        )
    if allow_gray and frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        shapes = "(H, W, 3) or (H, W)" if allow_gray else "(H, W, 3) (RGB)"
        raise MotionlabError(f"{name} must have shape {shapes}, got {frame.shape}")
    return np.ascontiguousarray(frame)
