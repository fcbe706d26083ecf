"""Attribute names and the geometry of soft regions."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy import ATTRIBUTES, parse_names
from motionlab.privacy.regions import hull_mask, limbs_mask, soften


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
