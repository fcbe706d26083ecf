"""3D SLIC over a feature volume (thesis Sec. 6.3, step 6).

SLIC (Achanta et al., TPAMI 2012) is k-means whose clusters only look for voxels in a
window of twice the initial grid step around their centre. Here it runs on a space-time
volume whose voxels carry the feature vector phi = (alpha*(x, y, t), features), with the
squared Euclidean distance in that space: alpha weighs position against the appearance
and motion channels, exactly the phi of eq. 6.4. scikit-image's ``slic`` rescales all
channels together to [0, 1] and ties the position weight to its own grid step, which
would hide alpha and beta, so the kernel is ours (numba, parallel over frames). As in the
thesis no connectivity is enforced: a tube may be split in space or time.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from motionlab.errors import MotionlabError


def grid_shape(
    shape: tuple[int, int, int], k: int, *, max_spread: float = 2.0
) -> tuple[int, int, int]:
    """Cells ``(nt, ny, nx)`` of the initial grid of a ``(T, H, W)`` volume: at most ``k``
    in all; as many as possible among grids whose cells are no more than ``max_spread``
    times longer in one dimension than in another (the most cube-like grid if none is)."""
    if k < 1:
        raise MotionlabError(f"need at least one tube, got k={k}")
    candidates = []
    # every (nt, ny, nx) with nt * ny * nx <= k, in lexicographic order (ties resolve as
    # over the full product of range(1, k + 1)), without visiting the k^3 - many others
    for nt in range(1, min(k, shape[0]) + 1):
        for ny in range(1, min(k // nt, shape[1]) + 1):
            for nx in range(1, min(k // (nt * ny), shape[2]) + 1):
                n = (nt, ny, nx)
                steps = [s / ni for s, ni in zip(shape, n, strict=True)]
                candidates.append((max(steps) / min(steps), nt * ny * nx, n))
    good = [c for c in candidates if c[0] <= max_spread]
    if good:
        return max(good, key=lambda c: (c[1], -c[0]))[2]
    return min(candidates, key=lambda c: (c[0], -c[1]))[2]


@numba.njit(cache=True, inline="always")
def _distance(
    feats: np.ndarray, t: int, y: int, x: int, centres: np.ndarray, j: int, a2: float
) -> float:
    """Squared phi distance of voxel (t, y, x) to centre j (``a2`` = alpha squared)."""
    dt = t - centres[j, 0]
    dy = y - centres[j, 1]
    dx = x - centres[j, 2]
    d = a2 * (dt * dt + dy * dy + dx * dx)
    for ch in range(feats.shape[3]):
        e = feats[t, y, x, ch] - centres[j, 3 + ch]
        d += e * e
    return d


@numba.njit(cache=True)
def _nearest_of_all(
    feats: np.ndarray, t: int, y: int, x: int, centres: np.ndarray, alive: np.ndarray, a2: float
) -> int:
    """Index of the live centre nearest to voxel (t, y, x) in phi (-1 if none lives)."""
    best = np.inf
    best_j = -1
    for j in range(centres.shape[0]):
        if alive[j]:
            d = _distance(feats, t, y, x, centres, j, a2)
            if d < best:
                best = d
                best_j = j
    return best_j


@numba.njit(parallel=True, cache=True)
def _assign(
    feats: np.ndarray,
    valid: np.ndarray,
    centres: np.ndarray,
    alive: np.ndarray,
    alpha: float,
    window: np.ndarray,
    labels: np.ndarray,
) -> int:
    """Label every valid voxel with its nearest centre among those whose window reaches
    it (or of all centres when none does); returns how many labels changed.

    The candidates are narrowed per frame, then per row, to the centres whose window
    reaches them, so a voxel compares a handful of centres instead of all k (the same
    candidates, in the same order, as testing every centre's window: identical labels).
    """
    t_n, h, w = feats.shape[:3]
    k = centres.shape[0]
    changed = np.zeros(t_n, np.int64)
    a2 = alpha * alpha
    for t in numba.prange(t_n):
        in_t = np.empty(k, np.int64)
        n_t = 0
        for j in range(k):
            if alive[j] and abs(t - centres[j, 0]) <= window[0]:
                in_t[n_t] = j
                n_t += 1
        in_row = np.empty(k, np.int64)
        for y in range(h):
            n_row = 0
            for i in range(n_t):
                j = in_t[i]
                if abs(y - centres[j, 1]) <= window[1]:
                    in_row[n_row] = j
                    n_row += 1
            for x in range(w):
                if not valid[t, y, x]:
                    continue
                best = np.inf
                best_j = -1
                for i in range(n_row):
                    j = in_row[i]
                    if abs(x - centres[j, 2]) > window[2]:
                        continue
                    d = _distance(feats, t, y, x, centres, j, a2)
                    if d < best:
                        best = d
                        best_j = j
                if best_j < 0:  # no window reaches this voxel: nearest centre of all
                    best_j = _nearest_of_all(feats, t, y, x, centres, alive, a2)
                if labels[t, y, x] != best_j:
                    changed[t] += 1
                    labels[t, y, x] = best_j
    return int(changed.sum())


@numba.njit(parallel=True, cache=True)
def _update(feats: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    t_n, h, w, c_n = feats.shape
    sums = np.zeros((t_n, k, 3 + c_n))
    counts = np.zeros((t_n, k))
    for t in numba.prange(t_n):
        for y in range(h):
            for x in range(w):
                j = labels[t, y, x]
                if j < 0:
                    continue
                counts[t, j] += 1
                sums[t, j, 0] += t
                sums[t, j, 1] += y
                sums[t, j, 2] += x
                for ch in range(c_n):
                    sums[t, j, 3 + ch] += feats[t, y, x, ch]
    return sums.sum(axis=0), counts.sum(axis=0)


def slic3d(
    features: np.ndarray,
    k: int,
    *,
    alpha: float,
    valid: np.ndarray | None = None,
    max_iter: int = 10,
) -> np.ndarray:
    """Cluster a ``(T, H, W, C)`` float feature volume into at most ``k`` supervoxels.

    Parameters
    ----------
    features : (T, H, W, C) float ndarray
        Per-voxel features, already weighted (e.g. Lab and beta * flow).
    k : int
        Upper bound on the number of clusters (the initial grid has at most k cells;
        clusters that lose all their voxels vanish).
    alpha : float
        Weight of the voxel position (x, y in pixels, t in frames) in the distance.
    valid : (T, H, W) bool ndarray, optional
        Voxels to cluster; the others get label -1 (e.g. padding outside the frame).
    max_iter : int
        k-means iterations (SLIC's usual 10); stops early when no label changes.

    Returns
    -------
    (T, H, W) int32 ndarray
        Cluster ids 0..k-1 (not necessarily all used), -1 where not ``valid``.
    """
    feats = np.ascontiguousarray(features, np.float32)
    if feats.ndim != 4:
        raise MotionlabError(f"features must be (T, H, W, C), got shape {feats.shape}")
    shape = feats.shape[:3]
    valid = np.ones(shape, bool) if valid is None else np.ascontiguousarray(valid, bool)
    if valid.shape != shape:
        raise MotionlabError(f"valid mask {valid.shape} does not match features {shape}")
    if not valid.any():
        raise MotionlabError("no valid voxel to cluster")
    grid = grid_shape(shape, k)
    steps = np.array([s / n for s, n in zip(shape, grid, strict=True)])
    # initial centres: the mean position and features of each grid cell's valid voxels
    labels = np.full(shape, -1, np.int32)
    cell = [
        np.minimum((np.arange(s) / st).astype(int), n - 1)
        for s, st, n in zip(shape, steps, grid, strict=True)
    ]
    ids = (cell[0][:, None, None] * grid[1] + cell[1][None, :, None]) * grid[2] + cell[2][
        None, None, :
    ]
    labels[valid] = ids[valid]
    n_cells = math.prod(grid)
    sums, counts = _update(feats, labels, n_cells)
    alive = counts > 0
    centres = np.where(alive[:, None], sums / np.maximum(counts, 1)[:, None], 0.0)
    window = steps.astype(np.float64)  # SLIC: a 2S window centred on the cluster
    labels[:] = -1
    for _ in range(max_iter):
        changed = _assign(feats, valid, centres, alive, float(alpha), window, labels)
        sums, counts = _update(feats, labels, n_cells)
        alive = counts > 0
        centres = np.where(alive[:, None], sums / np.maximum(counts, 1)[:, None], centres)
        if changed == 0:
            break
    return labels


def cluster_means(
    features: np.ndarray, labels: np.ndarray, k: int, *, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the clusters of :func:`slic3d` in phi, and their voxel counts.

    Returns
    -------
    centres : (k, 3 + C) float64 ndarray
        ``(alpha * (t, y, x), features)`` averaged over each cluster's voxels (zero for
        empty clusters): the point SLIC's distance is measured from.
    counts : (k,) float64 ndarray
    """
    feats = np.ascontiguousarray(features, np.float32)
    sums, counts = _update(feats, np.ascontiguousarray(labels, np.int32), k)
    centres = sums / np.maximum(counts, 1)[:, None]
    centres[:, :3] *= alpha
    return centres, counts
