"""Appearance-free video: the published first-frame definition, the default advect mode's
statistics and motion, i.i.d. mode, streaming interface."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.afd import AFDConfig, afd_from_flows, afd_steps, make_afd
from motionlab.afd.noise import NoiseRange, uniform_noise
from motionlab.flow import FlowPair, estimate
from motionlab.synthetic import moving_disc_scene
from test_noise import iid_stats


def const_flow(h: int, w: int, u: float, v: float) -> np.ndarray:
    f = np.empty((h, w, 2), np.float32)
    f[..., 0], f[..., 1] = u, v
    return f


def test_first_frame_matches_the_published_definition_by_hand():
    """R_0, then R_0 warped by each pair's flow with nearest neighbours; pixels coming from
    outside the frame take R_0's value. Content moves 1 px left: backward flow (+1, 0)."""
    h, w = 3, 4
    r0 = uniform_noise(h, w, rng=np.random.default_rng(0))  # what the seed draws first
    bwd, fwd = const_flow(h, w, 1.0, 0.0), const_flow(h, w, -1.0, 0.0)
    pairs = [FlowPair(0, fwd, bwd), FlowPair(1, fwd, bwd)]
    frames = list(afd_from_flows(pairs, height=h, width=w, config=AFDConfig(mode="first-frame")))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[0], r0)
    expected = np.empty_like(r0)
    expected[:, :3] = r0[:, 1:]  # output(y, x) = R_0(y, x + 1)
    expected[:, 3] = r0[:, 3]  # from outside the frame: R_0's own value
    np.testing.assert_array_equal(frames[1], expected)
    # the published method warps R_0 again (not the previous output): frame 2 == frame 1
    np.testing.assert_array_equal(frames[2], expected)


def test_first_frame_refills_deoccluded_pixels():
    h, w = 4, 6
    r0 = uniform_noise(h, w, rng=np.random.default_rng(0))
    bwd = np.zeros((h, w, 2), np.float32)
    fwd = np.zeros((h, w, 2), np.float32)
    bwd[:, 2, 0] = 1.0  # pixel (y, 2) claims to come from (y, 3) ...
    fwd[:, 3, 0] = 0.0  # ... but (y, 3) stays put: inconsistent, i.e. de-occluded
    cfg = AFDConfig(mode="first-frame")
    out = list(afd_from_flows([FlowPair(0, fwd, bwd)], height=h, width=w, config=cfg))[1]
    np.testing.assert_array_equal(out, r0)  # refilled with R_0's own value


def test_first_frame_forward_variant_samples_with_forward_flow():
    h, w = 3, 4
    r0 = uniform_noise(h, w, rng=np.random.default_rng(0))
    fwd = const_flow(h, w, 1.0, 0.0)
    cfg = AFDConfig(mode="first-frame", first_frame_flow="forward")
    out = list(afd_from_flows([FlowPair(0, fwd, None)], height=h, width=w, config=cfg))[1]
    np.testing.assert_array_equal(out[:, :3], r0[:, 1:])  # R_0 sampled at p + F(p)
    np.testing.assert_array_equal(out[:, 3], r0[:, 3])


def test_missing_flow_is_reported():
    cfg = AFDConfig(mode="first-frame")
    with pytest.raises(MotionlabError, match="backward flow of pair"):
        list(afd_from_flows([FlowPair(0, None, None)], height=4, width=4, config=cfg))


def test_iid_mode_is_fresh_noise_every_frame():
    scene = [f for f, _ in moving_disc_scene(4, size=(64, 48))]
    frames = list(make_afd(scene, mode="iid", seed=1))
    assert len(frames) == 4
    assert (frames[1] != frames[0]).mean() > 0.99


@pytest.fixture(scope="module")
def scene() -> list[tuple[np.ndarray, np.ndarray]]:
    return list(moving_disc_scene(10, size=(192, 144), seed=3))


@pytest.mark.parametrize("mode", ["advect", "first-frame"])
def test_motion_recovered_from_the_afd_video(scene, mode):
    """Flow estimated on consecutive AFD frames recovers the scene's known motion: the
    background pans (0.75, 0.25) px/frame, the disc moves (3, -1). The published
    first-frame warp shows every frame as R_0 displaced by that pair's flow, so between two
    frames the background does not move at all: it loses the motion."""
    frames = [f for f, _ in scene]
    afd = list(make_afd(frames, mode=mode, seed=0, preset="medium"))
    assert len(afd) == len(frames) and afd[0].shape == frames[0].shape
    bg, disc = [], []
    for t in range(1, len(afd) - 1):
        flow = estimate(afd[t], afd[t + 1], preset="medium")
        gt = scene[t][1]
        inner = np.zeros(gt.shape[:2], bool)
        inner[16:-16, 16:-16] = True
        bg.append(np.median(flow[inner & (gt[..., 0] == 0.75)], axis=0))
        disc.append(np.median(flow[inner & (gt[..., 0] == 3.0)], axis=0))
    # per frame, density-1 noise moves in whole pixels; over frames it follows the flow
    bg_mean, disc_mean = np.mean(bg, axis=0), np.mean(disc, axis=0)
    if mode == "advect":
        np.testing.assert_allclose(bg_mean, (0.75, 0.25), atol=0.15)
        np.testing.assert_allclose(disc_mean, (3.0, -1.0), atol=0.5)
    else:
        np.testing.assert_allclose(bg_mean, (0.0, 0.0), atol=0.1)


