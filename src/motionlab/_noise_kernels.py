"""Compiled (numba) loops of :class:`motionlab.noise.AdvectedNoise`.

Each is one pass or a few over the particles; written as loops because the equivalent numpy
code needs a dozen full-size temporaries per frame (measured: 5-10x slower). They release
the GIL, so flow estimation and encoding can run beside them in other threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

Z_RANGE = 9.0  # |z| beyond this has probability < 1e-18: clamped
LUT_BINS = 8192  # bin width 2 * 9 / 8192 = 0.0022 < the smallest threshold gap (~0.0098)


def quantize_tables(low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Tables that turn a standard-normal z into floor(low + Phi(z) * (high + 1 - low)),
    clipped to [low, high], exactly and in O(1).

    The output steps up by one at thresholds t_m = Phi^-1((m - low) / (high + 1 - low)).
    Over [-Z_RANGE, Z_RANGE] in LUT_BINS equal bins, each bin holds at most one threshold;
    ``base[b]`` is the value at the bin's start and ``step[b]`` the threshold inside it
    (+inf if none): value = base[b] + (z >= step[b]).
    """
    from scipy.special import ndtri

    lo_v, hi_v = math.floor(low), math.floor(high)
    m = np.arange(lo_v + 1, hi_v + 1, dtype=np.float64)
    thresholds = ndtri(np.clip((m - low) / (high + 1.0 - low), 0.0, 1.0))
    edges = np.linspace(-Z_RANGE, Z_RANGE, LUT_BINS + 1)
    starts = edges[:-1]
    base = lo_v + np.searchsorted(thresholds, starts, side="right")
    base = np.minimum(base, hi_v).astype(np.float64)
    step = np.full(LUT_BINS, np.inf)
    inside = np.searchsorted(edges, thresholds, side="right") - 1
    ok = (inside >= 0) & (inside < LUT_BINS) & np.isfinite(thresholds)
    if np.bincount(inside[ok], minlength=LUT_BINS).max(initial=0) > 1:
        raise AssertionError("noise quantisation table too coarse")  # cannot happen for 0..255
    step[inside[ok]] = thresholds[ok]
    # a threshold exactly at a bin start is already counted in base
    step[np.isclose(step, starts)] = np.inf
    return base, step


