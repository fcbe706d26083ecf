"""Shared fixtures: the ../shared data folder (skipped cleanly when absent) and textures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOTIONLAB_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
RAFT_SMALL = SHARED / "weights" / "raft-small.pth"


def need(path: Path) -> Path:
    """Return ``path`` or skip the test, naming what is missing."""
    if not path.exists():
        pytest.skip(f"needs {path} (the project's ../shared data, absent on this machine)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def noise_frames(rng: np.random.Generator) -> np.ndarray:
    """Five i.i.d. uniform RGB noise frames of an odd size, (5, 33, 47, 3) uint8."""
    return rng.integers(0, 256, (5, 33, 47, 3), dtype=np.uint8)
