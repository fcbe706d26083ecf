"""STVI pipeline: anchors, box tracking, features, 3D SLIC, tube selection, and a
synthetic two-part object decomposed into its parts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.stvi import metrics
from motionlab.stvi.anchors import FolderMasks, STVIInputError, anchor_indices, load_anchors
from motionlab.stvi.features import (
    auto_parameters,
    cancel_background_motion,
    lab_volume,
    scale_space,
)
from motionlab.stvi.slic3d import grid_shape, slic3d
from motionlab.stvi.tracking import (
    TAIL_FLOOR,
    crop,
    flow_carried_masks,
    mask_box,
    object_windows,
    track_boxes,
    uncrop,
)
from motionlab.stvi.tubes import (
    STVIParams,
    cluster_count,
    limit_tubes,
    select_tubes,
    stvi,
    tube_count,
)
from motionlab.synthetic import two_part_scene


def test_anchor_indices_and_folder_masks(tmp_path, caplog):
    import cv2

    assert anchor_indices(45, 20) == [0, 20, 40]
    with pytest.raises(MotionlabError, match="spacing"):
        anchor_indices(45, 0)
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 3:6] = 255
    cv2.imwrite(str(tmp_path / "00000.png"), mask)
    cv2.imwrite(str(tmp_path / "00020.png"), np.zeros((6, 8), np.uint8))  # empty: skipped
    src = FolderMasks(tmp_path)
    assert src(5, (8, 6)) is None
    assert src(0, (8, 6)).sum() == 6
    # a mask of another size is refused, naming the file (it was resized silently before)
    with pytest.raises(STVIInputError, match=r"00000\.png: mask is 8x6, the frames are 16x12"):
        src(0, (16, 12))
    with caplog.at_level("WARNING", logger="motionlab.stvi.anchors"):
        anchors = load_anchors(src, [0, 20, 40], (8, 6))
    assert list(anchors) == [0] and anchors[0].sum() == 6
    assert "[20, 40]" in caplog.text  # the later frames without a mask are named
    # no anchor in the first frame: missing, or empty
    with pytest.raises(STVIInputError, match=r"no anchor in the first frame .frame 40.*no object"):
        load_anchors(src, [40, 60], (8, 6))
    with pytest.raises(STVIInputError, match=r"first frame .frame 20.*an empty"):
        load_anchors(src, [20, 40], (8, 6))
    # a source giving masks of another size
    with pytest.raises(STVIInputError, match="frame 0 has shape"):
        load_anchors(lambda i, size: np.ones((3, 3), bool), [0], (8, 6))
    with pytest.raises(MotionlabError, match="no such mask folder"):
        FolderMasks(tmp_path / "missing")


@pytest.mark.parametrize(
    "case, message",
    [
        ("one-frame", "at least two frames, got 1"),
        ("no-anchor", "at least one anchor"),
        ("other-size", "anchor mask of frame 0 is 10x10, the frames are 40x30"),
        ("not-2d", "anchor mask of frame 0 is of shape"),
        ("empty", "anchor mask of frame 3 is empty"),
        ("no-first", r"no anchor in the first frame \(anchors at \[3\]\)"),
        ("outside", "anchor frame 9 outside the clip's 0..5"),
        ("frames-dtype", "frames must be"),
        ("flows", "flows must be"),
        ("backward-alone", "backward flows were given without the forward flows"),
        ("backward-shape", r"backward flows must be \(5, 30, 40, 2\)"),
    ],
)
def test_stvi_bad_input_is_a_clear_value_error(case, message):
    """Each class of bad input raises STVIInputError, a ValueError as well as a
    MotionlabError, before any work, with a message saying what is wrong."""
    frames, parts = two_part_scene(6, size=(40, 30))
    good = parts[0] > 0
    later = parts[3] > 0
    kwargs: dict = {}
    anchors = {0: good, 3: later}
    if case == "one-frame":
        frames, anchors = frames[:1], {0: good}
    elif case == "no-anchor":
        anchors = {}
    elif case == "other-size":
        anchors = {0: np.ones((10, 10), bool)}
    elif case == "not-2d":
        anchors = {0: np.ones((30, 40, 1), bool)}
    elif case == "empty":
        anchors = {0: good, 3: np.zeros_like(good)}
    elif case == "no-first":
        anchors = {3: later}
    elif case == "outside":
        anchors = {0: good, 9: later}
    elif case == "frames-dtype":
        frames = frames.astype(np.float32)
    elif case == "flows":
        kwargs["flows"] = np.zeros((6, 30, 40, 2), np.float32)
    elif case == "backward-alone":
        kwargs["backward_flows"] = np.zeros((5, 30, 40, 2), np.float32)
    elif case == "backward-shape":
        kwargs["flows"] = np.zeros((5, 30, 40, 2), np.float32)
        kwargs["backward_flows"] = np.zeros((4, 30, 40, 2), np.float32)
    with pytest.raises(ValueError, match=message) as info:
        stvi(frames, anchors, **kwargs)
    assert isinstance(info.value, STVIInputError) and isinstance(info.value, MotionlabError)


def _moving_object(t_n: int, h: int, w: int):
    """A 10 x 6 object moving (+2, +1) px per frame: its flows and ``mask_at(t)``."""
    flows = np.zeros((t_n - 1, h, w, 2), np.float32)
    flows[..., 0], flows[..., 1] = 2.0, 1.0

    def mask_at(t: int) -> np.ndarray:
        m = np.zeros((h, w), bool)
        m[5 + t : 11 + t, 4 + 2 * t : 14 + 2 * t] = True
        return m

    return flows, mask_at


def test_track_boxes_follows_a_known_translation():
    # a 10 x 6 object moving (+2, +1) px per frame; anchors at 0 and 10 only
    t_n, h, w = 13, 60, 80
    flows, mask_at = _moving_object(t_n, h, w)
    boxes = track_boxes(flows, {0: mask_at(0), 10: mask_at(10)}, t_n)
    expected = np.array([[4 + 2 * t, 5 + t, 14 + 2 * t, 11 + t] for t in range(t_n)], float)
    np.testing.assert_allclose(boxes, expected, atol=1e-9)
    with pytest.raises(MotionlabError, match="flows"):
        track_boxes(flows[:-1], {0: mask_at(0)}, t_n)


def test_track_boxes_blends_between_disagreeing_anchors():
    # no flow at all, but the object's box jumps between anchors: linear blend
    flows = np.zeros((4, 20, 20, 2), np.float32)
    a, b = np.zeros((20, 20), bool), np.zeros((20, 20), bool)
    a[0:4, 0:4] = True
    b[8:12, 4:8] = True
    boxes = track_boxes(flows, {0: a, 4: b}, 5)
    np.testing.assert_allclose(boxes[2], [2, 4, 6, 8])
    np.testing.assert_allclose(boxes[4], mask_box(b))


def test_flow_carried_masks_follow_a_known_translation_and_blend():
    # a 10 x 6 object moving (+2, +1) px per frame, anchors at 0 and 8: every frame's
    # carried mask is the object there; after the last anchor it is carried on
    t_n, h, w = 11, 40, 60
    flows, mask_at = _moving_object(t_n, h, w)
    masks = flow_carried_masks({0: mask_at(0), 8: mask_at(8)}, flows, t_n)
    assert masks.shape == (t_n, h, w) and masks.dtype == np.float32
    for t in range(t_n):
        np.testing.assert_array_equal(masks[t], mask_at(t).astype(np.float32), err_msg=f"{t}")
    # no flow, anchors that disagree: frame t is (1 - t/4) a + (t/4) b
    a, b = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    a[:2, :2], b[4:, 4:] = True, True
    blend = flow_carried_masks({0: a, 4: b}, np.zeros((4, 8, 8, 2), np.float32), 5)
    np.testing.assert_allclose(blend[1], 0.75 * a + 0.25 * b)
    with pytest.raises(MotionlabError, match="frame 0"):
        flow_carried_masks({2: a}, np.zeros((4, 8, 8, 2), np.float32), 5)


def _object_on_still_background(t_n: int, h: int, w: int, speed: int):
    """A 10 x 6 object moving ``speed`` px right per frame over a background that stays:
    exact forward and backward flows (non-zero on the object only) and ``mask_at(t)``."""

    def mask_at(t: int) -> np.ndarray:
        m = np.zeros((h, w), bool)
        m[8:14, 4 + speed * t : 14 + speed * t] = True
        return m

    forward = np.zeros((t_n - 1, h, w, 2), np.float32)
    backward = np.zeros((t_n - 1, h, w, 2), np.float32)
    for t in range(t_n - 1):
        forward[t][mask_at(t)] = (speed, 0)  # frame t -> t + 1, at the object of frame t
        backward[t][mask_at(t + 1)] = (-speed, 0)  # frame t + 1 -> t, at its object
    return forward, backward, mask_at


def test_backward_flows_carry_masks_and_boxes_across_motion_boundaries():
    """Issue 16, fourth stop: going back in time needs the backward flow at the later
    position. Over a still background the forward flow there is the background's (zero)
    wherever the object has just arrived, so the stand-in loses the object's leading
    edge (masks) or leaves the points behind (boxes); with the backward flow the object is
    carried whole and the boxes are exact."""
    t_n, h, w, speed = 9, 24, 70, 6
    forward, backward, mask_at = _object_on_still_background(t_n, h, w, speed)
    # the anchor of frame 0 carried forward as the flow carries it (tail_floor=1): the
    # whole object in every frame, plus the background it uncovers behind it (its
    # backward flow is the background's, zero, so it is traced to where the object was:
    # the object's path so far). Dropping the pixels that fail a forward-backward check
    # drops that tail here but far more on DAVIS (its misses accumulate along the path):
    # the check weighs the two anchors' masks against each other (the next test) and,
    # after the last anchor, lowers the tail to the floor (the test after it).
    masks = flow_carried_masks({0: mask_at(0)}, forward, t_n, backward, tail_floor=1.0)
    for t in range(t_n):
        path = np.zeros((h, w), np.float32)
        path[8:14, 4 : 14 + speed * t] = 1.0
        np.testing.assert_array_equal(masks[t], path, err_msg=f"{t}")
    # the stand-in loses the 6 columns the object has just covered: of its 10 columns
    # only the 4 it covered in the frame before are carried, in every frame
    stand_in = flow_carried_masks({0: mask_at(0)}, forward, t_n)
    for t in range(1, t_n):
        kept = np.zeros((h, w), np.float32)
        kept[8:14, 4 + speed * t : 8 + speed * t] = 1.0
        np.testing.assert_array_equal(stand_in[t], kept, err_msg=f"{t}")
    anchors = {0: mask_at(0), 8: mask_at(8)}
    # boxes: anchors at 0 and 8, followed both ways and blended
    expected = np.array([[4 + speed * t, 8, 14 + speed * t, 14] for t in range(t_n)], float)
    np.testing.assert_allclose(track_boxes(forward, anchors, t_n, backward), expected, atol=1e-9)
    # the stand-in: 6 of the 10 columns of frame t + 1 have zero forward flow, the median
    # point stays put when followed back from frame 8
    assert np.abs(track_boxes(forward, anchors, t_n) - expected).max() > speed
    with pytest.raises(MotionlabError, match="backward flows"):
        track_boxes(forward, anchors, t_n, backward[:-1])
    with pytest.raises(MotionlabError, match="backward flows"):
        flow_carried_masks(anchors, forward, t_n, backward[:-1])


def test_between_anchors_the_side_whose_path_passed_the_flow_check_decides():
    """Issue 16, seventh stop: frame 0's mask carried forward drags a tail over the
    background the object uncovers (its backward flow is the background's, zero), frame 8's
    carried back a head over the background it will cover; both paths fail the
    forward-backward check there, the object's own pixels pass both ways. So in frame 4
    (blend weight 1/2) the object is 1, its path 0.5 in the plain blend, and with the
    reliability weights 0.5 * 0.05 / (0.5 * 0.05 + 0.5) = 1/21 on both sides."""
    t_n, h, w, speed = 9, 24, 70, 6
    forward, backward, mask_at = _object_on_still_background(t_n, h, w, speed)
    anchors = {0: mask_at(0), 8: mask_at(8)}
    masks = flow_carried_masks(anchors, forward, t_n, backward)
    path = np.zeros((h, w), bool)
    path[8:14, 4 : 14 + speed * 8] = True  # every place the object is in frames 0..8
    expected = np.where(mask_at(4), 1.0, np.where(path, 0.05 / 1.05, 0.0))
    np.testing.assert_allclose(masks[4], expected, rtol=1e-6, atol=1e-7)
    for t in range(1, 8):  # thresholded, the object alone in every frame between
        np.testing.assert_array_equal(masks[t] > 0.5, mask_at(t), err_msg=f"{t}")
    # the stand-in (forward flows only) has no flow to check against: the plain blend
    a, b = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    a[:2, :2], b[4:, 4:] = True, True
    zeros = np.zeros((4, 8, 8, 2), np.float32)
    plain = flow_carried_masks({0: a, 4: b}, zeros, 5)
    checked = flow_carried_masks({0: a, 4: b}, zeros, 5, zeros)  # zero flows pass the check
    np.testing.assert_allclose(plain[1], 0.75 * a + 0.25 * b)
    np.testing.assert_allclose(checked[1], plain[1], rtol=1e-6)


def test_after_the_last_anchor_the_mask_is_weighted_by_its_paths_reliability():
    """Issue 16: after the last anchor (frame 4 here) no other side decides, so the mask
    carried forward keeps the tail it drags over the background the object uncovers (its
    path failed the forward-backward check there). With ``tail_floor`` f the mask is
    multiplied by max(share passed, f): the object (share 1) stays 1, the tail becomes f;
    f = 1 is the mask as carried; the frames between anchors do not change. The default
    is TAIL_FLOOR = 0.5 (docs/stvi.md, "Reliability after the last anchor")."""
    t_n, h, w, speed = 9, 24, 70, 6
    forward, backward, mask_at = _object_on_still_background(t_n, h, w, speed)
    anchors = {0: mask_at(0), 4: mask_at(4)}
    as_carried = flow_carried_masks(anchors, forward, t_n, backward, tail_floor=1.0)
    default = flow_carried_masks(anchors, forward, t_n, backward)
    np.testing.assert_array_equal(
        default, flow_carried_masks(anchors, forward, t_n, backward, tail_floor=TAIL_FLOOR)
    )
    assert TAIL_FLOOR == 0.5
    for floor in (0.0, 0.25, TAIL_FLOOR):
        masks = flow_carried_masks(anchors, forward, t_n, backward, tail_floor=floor)
        np.testing.assert_array_equal(masks[:5], as_carried[:5])
        for t in range(5, t_n):
            tail = np.zeros((h, w), bool)
            tail[8:14, 4 + speed * 4 : 14 + speed * t] = True  # the path since frame 4
            np.testing.assert_array_equal(as_carried[t], tail.astype(np.float32))
            expected = np.where(mask_at(t), 1.0, np.where(tail, floor, 0.0))
            np.testing.assert_array_equal(masks[t], expected.astype(np.float32), err_msg=f"{t}")
    # the stand-in (forward flows only) has no check: the floor does not apply
    stand_in = flow_carried_masks(anchors, forward, t_n)
    np.testing.assert_array_equal(stand_in, flow_carried_masks(anchors, forward, t_n, tail_floor=0))
    for bad in (-0.1, 1.5):
        with pytest.raises(MotionlabError, match="tail_floor"):
            flow_carried_masks(anchors, forward, t_n, backward, tail_floor=bad)


def test_fb_inconsistent_is_the_sundaram_criterion_on_hand_computed_flows():
    from motionlab.flow.metrics import fb_inconsistent

    flow = np.zeros((1, 4, 2), np.float32)
    flow[..., 0] = 4.0
    back = np.array([[[-4.0, 0.0], [-3.5, 0.0], [-3.0, 0.0], [4.0, 0.0]]], np.float32)
    # |F + B|^2 = 0, 0.25, 1, 64 against 0.01 (16 + |B|^2) + 0.5 = 0.82, 0.7825, 0.75, 0.82
    np.testing.assert_array_equal(fb_inconsistent(flow, back), [[False, False, True, True]])
    assert not fb_inconsistent(flow, back, beta=1.0)[0, 2]


def test_stvi_computes_both_flows_and_uses_the_backward_one(monkeypatch):
    """Without flows, stvi computes forward and backward flows (DIS medium-full, STVI's
    preset) and tracks with both."""
    from motionlab.stvi import tubes as tubes_module

    frames, parts = two_part_scene(8, size=(80, 60), seed=2)
    anchors = {0: parts[0] > 0}
    seen: dict[str, list] = {"compute": [], "boxes": [], "masks": [], "frames": []}
    real_compute, real_boxes = tubes_module.compute_flows, tubes_module.track_boxes
    real_masks = tubes_module.flow_carried_masks

    def compute(frames, method="dis", **kw):
        seen["compute"].append(kw.get("direction", "forward"))
        return real_compute(frames, method, **kw)

    def boxes(flows, anchors, n, backward=None):
        seen["boxes"].append(backward)
        return real_boxes(flows, anchors, n, backward)

    def masks(anchors, flows, n, backward=None, **kwargs):
        seen["masks"].append(backward)
        seen["frames"].append(kwargs["frames"])
        return real_masks(anchors, flows, n, backward, **kwargs)

    monkeypatch.setattr(tubes_module, "compute_flows", compute)
    monkeypatch.setattr(tubes_module, "track_boxes", boxes)
    monkeypatch.setattr(tubes_module, "flow_carried_masks", masks)
    stvi(frames, anchors, params=STVIParams(k=3))
    assert seen["compute"] == ["forward", "backward"]
    assert seen["frames"][0] is frames  # the masks carried with frames matched to anchors
    for backward in (seen["boxes"][0], seen["masks"][0]):
        assert backward is not None and backward.shape == (7, 60, 80, 2)
        np.testing.assert_array_equal(
            backward[3], real_compute(frames[3:5], direction="backward", preset="medium-full")[0]
        )


def test_compute_flows_backward_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    base = cv2_blur(rng.integers(0, 256, (80, 100, 3), dtype=np.uint8))
    frames = np.stack([base, np.roll(base, 3, axis=1)])  # content moves 3 px right
    from motionlab.stvi.tubes import compute_flows

    fwd = compute_flows(frames)[0][20:60, 20:80]
    bwd = compute_flows(frames, direction="backward")[0][20:60, 20:80]
    np.testing.assert_allclose(np.median(fwd.reshape(-1, 2), axis=0), [3, 0], atol=0.25)
    np.testing.assert_allclose(np.median(bwd.reshape(-1, 2), axis=0), [-3, 0], atol=0.25)


def cv2_blur(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 2.0)


def test_windows_crop_and_uncrop_round_trip():
    boxes = np.array([[10, 10, 30, 20], [12, 11, 28, 25]], float)
    origins, size = object_windows(boxes, margin=0.0)
    assert size == (20, 14)
    np.testing.assert_array_equal(origins, [[10, 8], [10, 11]])  # centred on the boxes
    image = np.arange(40 * 50).reshape(40, 50)
    win = crop(image, (-3, 35), (10, 10))  # partly outside: zero padded
    assert win[0, 3] == image[35, 0] and win[0, 0] == 0 and win[5, 5] == 0
    back = uncrop(win, (-3, 35), (50, 40), fill=-1)
    assert back[35, 0] == image[35, 0] and back[0, 0] == -1
    np.testing.assert_array_equal(back[35:40, 0:7], image[35:40, 0:7])


def test_background_motion_is_cancelled():
    flow = np.zeros((10, 10, 2), np.float32)
    flow[...] = (3.0, -1.0)  # camera pan
    obj = np.zeros((10, 10), bool)
    obj[4:6, 4:6] = True
    flow[obj] += (1.0, 2.0)  # the object moves relative to the background
    rel = cancel_background_motion(flow, obj)
    np.testing.assert_allclose(rel[~obj], 0.0, atol=1e-6)
    np.testing.assert_allclose(rel[obj], np.tile([1.0, 2.0], (4, 1)), atol=1e-6)


def test_lab_and_normalised_scale_space():
    lab = lab_volume(np.array([[[[255, 255, 255], [0, 0, 0]]]], np.uint8))
    np.testing.assert_allclose(lab[0, 0, 0], [100, 0, 0], atol=0.5)
    np.testing.assert_allclose(lab[0, 0, 1], [0, 0, 0], atol=0.5)
    vol = np.full((5, 12, 12, 1), 7.0, np.float32)
    valid = np.ones((5, 12, 12), bool)
    valid[:, :, 8:] = False  # padding: must not pull the smoothed values towards 0
    out = scale_space(vol, 2.0, 1.0, valid)
    np.testing.assert_allclose(out[valid], 7.0, rtol=1e-5)
    assert np.all(out[~valid] == 0)
    step = np.zeros((1, 1, 41, 1), np.float32)
    step[..., 20:, 0] = 1.0
    smooth = scale_space(step, 3.0, 0.0)[0, 0, :, 0]
    assert 0.45 < smooth[20] < 0.6 and smooth[0] < 1e-3 and smooth[-1] > 1 - 1e-3


def test_auto_parameters_follow_the_documented_rules():
    from motionlab.stvi import features

    boxes = np.array([[0, 0, 30, 40]] * 3, float)  # diagonal 50
    rel = np.zeros((3, 4, 4, 2), np.float32)
    rel[..., 0] = np.linspace(0, 10, 48).reshape(3, 4, 4)
    p = auto_parameters(boxes, rel)
    assert p.sigma == pytest.approx(features.C_SIGMA * 25)
    p95 = np.percentile(np.linspace(0, 10, 48), 95)
    assert p.tau == pytest.approx(features.C_TAU * p95)
    assert p.alpha == pytest.approx(features.C_ALPHA / p.sigma)
    assert p.beta == pytest.approx(features.C_BETA / p95)
    assert auto_parameters(boxes, rel, sigma=5.0, alpha=0.0).alpha == 0.0
    # no motion relative to the background: no temporal smoothing, no flow weight
    still = auto_parameters(boxes, np.zeros_like(rel))
    assert still.tau == 0.0 and still.beta == 0.0


def test_tau_grows_in_proportion_to_the_motion():
    """Issue 16, defect 3: Sec. 6.3, tau is proportional to p95(|F^|), not to 1 / p95."""
    boxes = np.array([[0, 0, 300, 400]] * 3, float)  # diagonal 500: sigma 7.5 pixels
    rel = np.zeros((3, 8, 8, 2), np.float32)
    rel[..., 1] = 2.0  # every object voxel moves 2 pixels per frame down
    obj = np.ones((3, 8, 8), bool)
    slow = auto_parameters(boxes, rel, obj)
    fast = auto_parameters(boxes, 3 * rel, obj)
    assert slow.tau > 0
    assert fast.tau == pytest.approx(3 * slow.tau)
    # beta * F^ stays the same: the flow weighs the same against colour at any speed
    assert fast.beta * 6.0 == pytest.approx(slow.beta * 2.0)
    assert fast.sigma == slow.sigma and fast.alpha == slow.alpha
    # only the object's voxels count: a fast background corner does not change tau
    rel_bg = 3 * rel
    rel_bg[:, :2, :2] = 40.0
    obj_bg = obj.copy()
    obj_bg[:, :2, :2] = False
    assert auto_parameters(boxes, rel_bg, obj_bg).tau == pytest.approx(fast.tau)


def test_grid_shape_respects_k():
    for shape in [(40, 75, 58), (80, 480, 854), (3, 10, 10)]:
        for k in (1, 4, 15, 40):
            n = grid_shape(shape, k)
            assert np.prod(n) <= k
            assert all(ni <= s for ni, s in zip(n, shape, strict=True))
    assert grid_shape((64, 64, 64), 8) == (2, 2, 2)


def _grid_shape_by_brute_force(shape, k, max_spread=2.0):
    """The rule of grid_shape over every (nt, ny, nx) in range(1, k + 1) cubed."""
    import itertools
    import math

    candidates = []
    for n in itertools.product(range(1, k + 1), repeat=3):
        if math.prod(n) <= k and all(ni <= s for ni, s in zip(n, shape, strict=True)):
            steps = [s / ni for s, ni in zip(shape, n, strict=True)]
            candidates.append((max(steps) / min(steps), math.prod(n), n))
    good = [c for c in candidates if c[0] <= max_spread]
    if good:
        return max(good, key=lambda c: (c[1], -c[0]))[2]
    return min(candidates, key=lambda c: (c[0], -c[1]))[2]


def test_grid_shape_is_the_best_of_all_grids():
    """grid_shape visits only the grids with at most k cells; it picks what the search
    over all of range(1, k + 1) cubed picks (ties included)."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        shape = (int(rng.integers(1, 100)), int(rng.integers(1, 400)), int(rng.integers(1, 400)))
        k = int(rng.integers(1, 50))
        spread = float(rng.choice([1.0, 1.5, 2.0, 3.0]))
        assert grid_shape(shape, k, max_spread=spread) == _grid_shape_by_brute_force(
            shape, k, spread
        ), (shape, k, spread)
    assert grid_shape((80, 480, 854), 180) == _grid_shape_by_brute_force((80, 480, 854), 180)
    for k in (2, 3, 12, 18):  # ties on a cube: the first in lexicographic order wins
        assert grid_shape((10, 10, 10), k) == _grid_shape_by_brute_force((10, 10, 10), k)
    assert grid_shape((10, 10, 10), 2) == (1, 1, 2)


def test_scale_space_is_per_channel_gaussian_filtering():
    """Each channel is the normalised convolution on its own (channels are filtered in
    threads: the values must not depend on it)."""
    from scipy import ndimage

    rng = np.random.default_rng(1)
    vol = rng.random((9, 20, 24, 5)).astype(np.float32)
    valid = rng.random((9, 20, 24)) > 0.3
    out = scale_space(vol, 2.0, 0.7, valid)
    w = valid.astype(np.float32)
    norm = ndimage.gaussian_filter(w, (0.7, 2.0, 2.0), mode="constant")
    norm = np.where(valid, np.maximum(norm, 1e-6), 1.0)
    for c in range(5):
        ref = ndimage.gaussian_filter(vol[..., c] * w, (0.7, 2.0, 2.0), mode="constant") / norm
        ref[~valid] = 0
        np.testing.assert_array_equal(out[..., c], ref)
        plain = ndimage.gaussian_filter(vol[..., c], (0.7, 2.0, 2.0), mode="nearest")
        np.testing.assert_array_equal(scale_space(vol, 2.0, 0.7)[..., c], plain)


def test_slic3d_separates_two_coloured_halves():
    feats = np.zeros((6, 20, 20, 1), np.float32)
    feats[:, :, 10:] = 50.0  # two regions of very different "colour"
    valid = np.ones((6, 20, 20), bool)
    valid[:, :2, :2] = False
    labels = slic3d(feats, 8, alpha=0.1, valid=valid)
    assert np.all(labels[~valid] == -1)
    assert labels[valid].min() >= 0 and len(np.unique(labels[valid])) <= 8
    for j in np.unique(labels[valid]):
        halves = np.unique(np.broadcast_to(np.arange(20) >= 10, labels.shape)[labels == j])
        assert halves.size == 1, f"cluster {j} straddles the colour edge"
    with pytest.raises(MotionlabError):
        slic3d(feats[0], 4, alpha=1.0)


def _assign_by_brute_force(feats, valid, centres, alive, alpha, window):
    """SLIC's assignment written plainly: each valid voxel takes the nearest live centre
    (phi distance) among those whose window reaches it, else the nearest of all."""
    t_n, h, w = feats.shape[:3]
    t, y, x = np.meshgrid(np.arange(t_n), np.arange(h), np.arange(w), indexing="ij")
    pos = np.stack([t, y, x], -1).astype(float)[..., None, :] - centres[:, :3]
    d = alpha**2 * (pos**2).sum(-1)
    d += ((feats[..., None, :].astype(float) - centres[:, 3:]) ** 2).sum(-1)
    d[..., ~alive] = np.inf
    reach = (np.abs(pos) <= window).all(-1) & alive
    near = np.where(reach.any(-1), np.where(reach, d, np.inf).argmin(-1), d.argmin(-1))
    return np.where(valid, near, -1)


def test_slic3d_assignment_equals_brute_force():
    """The kernel's per-frame and per-row narrowing of the candidate centres changes no
    label: random features, centres (some dead) and windows small enough that some voxels
    are reached by no window and fall back to the nearest centre of all."""
    from motionlab.stvi.slic3d import _assign

    rng = np.random.default_rng(5)
    feats = rng.normal(0, 10, (5, 9, 11, 3)).astype(np.float32)
    valid = rng.random((5, 9, 11)) > 0.1
    centres = np.concatenate(
        [rng.uniform(0, 1, (12, 3)) * [4, 8, 10], rng.normal(0, 10, (12, 3))], axis=1
    )
    alive = np.ones(12, bool)
    alive[[3, 7]] = False
    window = np.array([1.5, 2.0, 2.5])
    labels = np.full((5, 9, 11), -1, np.int32)
    expected = _assign_by_brute_force(feats, valid, centres, alive, 0.7, window)
    assert (expected[valid] >= 0).all() and not np.isin(expected, [3, 7]).any()
    changed = _assign(feats, valid, centres, alive, 0.7, window, labels)
    assert np.array_equal(labels, expected)
    assert changed == valid.sum()  # every label moved from -1
    assert _assign(feats, valid, centres, alive, 0.7, window, labels) == 0


def test_select_tubes_by_hand():
    labels = np.full((3, 2, 4), -1)
    labels[:, 0, :2] = 0  # inside the anchor mask in frame 0
    labels[:, 0, 2:] = 1  # half inside
    labels[1, 1, :] = 2  # only in frame 1: no anchor there
    anchor = np.zeros((2, 4), bool)
    anchor[0, :3] = True
    tubes, overlaps = select_tubes(labels, {0: anchor}, 0.7)
    assert overlaps[0] == 1.0 and overlaps[1] == 0.5 and np.isnan(overlaps[2])
    assert set(np.unique(tubes)) == {0, 1}
    assert np.all(tubes[labels == 0] == 1) and np.all(tubes[labels != 0] == 0)
    # with a fallback mask per frame, cluster 2 (frame 1 only) is judged against it:
    # 3 of its 4 voxels inside = 0.75 > 0.7, kept; the others keep their anchor overlaps
    estimate = np.zeros((2, 4), bool)
    estimate[1, :3] = True
    fallback = {0: anchor, 1: estimate, 2: np.zeros((2, 4), bool)}
    tubes, overlaps = select_tubes(labels, {0: anchor}, 0.7, fallback)
    assert overlaps == {0: 1.0, 1: 0.5, 2: 0.75}
    assert np.all(tubes[labels == 0] == 1) and np.all(tubes[labels == 2] == 2)
    assert np.all(tubes[labels == 1] == 0)
    # with carried masks (omega 0.6), the overlap is the mean of the above and the
    # carried mass per voxel over all frames: cluster 1 (6 voxels, 0.5 in the anchor
    # frame, out above) carried 1 in frames 1 and 2 and 1 + 0 in frame 0 -> (0.5 + 5 / 6)
    # / 2 = 0.667, in; cluster 0 carried only in frame 0 -> (1 + 2 / 6) / 2 = 0.667
    carried = np.zeros((3, 2, 4), np.float32)
    carried[0] = anchor
    carried[1:, 0, 2:] = 1.0
    carried[1, 1, :] = 0.5  # cluster 2: (0.75 + 0.5) / 2 = 0.625
    tubes, overlaps = select_tubes(labels, {0: anchor}, 0.6, fallback, carried)
    assert overlaps == pytest.approx({0: 2 / 3, 1: (0.5 + 5 / 6) / 2, 2: 0.625})
    assert set(np.unique(tubes[labels == 0])) == {1} and np.all(tubes[labels == 1] == 2)
    assert np.all(tubes[labels == 2] == 3)


def test_stvi_judges_with_carried_masks_by_default(monkeypatch):
    """By default each cluster's overlap is the mean of the anchor-frame overlap and the
    carried masks' (here all ones: (o + 1) / 2), kept above OMEGA_CARRIED; the clusters are
    the same; carried=False and the literal cluster count judge in anchor frames only,
    above the thesis's 0.7."""
    from motionlab.stvi import tubes as tubes_module

    frames, parts = two_part_scene(20, size=(80, 60), seed=1)
    anchors = {0: parts[0] > 0, 19: parts[19] > 0}
    plain = stvi(frames, anchors, params=STVIParams(k=3, carried=False))
    monkeypatch.setattr(
        tubes_module,
        "flow_carried_masks",
        lambda a, f, n, b=None, frames=None, tail_floor=1.0: np.ones((n, 60, 80), np.float32),
    )
    # the carried masks as a feature channel are tested below, their colour correction in
    # tests/test_stvi_colour.py: both off here, same clusters
    both = stvi(frames, anchors, params=STVIParams(k=3, mask_weight=0.0, colour=False))
    np.testing.assert_array_equal(both.supervoxels, plain.supervoxels)
    assert both.overlaps == pytest.approx({j: (o + 1) / 2 for j, o in plain.overlaps.items()})
    assert STVIParams().threshold == tubes_module.OMEGA_CARRIED == 0.8
    assert STVIParams(carried=False).threshold == STVIParams(clusters=15).threshold == 0.7
    assert STVIParams(omega=0.8).threshold == 0.8


def test_stvi_passes_its_tail_floor_to_the_carried_masks(monkeypatch):
    from motionlab.stvi import tubes as tubes_module

    seen = []

    def spy(*args, tail_floor, **kwargs):
        seen.append(tail_floor)
        return flow_carried_masks(*args, tail_floor=tail_floor, **kwargs)

    monkeypatch.setattr(tubes_module, "flow_carried_masks", spy)
    frames, parts = two_part_scene(12, size=(64, 48), seed=2)
    anchors = {0: parts[0] > 0}
    stvi(frames, anchors, params=STVIParams(k=3))
    stvi(frames, anchors, params=STVIParams(k=3, tail_floor=0.3))
    assert seen == [tubes_module.TAIL_FLOOR, 0.3]


def test_the_carried_mask_as_a_feature_finds_an_object_colour_and_motion_cannot():
    """Issue 16: phi gets gamma * m, m the anchor masks carried along the flow. A 10 x 6
    object with the colour of the background, moving with it (the relative flow is 0
    everywhere): colour, motion and position alone cut a grid (J 0.59 here); the carried
    mask puts the clusters' edges on its outline (J 1). With --anchor-frames-only or
    --clusters the channel is not used (the thesis's eq. 6.4)."""
    from motionlab.stvi.tubes import MASK_WEIGHT

    t_n, h, w = 16, 60, 80
    flows, mask_at = _moving_object(t_n, h, w)
    frames = np.full((t_n, h, w, 3), 120, np.uint8)
    truth = np.stack([mask_at(t) for t in range(t_n)])
    anchors = {0: mask_at(0), 15: mask_at(15)}
    # one colour everywhere: no colour model can help (tests/test_stvi_colour.py)
    with_mask = stvi(frames, anchors, flows=flows, params=STVIParams(colour=False))
    without = stvi(frames, anchors, flows=flows, params=STVIParams(mask_weight=0.0, colour=False))
    assert metrics.jaccard(with_mask.mask, truth) > 0.99
    assert metrics.jaccard(without.mask, truth) < 0.7
    assert STVIParams().mask_feature_weight == MASK_WEIGHT > 0
    assert STVIParams(carried=False).mask_feature_weight == 0.0
    assert STVIParams(clusters=15).mask_feature_weight == 0.0
    with pytest.raises(MotionlabError, match="mask_weight"):
        STVIParams(mask_weight=-1.0)


def test_the_mask_channel_reaches_slic_unsmoothed(monkeypatch):
    """The carried mask is appended after the scale space: SLIC sees gamma times the
    carried mask cropped to the window, exactly, while the colour channels are smoothed
    (a fast object's large tau would otherwise smear the outline the channel carries)."""
    from motionlab.stvi import tubes as tubes_module

    t_n, h, w = 12, 60, 80
    flows, mask_at = _moving_object(t_n, h, w)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (t_n, h, w, 3), dtype=np.uint8)
    anchors = {0: mask_at(0), 10: mask_at(10)}
    seen: dict = {}
    real_slic = tubes_module.slic3d

    def spy(feats, n, **kw):
        seen["feats"] = feats.copy()
        return real_slic(feats, n, **kw)

    monkeypatch.setattr(tubes_module, "slic3d", spy)
    # the carried mask as the flow carries it (its colour correction is tested apart)
    params = STVIParams(mask_weight=30.0, sigma=2.0, tau=1.0, colour=False)
    result = stvi(frames, anchors, flows=flows, params=params)
    feats = seen["feats"]
    assert feats.shape[-1] == 6  # L, a, b, beta F^u, beta F^v, gamma m
    carried = flow_carried_masks(anchors, flows, t_n, frames=frames)  # matched to anchors
    ox, oy = result.origins[5]
    win_w, win_h = result.size
    expected = 30.0 * crop(carried[5], (ox, oy), (win_w, win_h))
    np.testing.assert_array_equal(feats[5, ..., 5], expected.astype(np.float32))
    lab = lab_volume(crop(frames[5], (ox, oy), (win_w, win_h)))
    assert np.abs(feats[5, ..., 0] - lab[..., 0]).max() > 1.0  # lightness smoothed


