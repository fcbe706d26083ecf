"""The naive baselines of Table 5.2."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy import BASELINES, blur, get_baseline, mask_region, pixelate


def test_pixelate_hand_computed_native_size() -> None:
    frame = np.zeros((2, 4, 3), np.uint8)
    frame[0, 0] = 8
    frame[1, 1] = 4  # block (0..1, 0..1) mean = 3
    frame[:, 2:] = 200
    out = pixelate(frame, block=2, work_size=None)
    assert (out[:, :2] == 3).all() and (out[:, 2:] == 200).all()


def test_pixelate_partial_blocks_average_what_they_hold() -> None:
    frame = np.zeros((3, 3, 3), np.uint8)
    frame[2, 2] = 90
    out = pixelate(frame, block=2, work_size=None)
    assert (out[2, 2] == 90).all()  # the corner block holds one pixel
    assert (out[0, 0] == 0).all()


def test_pixelate_at_224_keeps_input_size_and_blocks(rng: np.random.Generator) -> None:
    frame = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    for block in (4, 16):
        out = pixelate(frame, block=block)
        assert out.shape == frame.shape
        tiles = out.reshape(224 // block, block, 224 // block, block, 3)
        assert (tiles == tiles[:, :1, :, :1]).all()
        assert np.allclose(
            tiles[0, 0, 0, 0], frame[:block, :block].reshape(-1, 3).mean(0), atol=0.5
        )
    other = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert pixelate(other, block=16).shape == other.shape


def test_blur_weak_and_strong(rng: np.random.Generator) -> None:
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    weak = get_baseline("blur-weak")(frame)
    strong = get_baseline("blur-strong")(frame)
    assert weak.shape == strong.shape == frame.shape
    # a bigger kernel with the same sigma removes more of the i.i.d. noise
    assert frame.std() > weak.std() > strong.std()
    with pytest.raises(MotionlabError, match="odd"):
        blur(frame, kernel=12, sigma=10)
    flat = np.full((30, 30, 3), 77, np.uint8)
    assert (blur(flat, kernel=13, sigma=10) == 77).all()


def test_mask_region_mean_black_and_empty() -> None:
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[0, 0] = (10, 20, 30)
    frame[0, 1] = (30, 40, 50)
    frame[1, 2] = 255
    mask = np.array([[1.0, 0.9, 0.0], [0.0, 0.0, 0.2]])
    out = mask_region(frame, mask)
    assert out[0, 0].tolist() == out[0, 1].tolist() == [20, 30, 40]
    assert out[1, 2].tolist() == [255, 255, 255]
    assert (mask_region(frame, mask, fill="black")[0, :2] == 0).all()
    assert (mask_region(frame, np.zeros((2, 3))) == frame).all()
    with pytest.raises(MotionlabError, match="size"):
        mask_region(frame, np.zeros((3, 2)))


def test_get_baseline_errors() -> None:
    assert set(BASELINES) >= {"pixelate4", "pixelate16", "blur-weak", "blur-strong", "mask"}
    with pytest.raises(MotionlabError, match="unknown baseline"):
        get_baseline("swirl")
    with pytest.raises(MotionlabError, match="person segmentation"):
        get_baseline("mask")
    fill = get_baseline("mask-black", person_mask=lambda f: np.ones(f.shape[:2]))
    assert (fill(np.full((2, 2, 3), 9, np.uint8)) == 0).all()
