"""The anchor masks carried along the flow, corrected by the anchors' colours.

Our addition to STVI (issue 16; not in the thesis). The masks that
:func:`motionlab.stvi.tracking.flow_carried_masks` carries between anchors drift where the
flow is wrong: thin parts, fast motion, occlusions. Each anchor frame also says which
colours the object has and which the background has. Per anchor ``a`` two colour
histograms over CIE Lab (``bins`` bins per channel, OpenCV's 8-bit Lab, add-one smoothed)
are counted: ``h_fg^a`` over the mask's pixels and ``h_bg^a`` over the rest of the frame.
In frame ``t`` between anchors ``a < b`` (weight ``w = (t - a) / (b - a)``, as the masks are
blended) the likelihoods are ``L_fg = (1 - w) h_fg^a + w h_fg^b`` and alike for the
background; after the last anchor, its histograms alone. With ``m`` the carried mask
clipped to ``[eps, 1 - eps]`` (the flow's prior), the colour posterior is

    p = m L_fg(c) / (m L_fg(c) + (1 - m) L_bg(c)),    c the pixel's colour bin,

and the corrected mask is ``lam p + (1 - lam) m`` (``m`` unclipped): a blend of the
posterior with the carried mask, so a pixel's colour decides where the flow is unsure
(``m`` near 0.5, where the two carried anchors disagree) and can only nudge it where the
flow is sure. Optionally smoothed by a Gaussian of ``sigma`` pixels. Anchor frames keep
their masks.

Chosen on the ten tuning DAVIS sequences (docs/stvi.md, "Colour-corrected carried
masks"): the posterior alone (``lam`` = 1) is worse than the carried masks (a pixel's
colour is noisy evidence); ``lam`` = 0.5 and ``sigma`` = 3 make the best carried masks
(J 0.810 -> 0.837), but inside STVI the smoothing blurs the outline the clusters follow,
and ``sigma`` = 0 gives the best STVI (J 0.782 -> 0.804 at the targets' UE).
"""

from __future__ import annotations

import itertools

import numpy as np

BINS = 16
"""Bins per Lab channel (16^3 colours)."""
WEIGHT = 0.5
"""lam: weight of the colour posterior against the carried mask."""
SIGMA = 0.0
"""Gaussian smoothing of the corrected mask, pixels (0: none; see the module's note)."""
EPS = 0.05
"""The carried mask is clipped to [EPS, 1 - EPS] as the prior (a pixel the flow calls
certain can still be turned by its colour)."""


def colour_bins(frame: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Colour bin of every pixel of an RGB uint8 ``(H, W, 3)`` frame: its 8-bit Lab
    (OpenCV) quantised to ``bins`` levels per channel, ``(H, W)`` int32 in
    ``[0, bins^3)``."""
    import cv2

    lab = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2LAB).astype(np.int32)
    q = lab * bins >> 8
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


def colour_histograms(
    bins_of: np.ndarray, mask: np.ndarray, bins: int = BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Add-one smoothed, normalised colour histograms ``(bins^3,)`` float64 of the pixels
    inside ``mask`` (object) and outside it (background), from :func:`colour_bins`."""
    n = bins**3
    mask = np.asarray(mask, bool)
    fg = np.bincount(bins_of[mask], minlength=n).astype(np.float64) + 1.0
    bg = np.bincount(bins_of[~mask], minlength=n).astype(np.float64) + 1.0
    return fg / fg.sum(), bg / bg.sum()


def colour_corrected_masks(
    frames: np.ndarray,
    carried: np.ndarray,
    anchors: dict[int, np.ndarray],
    *,
    bins: int = BINS,
    weight: float = WEIGHT,
    sigma: float = SIGMA,
    eps: float = EPS,
) -> np.ndarray:
    """The carried masks corrected by the anchors' colour models (module docs).

    Parameters
    ----------
    frames : (T, H, W, 3) uint8 ndarray
        The clip, RGB.
    carried : (T, H, W) float ndarray in [0, 1]
        The anchor masks carried along the flow
        (:func:`motionlab.stvi.tracking.flow_carried_masks`).
    anchors : dict
        Frame index -> bool ``(H, W)`` mask; frame 0 among them.
    bins, weight, sigma, eps
        ``bins`` per Lab channel, ``lam`` (0: the carried masks, smoothed by ``sigma``), the
        Gaussian's sigma in pixels (0: none), the prior's clip.

    Returns
    -------
    (T, H, W) float32 ndarray in [0, 1]; the anchor masks in anchor frames.
    """
    import cv2

    keys = sorted(anchors)
    models = {a: colour_histograms(colour_bins(frames[a], bins), anchors[a], bins) for a in keys}

    def correct(t: int, l_fg: np.ndarray, l_bg: np.ndarray) -> np.ndarray:
        c = colour_bins(frames[t], bins)
        m = np.asarray(carried[t], np.float64)
        prior = np.clip(m, eps, 1.0 - eps)
        fg = prior * l_fg[c]
        post = fg / (fg + (1.0 - prior) * l_bg[c])
        mixed = (weight * post + (1.0 - weight) * m).astype(np.float32)
        if sigma > 0:
            mixed = cv2.GaussianBlur(mixed, (0, 0), sigma)
        return np.clip(mixed, 0.0, 1.0)

    out = np.empty(np.shape(carried), np.float32)
    # the anchors' histograms blended between anchors as the masks are
    # (motionlab.stvi.tracking._blend_between_anchors); after the last, its own alone
    for a, b in itertools.pairwise(keys):
        for t in range(a + 1, b):
            w = (t - a) / (b - a)
            l_fg = (1 - w) * models[a][0] + w * models[b][0]
            l_bg = (1 - w) * models[a][1] + w * models[b][1]
            out[t] = correct(t, l_fg, l_bg)
    for t in range(keys[-1] + 1, len(frames)):
        out[t] = correct(t, *models[keys[-1]])
    for t in keys:
        out[t] = anchors[t]
    return out
