"""STVI, issue 16: carried masks matched to their anchor frame against drift
(:func:`motionlab.stvi.tracking.match_to_anchor`) and DIS started from a given flow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from motionlab import MotionlabError
from motionlab.flow.estimators import DISEstimator
from motionlab.stvi.tracking import flow_carried_masks, mask_box, match_to_anchor


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random RGB texture, uint8 (structure about 3 px across, full contrast)."""
    import cv2

    noise = rng.random((h, w, 3)).astype(np.float32) * 255
    return np.clip((cv2.GaussianBlur(noise, (0, 0), 1.5) - 127) * 3 + 127, 0, 255).astype(np.uint8)


def _scene(t_n: int, *, h: int = 120, w: int = 160, vx: int = 2, vy: int = 1, bias: float = 1.0):
    """A textured 48 x 32 object moving (vx, vy) px a frame over a still textured
    background; exact forward and backward flows on the object times ``bias`` (a
    systematic error that composing adds up), and ``mask_at(t)``."""
    rng = np.random.default_rng(3)
    background, skin = _texture(rng, h, w), _texture(rng, 32, 48)

    def mask_at(t: int) -> np.ndarray:
        m = np.zeros((h, w), bool)
        m[30 + vy * t : 62 + vy * t, 50 + vx * t : 98 + vx * t] = True
        return m

    frames = np.repeat(background[None], t_n, axis=0)
    forward = np.zeros((t_n - 1, h, w, 2), np.float32)
    backward = np.zeros((t_n - 1, h, w, 2), np.float32)
    for t in range(t_n):
        frames[t][mask_at(t)] = skin.reshape(-1, 3)
    for t in range(t_n - 1):
        forward[t][mask_at(t)] = (bias * vx, bias * vy)
        backward[t][mask_at(t + 1)] = (-bias * vx, -bias * vy)
    return frames, forward, backward, mask_at


def test_dis_from_an_initial_flow_finds_a_shift_beyond_its_search():
    # a 30 px shift of a fine texture: DIS from zero does not find it, from 27 px it does
    rng = np.random.default_rng(0)
    a = _texture(rng, 120, 160)
    b = np.roll(a, 30, axis=1)  # b(x) = a(x - 30): flow a -> b is +30 in u
    dis = DISEstimator(preset="medium-full")
    inner = (slice(20, -20), slice(40, -40))
    from_zero = dis.from_initial(a, b, np.zeros((120, 160, 2), np.float32))
    start = np.zeros((120, 160, 2), np.float32)
    start[..., 0] = 27
    from_start = dis.from_initial(a, b, start)
    assert np.median(np.abs(from_zero[inner][..., 0] - 30)) > 5
    np.testing.assert_allclose(np.median(from_start[inner], axis=(0, 1)), [30, 0], atol=0.1)
    assert start[..., 0].max() == 27  # the caller's array is not written into
    with pytest.raises(MotionlabError, match="one size"):
        dis.from_initial(a, b, start[:-1])


def test_match_to_anchor_corrects_drifted_positions_near_the_object_only():
    t_n = 9
    frames, _, _, mask_at = _scene(t_n)
    h, w = mask_at(0).shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # exact positions in frame 0 of frame 8's pixels: object pixels moved back by
    # (16, 8); the background stays
    on = mask_at(8)
    true_x, true_y = np.where(on, gx - 16, gx), np.where(on, gy - 8, gy)
    box = mask_box(mask_at(0))
    # composed with drift: 3 px too far right and 1.5 px down on the object
    px, py = np.where(on, true_x + 3, true_x), np.where(on, true_y + 1.5, true_y)
    mx, my = match_to_anchor(px, py, frames[8], frames[0], box)
    inner = ndimage.binary_erosion(on, iterations=3)  # the outline's pixels are ambiguous
    error = np.hypot(mx - true_x, my - true_y)[inner]
    assert np.median(error) < 0.05 and np.mean(error < 1) > 0.95
    # pixels far from the object are not touched
    far = np.zeros((h, w), bool)
    far[100:, :] = True
    np.testing.assert_array_equal(mx[far], px[far])
    # positions that were right stay right (the matched ones are kept only where better)
    ex, ey = match_to_anchor(true_x, true_y, frames[8], frames[0], box)
    np.testing.assert_allclose(ex[inner], true_x[inner], atol=0.05)
    np.testing.assert_allclose(ey[inner], true_y[inner], atol=0.05)
    # paths that left the frame stay out
    gone = np.full_like(px, -1e5)
    out_x, _ = match_to_anchor(gone, gone, frames[8], frames[0], box)
    assert (out_x == -1e5).all()


def test_carried_masks_with_frames_do_not_drift_with_biased_flows():
    """Flows 25 % too short on the object: composed over 11 frames, the positions of the
    object's pixels fall short by up to 5.5 px in x and 2.75 px in y, so its leading
    columns and rows land ahead of the anchor mask, on background; matched to the anchor
    frame most of them land on it again. (Not all: where a composed path ran through the
    background ahead of the object, the match starts 2 px a frame away from the truth.)"""
    t_n = 12
    frames, forward, backward, mask_at = _scene(t_n, bias=0.75)
    anchors = {0: mask_at(0)}

    def recall(m: np.ndarray, t: int) -> float:  # share of the object carried (> 0.5)
        return float((m[t] > 0.5)[mask_at(t)].mean())

    drifting = flow_carried_masks(anchors, forward, t_n, backward, tail_floor=1.0)
    matched = flow_carried_masks(anchors, forward, t_n, backward, frames=frames, tail_floor=1.0)
    assert recall(drifting, t_n - 1) < 0.8 and recall(matched, t_n - 1) > 0.9
    for t in range(3, t_n):  # the drift grows frame by frame; matching holds it back
        assert recall(matched, t) > recall(drifting, t) + 0.02, t
    ahead = np.zeros(mask_at(0).shape, bool)
    ahead[:, 98 + 2 * (t_n - 1) + 2 :] = True  # beyond the object's leading edge: nothing
    assert matched[:, ahead].max() == 0
    # exact flows: the object stays carried whole, and the tail over the background the
    # object uncovers shrinks (frame 0 shows the object there, a worse match than the
    # background's own texture nearby)
    frames, forward, backward, mask_at = _scene(t_n)
    plain = flow_carried_masks(anchors, forward, t_n, backward, tail_floor=1.0)
    exact = flow_carried_masks(anchors, forward, t_n, backward, frames=frames, tail_floor=1.0)
    for t in range(t_n):
        assert recall(plain, t) == 1 and recall(exact, t) > 0.99, t
    # (the masks as carried, tail_floor=1: the matching alone; by default the tail's
    # failed forward-backward check also halves it after the last anchor, below 0.5)
    default = flow_carried_masks(anchors, forward, t_n, backward, frames=frames)
    tail = [((m[t_n - 1] > 0.5) & ~mask_at(t_n - 1)).sum() for m in (plain, exact, default)]
    # every step (2, 1) uncovers 2 columns of 32 and a row of 48, 2 pixels counted twice
    assert tail[0] == 11 * (2 * 32 + 48 - 2)
    assert tail[1] < 0.8 * tail[0]
    assert tail[2] < tail[1] and recall(default, t_n - 1) > 0.99
    with pytest.raises(MotionlabError, match="do not match"):
        flow_carried_masks(anchors, forward, t_n, backward, frames=frames[1:])
