"""Middlebury colour coding against colours worked out by hand from Baker et al.'s wheel."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab.flow import flow_to_color, make_colorwheel


def test_colorwheel_ramps():
    wheel = make_colorwheel()
    assert wheel.shape == (55, 3)  # 15 + 6 + 4 + 11 + 13 + 6
    np.testing.assert_array_equal(wheel[0], [255, 0, 0])  # red
    np.testing.assert_array_equal(wheel[1], [255, 17, 0])  # floor(255 * 1/15)
    np.testing.assert_array_equal(wheel[15], [255, 255, 0])  # yellow
    np.testing.assert_array_equal(wheel[21], [0, 255, 0])  # green
    np.testing.assert_array_equal(wheel[25], [0, 255, 255])  # cyan
    np.testing.assert_array_equal(wheel[36], [0, 0, 255])  # blue
    np.testing.assert_array_equal(wheel[49], [255, 0, 255])  # magenta
    np.testing.assert_array_equal(wheel[54], [255, 0, 43])  # 255 - floor(255 * 5/6)


# Worked by hand: angle a = atan2(-v, -u) / pi, fk = (a + 1) / 2 * 54, linear between
# wheel[floor(fk)] and the next, desaturated towards white by (1 - r), floor(255 * c).
@pytest.mark.parametrize(
    ("uv", "rgb"),
    [
        ((0.0, 0.0), (255, 255, 255)),  # no motion: white
        ((1.0, 0.0), (255, 0, 0)),  # right: fk = 0 -> red
        ((-1.0, 0.0), (0, 209, 255)),  # left: fk = 27 -> cyan-blue ramp, step 2
        ((0.0, 1.0), (255, 229, 0)),  # down: fk = 13.5 -> between (255,221,0), (255,238,0)
        ((0.0, -1.0), (88, 0, 255)),  # up: fk = 40.5 -> between (78,0,255), (98,0,255)
        ((0.5, 0.0), (255, 127, 127)),  # half magnitude: halfway to white
        ((2.0, 0.0), (191, 0, 0)),  # beyond max_flow: darkened by 0.75
    ],
)
def test_hand_checked_colours(uv, rgb):
    flow = np.array(uv, np.float32).reshape(1, 1, 2)
    np.testing.assert_array_equal(flow_to_color(flow, max_flow=1.0)[0, 0], rgb)


def test_default_normalises_by_max_magnitude():
    flow = np.zeros((1, 2, 2), np.float32)
    flow[0, 0] = (4.0, 0.0)
    flow[0, 1] = (2.0, 0.0)
    img = flow_to_color(flow)
    np.testing.assert_array_equal(img[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(img[0, 1], (255, 127, 127))


def test_unknown_flow_is_black_and_ignored_for_the_maximum():
    flow = np.array([[[np.nan, 0.0], [1.0, 0.0], [1e30, np.inf]]], np.float32)
    img = flow_to_color(flow)
    np.testing.assert_array_equal(img[0, 0], (0, 0, 0))
    np.testing.assert_array_equal(img[0, 1], (255, 0, 0))
    np.testing.assert_array_equal(img[0, 2], (0, 0, 0))
    assert img.dtype == np.uint8 and img.shape == (1, 3, 3)


def test_rejects_bad_max_flow():
    with pytest.raises(ValueError, match="positive"):
        flow_to_color(np.zeros((2, 2, 2), np.float32), max_flow=0)