def test_advect_frames_are_iid_but_first_frame_stretching_repeats_pixels():
    """Expanding motion: the default mode keeps the i.i.d. equal-neighbour rate (1/256),
    the published nearest-neighbour warp duplicates pixels."""
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    zoom = np.stack([(xx - w / 2) * 0.08, (yy - h / 2) * 0.08], axis=-1)  # 8% per frame
    pairs = [FlowPair(t, zoom, -zoom / 1.08) for t in range(4)]
    adv = list(afd_from_flows(pairs, height=h, width=w, config=AFDConfig(mode="advect")))[-1]
    pub = list(afd_from_flows(pairs, height=h, width=w, config=AFDConfig(mode="first-frame")))
    s_adv, s_pub = iid_stats(adv), iid_stats(pub[-1])
    assert s_adv["eq_h"] < 2 / 256 and s_adv["p_uniform"] > 1e-3
    assert s_pub["eq_h"] > 4 / 256  # stretched R_0: neighbours copied from one pixel


def test_seed_and_noise_range_are_applied():
    frames = [f for f, _ in moving_disc_scene(3, size=(64, 48))]
    a = list(make_afd(frames, seed=5))
    b = list(make_afd(frames, seed=5))
    c = list(make_afd(frames, seed=6))
    np.testing.assert_array_equal(a[2], b[2])
    assert (a[2] != c[2]).mean() > 0.9
    narrow = NoiseRange((50, 60, 70), (60, 70, 80), grayscale=False)
    d = list(make_afd(frames, noise=narrow))
    for ch, (lo, hi) in enumerate([(50, 60), (60, 70), (70, 80)]):
        assert d[1][..., ch].min() >= lo and d[1][..., ch].max() <= hi
    grey = list(make_afd(frames, noise=NoiseRange(grayscale=True)))[1]
    assert (grey[..., 0] == grey[..., 2]).all()


def test_steps_carry_source_flow_and_afd(scene):
    frames = [f for f, _ in scene[:4]]
    steps = list(afd_steps(frames, config=AFDConfig()))
    assert [s.index for s in steps] == [0, 1, 2, 3]
    assert steps[0].flow is None and steps[1].flow.index == 0
    for s in steps:
        np.testing.assert_array_equal(s.source, frames[s.index])
    unthreaded = list(afd_steps(frames, config=AFDConfig(), threaded=False))
    np.testing.assert_array_equal(unthreaded[-1].afd, steps[-1].afd)


def test_too_short_and_bad_settings():
    frame = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(MotionlabError, match="at least two frames"):
        list(make_afd([frame]))
    with pytest.raises(MotionlabError, match="at least two frames"):
        list(make_afd([frame], mode="iid"))
    with pytest.raises(MotionlabError, match="at least two frames"):
        list(make_afd([]))
    with pytest.raises(MotionlabError, match="unknown AFD mode"):
        AFDConfig(mode="fancy")
    with pytest.raises(MotionlabError, match="uint8"):
        list(make_afd([frame.astype(float), frame.astype(float)]))


def test_afd_hands_the_estimator_its_batch_size() -> None:
    """``--batch-size`` (RAFT pairs per pass) reaches AFD's flow, not only ``flow``: an
    estimator with ``batch_size`` B gets B pairs per call, and the frames are unchanged."""
    from motionlab.flow.base import FlowEstimator

    class Counting(FlowEstimator):
        name = "counting"

        def __init__(self, batch_size: int) -> None:
            super().__init__()
            self.batch_size = batch_size
            self.calls: list[int] = []

        def _estimate_batch(self, frames_a: list, frames_b: list) -> list:
            self.calls.append(len(frames_a))
            return super()._estimate_batch(frames_a, frames_b)

        def _estimate(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
            return np.full((*frame_a.shape[:2], 2), 0.5, np.float32)

    frames = np.random.default_rng(0).integers(0, 256, (7, 16, 20, 3), dtype=np.uint8)
    outs = {}
    for batch in (1, 3):
        est = Counting(batch)
        config = AFDConfig(mode="advect", seed=1)
        steps = list(afd_steps(list(frames), config=config, estimator=est, threaded=False))
        outs[batch] = np.stack([s.afd for s in steps])
        assert est.calls == ([1] * 6 if batch == 1 else [3, 3])
    assert np.array_equal(outs[1], outs[3])