def test_the_colour_corrected_masks_are_the_feature_and_the_judge(monkeypatch):
    """With ``colour`` (the default) the carried masks pass through
    :func:`colour_corrected_masks` before both uses: the gamma channel SLIC sees and the
    carried overlap of every cluster."""
    from motionlab.stvi import tubes as tubes_module

    t_n, h, w = 12, 60, 80
    flows, mask_at = _moving_object(t_n, h, w)
    frames = np.random.default_rng(0).integers(0, 256, (t_n, h, w, 3), dtype=np.uint8)
    anchors = {0: mask_at(0), 10: mask_at(10)}
    seen: dict = {}
    real_slic, real_select = tubes_module.slic3d, tubes_module.select_tubes

    def slic_spy(feats, n, **kw):
        seen["feats"] = feats.copy()
        return real_slic(feats, n, **kw)

    def select_spy(sv, anchors, omega, fallback, carried):
        seen["judge"] = carried
        return real_select(sv, anchors, omega, fallback, carried)

    monkeypatch.setattr(tubes_module, "slic3d", slic_spy)
    monkeypatch.setattr(tubes_module, "select_tubes", select_spy)
    monkeypatch.setattr(tubes_module, "colour_corrected_masks", lambda f, c, a: 0.25 * c)
    params = STVIParams(mask_weight=40.0)
    result = stvi(frames, anchors, flows=flows, params=params)
    carried = flow_carried_masks(anchors, flows, t_n, frames=frames)
    np.testing.assert_array_equal(seen["judge"], 0.25 * carried)
    ox, oy = result.origins[5]
    expected = 40.0 * crop(0.25 * carried[5], (ox, oy), result.size)
    np.testing.assert_allclose(seen["feats"][5, ..., -1], expected, rtol=1e-6)
    stvi(frames, anchors, flows=flows, params=STVIParams(mask_weight=40.0, colour=False))
    np.testing.assert_array_equal(seen["judge"], carried)


