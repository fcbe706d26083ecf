"""Compiled (numba) loops of :class:`motionlab.afd.noise.AdvectedNoise`.

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
    base = np.minimum(base, hi_v).astype(np.uint8)  # small tables stay in the cache
    step = np.full(LUT_BINS, np.inf)
    inside = np.searchsorted(edges, thresholds, side="right") - 1
    ok = (inside >= 0) & (inside < LUT_BINS) & np.isfinite(thresholds)
    if np.bincount(inside[ok], minlength=LUT_BINS).max(initial=0) > 1:
        raise AssertionError("noise quantisation table too coarse")  # cannot happen for 0..255
    step[inside[ok]] = thresholds[ok]
    # a threshold exactly at a bin start is already counted in base
    step[np.isclose(step, starts)] = np.inf
    return base, step


# 1 / sqrt(n) for the particle counts a pixel usually holds (n = 0 gives 0: an empty pixel)
INV_SQRT = np.array([0.0] + [1.0 / math.sqrt(n) for n in range(1, 64)])


@numba.njit(cache=True, nogil=True)
def render(
    val: np.ndarray,
    start: np.ndarray,
    base: np.ndarray,
    step: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Noise frame from particles sorted by pixel: pixel c holds particles
    ``start[c]:start[c + 1]`` with values ``val`` (N, C) float32.

    Per pixel: z = sum(values) / sqrt(count) ~ N(0, 1), quantised through the tables of
    :func:`quantize_tables` (``base``/``step`` of shape (C, BINS)) into ``out`` (H*W, C).
    The sum runs over the particles in their stored order, in float32.
    """
    c = val.shape[1]  # 1 (grey) or 3
    bins = base.shape[1]
    scale = bins / (2.0 * Z_RANGE)
    for cell in range(start.shape[0] - 1):
        a, b = start[cell], start[cell + 1]
        n = b - a
        inv = INV_SQRT[n] if n < INV_SQRT.shape[0] else 1.0 / math.sqrt(n)
        if c == 3:
            s0 = np.float32(0.0)
            s1 = np.float32(0.0)
            s2 = np.float32(0.0)
            for i in range(a, b):
                s0 += val[i, 0]
                s1 += val[i, 1]
                s2 += val[i, 2]
            out[cell, 0] = _quantize(s0 * inv, base, step, 0, scale, bins)
            out[cell, 1] = _quantize(s1 * inv, base, step, 1, scale, bins)
            out[cell, 2] = _quantize(s2 * inv, base, step, 2, scale, bins)
        else:
            s0 = np.float32(0.0)
            for i in range(a, b):
                s0 += val[i, 0]
            out[cell, 0] = _quantize(s0 * inv, base, step, 0, scale, bins)


@numba.njit(inline="always")
def _quantize(
    z: float, base: np.ndarray, step: np.ndarray, ch: int, scale: float, bins: int
) -> int:  # pragma: no cover - compiled
    """The value of z through channel ``ch``'s tables (no branch on the threshold)."""
    k = min(max(int((z + Z_RANGE) * scale), 0), bins - 1)
    return base[ch, k] + (z >= step[ch, k])