@numba.njit(cache=True, nogil=True)
def _quantize(
    sums: np.ndarray, count: np.ndarray, base: np.ndarray, step: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """out[cell, ch] = quantised Phi(sums[cell, ch] / sqrt(count[cell]))."""
    hw, c = sums.shape
    bins = base.shape[1]
    scale = bins / (2.0 * Z_RANGE)
    for cell in range(hw):
        k = count[cell]
        inv = 1.0 / math.sqrt(k) if k > 0 else 0.0
        for ch in range(c):
            z = sums[cell, ch] * inv
            b = int((z + Z_RANGE) * scale)
            b = min(max(b, 0), bins - 1)
            v = base[ch, b]
            if z >= step[ch, b]:
                v += 1.0
            out[cell, ch] = np.uint8(v)


@numba.njit(cache=True, nogil=True)
def render(
    px: np.ndarray,
    py: np.ndarray,
    val: np.ndarray,
    width: int,
    base: np.ndarray,
    step: np.ndarray,
    count: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Noise frame of particles at (px, py) with values ``val`` (N, C).

    Per pixel: z = sum(values) / sqrt(count) ~ N(0, 1), quantised through the tables of
    :func:`quantize_tables` (``base``/``step`` of shape (C, BINS)). Writes the particle count
    per pixel into ``count`` (H*W,) and the frame into ``out`` (H*W, C) uint8.
    """
    n, c = val.shape
    hw = count.shape[0]
    sums = np.zeros((hw, c), np.float32)
    count[:] = 0
    for i in range(n):
        # positions lie in [-0.5, size - 0.5): int() of p + 0.5 >= 0 is floor, and faster
        cell = int(py[i] + 0.5) * width + int(px[i] + 0.5)
        count[cell] += 1
        for ch in range(c):
            sums[cell, ch] += val[i, ch]
    _quantize(sums, count, base, step, out)


OK, OUT_OF_CAPACITY, OUT_OF_NORMALS, OUT_OF_UNIFORMS = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def advect(
    px: np.ndarray,
    py: np.ndarray,
    val: np.ndarray,
    count: np.ndarray,
    flow: np.ndarray,
    share: int,
    normals: np.ndarray,
    uniforms: np.ndarray,
    base: np.ndarray,
    step: np.ndarray,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_v: np.ndarray,
    out_count: np.ndarray,
    out_frame: np.ndarray,
    sums: np.ndarray,
) -> tuple[int, int, int, int]:  # pragma: no cover - compiled
    """One frame step in one pass over the particles, then one over the pixels.

    Each particle of a crowded pixel (``count`` > 2 * share, the counts of the current
    frame) is kept with probability share / count; kept particles move by the flow at their
    pixel, those leaving the frame are dropped, the rest are written to ``out_*`` while their
    new pixels' counts and value sums accumulate. Pixels left with fewer than share / 2
    particles are topped up to ``share`` with fresh particles (on the pixel's sub-lattice,
    standard-normal values); then the next frame is quantised into ``out_frame``.

    px, py : (N,) float32 positions (pixel centres at integers); val : (N, C) float32.
    count : (H*W,) int32 particles per pixel now. flow : (H, W, 2) float32 forward flow.
    normals, uniforms : pools of random numbers drawn by the caller's seeded generator
    (numpy's samplers are several times faster than drawing here), used from the start.
    out_x, out_y, out_v : outputs of capacity M; out_count : (H*W,) int32;
    out_frame : (H*W, C) uint8; sums : (H*W, C) float32 scratch.
    Returns (status, particles written, normals used, uniforms used); status is OK, or
    OUT_OF_* when a buffer or pool was too small (call again with a larger one and the same
    pools: the result is the same). Buffers are reused frame after frame: fresh allocations
    cost more than the arithmetic here.
    """
    height, width = flow.shape[0], flow.shape[1]
    hw = height * width
    n, c = val.shape
    cap = out_x.shape[0]
    sums[:] = 0.0
    out_count[:] = 0
    j = 0
    nu = 0
    nn = 0
    for i in range(n):
        # positions lie in [-0.5, size - 0.5): int() of p + 0.5 >= 0 is floor, and faster
        x = int(px[i] + 0.5)
        y = int(py[i] + 0.5)
        k = count[y * width + x]
        if k > 2 * share:
            if nu >= uniforms.shape[0]:
                return OUT_OF_UNIFORMS, j, nn, nu
            u = uniforms[nu]
            nu += 1
            if u >= share / k:
                continue
        fx = px[i] + flow[y, x, 0]
        fy = py[i] + flow[y, x, 1]
        if not (fx >= -0.5 and fx < width - 0.5 and fy >= -0.5 and fy < height - 0.5):
            continue
        if j >= cap:
            return OUT_OF_CAPACITY, j, nn, nu
        cx = min(int(fx + 0.5), width - 1)  # min: float rounding at the far edge
        cy = min(int(fy + 0.5), height - 1)
        cell = cy * width + cx
        out_x[j] = fx
        out_y[j] = fy
        for ch in range(c):
            v = val[i, ch]
            out_v[j, ch] = v
            sums[cell, ch] += v
        out_count[cell] += 1
        j += 1
    side = int(math.sqrt(share) + 0.5)
    for cell in range(hw):  # top up sparse pixels with fresh particles
        kept = out_count[cell]
        if 2 * kept >= share:
            continue
        need = share - kept
        if j + need > cap:
            return OUT_OF_CAPACITY, j, nn, nu
        if nn + need * c > normals.shape[0]:
            return OUT_OF_NORMALS, j, nn, nu
        if nu >= uniforms.shape[0]:
            return OUT_OF_UNIFORMS, j, nn, nu
        y = cell // width
        x = cell - y * width
        # on the pixel's side x side sub-lattice (as at the start), from a random point:
        # lattice spacing keeps later pixel counts steady where the region translates
        start = int(uniforms[nu] * share)
        nu += 1
        for m in range(need):
            q = (start + m) % share
            out_x[j] = x + ((q % side) + 0.5) / side - 0.5
            out_y[j] = y + ((q // side) + 0.5) / side - 0.5
            for ch in range(c):
                v = normals[nn]
                nn += 1
                out_v[j, ch] = v
                sums[cell, ch] += v
            j += 1
        out_count[cell] = share
    _quantize(sums, out_count, base, step, out_frame)
    return OK, j, nn, nu