def test_cluster_count_puts_about_3k_clusters_on_the_object():
    assert cluster_count(15, 1.0, per_tube=1) == 15  # fills the sub-volume: k, as in step 6
    assert cluster_count(15, 1.0) == 45  # 3 clusters per tube
    assert cluster_count(15, 0.5) == 90
    assert cluster_count(15, 0.7) == 65  # ceil(45 / 0.7)
    assert cluster_count(15, 0.05) == 180  # capped at 12 k
    assert cluster_count(15, 0.0) == 180
    assert cluster_count(15, 0.3, per_tube=1) == 50  # ceil(15 / 0.3)
    assert cluster_count(15, 0.05, per_tube=1, cap=2) == 30


def test_tube_count_is_the_share_of_k_clusters_on_the_object():
    """k SLIC clusters over the sub-volume (thesis step 6) put about k f on an object that
    fills a share f of it: that many tubes, at least one, at most k."""
    assert tube_count(15, 1.0) == 15
    assert tube_count(15, 0.25) == 4  # round(3.75)
    assert tube_count(15, 0.2) == 3
    assert tube_count(15, 0.22) == 3  # 3.3 rounds down
    assert tube_count(15, 0.3) == 5  # 4.5 rounds half up
    assert tube_count(15, 0.01) == 1  # never no tube
    assert tube_count(15, 0.0) == 1
    assert tube_count(6, 0.5) == 3
    # it grows with the share and never exceeds k
    counts = [tube_count(15, f) for f in np.linspace(0, 1, 41)]
    assert counts == sorted(counts) and max(counts) == 15


