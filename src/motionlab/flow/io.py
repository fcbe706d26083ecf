"""Middlebury ``.flo`` files: read and write ``float32 (H, W, 2)`` flow.

Format (Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 2011):
little-endian float32 magic 202021.25 (the bytes ``PIEH``), int32 width, int32 height, then
``H * W * 2`` float32 values, row by row, interleaved (u, v). Values above 1e9 mean
"unknown" in the benchmark's files; they are returned as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError

FLO_MAGIC = np.float32(202021.25)
_MAX_SIDE = 1 << 16


def check_flow(flow: np.ndarray, *, name: str = "flow") -> np.ndarray:
    """Validate a flow field and return it as contiguous ``float32 (H, W, 2)``."""
    if not isinstance(flow, np.ndarray):
        raise MotionlabError(f"{name} must be a numpy array, got {type(flow).__name__}")
    if flow.ndim != 3 or flow.shape[2] != 2 or 0 in flow.shape:
        raise MotionlabError(f"{name} must have shape (H, W, 2) (u, v), got {flow.shape}")
    if not np.issubdtype(flow.dtype, np.floating):
        raise MotionlabError(f"{name} must be a float array (pixels), got {flow.dtype}")
    return np.ascontiguousarray(flow, dtype=np.float32)


def read_flo(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a Middlebury ``.flo`` file.

    Returns
    -------
    flow : (H, W, 2) float32 ndarray
        u (x, right) and v (y, down) in pixels.

    Raises
    ------
    MotionlabError
        Missing file, wrong magic number, or a file shorter or longer than its header says.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionlabError(f"{path}: no such .flo file")
    data = path.read_bytes()
    if len(data) < 12:
        raise MotionlabError(f"{path}: too short for a .flo header ({len(data)} bytes)")
    magic = np.frombuffer(data, "<f4", 1, 0)[0]
    if magic != FLO_MAGIC:
        raise MotionlabError(
            f"{path}: not a Middlebury .flo file (magic {magic!r}, expected 202021.25)"
        )
    w, h = (int(x) for x in np.frombuffer(data, "<i4", 2, 4))
    if not (0 < w < _MAX_SIDE and 0 < h < _MAX_SIDE):
        raise MotionlabError(f"{path}: implausible .flo size {w}x{h}")
    expected = 12 + 4 * 2 * w * h
    if len(data) != expected:
        raise MotionlabError(
            f"{path}: truncated or padded .flo ({len(data)} bytes, header says {expected})"
        )
    return np.frombuffer(data, "<f4", 2 * w * h, 12).reshape(h, w, 2).astype(np.float32)


def write_flo(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write ``flow`` (``(H, W, 2)``, pixels) as a Middlebury ``.flo`` file, atomically."""
    flow = check_flow(flow)
    h, w = flow.shape[:2]
    header = FLO_MAGIC.astype("<f4").tobytes() + np.array([w, h], "<i4").tobytes()
    with atomic_file(path) as tmp:
        tmp.write_bytes(header + flow.astype("<f4").tobytes())
