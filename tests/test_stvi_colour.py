"""The carried masks corrected by the anchors' colour models (motionlab.stvi.colour_model)."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab.stvi import metrics
from motionlab.stvi.colour_model import (
    colour_bins,
    colour_corrected_masks,
    colour_histograms,
)

RED = (220, 30, 30)
GREEN = (30, 160, 40)
BLUE = (30, 40, 200)


def _frame(h: int, w: int, colour: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (h, w, 3)).copy()


def test_histograms_count_inside_and_outside_with_add_one_smoothing():
    frame = _frame(4, 4, GREEN)
    frame[:2, :2] = RED  # 4 object pixels, 12 background
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    bins_of = colour_bins(frame, 4)
    fg, bg = colour_histograms(bins_of, mask, 4)
    red, green = bins_of[0, 0], bins_of[3, 3]
    assert red != green
    n = 4**3
    assert fg[red] == pytest.approx(5 / (4 + n)) and fg[green] == pytest.approx(1 / (4 + n))
    assert bg[green] == pytest.approx(13 / (12 + n)) and bg[red] == pytest.approx(1 / (12 + n))


def test_posterior_is_bayes_rule_with_the_blended_models():
    """Frame 1 lies half way between anchors 0 and 2: its likelihoods are the mean of both
    anchors' histograms, its prior the carried mask clipped to [eps, 1 - eps]."""
    h, w, bins = 4, 4, 4
    frames = np.stack([_frame(h, w, GREEN), _frame(h, w, GREEN), _frame(h, w, GREEN)])
    frames[0, :2, :2] = RED  # anchor 0: a red object
    frames[2, :2, :2] = BLUE  # anchor 2: a blue one
    frames[1, 0, 0] = RED
    frames[1, 0, 1] = BLUE
    mask = np.zeros((h, w), bool)
    mask[:2, :2] = True
    anchors = {0: mask, 2: mask}
    carried = np.zeros((3, h, w), np.float32)
    carried[1] = 0.3
    carried[1, 1, 1] = 1.0  # clipped to 1 - eps = 0.9
    out = colour_corrected_masks(
        frames, carried, anchors, bins=bins, weight=1.0, sigma=0.0, eps=0.1
    )
    n = bins**3
    fg_red = 0.5 * (5 / (4 + n) + 1 / (4 + n))  # red: 4 + 1 in anchor 0, 0 + 1 in anchor 2
    bg_red = 1 / (12 + n)
    fg_green, bg_green = 1 / (4 + n), 13 / (12 + n)
    red = 0.3 * fg_red / (0.3 * fg_red + 0.7 * bg_red)
    green_certain = 0.9 * fg_green / (0.9 * fg_green + 0.1 * bg_green)
    green = 0.3 * fg_green / (0.3 * fg_green + 0.7 * bg_green)
    assert out[1, 0, 0] == pytest.approx(red, rel=1e-5)
    assert out[1, 0, 1] == pytest.approx(red, rel=1e-5)  # blue: the same counts, mirrored
    assert out[1, 1, 1] == pytest.approx(green_certain, rel=1e-5)
    assert out[1, 3, 3] == pytest.approx(green, rel=1e-5)
    assert (out[0] == mask).all() and (out[2] == mask).all()  # anchors kept


def test_weight_zero_without_smoothing_gives_the_carried_masks():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 8, 9, 3), dtype=np.uint8)
    anchors = {0: rng.random((8, 9)) > 0.5}
    carried = rng.random((3, 8, 9)).astype(np.float32)
    out = colour_corrected_masks(frames, carried, anchors, weight=0.0, sigma=0.0)
    np.testing.assert_array_equal(out[1:], carried[1:])


def test_the_colours_settle_where_the_two_carried_anchors_disagree():
    """A red square moves on green. Between two anchors the carried mask is the blend of
    one mask lagging 4 px behind the object and one 4 px ahead of it (flows that miss part
    of the motion): 1 where both agree, 0.5 on the fringes. The colours decide the
    fringes."""
    h, w = 40, 60
    frames, truth = [], []
    for t in range(6):
        f = _frame(h, w, GREEN)
        m = np.zeros((h, w), bool)
        m[10:30, 10 + 2 * t : 30 + 2 * t] = True
        f[m] = RED
        frames.append(f)
        truth.append(m)
    frames_a, truth_a = np.stack(frames), np.stack(truth)
    carried = truth_a.astype(np.float32)
    for t in range(1, 5):
        lag, lead = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
        lag[10:30, 6 + 2 * t : 26 + 2 * t] = 1.0
        lead[10:30, 14 + 2 * t : 34 + 2 * t] = 1.0
        carried[t] = 0.5 * lag + 0.5 * lead
    anchors = {0: truth_a[0], 5: truth_a[5]}

    def j(**kw: float) -> float:
        out = colour_corrected_masks(frames_a, carried, anchors, **kw) > 0.5
        return metrics.jaccard(out[1:5], truth_a[1:5])

    assert metrics.jaccard(carried[1:5] > 0.5, truth_a[1:5]) == pytest.approx(0.6)
    assert j(weight=0.0, sigma=0.0) == pytest.approx(0.6)  # the carried masks themselves
    assert j(sigma=0.0) == 1.0  # every fringe pixel decided by its colour
    assert j() > j(weight=0.0) + 0.03  # with the smoothing: better than smoothing alone


def test_colour_bins_quantise_opencv_lab():
    """Black is Lab (0, 128, 128) in OpenCV's 8 bits, white (255, 128, 128): bins (0, 8, 8)
    and (15, 8, 8) of 16 per channel."""
    frame = np.zeros((1, 2, 3), np.uint8)
    frame[0, 1] = 255
    np.testing.assert_array_equal(colour_bins(frame, 16), [[8 * 16 + 8, (15 * 16 + 8) * 16 + 8]])