def test_limit_tubes_merges_by_ward_in_phi():
    """Hand-computed Ward merges on 1-D descriptors: tube 1 (5 voxels, phi 0), tube 2
    (4 voxels, phi 10), tubes 3 and 4 (1 voxel each, phi 4 and 6). Costs
    n_i n_j / (n_i + n_j) |mu_i - mu_j|^2: {3, 4} 2 is the least, so they merge (mean 5,
    2 voxels); then {1, 34} costs 5*2/7*25 = 35.7 and {2, 34} 4*2/6*25 = 33.3, so the pair
    joins tube 2, although tube 3 lies right next to tube 1 in the frame."""
    tubes = np.zeros((1, 1, 12), np.int32)
    tubes[0, 0, :5] = 1
    tubes[0, 0, 8:12] = 2
    tubes[0, 0, 5] = 3
    tubes[0, 0, 7] = 4
    phi = np.array([[0.0], [0.0], [10.0], [4.0], [6.0]])
    three = limit_tubes(tubes, 3, phi)  # only {3, 4} merged: renumbered by volume
    np.testing.assert_array_equal(three[0, 0], [1, 1, 1, 1, 1, 3, 0, 3, 2, 2, 2, 2])
    two = limit_tubes(tubes, 2, phi)  # the merged tube 2 (6 voxels) is now the largest
    np.testing.assert_array_equal(two[0, 0], [2, 2, 2, 2, 2, 1, 0, 1, 1, 1, 1, 1])
    assert limit_tubes(tubes, 4, phi) is tubes  # already at most k


