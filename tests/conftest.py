"""Shared fixtures: the ../shared data folder (skipped cleanly when absent) and textures."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOTIONLAB_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
RAFT_SMALL = SHARED / "weights" / "raft-small.pth"


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: SIGINT at its default
    disposition, so Python turns it into KeyboardInterrupt as in a terminal. A test session
    started in the background by a non-interactive shell (``cmd &``) inherits SIGINT
    *ignored*, its children too, and then Ctrl-C would never reach the command."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


@pytest.fixture(scope="session")
def study_stimuli(tmp_path_factory) -> Path:
    """Synthetic study stimuli (motionlab.study.demo): rgb/ and afd/ with three classes
    (right, left, up) of six 64x48 clips of 8 frames each, made once per session."""
    from motionlab.study.demo import make_demo_stimuli

    folder = tmp_path_factory.mktemp("study_stimuli")
    return make_demo_stimuli(
        folder, classes=("right", "left", "up"), per_class=6, frames=8, size=(64, 48)
    )


SHORT_STUDY = """
[study]
title = "Short test study"
classes = ["right", "left", "up"]
fps = {{ default = 25, min = 10, max = 40 }}

[stimuli.rgb]
root = "{root}/rgb"
pattern = "{{class}}/*.mkv"

[stimuli.afd]
root = "{root}/afd"
pattern = "{{class}}/*.mkv"

[[phases]]
kind = "consent"
[[phases]]
kind = "instructions"
text = ["First slide.", "Second slide."]
[[phases]]
kind = "familiarisation"
source = "rgb"
[[phases]]
kind = "training"
source = "rgb"
per_class = 1
[[phases]]
kind = "test"
source = "rgb"
per_class = 2
[[phases]]
kind = "rest"
seconds = {rest}
[[phases]]
kind = "training"
source = "afd"
per_class = 1
[[phases]]
kind = "test"
source = "afd"
per_class = 2
[[phases]]
kind = "questionnaire"
[[phases]]
kind = "thanks"
"""


def write_short_study(folder: Path, stimuli: Path, *, rest: int = 0) -> Path:
    """A short study over ``study_stimuli``: 3 classes, 1 training and 2 test clips per
    class and modality (18 answers in all), a rest of ``rest`` seconds."""
    path = folder / "study.toml"
    path.write_text(SHORT_STUDY.format(root=stimuli.as_posix(), rest=rest))
    return path


@pytest.fixture
def short_study(tmp_path, study_stimuli) -> Path:
    return write_short_study(tmp_path, study_stimuli)
