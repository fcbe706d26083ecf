"""Per-voxel features of the object-centred sub-volume (thesis Sec. 6.3, steps 3-5, 8).

* :func:`cancel_background_motion`: eq. 6.1, F^_i = [F_i - mean(F_i over not M_i)]_obj.
* :func:`lab_volume`: CIE Lab colour (L in [0, 100], a and b roughly in [-128, 127]).
* :func:`scale_space`: smoothing with the spatio-temporal Gaussian g(x, y, t; sigma^2,
  tau^2) of eqs. 6.2-6.3, normalised by the valid voxels so padding outside the frame does
  not bleed into the object.
* :func:`auto_parameters`: the "0-parameter" mode (step 8).

Our constants for the automatic parameters (chosen on DAVIS 2016 sequences in
../shared/data, see docs/stvi.md):

* sigma = C_SIGMA * d / 2, d the mean diagonal of the object's box (pixels): the spatial
  scale grows with the object, so a person close to the camera and one far away are
  smoothed alike relative to their size (Sec. 6.3: "proportional to the object's size").
* tau = C_TAU * p95(|F^|) frames, p95 the 95th percentile of the object's speed relative
  to the background (pixels per frame): Sec. 6.3, "proportional to the maximum object
  flow", so a faster object is smoothed over more frames. C_TAU is in frames per
  (pixel per frame); no clipping (a static object gets tau = 0, no temporal smoothing).
* alpha = C_ALPHA / sigma: weight of position (x, y in pixels, t in frames). The thesis
  reads "alpha proportional to sigma"; with positions in pixels that would make tubes of
  larger objects *more* compact relative to their size, the opposite of SLIC's m / S, so
  we deliberately use positions in units of sigma instead.
* beta = C_BETA / p95(|F^|): weight of the relative flow, so beta * F^ = C_BETA *
  F^ / p95 -- motion counts in Lab units, C_BETA for the object's fast 5 %, whatever its
  speed. The thesis reads "beta proportional to tau"; with tau proportional to p95 that
  would weight the flow channels by p95 * F^, quadratic in the speed (a fast object would
  be clustered on its flow alone, a slow one on colour alone). beta = C_BETA / p95 is
  what the earlier beta = C_BETA * tau / sigma gave with tau = sigma / p95 (where that
  tau was not clipped), so it keeps the colour/motion balance C_BETA was tuned with; it
  is C_BETA * C_TAU / tau, inversely proportional to tau (docs/stvi.md).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from motionlab.errors import MotionlabError

C_SIGMA = 0.02
"""sigma = C_SIGMA * d / 2. 0.02 (0.03 until issue 16): sharper features put the clusters'
edges closer to the object's outline (J and F +0.009 each on the ten tuning DAVIS
sequences; docs/stvi.md)."""
C_ALPHA = 0.6
C_BETA = 25.0
C_TAU = 0.0125
"""tau = C_TAU * p95(|F^|): frames per (pixel per frame). 0.0125 beat 0.025 on the mean of
every measure over the 15 shared DAVIS sequences (J 0.616 vs 0.611; docs/stvi.md)."""


def cancel_background_motion(flow: np.ndarray, object_mask: np.ndarray) -> np.ndarray:
    """Eq. 6.1 on one frame: subtract the mean flow of the background (``~object_mask``).

    ``flow`` is ``(H, W, 2)`` float32 in pixels per frame; when the object covers the
    whole frame the flow is returned unchanged (no background to measure).
    """
    background = ~np.asarray(object_mask, bool)
    if not background.any():
        return flow.astype(np.float32, copy=True)
    return (flow - flow[background].mean(axis=0)).astype(np.float32)


def lab_volume(frames: np.ndarray) -> np.ndarray:
    """``(..., H, W, 3)`` uint8 RGB -> float32 CIE Lab (D65), same shape."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.shape[-1] != 3:
        raise MotionlabError(f"expected uint8 RGB frames, got {frames.dtype} {frames.shape}")
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = np.empty(flat.shape, np.float32)
    for i, f in enumerate(flat):
        out[i] = cv2.cvtColor(f.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return out.reshape(frames.shape)


def scale_space(
    volume: np.ndarray, sigma: float, tau: float, valid: np.ndarray | None = None
) -> np.ndarray:
    """Smooth a ``(T, H, W, C)`` volume with a Gaussian of std ``tau`` frames in time and
    ``sigma`` pixels in space, per channel; with ``valid`` (``(T, H, W)`` bool) only valid
    voxels contribute (normalised convolution) and invalid ones are set to 0."""
    if sigma < 0 or tau < 0:
        raise MotionlabError(f"scales must be >= 0, got sigma={sigma}, tau={tau}")
    vol = np.asarray(volume, np.float32)
    s = (tau, sigma, sigma)
    # channels are independent: filtered in threads (SciPy's filters release the GIL; the
    # same values as one after another: tests/test_stvi_pipeline.py)
    workers = max(1, min(vol.shape[-1], os.cpu_count() or 1))
    if valid is None:
        with ThreadPoolExecutor(workers) as pool:
            return np.stack(
                list(
                    pool.map(
                        lambda c: ndimage.gaussian_filter(vol[..., c], s, mode="nearest"),
                        range(vol.shape[-1]),
                    )
                ),
                axis=-1,
            )
    w = valid.astype(np.float32)
    out = np.empty_like(vol)

    def smooth(c: int) -> None:
        out[..., c] = ndimage.gaussian_filter(vol[..., c] * w, s, mode="constant")

    with ThreadPoolExecutor(workers) as pool:
        weight = pool.submit(ndimage.gaussian_filter, w, s, mode="constant")
        list(pool.map(smooth, range(vol.shape[-1])))
        norm = weight.result()
    norm = np.where(valid, np.maximum(norm, 1e-6), 1.0)
    out /= norm[..., None]
    out[~valid] = 0
    return out


@dataclass(frozen=True)
class ScaleParameters:
    """sigma (pixels), tau (frames), alpha (per pixel or frame), beta (Lab units per
    pixel per frame)."""

    sigma: float
    tau: float
    alpha: float
    beta: float


def auto_parameters(
    boxes: np.ndarray,
    relative_flow: np.ndarray,
    object_voxels: np.ndarray | None = None,
    *,
    sigma: float | None = None,
    tau: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
) -> ScaleParameters:
    """Step 8: sigma, tau, alpha and beta from the data; any given value overrides.

    sigma = C_SIGMA * d / 2 (d: mean box diagonal), tau = C_TAU * p95, alpha =
    C_ALPHA / sigma, beta = C_BETA / p95, p95 the 95th percentile of |F^| (module
    docstring; beta is not recomputed from a ``tau`` given by the caller).

    Parameters
    ----------
    boxes : (T, 4) float ndarray
        The object's box per frame, ``(x0, y0, x1, y1)`` pixels.
    relative_flow : (T, H, W, 2) float ndarray
        Background-cancelled flow F^ of the sub-volume (pixels per frame).
    object_voxels : (T, H, W) bool ndarray, optional
        Where to take the 95th percentile of |F^| (default: everywhere).
    """
    if sigma is None:
        diag = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]).mean()
        sigma = C_SIGMA * diag / 2
    if tau is None or beta is None:
        # the flow of the object's voxels only, selected before the norm (the same values
        # as the norm everywhere then selected, without the norm of the whole sub-volume)
        use = object_voxels is not None and object_voxels.any()
        speed = np.linalg.norm(relative_flow[object_voxels] if use else relative_flow, axis=-1)
        p95 = float(np.percentile(speed, 95)) if speed.size else 0.0
        if tau is None:
            tau = C_TAU * p95
        if beta is None:
            # no motion relative to the background: the flow channels are ~0 anyway
            beta = C_BETA / p95 if p95 > 1e-6 else 0.0
    if alpha is None:
        alpha = C_ALPHA / sigma if sigma > 0 else C_ALPHA
    return ScaleParameters(float(sigma), float(tau), float(alpha), float(beta))