def test_tube_descriptors_average_the_centres_by_volume():
    from motionlab.stvi.tubes import tube_descriptors

    supervoxels = np.array([[[0, 0, 1, 2, 2, 2, -1]]])
    tubes = np.array([[[1, 1, 1, 0, 0, 0, 0]]])  # clusters 0 and 1 form tube 1
    centres = np.array([[1.0, 0.0], [4.0, 3.0], [9.0, 9.0]])
    counts = np.array([2.0, 1.0, 3.0])
    out = tube_descriptors(tubes, supervoxels, centres, counts)
    np.testing.assert_allclose(out, [[0, 0], [2.0, 1.0]])  # (2 * 1 + 4) / 3, (0 + 3) / 3


def test_stvi_caps_tubes_at_k_and_literal_clusters_option():
    frames, parts = two_part_scene(20, size=(80, 60), seed=1)
    anchors = {0: parts[0] > 0, 19: parts[19] > 0}
    auto = stvi(frames, anchors, params=STVIParams(k=3))
    assert auto.labels.max() <= 3
    # the kept clusters are merged into round(k f) tubes, f the object's share of the
    # sub-volume's valid voxels in the anchor frames
    big = stvi(frames, anchors, params=STVIParams(k=15))
    h, w = frames.shape[1:3]
    ones = np.ones((h, w), bool)
    inside = sum(int(crop(anchors[t], big.origins[t], big.size).sum()) for t in anchors)
    valid = sum(int(crop(ones, big.origins[t], big.size).sum()) for t in anchors)
    kept = sum(o > STVIParams(k=15).threshold for o in big.overlaps.values())
    assert 1 < tube_count(15, inside / valid) < kept  # the rule, not the cap, decides here
    assert big.labels.max() == tube_count(15, inside / valid)
    # about 3 per tube on the object, which does not fill its box: more than 3 k, at most 12 k
    assert 9 < auto.clusters <= 36
    literal = stvi(frames, anchors, params=STVIParams(k=3, clusters=3))
    assert literal.clusters == 3 and len(literal.overlaps) <= 3
    with pytest.raises(MotionlabError, match="clusters"):
        STVIParams(clusters=0)


