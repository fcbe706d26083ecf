"""Track the object's box between anchors with dense flow and cut an object-centred
sub-volume out of the video (thesis Sec. 6.3, step 2).

Boxes are float ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive. Flows follow the
project convention: ``forward[t]`` is the flow of pair ``(t, t + 1)`` and ``backward[t]``
the flow from frame ``t + 1`` back to frame ``t``, ``(H, W, 2)``, channel 0 = u (right),
1 = v (down), pixels per frame.

Going back in time (a point of frame t + 1 to frame t) needs the backward flow at the
point. Where only forward flows are given, the forward flow sampled at the later position
stands in for it (``p - forward[t](p)``): exact where the flow is locally uniform, wrong
at motion boundaries, which is where the object is (a pixel of frame t + 1 that the
moving object has just covered carries the flow of the background that was there in
frame t). With anchors every 20 DAVIS frames, the backward flow makes the carried masks
markedly better (docs/stvi.md, "Backward flow"), so STVI computes both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from motionlab.errors import MotionlabError

MAX_POINTS = 2000
"""Mask pixels followed per anchor (a random subset of larger masks, fixed seed)."""
RELIABILITY_FLOOR = 0.05
"""Between two anchors, each carried mask is weighted by its blend weight times the share
of its path that passed the forward-backward check (:func:`flow_carried_masks`), at least
this much of the blend weight: a mask whose path failed everywhere still counts a little,
and where both failed the plain blend is left."""
TAIL_FLOOR = 0.5
"""After the last anchor the carried mask is multiplied by ``max(share, TAIL_FLOOR)``,
``share`` the part of its path that passed the forward-backward check
(:func:`flow_carried_masks`): 1 leaves the mask as carried, 0 trusts the check alone.
Issue 16, tenth stop: of 1, 0.5, 0.25 and 0, the one with the best leave-one-sequence-out
J among those whose estimate meets every target of the issue on the 15 shared DAVIS
sequences (docs/stvi.md, "Reliability after the last anchor")."""

_OUTSIDE = -1e5
"""A composed position outside every frame: a pixel whose path left the frame (samples 0).
Bilinear sampling next to such a pixel mixes it in, so anything below a tenth of it
counts as outside too."""

ANCHOR_MATCH_MARGIN = 16
"""Pixels added around the object on each side of the window in which a carried frame is
matched to its anchor frame (:func:`match_to_anchor`)."""
ANCHOR_MATCH_SIGMA = 2.0
"""Gaussian sigma, in pixels, of the smoothed photometric error that chooses per pixel
between the composed and the directly matched position (:func:`match_to_anchor`)."""
ANCHOR_MATCH_PRESET = "medium-full"
"""DIS preset of the direct match to the anchor frame (STVI's flow preset)."""


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight box ``(x0, y0, x1, y1)`` of a non-empty bool ``(H, W)`` mask, float64."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise MotionlabError("empty mask has no box")
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def _sample(flow: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    x = np.clip(np.rint(pts[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.rint(pts[:, 1]).astype(int), 0, h - 1)
    return flow[y, x]


def _follow(
    flows: Sequence[np.ndarray],
    mask: np.ndarray,
    start: int,
    stop: int,
    backward: Sequence[np.ndarray] | None = None,
) -> dict[int, np.ndarray]:
    """Median displacement of the mask's pixels, followed from frame ``start`` to every
    frame up to ``stop`` (inclusive; ``stop < start`` follows backwards), ``{t: (dx, dy)}``.

    Backwards, the point at p in frame t + 1 moves to p + backward[t](p), or, without
    backward flows, to p - forward[t](p) (the module's note on the stand-in).
    """
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    if len(pts) > MAX_POINTS:
        pts = pts[np.random.default_rng(0).choice(len(pts), MAX_POINTS, replace=False)]
    origin = pts.copy()
    out = {start: np.zeros(2)}
    step = 1 if stop >= start else -1
    for t in range(start, stop, step):
        if step > 0:
            pts = pts + _sample(flows[t], pts)
        elif backward is not None:
            pts = pts + _sample(backward[t - 1], pts)
        else:
            pts = pts - _sample(flows[t - 1], pts)
        out[t + step] = np.median(pts - origin, axis=0)
    return out


def track_boxes(
    flows: Sequence[np.ndarray],
    anchors: dict[int, np.ndarray],
    n_frames: int,
    backward: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """The object's box in every frame, ``(n_frames, 4)`` float64.

    Each anchor's box is moved forward to the next anchor and backward to the previous one
    by the median displacement of its mask's pixels, followed through the flow. Between two
    anchors a < b the box is the linear blend (weight (t - a) / (b - a)) of the box carried
    from a and the box carried back from b, so tracking drift never accumulates past an
    anchor and the box size changes smoothly from one anchor's size to the next. Before the
    first anchor and after the last one the nearest anchor's box is carried alone.

    Parameters
    ----------
    flows : sequence of (H, W, 2) float32
        Forward flow of every pair, ``len(flows) == n_frames - 1``.
    anchors : dict
        Frame index -> bool ``(H, W)`` mask; at least one.
    backward : sequence of (H, W, 2) float32, optional
        Backward flow of every pair (frame t + 1 to t), to follow anchors back in time;
        without it the forward flow stands in (module note).
    """
    if not anchors:
        raise MotionlabError("tracking needs at least one anchor mask")
    _check_flow_counts(flows, backward, n_frames)
    keys = sorted(anchors)
    if keys[0] < 0 or keys[-1] >= n_frames:
        raise MotionlabError(f"anchor frames {keys} outside the video's 0..{n_frames - 1}")
    boxes = np.zeros((n_frames, 4))

    def carried(anchor: int, stop: int) -> dict[int, np.ndarray]:
        box = mask_box(anchors[anchor])
        moves = _follow(flows, anchors[anchor], anchor, stop, backward)
        return {t: box + np.tile(d, 2) for t, d in moves.items()}

    for t, box in carried(keys[0], 0).items():
        boxes[t] = box
    _blend_between_anchors(keys, carried, boxes, n_frames)
    return boxes


def _check_flow_counts(
    flows: Sequence[np.ndarray], backward: Sequence[np.ndarray] | None, n_frames: int
) -> None:
    if len(flows) != n_frames - 1:
        raise MotionlabError(f"need {n_frames - 1} flows for {n_frames} frames, got {len(flows)}")
    if backward is not None and len(backward) != n_frames - 1:
        raise MotionlabError(
            f"need {n_frames - 1} backward flows for {n_frames} frames, got {len(backward)}"
        )


def _blend_between_anchors(
    keys: list[int],
    carry: Callable[[int, int], dict[int, np.ndarray]],
    out: np.ndarray,
    n_frames: int,
    reliability: Callable[[int, int], dict[int, np.ndarray]] | None = None,
) -> None:
    """Fill ``out[t]`` from the first anchor on: between anchors a < b, the linear blend
    (weight (t - a) / (b - a)) of ``carry(a, b)[t]`` (a's value carried forward) and
    ``carry(b, a)[t]`` (b's carried back); after the last anchor, its value carried
    forward alone. With ``reliability`` (per carried value, in [0, 1], computed by the same
    ``carry`` call before it is read), each side's weight is its blend weight times
    ``max(reliability, RELIABILITY_FLOOR)``, normalised."""
    for a, b in itertools.pairwise(keys):
        fwd, bwd = carry(a, b), carry(b, a)
        rel_f, rel_b = (reliability(a, b), reliability(b, a)) if reliability else ({}, {})
        for t in range(a, b + 1):
            w = (t - a) / (b - a)
            if reliability is None:
                out[t] = (1 - w) * fwd[t] + w * bwd[t]
                continue
            wf = (1 - w) * np.maximum(rel_f[t], RELIABILITY_FLOOR)
            wb = w * np.maximum(rel_b[t], RELIABILITY_FLOOR)
            out[t] = (wf * fwd[t] + wb * bwd[t]) / (wf + wb)
    for t, value in carry(keys[-1], n_frames - 1).items():
        out[t] = value


def carried_masks(anchors: dict[int, np.ndarray], boxes: np.ndarray) -> dict[int, np.ndarray]:
    """For every frame, the nearest anchor's mask translated by the tracked box's centre
    displacement (nearest in time; the earlier anchor on ties)."""
    keys = sorted(anchors)
    out = {}
    for t in range(len(boxes)):
        a = min(keys, key=lambda i: (abs(i - t), i))
        if a == t:
            out[t] = anchors[t]
            continue
        d = (boxes[t, :2] + boxes[t, 2:]) / 2 - (boxes[a, :2] + boxes[a, 2:]) / 2
        out[t] = ndimage.shift(anchors[a], (d[1], d[0]), order=0, cval=False)
    return out


def match_to_anchor(
    px: np.ndarray,
    py: np.ndarray,
    frame: np.ndarray,
    anchor_frame: np.ndarray,
    box: np.ndarray,
    *,
    margin: int = ANCHOR_MATCH_MARGIN,
    sigma: float = ANCHOR_MATCH_SIGMA,
    preset: str = ANCHOR_MATCH_PRESET,
    anchor_float: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the anchor frame of a frame's pixels, composed along the flow
    (``px``, ``py``), corrected near the object by matching the frame to the anchor frame
    directly. Our addition to Sec. 6.3 (issue 16; docs/stvi.md, "Matching to the anchor
    frame").

    Composed over many frames, the small errors of each step add up (drift). In the window
    around the pixels whose composed position falls within ``box`` (grown by ``margin``),
    DIS matches ``frame`` to ``anchor_frame`` starting from the composed positions
    (:meth:`motionlab.flow.estimators.DISEstimator.from_initial`); each pixel keeps the
    matched position where it explains the frame better: where the anchor frame sampled
    there differs less from the frame (absolute RGB difference summed over channels,
    Gaussian-smoothed with ``sigma`` pixels) than sampled at the composed position.

    Parameters
    ----------
    px, py : (H, W) float32 ndarray
        Each pixel's composed position in the anchor frame (pixels; ``_OUTSIDE`` where its
        path left the frame: left as is).
    frame, anchor_frame : (H, W, 3) uint8 ndarray
        The frame the positions belong to and the anchor frame, RGB.
    box : (4,) float ndarray
        The anchor mask's box ``(x0, y0, x1, y1)`` (:func:`mask_box`).
    anchor_float : (H, W, 3) float32 ndarray, optional
        ``anchor_frame`` as float32, when the caller has it (one conversion per anchor).

    Returns
    -------
    (px, py), new ``(H, W)`` float32 arrays.
    """
    import cv2

    from motionlab.flow.estimators import DISEstimator

    h, w = px.shape
    inside = px > _OUTSIDE / 10
    x0, y0, x1, y1 = box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin
    near = inside & (px >= x0) & (px < x1) & (py >= y0) & (py < y1)
    if not near.any():
        return px, py
    ys, xs = np.nonzero(near)
    wx0, wx1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, w)
    wy0, wy1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, h)
    size = (wx1 - wx0, wy1 - wy0)
    cx, cy = px[wy0:wy1, wx0:wx1], py[wy0:wy1, wx0:wx1]
    valid = inside[wy0:wy1, wx0:wx1]
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    # the anchor's window: the frame's window moved by the median composed displacement
    ox = round(wx0 + float(np.median(cx[valid] - wx0 - gx[valid])))
    oy = round(wy0 + float(np.median(cy[valid] - wy0 - gy[valid])))
    start = np.stack(
        [np.where(valid, cx - ox - gx, 0.0), np.where(valid, cy - oy - gy, 0.0)], axis=-1
    ).astype(np.float32)
    matched = DISEstimator(preset=preset).from_initial(
        frame[wy0:wy1, wx0:wx1], crop(anchor_frame, (ox, oy), size), start
    )
    mx, my = gx + matched[..., 0] + ox, gy + matched[..., 1] + oy
    here = frame[wy0:wy1, wx0:wx1].astype(np.float32)
    anchor_rgb = anchor_frame.astype(np.float32) if anchor_float is None else anchor_float

    def error(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        seen = cv2.remap(
            anchor_rgb, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return cv2.GaussianBlur(np.abs(seen - here).sum(axis=-1), (0, 0), sigma)

    better = valid & (error(mx, my) < error(cx, cy))
    px, py = px.copy(), py.copy()
    px[wy0:wy1, wx0:wx1] = np.where(better, mx, cx)
    py[wy0:wy1, wx0:wx1] = np.where(better, my, cy)
    return px, py


def flow_carried_masks(
    anchors: dict[int, np.ndarray],
    flows: Sequence[np.ndarray],
    n_frames: int,
    backward: Sequence[np.ndarray] | None = None,
    *,
    frames: np.ndarray | None = None,
    tail_floor: float = TAIL_FLOOR,
) -> np.ndarray:
    """Every anchor mask carried along the flow to the frames around it, ``(n_frames, H,
    W)`` float32 in [0, 1] (the anchor masks themselves in anchor frames).

    Between anchors a < b, frame t gets the linear blend (weight (t - a) / (b - a)) of a's
    mask carried forward and b's mask carried back, as :func:`track_boxes` blends boxes;
    after the last anchor its mask carried forward alone (frame 0 must be an anchor:
    :func:`motionlab.stvi.anchors.check_anchors`). What is carried is each pixel's
    position: the pixel q of frame t + 1 came from q + backward[t](q) (or, without
    backward flows, q - forward[t](q): the module's note on the stand-in) and the pixel p
    of frame t goes to p + forward[t](p); the positions are composed frame by frame and
    the anchor mask is sampled once, bilinearly, at the composed position, so the mask
    does not blur over the frames. Pixels whose path leaves the frame get 0.

    With backward flows, each step is also checked against the flow the other way
    (:func:`motionlab.flow.metrics.fb_inconsistent`, sampled bilinearly at the step's
    source), and each pixel carries the share of its path that passed, composed like
    its position; between anchors the two carried masks are weighted by it as well
    (:data:`RELIABILITY_FLOOR`). Our addition (issue 16): where one side's path crossed an
    occlusion (a part hidden and shown again, a limb over the body) the other side
    decides, instead of both counting by their distance in time alone (docs/stvi.md,
    "Occlusion-aware blending").

    Parameters
    ----------
    anchors : dict
        Frame index -> bool ``(H, W)`` mask, frame 0 included.
    flows : sequence of (H, W, 2) float32
        Forward flow of every pair (pixels per frame, u right, v down).
    n_frames : int
    backward : sequence of (H, W, 2) float32, optional
        Backward flow of every pair (frame t + 1 to t), to carry masks forward in time.
    frames : (n_frames, H, W, 3) uint8 ndarray, optional
        The clip, RGB. Given, each frame's composed positions near the object are matched
        to the anchor frame directly (:func:`match_to_anchor`) and carried on from there:
        our addition against drift (issue 16). Between two anchors each side matches the
        frames where it has at least half the blend weight (the others weigh less and
        matching them too cost 1.1x the time for no gain, docs/stvi.md); after the last
        anchor every frame.
    tail_floor : float in [0, 1]
        After the last anchor, with backward flows, the carried mask times
        ``max(share, tail_floor)``, ``share`` its path's passed share (:data:`TAIL_FLOOR`;
        1: as carried).
    """
    import cv2

    from motionlab.flow.metrics import fb_inconsistent

    keys = sorted(anchors)
    if not keys or keys[0] != 0:
        raise MotionlabError("carrying masks needs an anchor in frame 0")
    if not 0 <= tail_floor <= 1:
        raise MotionlabError(f"tail_floor must be in [0, 1], got {tail_floor}")
    _check_flow_counts(flows, backward, n_frames)
    h, w = anchors[keys[0]].shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def remap(image: np.ndarray, mx: np.ndarray, my: np.ndarray, fill: float) -> np.ndarray:
        return cv2.remap(
            image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
        )

    if frames is not None and (len(frames) != n_frames or frames.shape[1:3] != (h, w)):
        raise MotionlabError(
            f"frames {frames.shape[:3]} do not match {n_frames} frames of {h}x{w} masks"
        )
    reliabilities: dict[tuple[int, int], dict[int, np.ndarray]] = {}

    def carry(a: int, stop: int) -> dict[int, np.ndarray]:
        mask = anchors[a].astype(np.float32)
        box = mask_box(anchors[a]) if frames is not None and anchors[a].any() else None
        anchor_float = frames[a].astype(np.float32) if box is not None else None
        # between anchors, matched while this side has at least half the blend weight;
        # after the last anchor, every frame
        reach = abs(stop - a) // 2 if stop in anchors else abs(stop - a)
        px, py = gx, gy  # where each pixel of the current frame was in frame a
        rel = np.ones((h, w), np.float32)  # the share of that path that passed the check
        out, rels = {a: mask}, {a: rel}
        step = 1 if stop >= a else -1
        # between anchors: the blend's weights; after the last anchor: the mask's
        check = backward is not None and (stop in anchors or tail_floor < 1)
        for t in range(a, stop, step):
            if step < 0:  # p of frame t - 1 goes to p + forward[t - 1](p)
                f, sign = np.asarray(flows[t - 1], np.float32), 1.0
            elif backward is not None:  # q of frame t + 1 came from q + backward[t](q)
                f, sign = np.asarray(backward[t], np.float32), 1.0
            else:  # the stand-in: q - forward[t](q)
                f, sign = np.asarray(flows[t], np.float32), -1.0
            mx, my = gx + sign * f[..., 0], gy + sign * f[..., 1]
            px, py = remap(px, mx, my, _OUTSIDE), remap(py, mx, my, _OUTSIDE)
            # against drift: matched to the anchor frame directly (not in anchor frames,
            # which keep their own masks)
            if box is not None and t + step not in anchors and abs(t + step - a) <= reach:
                px, py = match_to_anchor(
                    px, py, frames[t + step], frames[a], box, anchor_float=anchor_float
                )
            out[t + step] = remap(mask, px, py, 0.0)
            if check:  # the flow the other way, at the step's source, should undo the step
                other = np.asarray(backward[t - 1] if step < 0 else flows[t], np.float32)
                back = cv2.merge([remap(c, mx, my, 0.0) for c in cv2.split(other)])
                rel = remap(rel, mx, my, 0.0) * ~fb_inconsistent(f, back)
                rels[t + step] = rel
        if check and stop in anchors:
            reliabilities[a, stop] = rels
        elif check:  # after the last anchor, no other side: the mask itself weighted
            for t in out:
                if t != a:
                    out[t] *= np.maximum(rels[t], tail_floor)
        return out

    masks = np.zeros((n_frames, h, w), np.float32)
    # each pair's reliabilities are read once: dropped then (memory: a frame per step)
    reliability = None if backward is None else (lambda a, b: reliabilities.pop((a, b)))
    _blend_between_anchors(keys, carry, masks, n_frames, reliability)
    for t in keys:
        masks[t] = anchors[t]
    return masks


def object_windows(boxes: np.ndarray, *, margin: float = 0.1) -> tuple[np.ndarray, tuple[int, int]]:
    """Crop windows of one common size centred on the boxes.

    The size is the largest box's width and height, each grown by ``margin`` (a fraction)
    on both sides, so every frame's object fits (the thesis pads to the largest box).

    Returns
    -------
    origins : (T, 2) int ndarray
        Top-left ``(x, y)`` of each frame's window, in frame pixels (may lie outside the
        frame: :func:`crop` pads).
    size : (width, height)
    """
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    ww = math.ceil(widths.max() * (1 + 2 * margin))
    wh = math.ceil(heights.max() * (1 + 2 * margin))
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    origins = np.stack([np.rint(cx - ww / 2), np.rint(cy - wh / 2)], axis=1).astype(int)
    return origins, (ww, wh)


def crop(image: np.ndarray, origin: Sequence[int], size: tuple[int, int]) -> np.ndarray:
    """The ``size = (w, h)`` window of ``image`` (``(H, W, ...)``) at ``origin = (x, y)``;
    parts outside the image are zero."""
    x, y = int(origin[0]), int(origin[1])
    w, h = size
    out = np.zeros((h, w, *image.shape[2:]), image.dtype)
    ih, iw = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, iw), min(y + h, ih)
    if x0 < x1 and y0 < y1:
        out[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1]
    return out


def uncrop(
    window: np.ndarray, origin: Sequence[int], frame_size: tuple[int, int], fill: int = 0
) -> np.ndarray:
    """Paste a window back into a frame of ``frame_size = (W, H)`` (inverse of :func:`crop`);
    pixels outside the window take ``fill``."""
    x, y = int(origin[0]), int(origin[1])
    h, w = window.shape[:2]
    iw, ih = frame_size
    out = np.full((ih, iw, *window.shape[2:]), fill, window.dtype)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, iw), min(y + h, ih)
    if x0 < x1 and y0 < y1:
        out[y0:y1, x0:x1] = window[y0 - y : y1 - y, x0 - x : x1 - x]
    return out
