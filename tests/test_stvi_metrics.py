"""STVI evaluation measures against hand-computed small volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from motionlab import MotionlabError
from motionlab.stvi.metrics import (
    boundary_f,
    boundary_f_frame,
    boundary_map,
    jaccard,
    label_inconsistency,
    mean_tubes,
    segmentation_accuracy,
    temporal_extent,
    undersegmentation_error,
)

# one frame, 2 x 4: supervoxel 1 = 2 voxels, 2 = 3 voxels, 3 = 3 voxels
LABELS = np.array([[[1, 1, 2, 2], [2, 3, 3, 3]]])
GT = np.array([[[1, 1, 1, 0], [0, 0, 0, 0]]], bool)  # 3 voxels


def test_accuracy_by_hand():
    # sv 1: 2 of 2 inside -> counted (2); sv 2: 1 of 3 inside -> outside; sv 3: none
    assert segmentation_accuracy(LABELS, GT) == pytest.approx(2 / 3)
    # half inside counts as inside
    labels = np.array([[[1, 1, 2, 2], [3, 3, 3, 3]]])
    assert segmentation_accuracy(labels, GT) == pytest.approx(1.0)


def test_accuracy_ignores_background_label():
    """Issue 16, defect 1: tubes cover 2 of 12 object pixels, label 0 the other 10."""
    from motionlab.stvi.evaluate import evaluate_labels

    gt = np.zeros((1, 3, 6), bool)
    gt[0, :2, :] = True  # 12 object pixels
    labels = np.zeros((1, 3, 6), int)
    labels[0, 0, :2] = 4  # tube 4: 2 object pixels, nothing outside
    assert segmentation_accuracy(labels, gt, background=0) == pytest.approx(1 / 6)
    assert evaluate_labels(labels, gt)["ACC"] == pytest.approx(1 / 6)
    # label 0 read as a supervoxel: 10 of its 16 voxels lie inside -> "covers" them too
    assert segmentation_accuracy(labels, gt) == pytest.approx(1.0)


def test_undersegmentation_by_hand():
    # touching supervoxels 1 (2 voxels) and 2 (3 voxels): (5 - 3) / 3
    assert undersegmentation_error(LABELS, GT) == pytest.approx(2 / 3)
    exact = np.where(GT, 7, 8)
    assert undersegmentation_error(exact, GT) == 0.0


def test_undersegmentation_ignores_background_label():
    # tube 1 covers 2 of the 3 GT voxels and leaks 1; label 0 (not the object) is no tube
    labels = np.array([[[1, 1, 0, 1], [0, 0, 0, 0]]])
    assert undersegmentation_error(labels, GT, background=0) == pytest.approx(1 / 3)
    # without the option the background "supervoxel" touches GT and leaks 5 voxels more
    assert undersegmentation_error(labels, GT) == pytest.approx((3 + 5 - 3) / 3)


def test_temporal_extent_and_count():
    labels = np.zeros((4, 2, 2), int)
    labels[:, 0, 0] = 1  # spans all 4 frames
    labels[1:3, 1, 1] = 2  # frames 1-2
    assert temporal_extent(labels) == pytest.approx((1.0 + 0.5) / 2)
    assert mean_tubes(labels) == 2
    assert mean_tubes(labels, background=None) == 3


def test_jaccard_by_hand():
    mask = np.zeros((2, 1, 3), bool)
    gt = np.zeros((2, 1, 3), bool)
    mask[0, 0, :2] = True  # {a, b}
    gt[0, 0, 1:] = True  # {b, c}: IoU 1/3; frame 1 empty in both: 1
    assert jaccard(mask, gt) == pytest.approx((1 / 3 + 1) / 2)


def test_boundary_map_like_davis():
    m = np.zeros((5, 5), bool)
    m[1:3, 1:3] = True
    expected = np.array(
        [
            [1, 1, 1, 0, 0],
            [1, 0, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
        ],
        bool,
    )
    np.testing.assert_array_equal(boundary_map(m), expected)
    full = np.ones((4, 4), bool)
    assert not boundary_map(full).any()  # the image border is not a boundary


def _f_oracle(mask: np.ndarray, gt: np.ndarray, radius: int) -> float:
    """Independent F: distances to the other boundary by a Euclidean distance transform."""
    bm, bg = boundary_map(mask), boundary_map(gt)
    d_to_gt = ndimage.distance_transform_edt(~bg)
    d_to_mask = ndimage.distance_transform_edt(~bm)
    p = (d_to_gt[bm] <= radius).mean()
    r = (d_to_mask[bg] <= radius).mean()
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def test_boundary_f_against_an_independent_oracle():
    h, w = 120, 160  # diagonal 200 px -> tolerance ceil(1.6) = 2 px
    gt = np.zeros((h, w), bool)
    gt[30:90, 40:100] = True
    assert boundary_f_frame(gt, gt) == 1.0
    shifted = np.roll(gt, 2, axis=1)  # within tolerance
    assert boundary_f_frame(shifted, gt) == 1.0
    for dx, grow in [(5, 0), (0, 12), (7, 20)]:
        mask = np.zeros_like(gt)
        mask[30 : 90 + grow, 40 + dx : 100 + dx] = True
        expected = _f_oracle(mask, gt, math.ceil(0.008 * math.hypot(h, w)))
        assert 0.0 < expected < 1.0
        assert boundary_f_frame(mask, gt) == pytest.approx(expected)
    empty = np.zeros_like(gt)
    assert boundary_f_frame(empty, gt) == 0.0
    assert boundary_f_frame(empty, empty) == 1.0
    vol = np.stack([gt, empty])
    assert boundary_f(vol, np.stack([gt, gt])) == pytest.approx(0.5)


def test_bad_input():
    with pytest.raises(MotionlabError, match="differ in shape"):
        segmentation_accuracy(LABELS, GT[:, :1])
    with pytest.raises(MotionlabError, match="integer ids"):
        undersegmentation_error(LABELS.astype(float), GT)
    with pytest.raises(MotionlabError, match="empty"):
        segmentation_accuracy(LABELS, np.zeros_like(GT))
    with pytest.raises(MotionlabError, match=r"\(T, H, W\)"):
        temporal_extent(np.zeros((2, 2), int))


def test_part_measures_by_hand():
    from motionlab.stvi.metrics import part_assignment, part_scores

    # 3 frames of 1 x 6; part 1 = pixels 0-2, part 2 = pixels 3-5 in every frame
    parts = np.tile(np.array([1, 1, 1, 2, 2, 2]), (3, 1, 1))
    labels = np.zeros((3, 1, 6), int)
    labels[:, 0, 0:3] = 5  # tube 5 models part 1 exactly
    labels[:, 0, 3:5] = 6  # tubes 6 and 7 split part 2 (2 + 1 pixels)
    labels[:, 0, 5] = 7
    labels[2, 0, 3:6] = 7  # in the last frame tube 7 takes all of part 2
    assert part_assignment(labels, parts) == {1: [5], 2: [6, 7]}
    scores = part_scores(labels, parts)
    # part 1: J 1 / 1 tube; part 2: union of tubes 6, 7 = part 2 exactly -> J 1 / 2 tubes
    assert scores["J_p"] == pytest.approx((1.0 + 0.5) / 2)
    assert scores["F_p"] == pytest.approx((1.0 + 0.5) / 2)
    # part 1 keeps label 5: 0. Part 2 over tubes (6, 7): (2/3, 1/3), (2/3, 1/3), (0, 1);
    # mean (4/9, 5/9); deviations 4/9, 4/9, 8/9 -> 16/9 over 3 frames = 16/27
    assert scores["C_p"] == pytest.approx((0.0 + 16 / 27) / 2)
    # a tube with only 25 % of itself in a part does not model it
    labels2 = np.zeros((1, 1, 8), int)
    labels2[0, 0, :4] = 1
    parts2 = np.zeros((1, 1, 8), int)
    parts2[0, 0, 3:] = 2
    assert part_assignment(labels2, parts2) == {2: []}
    assert part_scores(labels2, parts2)["J_p"] == 0.0
    with pytest.raises(MotionlabError, match="no parts"):
        part_scores(labels2, np.zeros_like(parts2))


def test_label_inconsistency_by_hand():
    """Issue 16, defect 2: C_p of Sec. 6.4, deviations summed over labels and frames."""
    # 4 frames of 1 x 4, the part is the whole frame
    part = np.ones((4, 1, 4), bool)
    halves = np.tile(np.array([1, 1, 2, 2]), (4, 1, 1))  # two tubes 50/50 in every frame
    assert label_inconsistency(halves, part) == 0.0
    switch = np.ones((4, 1, 4), int)
    switch[2:] = 2  # tube A (1) for two frames, then tube B (2)
    # d_t = (1, 0), (1, 0), (0, 1), (0, 1); mean (1/2, 1/2); |1/2| + |1/2| = 1 per frame
    assert label_inconsistency(switch, part) == pytest.approx(1.0)
    # fractions of the part's area per frame: a part that grows, still split 50/50, is 0
    growing = np.zeros((2, 1, 8), bool)
    growing[0, 0, :2] = True
    growing[1, 0, :8] = True
    split = np.tile(np.array([1, 2, 1, 1, 2, 2, 1, 2]), (2, 1, 1))
    assert label_inconsistency(split, growing) == 0.0
    # label 0 is not a tube: a part losing its only tube half way deviates 0.5 per frame
    lost = switch.copy()
    lost[2:] = 0
    assert label_inconsistency(lost, part) == pytest.approx(0.5)
    # only the frames where the part is visible count
    absent = np.concatenate([part, np.zeros((3, 1, 4), bool)])
    assert label_inconsistency(np.concatenate([switch, switch[:3]]), absent) == 1.0
    with pytest.raises(MotionlabError, match="never visible"):
        label_inconsistency(switch, np.zeros_like(part))