def test_two_part_object_is_split_into_its_parts():
    frames, parts = two_part_scene(40, size=(160, 120), seed=3)
    anchors = {t: parts[t] > 0 for t in anchor_indices(len(frames), 20)}
    result = stvi(frames, anchors, params=STVIParams(k=15))
    labels = result.labels
    assert labels.shape == parts.shape and labels.max() >= 2
    # the tubes respect the parts: 95 % of the tubes' voxels lie in their tube's majority
    # part (position-only clustering, alpha=100, scores 0.87 on the object here), and no
    # tube of 2 % of the tubes' voxels or more is mostly mixed (a small SLIC cluster on
    # the seam between the parts may be)
    majority = 0
    total = int((labels > 0).sum())
    for tube in range(1, labels.max() + 1):
        _, counts = np.unique(parts[labels == tube], return_counts=True)
        if counts.sum() >= 0.02 * total:
            assert counts.max() >= 0.75 * counts.sum(), f"tube {tube} mixes parts: {counts}"
        majority += counts.max()
    assert majority / total >= 0.95
    # both parts are modelled, and the union of the tubes is the object
    assignment = metrics.part_assignment(labels, parts)
    assert assignment[1] and assignment[2]
    assert metrics.jaccard(result.mask, parts > 0) > 0.8
    # C_p (Sec. 6.4) is 0.83 here: the body's share among its tubes drifts (0.66) and the
    # swinging limb takes one tube per phase of its swing (1.01), as Sec. 6.4 notes for
    # back-and-forth motion with a large beta; the bound catches a regression
    assert 0 <= metrics.part_scores(labels, parts)["C_p"] < 0.9