OK, OUT_OF_CAPACITY, OUT_OF_NORMALS, OUT_OF_UNIFORMS = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def advect(
    px: np.ndarray,
    py: np.ndarray,
    val: np.ndarray,
    start: np.ndarray,
    flow: np.ndarray,
    share: int,
    normals: np.ndarray,
    uniforms: np.ndarray,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_v: np.ndarray,
    out_start: np.ndarray,
    new_cell: np.ndarray,
    cursor: np.ndarray,
) -> tuple[int, int, int, int]:  # pragma: no cover - compiled
    """One frame step of particles kept sorted by pixel (pixel c holds ``start[c]:start[c+1]``).

    Each particle of a crowded pixel (more than 2 * share particles) is kept with
    probability share / count; kept particles move by the flow at their pixel, those leaving
    the frame are dropped; pixels left with fewer than share / 2 particles are topped up to
    ``share`` with fresh particles (on the pixel's sub-lattice, standard-normal values). The
    output is again sorted by pixel (a counting sort), so every pass reads and writes memory
    in order: an unsorted version, scattering into per-pixel sums, was memory-bound (2-4x
    slower at 854x480).

    px, py : (N,) float32 positions (pixel centres at integers); val : (N, C) float32.
    start : (H*W + 1,) int32 offsets. flow : (H, W, 2) float32 forward flow.
    normals, uniforms : pools of random numbers drawn by the caller's seeded generator
    (numpy's samplers are several times faster than drawing here), used from the start.
    out_x, out_y, out_v : outputs of capacity M; out_start : (H*W + 1,) int32;
    new_cell : (>= N,) int32 and cursor : (H*W,) int32 scratch.
    Returns (status, particles written, normals used, uniforms used); status is OK, or
    OUT_OF_* when a buffer or pool was too small (call again with a larger one and the same
    pools: the result is the same).
    """
    height, width = flow.shape[0], flow.shape[1]
    hw = height * width
    c = val.shape[1]
    cap = out_x.shape[0]
    nu = 0
    nn = 0
    count = cursor  # first used as the new count per pixel, then as write cursor
    count[:] = 0
    # pass 1: thin crowded pixels, move, find the new pixel (-1: dropped or left the frame)
    for y in range(height):
        for x in range(width):
            cell = y * width + x
            a, b = start[cell], start[cell + 1]
            k = b - a
            u = flow[y, x, 0]
            v = flow[y, x, 1]
            for i in range(a, b):
                if k > 2 * share:
                    if nu >= uniforms.shape[0]:
                        return OUT_OF_UNIFORMS, 0, nn, nu
                    r = uniforms[nu]
                    nu += 1
                    if r >= share / k:
                        new_cell[i] = -1
                        continue
                fx = px[i] + u
                fy = py[i] + v
                if fx >= -0.5 and fx < width - 0.5 and fy >= -0.5 and fy < height - 0.5:
                    # int() of p + 0.5 >= 0 is floor; min: float rounding at the far edge
                    nc = min(int(fy + 0.5), height - 1) * width + min(int(fx + 0.5), width - 1)
                    new_cell[i] = nc
                    count[nc] += 1
                else:
                    new_cell[i] = -1
    # offsets of the output, with room for the top-ups
    total = 0
    refills = 0
    for cell in range(hw):
        out_start[cell] = total
        kept = count[cell]
        if 2 * kept < share:
            refills += share - kept
            kept = share
        total += kept
    out_start[hw] = total
    if total > cap:
        return OUT_OF_CAPACITY, total, nn, nu
    if refills * c > normals.shape[0]:
        return OUT_OF_NORMALS, total, refills * c, nu
    for cell in range(hw):
        cursor[cell] = out_start[cell]
    # pass 2: write the kept particles into their pixel's slots
    for y in range(height):
        for x in range(width):
            cell = y * width + x
            u = flow[y, x, 0]
            v = flow[y, x, 1]
            for i in range(start[cell], start[cell + 1]):
                nc = new_cell[i]
                if nc < 0:
                    continue
                j = cursor[nc]
                cursor[nc] = j + 1
                out_x[j] = px[i] + u
                out_y[j] = py[i] + v
                for ch in range(c):
                    out_v[j, ch] = val[i, ch]
    # pass 3: top up sparse pixels with fresh particles
    side = int(math.sqrt(share) + 0.5)
    for cell in range(hw):
        j = cursor[cell]
        end = out_start[cell + 1]
        if j == end:
            continue
        if nu >= uniforms.shape[0]:
            return OUT_OF_UNIFORMS, total, nn, nu
        y = cell // width
        x = cell - y * width
        # on the pixel's side x side sub-lattice (as at the start), from a random point:
        # lattice spacing keeps later pixel counts steady where the region translates
        first = int(uniforms[nu] * share)
        nu += 1
        m = 0
        while j < end:
            q = (first + m) % share
            out_x[j] = x + ((q % side) + 0.5) / side - 0.5
            out_y[j] = y + ((q // side) + 0.5) / side - 0.5
            for ch in range(c):
                out_v[j, ch] = normals[nn]
                nn += 1
            j += 1
            m += 1
    return OK, total, nn, nu
