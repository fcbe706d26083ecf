"""Every flow method recovers a known sub-pixel translation; the API validates input."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.flow import estimate, get_estimator, list_methods, video_flow
from motionlab.synthetic import moving_disc_scene, shift_image, smooth_texture

from conftest import RAFT_SMALL, need

SHIFT = (1.3, -0.7)  # u (right), v (up): a sub-pixel translation in both directions
MARGIN = 16  # border pixels excluded: content enters/leaves there


@pytest.fixture(scope="module")
def shifted_pair() -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and the same texture moved by SHIFT (bicubic)."""
    tex = smooth_texture(160, 200, sigma=4.0, rng=np.random.default_rng(1))
    a = np.clip(tex + 0.5, 0, 255).astype(np.uint8)
    b = np.clip(shift_image(tex, *SHIFT) + 0.5, 0, 255).astype(np.uint8)
    return a, b


# Tolerance: mean endpoint error inside the margin, in pixels. Measured here: DIS medium
# 0.07, fast 0.12, ultrafast 0.11, Farneback 0.07, TV-L1 0.02, DeepFlow 0.08,
# RAFT-small 0.10. A wrong sign, swapped channels or a wrong scale gives > 1 px.
CASES = [
    ("dis", {}, 0.15),
    ("dis", {"preset": "fast"}, 0.2),
    ("dis", {"preset": "ultrafast"}, 0.2),
    ("dis", {"preset": "medium-full"}, 0.15),
    ("dis", {"upsample": 2.0}, 0.15),
    ("farneback", {}, 0.15),
    ("tvl1", {}, 0.15),
    ("deepflow", {}, 0.15),
    ("raft-small", {"weights": RAFT_SMALL}, 0.15),
]


@pytest.mark.parametrize(("method", "options", "tol"), CASES, ids=lambda c: str(c))
def test_subpixel_translation_recovered(shifted_pair, method, options, tol):
    if "weights" in options:
        need(options["weights"])
    a, b = shifted_pair
    est = get_estimator(method, **options)
    for first, second, sign in ((a, b, 1.0), (b, a, -1.0)):  # forward, then backward
        flow = est(first, second)
        assert flow.shape == (*a.shape[:2], 2) and flow.dtype == np.float32
        inner = flow[MARGIN:-MARGIN, MARGIN:-MARGIN]
        err = np.hypot(inner[..., 0] - sign * SHIFT[0], inner[..., 1] - sign * SHIFT[1])
        assert err.mean() < tol, f"{method} {options}: mean error {err.mean():.3f} px"


def test_medium_full_follows_a_thin_bar():
    """``medium-full`` (STVI's preset) searches down to full resolution: a 4 px wide bar
    moving 3 px over a still background gets its motion (measured: mean error 0.03 px;
    OpenCV's medium, finest scale 1, 0.69 px: the bar's flow is averaged with the
    background's at half resolution)."""
    rng = np.random.default_rng(3)
    a = smooth_texture(160, 200, sigma=3.0, rng=rng)
    bar = smooth_texture(160, 200, sigma=1.5, rng=np.random.default_rng(4))[40:120, 80:84] + 60
    b = a.copy()
    a[40:120, 80:84], b[40:120, 83:87] = bar, bar
    a, b = (np.clip(x + 0.5, 0, 255).astype(np.uint8) for x in (a, b))
    est = get_estimator("dis", preset="medium-full")
    flow = est(a, b)[45:115, 80:84]
    assert np.abs(flow[..., 0] - 3).mean() < 0.2 and np.abs(flow[..., 1]).mean() < 0.2
    dis = est._object(a)
    assert (dis.getFinestScale(), dis.getVariationalRefinementIterations()) == (0, 0)


def test_with_dis_preset_fills_only_a_missing_dis_preset():
    from motionlab.flow.estimators import with_dis_preset

    given = {"upsample": 2.0}
    assert with_dis_preset("dis", given, "fast") == {"upsample": 2.0, "preset": "fast"}
    assert given == {"upsample": 2.0}  # a copy
    assert with_dis_preset("dis", {"preset": "medium"}, "fast") == {"preset": "medium"}
    assert with_dis_preset("raft-small", None, "fast") == {}


