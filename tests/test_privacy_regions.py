"""Attribute names and the geometry of soft regions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy import ATTRIBUTES, parse_names
from motionlab.privacy.attributes import PRESETS, THESIS_SETS
from motionlab.privacy.landmarks import crop_around, hand_crop
from motionlab.privacy.regions import hull_mask, limbs_mask, soften


def test_thesis_template_sets_are_presets_one_to_one() -> None:
    """Sec. 5.4: T~ = {torso, arm, leg, hair} for SBU and KTH, {cheek, eyes, forehead, hair}
    for IPN; each thesis word maps onto exactly one of our attributes, none shared."""
    assert THESIS_SETS == {
        "sbu": ("torso", "arm", "leg", "hair"),
        "kth": ("torso", "arm", "leg", "hair"),
        "ipn": ("cheek", "eyes", "forehead", "hair"),
    }
    for name, words in THESIS_SETS.items():
        ours = PRESETS[name]
        assert len(ours) == len(words) == len(set(ours)) == 4  # one to one
        assert set(ours) <= set(ATTRIBUTES), name
        assert parse_names(name, known=ATTRIBUTES) == ours
    assert PRESETS["sbu"] == PRESETS["kth"] == ("torso", "arm", "legs", "hair")
    assert PRESETS["ipn"] == ("cheek", "eyes", "forehead", "hair")
    assert parse_names("IPN, lips") == ("cheek", "eyes", "forehead", "hair", "lips")
    # a DINO library made with the authors' names (leg.pt) keeps its own word
    assert parse_names("kth", known=("hair", "leg", "arm", "torso")) == THESIS_SETS["kth"]
    with pytest.raises(MotionlabError, match="preset 'ipn' needs template cheek"):
        parse_names("ipn", known=("torso", "arm", "leg", "hair"))
    with pytest.raises(MotionlabError, match="sbu, kth, ipn"):
        parse_names("sbux", known=ATTRIBUTES)


def test_parse_names_groups_order_and_errors() -> None:
    assert parse_names("eyes, hair,eyes") == ("eyes", "hair")
    assert parse_names("face") == ("forehead", "hair", "eyes", "cheek", "lips")
    assert parse_names("all", known=ATTRIBUTES) == ATTRIBUTES
    with pytest.raises(MotionlabError, match="unknown template"):
        parse_names("eyes,nose", known=ATTRIBUTES)
    with pytest.raises(MotionlabError, match="no template"):
        parse_names(" , ")


def test_hull_mask_square() -> None:
    m = hull_mask(np.array([[2, 2], [6, 2], [6, 6], [2, 6], [4, 4]]), (10, 10))
    assert m[2:7, 2:7].all() and m.sum() == 25


def test_limbs_mask_respects_visibility() -> None:
    pts = np.array([[1.0, 5.0], [8.0, 5.0], [8.0, 9.0]])
    m = limbs_mask(pts, [(0, 1), (1, 2)], (10, 10), thickness=1, visible=np.array([1, 1, 0], bool))
    assert m[5, 1:9].all() and not m[7:, 8].any()


def test_soften_profile() -> None:
    mask = np.zeros((1, 40), np.uint8)
    mask[0, :10] = 1
    s = soften(mask, 5.0)[0]
    assert (s[:15] == 1).all()  # inside and within one margin
    assert (s[20:] == 0).all()  # beyond two margins
    assert (np.diff(s[10:21]) <= 0).all() and 0 < s[17] < 1
    assert not soften(np.zeros((4, 4), bool), 3).any()


def _soften_whole_frame(mask: np.ndarray, margin: float) -> np.ndarray:
    """Reference: the distance transform of the whole frame (what soften computed before
    it worked on the region's box)."""
    m = mask > 0
    if not m.any():
        return np.zeros(m.shape, np.float32)
    margin = max(margin, 0.5)
    dist = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 3)
    x = np.clip((2 * margin - dist) / margin, 0.0, 1.0)
    return (x * x * (3 - 2 * x)).astype(np.float32)


def test_soften_on_the_box_equals_the_whole_frame() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(5, 120, 2))
        mask = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(0, 4))):  # discs, some cut by the frame's edge
            x, y, r = (int(v) for v in rng.integers(-10, 130, 3))
            cv2.circle(mask, (x, y), r % 20 + 1, 1, -1)
        if rng.random() < 0.2:
            mask = (rng.random((h, w)) < 0.01).astype(np.uint8)  # scattered pixels
        margin = float(rng.uniform(0.1, 15))
        got, ref = soften(mask, margin), _soften_whole_frame(mask, margin)
        assert got.dtype == np.float32 and got.shape == mask.shape
        np.testing.assert_allclose(got, ref, atol=1e-6)
        assert np.array_equal(got > 0, ref > 0)  # same support: nothing cut at the box


def test_hand_crops_contain_the_hand() -> None:
    pts = np.zeros((33, 2))
    pts[11], pts[12] = (100, 50), (160, 50)  # shoulders 60 px apart
    pts[15], pts[17], pts[19], pts[21] = (40, 120), (30, 100), (40, 98), (50, 105)
    x0, y0, side = hand_crop(pts, (15, 17, 19, 21))
    tips = pts[15] + 2.2 * (pts[[17, 19]].mean(0) - pts[15])
    for p in (pts[15], tips):  # wrist and finger tips inside, with room around them
        assert x0 + 0.1 * side < p[0] < x0 + 0.9 * side and y0 + 0.1 * side < p[1] < y0 + 0.9 * side
    assert side >= 0.8 * 60
    hand = np.array([[10.0, 20.0], [30.0, 60.0], [20.0, 40.0]])
    x0, y0, side = crop_around(hand)
    assert side == 80 and (x0, y0) == (-20.0, 0.0)  # twice the longer side, centred
