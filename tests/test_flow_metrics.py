"""Flow accuracy metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.flow import angular_error, endpoint_error, fl_all

FLOW = np.array([[[1.0, 0.0], [0.0, 0.0]]], np.float32)
GT = np.array([[[0.0, 0.0], [3.0, 4.0]]], np.float32)


def test_endpoint_error():
    assert endpoint_error(FLOW, GT) == pytest.approx((1.0 + 5.0) / 2)


def test_angular_error():
    # (1,0,1) vs (0,0,1): 45 deg; (0,0,1) vs (3,4,1): acos(1 / sqrt(26))
    expected = (45.0 + np.degrees(np.arccos(1 / np.sqrt(26)))) / 2
    assert angular_error(FLOW, GT) == pytest.approx(expected)
    assert angular_error(GT, GT) == pytest.approx(0.0, abs=1e-6)


def test_fl_all():
    # pixel 1: error 1 px (not an outlier); pixel 2: error 5 px > 3 px and > 5% of 5 px
    assert fl_all(FLOW, GT) == pytest.approx(50.0)
    big = np.array([[[100.0, 0.0]]], np.float32)
    off = np.array([[[104.0, 0.0]]], np.float32)  # 4 px error but < 5% of 100 px
    assert fl_all(off, big) == 0.0


def test_unknown_ground_truth_is_ignored():
    gt = GT.copy()
    gt[0, 1] = np.nan
    assert endpoint_error(FLOW, gt) == pytest.approx(1.0)
    gt[0, 1] = (1e10, 0.0)  # Middlebury "unknown" code
    assert endpoint_error(FLOW, gt) == pytest.approx(1.0)
    assert endpoint_error(FLOW, GT, valid=np.array([[False, True]])) == pytest.approx(5.0)


def test_errors():
    with pytest.raises(MotionlabError, match="differ in shape"):
        endpoint_error(FLOW, np.zeros((2, 2, 2), np.float32))
    with pytest.raises(MotionlabError, match="no valid"):
        endpoint_error(FLOW, np.full_like(GT, np.nan))