def test_default_window_has_the_margin_around_the_largest_box():
    """The sub-volume is the largest tracked box grown by MARGIN of its size on each side
    (issue 16), so an object that grows after its anchor keeps room; margin=0 is the
    thesis's window, the largest box itself."""
    from motionlab.stvi.tubes import MARGIN

    frames, parts = two_part_scene(20, size=(80, 60), seed=1)
    anchors = {0: parts[0] > 0, 19: parts[19] > 0}
    wide = stvi(frames, anchors, params=STVIParams(k=3))
    width = (wide.boxes[:, 2] - wide.boxes[:, 0]).max()
    height = (wide.boxes[:, 3] - wide.boxes[:, 1]).max()
    assert MARGIN > 0
    assert wide.size == (math.ceil(width * (1 + 2 * MARGIN)), math.ceil(height * (1 + 2 * MARGIN)))
    tight = stvi(frames, anchors, params=STVIParams(k=3, margin=0.0))
    assert tight.size == (math.ceil(width), math.ceil(height))
    with pytest.raises(MotionlabError, match="margin"):
        STVIParams(margin=-0.1)


def test_stvi_params_reject_bad_values():
    with pytest.raises(MotionlabError, match="omega"):
        STVIParams(omega=1.5)
    with pytest.raises(MotionlabError, match="tail_floor"):
        STVIParams(tail_floor=1.5)
