"""Evaluation of space-time segmentations (thesis ch. 6, Sec. 6.4).

Label volumes are integer arrays of shape ``(T, H, W)``: a tube or supervoxel id per voxel,
0 for "not the object" where that matters. Ground-truth object masks are boolean
``(T, H, W)`` volumes.

* :func:`segmentation_accuracy` (ACC) and :func:`undersegmentation_error` (UE): the 3D
  measures of Xu & Corso (CVPR 2012), as in their LIBSVX benchmark; for STVI output pass
  ``background=0``: only the tubes are supervoxels, "not a tube" is none.
* :func:`temporal_extent` (TEX): mean temporal extent of the tubes, normalised by the video
  length (our reading of Chang et al., CVPR 2013: a tube spanning every frame scores 1).
* :func:`jaccard` (J) and :func:`boundary_f` (F): the DAVIS region and contour measures
  (Perazzi et al., CVPR 2016), F with the DAVIS boundary tolerance of 0.008 x the image
  diagonal, both averaged over frames.
* :func:`mean_tubes` (M): the number of distinct tubes.
* :func:`part_scores` (J_p, F_p, C_p) and :func:`label_inconsistency` (C_p of one part):
  the object-part measures of Sec. 6.4.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from motionlab.errors import MotionlabError

BOUNDARY_TOLERANCE = 0.008
"""DAVIS: boundary pixels match within this fraction of the image diagonal."""


def _check_pair(labels: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    gt = np.asarray(gt)
    if labels.ndim != 3:
        raise MotionlabError(f"labels must be a (T, H, W) volume, got shape {labels.shape}")
    if labels.shape != gt.shape:
        raise MotionlabError(f"labels {labels.shape} and ground truth {gt.shape} differ in shape")
    if not np.issubdtype(labels.dtype, np.integer):
        raise MotionlabError(f"labels must be integer ids, got {labels.dtype}")
    return labels, gt.astype(bool)


def _overlaps(labels: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids, their sizes, and their voxels inside ``gt``."""
    ids, inverse, sizes = np.unique(labels.ravel(), return_inverse=True, return_counts=True)
    inside = np.bincount(inverse, weights=gt.ravel(), minlength=ids.size)
    return ids, sizes, inside


def segmentation_accuracy(
    labels: np.ndarray, gt: np.ndarray, *, background: int | None = None
) -> float:
    """3D segmentation accuracy (ACC) of one ground-truth segment, in [0, 1].

    Every supervoxel is labelled "inside" when at least half of it lies in ``gt``; ACC is
    the fraction of ``gt`` covered by the inside supervoxels (Xu & Corso 2012).

    With ``background`` (0 for STVI output, where only the tubes are supervoxels), voxels
    of that label are no supervoxel and never count as covered: if tubes cover 2 of 12
    object voxels and label 0 the other 10, ACC is 2/12, not 1 (without ``background``
    the 10 voxels of label 0 would form one supervoxel lying mostly inside ``gt``).

    Parameters
    ----------
    labels : (T, H, W) int ndarray
        Supervoxel (tube) ids.
    gt : (T, H, W) bool ndarray
        The ground-truth segment.
    background : int, optional
        The label that is not a supervoxel.

    Examples
    --------
    The case above: one tube (label 1) inside 2 of the 12 object voxels, label 0 the rest.

    >>> gt = np.zeros((1, 3, 6), bool)
    >>> gt[0, 1:3, :] = True                      # 12 object voxels
    >>> labels = np.zeros((1, 3, 6), int)
    >>> labels[0, 1, :2] = 1                      # the tube: 2 of them
    >>> segmentation_accuracy(labels, gt, background=0)
    0.16666666666666666
    >>> segmentation_accuracy(labels, gt)         # label 0 taken as a supervoxel
    1.0
    """
    labels, gt = _check_pair(labels, gt)
    total = gt.sum()
    if total == 0:
        raise MotionlabError("ground truth is empty: ACC is undefined")
    ids, sizes, inside = _overlaps(labels, gt)
    counted = inside * 2 >= sizes
    if background is not None:
        counted &= ids != background
    return float(inside[counted].sum() / total)


def undersegmentation_error(
    labels: np.ndarray, gt: np.ndarray, *, background: int | None = None
) -> float:
    """3D undersegmentation error (UE) of one ground-truth segment, >= 0.

    (total volume of the supervoxels that touch ``gt`` - volume of ``gt``) / volume of
    ``gt`` (Xu & Corso 2012): how much the supervoxels leak out of the segment.

    With ``background`` (e.g. 0 for STVI output, where only the tubes are supervoxels),
    voxels of that label are no supervoxel and the leak is counted directly,
    sum over touching tubes of |tube outside gt| / |gt|: the same number when the
    supervoxels tile the video, and never negative when the tubes cover only part of
    ``gt`` (our reading for tube sets that do not tile the video).
    """
    labels, gt = _check_pair(labels, gt)
    total = gt.sum()
    if total == 0:
        raise MotionlabError("ground truth is empty: UE is undefined")
    ids, sizes, inside = _overlaps(labels, gt)
    touching = inside > 0
    if background is not None:
        touching &= ids != background
    return float((sizes[touching] - inside[touching]).sum() / total)