def test_every_registered_method_is_covered():
    assert {c[0] for c in CASES} | {"raft-large"} == set(list_methods())


def test_estimate_caches_the_estimator(shifted_pair):
    a, b = shifted_pair
    f1 = estimate(a, b, method="dis", preset="fast")
    f2 = estimate(a, b, method="dis", preset="fast")
    np.testing.assert_array_equal(f1, f2)


def test_grey_frames_accepted(shifted_pair):
    a, b = shifted_pair
    flow = estimate(a[..., 0], b[..., 0])
    assert flow.shape == (*a.shape[:2], 2)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros((32, 32, 3), np.float32), np.zeros((32, 32, 3), np.float32), "uint8"),
        (np.zeros((32, 32, 3), np.uint8), np.zeros((32, 40, 3), np.uint8), "differ in size"),
        (np.zeros((32, 32, 4), np.uint8), np.zeros((32, 32, 4), np.uint8), "shape"),
        (np.zeros((4, 32, 3), np.uint8), np.zeros((4, 32, 3), np.uint8), "too small"),
        ("a.png", "b.png", "numpy array"),
    ],
)
def test_bad_frames(a, b, match):
    with pytest.raises(MotionlabError, match=match):
        estimate(a, b)


def test_bad_method_and_options():
    with pytest.raises(MotionlabError, match="unknown flow method"):
        get_estimator("lucas-kanade")
    with pytest.raises(MotionlabError, match="unknown DIS preset"):
        get_estimator("dis", preset="slow")
    with pytest.raises(MotionlabError, match="upsample"):
        get_estimator("dis", upsample=0.5)
    with pytest.raises(MotionlabError, match="farneback"):
        get_estimator("farneback", weights="x.pth")


def test_video_flow_streams_both_directions():
    scene = list(moving_disc_scene(6, size=(192, 160)))
    frames = [f for f, _ in scene]
    pairs = list(video_flow(iter(frames), direction="both", batch_size=2))
    assert [p.index for p in pairs] == [0, 1, 2, 3, 4]
    for p in pairs:
        gt = scene[p.index][1]
        bg = (gt[..., 0] == 0.75)[MARGIN:-MARGIN, MARGIN:-MARGIN]
        fwd = np.median(p.forward[MARGIN:-MARGIN, MARGIN:-MARGIN][bg], axis=0)
        bwd = np.median(p.backward[MARGIN:-MARGIN, MARGIN:-MARGIN][bg], axis=0)
        np.testing.assert_allclose(fwd, (0.75, 0.25), atol=0.15)
        np.testing.assert_allclose(bwd, (-0.75, -0.25), atol=0.15)
    only_fwd = next(video_flow(iter(frames), direction="forward"))
    assert only_fwd.backward is None
    np.testing.assert_array_equal(only_fwd.forward, pairs[0].forward)


def test_video_flow_needs_two_frames():
    frame = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(MotionlabError, match="at least two frames"):
        list(video_flow(iter([frame])))
    with pytest.raises(MotionlabError, match="direction"):
        list(video_flow(iter([frame, frame]), direction="sideways"))


@pytest.mark.parametrize("method", ["dis", "tvl1"])
def test_estimator_reused_across_frame_sizes_matches_a_fresh_one(shifted_pair, method):
    """Estimators keep one OpenCV object per frame size (a DIS object first used on small
    frames runs 7x slower on larger ones); reuse must give the same flow as a fresh one."""
    a, b = shifted_pair
    small = (a[:40, :48].copy(), b[:40, :48].copy())
    used = get_estimator(method)
    used(*small)
    np.testing.assert_array_equal(used(a, b), get_estimator(method)(a, b))
    np.testing.assert_array_equal(used(*small), get_estimator(method)(*small))
