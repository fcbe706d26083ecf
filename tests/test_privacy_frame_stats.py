"""Exact per-channel mean and deviation of a video (the noise range of eq. 5.3)."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab.afd.noise import video_mean_std_stream
from motionlab.errors import MotionlabError
from motionlab.privacy import frame_stats
from motionlab.privacy.frame_stats import ChannelMoments, channel_histograms, frames_mean_std


def _frames(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = [(37, 53), (37, 53), (64, 48), (5, 7)]  # frames of a stream may differ in size
    out = []
    for k, (h, w) in enumerate(sizes):
        f = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        f[..., k % 3] //= 4  # channels with different statistics
        out.append(f)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bit_identical_to_the_float64_sums(seed: int) -> None:
    frames = _frames(seed)
    assert frames_mean_std(frames) == video_mean_std_stream(frames)  # == on floats: exact


def test_hand_computed_values() -> None:
    frames = [np.full((2, 2, 3), (v, 0, 255), np.uint8) for v in (10, 30)]
    mean, std = frames_mean_std(frames)
    assert mean == (20.0, 0.0, 255.0) and std == (10.0, 0.0, 0.0)


def test_histograms_count_each_channel() -> None:
    frame = np.zeros((3, 4, 3), np.uint8)
    frame[0, 0] = (1, 2, 3)
    frame[..., 2] = 7
    hist = channel_histograms(frame)
    assert hist.shape == (3, 256) and hist.dtype == np.int64
    assert hist[0, 1] == 1 and hist[0, 0] == 11 and hist[1, 2] == 1 and hist[2, 7] == 12
    assert (hist.sum(1) == 12).all()


def test_large_frames_path_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of 2**24 pixels or more are counted by bincount (calcHist counts in float32)."""
    frames = _frames(3)
    fast = [channel_histograms(f) for f in frames]
    monkeypatch.setattr(frame_stats, "_CALCHIST_MAX", 1)
    assert all((channel_histograms(f) == h).all() for f, h in zip(frames, fast, strict=True))
    assert frames_mean_std(frames) == video_mean_std_stream(frames)


def test_refuses_empty_and_wrong_frames() -> None:
    with pytest.raises(MotionlabError, match="no frames"):
        ChannelMoments().mean_std()
    with pytest.raises(MotionlabError, match="uint8"):
        frames_mean_std([np.zeros((4, 4, 3), np.float32)])
    with pytest.raises(MotionlabError, match=r"\(H, W, 3\)"):
        frames_mean_std([np.zeros((4, 4), np.uint8)])