def temporal_extent(labels: np.ndarray, *, background: int | None = 0) -> float:
    """Normalised temporal extent (TEX): mean over tubes of (frames the tube spans, from its
    first to its last frame) / (frames of the video), in (0, 1]. ``background`` is ignored."""
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise MotionlabError(f"labels must be a (T, H, W) volume, got shape {labels.shape}")
    t = labels.shape[0]
    extents = []
    for tube in np.unique(labels):
        if background is not None and tube == background:
            continue
        frames = np.flatnonzero((labels == tube).any(axis=(1, 2)))
        extents.append((frames[-1] - frames[0] + 1) / t)
    if not extents:
        raise MotionlabError("no tubes: TEX is undefined")
    return float(np.mean(extents))


def mean_tubes(labels: np.ndarray, *, background: int | None = 0) -> int:
    """Number of distinct tubes (M), ``background`` not counted."""
    ids = np.unique(np.asarray(labels))
    return int(ids.size - (background is not None and background in ids))


def jaccard(mask: np.ndarray, gt: np.ndarray) -> float:
    """Region similarity J: intersection over union per frame, averaged over frames.

    A frame where both masks are empty scores 1 (DAVIS convention).

    >>> a = np.zeros((2, 4, 4), bool); a[:, :2] = True      # top half
    >>> b = np.zeros((2, 4, 4), bool); b[0, :, :2] = True   # left half, frame 0 only
    >>> jaccard(a, b)  # frame 0: 4 / 12; frame 1: 0 / 8
    0.16666666666666666
    """
    mask, gt = _check_pair(np.asarray(mask).astype(np.int8), gt)
    mask = mask.astype(bool)
    inter = (mask & gt).sum(axis=(1, 2))
    union = (mask | gt).sum(axis=(1, 2))
    per_frame = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(per_frame.mean())


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary of a 2-D mask, as DAVIS's ``seg2bmap`` at equal size: pixels that
    differ from their right, lower or lower-right neighbour; the last row compares only to
    the right, the last column only downwards, so the image border is not a boundary."""
    seg = np.asarray(mask, bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    b[-1, :] = seg[-1, :] ^ east[-1, :]
    b[:, -1] = seg[:, -1] ^ south[:, -1]
    b[-1, -1] = False
    return b


def _disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def boundary_f_frame(
    mask: np.ndarray, gt: np.ndarray, *, tolerance: float = BOUNDARY_TOLERANCE
) -> float:
    """Contour accuracy F of one frame: F-measure of boundary precision and recall, a
    boundary pixel matching when the other boundary lies within
    ``ceil(tolerance * diagonal)`` pixels (DAVIS)."""
    h, w = gt.shape
    radius = math.ceil(tolerance * math.hypot(h, w))
    bm, bg = boundary_map(mask), boundary_map(gt)
    if not bm.any() and not bg.any():
        return 1.0
    if not bm.any() or not bg.any():
        return 0.0
    disk = _disk(radius)
    precision = (bm & ndimage.binary_dilation(bg, disk)).sum() / bm.sum()
    recall = (bg & ndimage.binary_dilation(bm, disk)).sum() / bg.sum()
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def boundary_f(mask: np.ndarray, gt: np.ndarray, *, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """Contour accuracy F of ``(T, H, W)`` masks, averaged over frames."""
    mask, gt = _check_pair(np.asarray(mask).astype(np.int8), gt)
    return float(
        np.mean(
            [
                boundary_f_frame(m != 0, g, tolerance=tolerance)
                for m, g in zip(mask, gt, strict=True)
            ]
        )
    )


PART_OVERLAP = 0.3
"""A tube models a ground-truth part when this fraction of the tube lies in the part."""


def part_assignment(
    labels: np.ndarray, parts: np.ndarray, *, overlap: float = PART_OVERLAP
) -> dict[int, list[int]]:
    """Which tubes model which ground-truth part.

    A tube (label > 0) models part p (part id > 0) when at least ``overlap`` of the tube's
    voxels lie in p (our reading of "overlap >= 30 %": measured on the tube, so several
    small tubes can model one large part, which the part scores then penalise).

    Returns
    -------
    dict
        Part id -> sorted tube ids (possibly empty), for every part present in ``parts``.
    """
    labels, _ = _check_pair(labels, parts)
    parts = np.asarray(parts)
    out: dict[int, list[int]] = {int(p): [] for p in np.unique(parts) if p > 0}
    for tube in np.unique(labels):
        if tube <= 0:
            continue
        in_tube = labels == tube
        size = in_tube.sum()
        ids, counts = np.unique(parts[in_tube], return_counts=True)
        for p, c in zip(ids, counts, strict=True):
            if p > 0 and c >= overlap * size:
                out[int(p)].append(int(tube))
    return out


def label_inconsistency(
    labels: np.ndarray, part: np.ndarray, *, background: int | None = 0
) -> float:
    """Label inconsistency C_p of one ground-truth part (thesis Sec. 6.4), in [0, 2].

    In every frame t where the part is visible, the label distribution is the fraction of
    the part's area in that frame covered by each tube l, ``d_t(l) = |part_t & label l| /
    |part_t|``. With ``d_bar(l)`` its mean over those frames, C_p accumulates the absolute
    deviations over labels and frames and normalises by the number of frames::

        C_p = (1 / T_p) * sum_t sum_l |d_t(l) - d_bar(l)|

    (T_p: frames where the part is visible). A part covered by the same tubes in the same
    proportions in every frame (e.g. two tubes 50/50) scores 0; one that switches from tube
    A to tube B half way scores 1 (each frame deviates by 0.5 in A and 0.5 in B). Our
    reading: "accumulating the absolute deviation" sums over labels as well as frames, so
    a complete switch counts 1 per frame (half of that, 0.5, would be the total variation
    distance); the fractions are of the part's area in each frame ("the percentage of the
    area of a given label in each frame"), and the mean distribution is the plain mean
    over frames. ``background`` (not a tube) is no label: the part's area it covers
    belongs to no distribution entry, so a part that loses its only tube half way scores
    0.5, and a part no tube ever covers scores 0 (J_p and F_p penalise that).

    Parameters
    ----------
    labels : (T, H, W) int ndarray
        Tube ids.
    part : (T, H, W) bool ndarray
        The ground-truth part.
    background : int, optional
        The label that is not a tube (default 0).
    """
    labels, part = _check_pair(labels, part)
    visible = np.flatnonzero(part.any(axis=(1, 2)))
    if visible.size == 0:
        raise MotionlabError("the part is never visible: C_p is undefined")
    ids = np.unique(labels[part])
    if background is not None:
        ids = ids[ids != background]
    if ids.size == 0:
        return 0.0
    dist = np.zeros((visible.size, ids.size))
    for row, t in enumerate(visible):
        lab = labels[t][part[t]]
        dist[row] = (lab[:, None] == ids[None, :]).sum(axis=0) / lab.size
    return float(np.abs(dist - dist.mean(axis=0)).sum() / visible.size)


def part_scores(
    labels: np.ndarray,
    parts: np.ndarray,
    *,
    overlap: float = PART_OVERLAP,
    tolerance: float = BOUNDARY_TOLERANCE,
) -> dict[str, float]:
    """Part measures J_p, F_p and label inconsistency C_p (thesis Sec. 6.4).

    For each ground-truth part p with n_p tubes modelling it (:func:`part_assignment`),
    J_p(p) = J(union of its tubes, p) / n_p and F_p(p) likewise with the boundary F
    (0 when no tube models p): the scores are normalised by the number of tubes per part,
    so one tube per part is best. C_p(p) is :func:`label_inconsistency`: the absolute
    deviation of each frame's label distribution over p from p's mean distribution,
    summed over labels and frames, divided by the frames where p is visible (0 = p is
    split among the same tubes in the same proportions throughout). All three are
    averaged over parts.

    Parameters
    ----------
    labels : (T, H, W) int ndarray
        Tube ids, 0 = not the object.
    parts : (T, H, W) int ndarray
        Ground-truth part ids, 0 = no part.
    """
    labels, _ = _check_pair(labels, parts)
    parts = np.asarray(parts)
    assignment = part_assignment(labels, parts, overlap=overlap)
    if not assignment:
        raise MotionlabError("ground truth has no parts: part scores are undefined")
    j_scores, f_scores, c_scores = [], [], []
    for p, tubes in assignment.items():
        gt = parts == p
        if tubes:
            model = np.isin(labels, tubes)
            j_scores.append(jaccard(model, gt) / len(tubes))
            f_scores.append(boundary_f(model, gt, tolerance=tolerance) / len(tubes))
        else:
            j_scores.append(0.0)
            f_scores.append(0.0)
        c_scores.append(label_inconsistency(labels, gt, background=0))
    return {
        "J_p": float(np.mean(j_scores)),
        "F_p": float(np.mean(f_scores)),
        "C_p": float(np.mean(c_scores)),
    }
