"""write_obfuscation's noise range from the video itself, found while decoding once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from motionlab.afd.noise import NoiseRange, video_mean_std_stream
from motionlab.privacy import ObfuscationConfig, write
from motionlab.privacy.write import frames_with_moments, write_obfuscation
from motionlab.synthetic import sample_video_frames
from motionlab.video import read_metadata, read_video, write_video
from test_privacy_obfuscate import BoxMatcher


def _frames(n: int = 5) -> list[np.ndarray]:
    return list(sample_video_frames(n, size=(40, 32), seed=4))


@pytest.mark.parametrize("keep_bytes", [10**9, 0, 2 * 40 * 32 * 3])
def test_frames_with_moments_gives_every_frame_once_and_exact_statistics(
    keep_bytes: int,
) -> None:
    frames = _frames()
    reopened = []

    def reopen() -> list[np.ndarray]:
        reopened.append(True)
        return [f.copy() for f in frames]

    out, stats = frames_with_moments(iter(frames), reopen, keep_bytes=keep_bytes)
    got = list(out)
    assert len(got) == len(frames) and all(a is b for a, b in zip(got, frames, strict=True))
    assert stats == video_mean_std_stream(frames)  # bit for bit
    assert len(reopened) == (0 if keep_bytes >= sum(f.nbytes for f in frames) else 1)


@pytest.mark.parametrize("keep_bytes", [None, 1])
def test_range_from_video_writes_what_the_range_given_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_bytes: int | None
) -> None:
    """One decoding pass (or two, for a video too long to keep) gives the output and the
    record of the two-pass path: the range of eq. 5.3 given explicitly."""
    clip = tmp_path / "clip.mkv"
    frames = _frames(6)
    write_video(clip, frames, fps=10)
    mean, std = video_mean_std_stream(read_video(clip))
    given = NoiseRange.from_mean_std(mean, std)
    box = (8, 6, 30, 26)
    explicit = tmp_path / "explicit.mkv"
    write_obfuscation(
        clip, explicit, matcher=BoxMatcher(box), progress=False,
        config=ObfuscationConfig(("box",), seed=3, noise_range=given),
    )  # fmt: skip
    if keep_bytes is not None:
        monkeypatch.setattr(write, "KEEP_BYTES", keep_bytes)
    found = tmp_path / "found.mkv"
    placeholder = NoiseRange(grayscale=False)  # only its grayscale setting is used
    count = write_obfuscation(
        clip, found, matcher=BoxMatcher(box), progress=False, range_from_video=True,
        config=ObfuscationConfig(("box",), seed=3, noise_range=placeholder),
    )  # fmt: skip
    assert count == 6
    assert np.array_equal(read_video(found), read_video(explicit))
    record = json.loads(read_metadata(found)["motionlab"])
    assert record["obfuscation"] == json.loads(read_metadata(explicit)["motionlab"])["obfuscation"]
    assert record["obfuscation"]["afd"]["noise_low"] == list(given.low)


def test_range_from_video_keeps_grayscale_and_records_it_in_given_provenance(
    tmp_path: Path,
) -> None:
    clip = tmp_path / "clip.mkv"
    write_video(clip, _frames(4), fps=10)
    out = tmp_path / "out.mkv"
    config = ObfuscationConfig(("box",), noise_range=NoiseRange(grayscale=True))
    write_obfuscation(
        clip, out, matcher=BoxMatcher((0, 0, 40, 32)), config=config, progress=False,
        range_from_video=True, provenance={"obfuscation": "placeholder", "mine": 1},
    )  # fmt: skip
    record = json.loads(read_metadata(out)["motionlab"])
    afd = record["obfuscation"]["afd"]
    assert record["mine"] == 1 and afd["grayscale"] is True
    assert afd["noise_low"] != list(NoiseRange().low)  # the video's range, not 0..255
    frame = read_video(out)[1]
    assert (frame[..., 0] == frame[..., 1]).all() and (frame[..., 1] == frame[..., 2]).all()
