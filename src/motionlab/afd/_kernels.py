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
    first: int,
    stop: int,
) -> None:  # pragma: no cover - compiled
    """Noise of pixels ``first:stop`` from particles sorted by pixel: pixel c holds particles
    ``start[c]:start[c + 1]`` with values ``val`` (N, C) float32.

    Per pixel: z = sum(values) / sqrt(count) ~ N(0, 1), quantised through the tables of
    :func:`quantize_tables` (``base``/``step`` of shape (C, BINS)) into ``out`` (H*W, C).
    The sum runs over the particles in their stored order, in float32.
    """
    c = val.shape[1]  # 1 (grey) or 3
    bins = base.shape[1]
    scale = bins / (2.0 * Z_RANGE)
    for cell in range(first, stop):
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

# One advection step of particles kept sorted by pixel (pixel c holds start[c]:start[c+1])
# runs as a counting sort in bands of rows, so that bands can run in parallel threads
# with the result of one serial pass whatever the number of bands:
#   thinning_draws  (serial)   uniforms the thinning of crowded pixels takes, per band;
#   move            (bands)    thin, move, find each particle's new pixel, count per band;
#   layout          (serial)   output offsets, refills, each band's write cursors;
#   scatter + refill (bands)   kept particles of source band b to their slots (in source
#                               order, band 0 first, as one serial pass would), then the
#                               fresh particles of the pixels of band b;
#   render          (bands)    the noise frame.
# Random numbers come from pools drawn by the caller's seeded generator (numpy's samplers
# are several times faster than drawing here); each band starts at its offset in the pools.


@numba.njit(cache=True, nogil=True)
def thinning_draws(
    start: np.ndarray, share: int, width: int, rows: np.ndarray, out: np.ndarray
) -> int:  # pragma: no cover - compiled
    """Uniforms the thinning takes: one per particle of a crowded pixel (more than
    2 * share particles). ``rows`` (B + 1,) are the band edges; ``out[b]`` gets the offset of
    band b in the uniform pool. Returns the total."""
    total = 0
    for b in range(rows.shape[0] - 1):
        out[b] = total
        for cell in range(rows[b] * width, rows[b + 1] * width):
            k = start[cell + 1] - start[cell]
            if k > 2 * share:
                total += k
    return total


@numba.njit(cache=True, nogil=True)
def move(
    px: np.ndarray,
    py: np.ndarray,
    start: np.ndarray,
    flow: np.ndarray,
    share: int,
    uniforms: np.ndarray,
    first_uniform: int,
    y0: int,
    y1: int,
    new_cell: np.ndarray,
    count: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Thin, move and bin the particles of rows ``y0:y1``.

    Each particle of a crowded pixel is kept with probability share / count (uniforms from
    ``first_uniform`` on); a kept particle moves by the flow at its pixel. ``new_cell[i]``
    gets its new pixel, -1 if dropped or out of the frame; ``count`` (H*W,) int32 the number
    of this band's particles per new pixel.

    px, py : (N,) float32 positions (pixel centres at integers). flow : (H, W, 2) float32.
    """
    height, width = flow.shape[0], flow.shape[1]
    count[:] = 0
    nu = first_uniform
    for y in range(y0, y1):
        for x in range(width):
            cell = y * width + x
            a, b = start[cell], start[cell + 1]
            k = b - a
            u = flow[y, x, 0]
            v = flow[y, x, 1]
            crowded = k > 2 * share
            keep = share / k if crowded else 0.0
            for i in range(a, b):
                if crowded:
                    r = uniforms[nu]
                    nu += 1
                    if r >= keep:
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


@numba.njit(cache=True, nogil=True)
def layout(
    counts: np.ndarray,
    share: int,
    width: int,
    rows: np.ndarray,
    out_start: np.ndarray,
    kept_end: np.ndarray,
    band_refills: np.ndarray,
) -> tuple[int, int, int]:  # pragma: no cover - compiled
    """Output offsets from the per-band counts (B, H*W) of :func:`move`.

    Pixels left with fewer than share / 2 particles get room for ``share`` (topped up with
    fresh ones). ``out_start`` (H*W + 1,) gets the offsets, ``kept_end`` (H*W,) the end of
    each pixel's kept particles, and ``counts[b]`` is turned into band b's write cursors
    (band 0's particles first in a pixel). ``band_refills`` (B, 2): the refilled pixels and
    fresh particles of the pixels of earlier bands. Returns (particles, fresh particles,
    refilled pixels).
    """
    bands, hw = counts.shape
    total = 0
    refills = 0
    cells = 0
    band = 0
    for cell in range(hw):
        while band < bands and cell == rows[band] * width:
            band_refills[band, 0] = cells
            band_refills[band, 1] = refills
            band += 1
        out_start[cell] = total
        kept = 0
        for b in range(bands):
            k = counts[b, cell]
            counts[b, cell] = total + kept
            kept += k
        kept_end[cell] = total + kept
        if 2 * kept < share:
            refills += share - kept
            cells += 1
            kept = share
        total += kept
    out_start[hw] = total
    return total, refills, cells


@numba.njit(cache=True, nogil=True)
def scatter_refill(
    px: np.ndarray,
    py: np.ndarray,
    val: np.ndarray,
    start: np.ndarray,
    flow: np.ndarray,
    share: int,
    y0: int,
    y1: int,
    new_cell: np.ndarray,
    cursor: np.ndarray,
    out_start: np.ndarray,
    kept_end: np.ndarray,
    normals: np.ndarray,
    first_normal: int,
    uniforms: np.ndarray,
    first_uniform: int,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_v: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Write the kept particles of rows ``y0:y1`` into their slots (``cursor``: this band's
    cursors from :func:`layout`), then top up the pixels of rows ``y0:y1`` with fresh
    particles: on the pixel's sub-lattice, from a random point (lattice spacing keeps later
    pixel counts steady where the region translates), standard-normal values (normals and
    uniforms from ``first_normal`` / ``first_uniform`` on)."""
    width = flow.shape[1]
    c = val.shape[1]
    for y in range(y0, y1):
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
    side = int(math.sqrt(share) + 0.5)
    nn = first_normal
    nu = first_uniform
    for cell in range(y0 * width, y1 * width):
        j = kept_end[cell]
        end = out_start[cell + 1]
        if j == end:
            continue
        y = cell // width
        x = cell - y * width
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
