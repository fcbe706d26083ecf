"""Object-part tubes: the STVI pipeline of thesis Sec. 6.3 on a whole clip.

anchors -> boxes tracked by flow -> object-centred sub-volume -> background motion
cancelled (eq. 6.1) -> phi = (alpha (x, y, t), L, a, b, beta (F^u, F^v)) (eq. 6.4) smoothed
in Gaussian scale space (eqs. 6.2-6.3) -> 3D SLIC, at most k tubes -> keep the tubes whose
volumetric overlap with the anchor masks exceeds omega.

The clip is held in memory (frames, one flow per pair, the sub-volume's features): a 480p
DAVIS sequence of 80 frames needs well under 2 GB (``benchmarks/stvi_davis.py`` measures).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.stvi.anchors import STVIInputError, check_anchors
from motionlab.stvi.colour_model import colour_corrected_masks
from motionlab.stvi.features import (
    ScaleParameters,
    auto_parameters,
    cancel_background_motion,
    lab_volume,
    scale_space,
)
from motionlab.stvi.slic3d import cluster_means, slic3d
from motionlab.stvi.tracking import (
    TAIL_FLOOR,
    carried_masks,
    crop,
    flow_carried_masks,
    object_windows,
    track_boxes,
    uncrop,
)

log = logging.getLogger(__name__)

CLUSTERS_PER_TUBE = 3
"""The automatic SLIC cluster count aims at this many clusters on the object per tube."""
CLUSTER_CAP = 12
"""The automatic SLIC cluster count is at most this many times ``k``."""
OMEGA = 0.7
"""The thesis's omega: a cluster is kept when more than this share of its voxels in the
anchor frames lies inside the anchor masks."""
OMEGA_CARRIED = 0.8
"""omega for the mean of the anchor-frame overlap and the flow-carried overlap, with the
carried mask as a feature (``MASK_WEIGHT``). Issue 16: the best mean J among the omegas
that meet every target of the issue (J >= 0.66, F >= 0.68, UE <= 0.05, TEX >= 0.90) over
all 15 shared DAVIS sequences, the issue's "re-tune only on the shared sequences"
(docs/stvi.md, "omega on all 15 shared sequences"; leave-one-sequence-out estimate of
that choice: J 0.779, F 0.797, UE 0.055). Earlier stops chose on ten of them: 0.6 before
the feature, 0.75 before the backward flow, 0.8 while the mask channel was smoothed, 0.9
with the full-resolution flow, 0.85 with the colour-corrected carried masks, 0.75 with
the frames matched to their anchor frames."""
MASK_WEIGHT = 50.0
"""gamma: weight of the flow-carried anchor mask as a feature channel, in Lab units (a
pixel inside the carried mask differs from one outside by gamma, as if by gamma in L).
Issue 16: chosen on the ten tuning DAVIS sequences (docs/stvi.md, "The carried mask as a
feature", "Backward flow" and "Flow at full resolution"; 25 before the backward flow,
37.5 before the full-resolution flow)."""
MARGIN = 0.15
"""Default margin of the sub-volume around the largest box, a fraction of its size on
each side (issue 16; 0 until then)."""


@dataclass(frozen=True)
class STVIParams:
    """Parameters of the pipeline; ``None`` means automatic (step 8).

    k : the thesis's SLIC cluster count over the sub-volume (default 15): the object gets
        :func:`tube_count` = round(k f) tubes, at most ``k`` (f: its share of the
        sub-volume in the anchor frames).
    clusters : SLIC clusters over the whole sub-volume; ``None`` (default) = enough that
        about ``CLUSTERS_PER_TUBE * k`` of them fall on the object, ``3k / f`` with ``f`` the
        object's share of the sub-volume in the anchor frames, at most ``CLUSTER_CAP * k``
        (see :func:`cluster_count`); the kept ones are merged into round(k f) tubes.
        ``clusters=k`` is the literal reading of step 6.
    omega : a cluster is kept when its overlap exceeds this; ``None`` (default): ``OMEGA``
        = 0.7 (the thesis's) when clusters are judged in the anchor frames alone,
        ``OMEGA_CARRIED`` = 0.8 when they are judged with the carried masks (``carried``).
    sigma, tau, alpha, beta : scale-space and feature weights (see
        :mod:`motionlab.stvi.features`).
    margin : the sub-volume is the largest box grown by this fraction on each side
        (default ``MARGIN``; 0 is the thesis's "padded to fit the dimensions of the
        largest ROI"). The tracked boxes keep their anchor's size between anchors and
        after the last one, so an object that grows or is tracked late leaves a window
        of exactly the largest box (6 % of the object's voxels on the 15 DAVIS
        sequences); see docs/stvi.md.
    carried : with the automatic cluster count, judge each cluster by the mean of its
        overlap in the anchor frames and its overlap, over all its frames, with the
        anchor masks carried along the flow (:func:`flow_carried_masks`; issue 16,
        docs/stvi.md: J, F, ACC and UE all better on the tuning split); ``False``: the
        anchor frames alone, as step 7 reads. Only with the automatic cluster count
        (``clusters=None``).
    mask_weight : gamma, the weight of one more feature channel, ``gamma * m`` with ``m`` in
        [0, 1] the anchor masks carried along the flow, in Lab units (default
        ``MASK_WEIGHT``; not smoothed in the scale space). Our addition (issue
        16): colour and motion alone let clusters straddle the object's outline where
        object and background look or move alike; the carried mask tells SLIC where the
        anchors put the outline. Used only where the carried masks are (``carried`` and
        the automatic cluster count); 0 gives the thesis's eq. 6.4.
    colour : correct the carried masks (both as the feature and as the judge) with the
        anchors' colour models (:func:`motionlab.stvi.colour_model.colour_corrected_masks`;
        our addition, issue 16: the flow alone loses thin and fast parts between anchors).
        Only where the carried masks are used.
    match_anchor : carry the anchor masks with each frame also matched to its anchor
        frame directly (:func:`motionlab.stvi.tracking.match_to_anchor`; our addition,
        issue 16: composed flow drifts over the frames between anchors). Only where the
        carried masks are used.
    tail_floor : after the last anchor, the carried mask times ``max(share, tail_floor)``,
        ``share`` the part of its path that passed the forward-backward check (default
        ``TAIL_FLOOR``; 1: as carried). Our addition (issue 16): after the last anchor no
        other side decides, and a path that crossed inconsistent flow carries the mask
        onto the background. Only where the carried masks are used.
    max_iter : SLIC iterations.
    """

    k: int = 15
    clusters: int | None = None
    omega: float | None = None
    sigma: float | None = None
    tau: float | None = None
    alpha: float | None = None
    beta: float | None = None
    margin: float = MARGIN
    carried: bool = True
    mask_weight: float = MASK_WEIGHT
    colour: bool = True
    match_anchor: bool = True
    tail_floor: float = TAIL_FLOOR
    max_iter: int = 10

    @property
    def judges_carried(self) -> bool:
        """Whether clusters are judged with the flow-carried masks too."""
        return self.clusters is None and self.carried

    @property
    def threshold(self) -> float:
        """The omega in use: ``omega``, or its default for the way clusters are judged."""
        if self.omega is not None:
            return self.omega
        return OMEGA_CARRIED if self.judges_carried else OMEGA

    @property
    def corrects_colour(self) -> bool:
        """Whether the carried masks are corrected by the anchors' colour models."""
        return self.judges_carried and self.colour

    @property
    def matches_anchor(self) -> bool:
        """Whether the carried masks are matched to their anchor frames against drift."""
        return self.judges_carried and self.match_anchor

    @property
    def mask_feature_weight(self) -> float:
        """The gamma in use: ``mask_weight`` with the carried masks, else 0 (eq. 6.4)."""
        return self.mask_weight if self.judges_carried else 0.0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise MotionlabError(f"k must be >= 1, got {self.k}")
        if self.clusters is not None and self.clusters < 1:
            raise MotionlabError(f"clusters must be >= 1, got {self.clusters}")
        if self.omega is not None and not 0 <= self.omega < 1:
            raise MotionlabError(f"omega must be in [0, 1), got {self.omega}")
        if self.margin < 0:
            raise MotionlabError(f"margin must be >= 0, got {self.margin}")
        if not 0 <= self.tail_floor <= 1:
            raise MotionlabError(f"tail_floor must be in [0, 1], got {self.tail_floor}")
        for name in ("sigma", "tau", "alpha", "beta", "mask_weight"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise MotionlabError(f"{name} must be >= 0, got {value}")


@dataclass
class STVIResult:
    """What :func:`stvi` found.

    labels : (T, H, W) int32 -- tube id per pixel, 0 = not the object; the kept tubes are
        numbered 1..M in order of size, the same id in every frame.
    supervoxels : (T, H, W) int32 -- every SLIC cluster before selection (-1 outside the
        sub-volume), for pictures and diagnostics.
    boxes : (T, 4) float -- the tracked box per frame.
    origins : (T, 2) int, size (w, h) -- the sub-volume's window per frame.
    scales : the sigma, tau, alpha, beta used.
    overlaps : cluster id -> overlap with the anchor masks (NaN: not in any anchor frame).
    clusters : how many SLIC clusters were spread over the sub-volume.
    """

    labels: np.ndarray
    supervoxels: np.ndarray
    boxes: np.ndarray
    origins: np.ndarray
    size: tuple[int, int]
    scales: ScaleParameters
    anchors: list[int]
    overlaps: dict[int, float] = field(default_factory=dict)
    clusters: int = 0

    @property
    def mask(self) -> np.ndarray:
        """The object mask, ``(T, H, W)`` bool: union of the kept tubes."""
        return self.labels > 0

    def summary(self) -> dict[str, Any]:
        return {
            "tubes": int(self.labels.max()),
            "anchors": self.anchors,
            "window": list(self.size),
            "clusters": self.clusters,
            **asdict(self.scales),
        }


def select_tubes(
    labels: np.ndarray,
    anchors: dict[int, np.ndarray],
    omega: float,
    fallback: dict[int, np.ndarray] | None = None,
    carried: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[int, float]]:
    """Step 7: keep the clusters whose overlap with the anchor masks exceeds ``omega``.

    The overlap of a cluster is (its voxels inside the anchor masks) / (its voxels in
    anchor frames): the masks only exist there. A cluster that touches no anchor frame
    cannot be judged: without ``fallback`` it is dropped (the literal step 7); with it, its
    overlap is measured against ``fallback`` (frame index -> estimated mask, e.g. the
    nearest anchor's mask moved with the tracked box, :func:`carried_masks`) over all its
    frames. With ``carried``, a cluster's overlap is the mean of that overlap and its
    overlap with ``carried`` over all its voxels (the sum of ``carried`` over them divided
    by their number).

    Parameters
    ----------
    labels : (T, H, W) int ndarray
        Cluster ids in frame coordinates; negative ids are ignored.
    anchors : dict
        Frame index -> bool ``(H, W)`` mask.
    omega : float
    fallback : dict, optional
        Frame index -> bool ``(H, W)`` mask for every frame.
    carried : (T, H, W) float ndarray, optional
        The object's probability in every frame, e.g. the anchor masks carried along the
        flow (:func:`motionlab.stvi.tracking.flow_carried_masks`).

    Returns
    -------
    tubes : (T, H, W) int32 ndarray
        Kept clusters renumbered 1..M by decreasing volume, 0 elsewhere.
    overlaps : dict
        Cluster id -> overlap (NaN for clusters that could not be judged).
    """
    labels = np.asarray(labels)
    n = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0

    def overlap_counts(masks: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        inside, seen = np.zeros(n), np.zeros(n)
        for t, mask in masks.items():
            lab = labels[t]
            ok = lab >= 0
            seen += np.bincount(lab[ok], minlength=n)[:n]
            inside += np.bincount(lab[ok & mask], minlength=n)[:n]
        return inside, seen

    inside, in_anchor_frames = overlap_counts(anchors)
    valid = labels >= 0
    ids = labels[valid]  # every voxel's cluster, once (volume and carried mass)
    volume = np.bincount(ids, minlength=n)[:n]
    unjudged = (volume > 0) & (in_anchor_frames == 0)
    if fallback is not None and unjudged.any():
        f_inside, f_seen = overlap_counts(fallback)
        inside[unjudged], in_anchor_frames[unjudged] = f_inside[unjudged], f_seen[unjudged]
    overlaps = {
        j: (float(inside[j] / in_anchor_frames[j]) if in_anchor_frames[j] else float("nan"))
        for j in range(n)
        if volume[j]
    }
    if carried is not None:
        mass = np.bincount(ids, weights=carried[valid], minlength=n)[:n]
        overlaps = {j: (o + float(mass[j] / volume[j])) / 2 for j, o in overlaps.items()}
    kept = [j for j, o in overlaps.items() if o > omega]
    kept.sort(key=lambda j: -volume[j])
    lut = np.zeros(n + 1, np.int32)  # index 0 <- label -1
    for new, j in enumerate(kept, start=1):
        lut[j + 1] = new
    return lut[labels + 1], overlaps


def cluster_count(
    k: int, object_share: float, per_tube: int = CLUSTERS_PER_TUBE, cap: int = CLUSTER_CAP
) -> int:
    """How many SLIC clusters to spread over the sub-volume so that about ``per_tube * k``
    fall on the object: ``ceil(per_tube * k / object_share)``, between ``k`` and
    ``cap * k``. Tube selection then keeps the clusters on the object and
    :func:`limit_tubes` merges them into :func:`tube_count` (at most ``k``) tubes.

    Deliberate deviation from the thesis (step 6 runs SLIC with ``k`` clusters over the
    sub-volume), for two reasons measured on the 15 DAVIS 2016 sequences (docs/stvi.md):

    * the sub-volume is padded to the largest box, so a thin or small object (a cyclist, a
      running dog) fills a small share of it: with ``k`` clusters most of them lie on
      background and the object gets one to three tubes, too few to be split into parts
      (about ``k`` on the object: mean J 0.49 -> 0.56);
    * clusters as large as a tube straddle the object's outline; selecting finer clusters
      and merging them follows it more closely (3 per tube: J 0.56 -> 0.59; the best
      possible selection of the clusters 0.62 -> 0.68).

    ``clusters=k`` in :class:`STVIParams` restores the literal reading. ``object_share`` is
    the fraction of the sub-volume's valid voxels of the anchor frames that lie inside the
    anchor masks, in (0, 1].
    """
    if not object_share > 0:
        return k * cap
    return int(min(max(math.ceil(per_tube * k / object_share), k), cap * k))


def tube_count(k: int, object_share: float) -> int:
    """How many tubes the kept clusters are merged into: ``k * object_share`` rounded half
    up, ``floor(k f + 1/2)``, between 1 and ``k``.

    The thesis spreads ``k`` SLIC clusters over the sub-volume (step 6), so the object,
    a share ``f`` of it, gets about ``k f`` of them as tubes (Table 6.3: M = 3.7 tubes
    per DAVIS video with k = 15). We spread finer clusters (:func:`cluster_count`) for
    their boundaries and merge the kept ones back to that many tubes, so k keeps the
    meaning it has in the text: the number of tubes of the whole sub-volume. Merging
    does not change the union of the tubes (J, F); longer merged tubes raise TEX.
    ``object_share`` is the fraction of the sub-volume's valid voxels of the anchor
    frames inside the anchor masks, in [0, 1].
    """
    return int(min(max(math.floor(k * object_share + 0.5), 1), k))


def limit_tubes(tubes: np.ndarray, k: int, descriptors: np.ndarray) -> np.ndarray:
    """At most ``k`` tubes: while there are more, merge the two whose union is most
    homogeneous in phi (Ward's criterion: the pair with the least increase of the summed
    squared distances to their mean, ``n_i n_j / (n_i + n_j) |mu_i - mu_j|^2``).

    Parameters
    ----------
    tubes : (T, H, W) int ndarray
        Tube ids 1..m, 0 = not the object.
    k : int
        At most this many tubes are returned.
    descriptors : (m + 1, D) float ndarray
        Mean phi of each tube (row 0 unused), e.g. SLIC's centres averaged by volume.

    Returns
    -------
    (T, H, W) int32 ndarray
        Merged tubes numbered 1..min(m, k) by decreasing volume (``tubes`` itself when
        there are at most ``k``).
    """
    m = int(tubes.max())
    if m <= k:
        return tubes
    volume = np.bincount(tubes.ravel(), minlength=m + 1)[1 : m + 1].astype(float)
    mean = np.asarray(descriptors, float)[1 : m + 1].copy()
    group = np.arange(m)  # tube i + 1 belongs to group group[i]
    alive = volume > 0
    while alive.sum() > k:
        ids = np.flatnonzero(alive)
        n, mu = volume[ids], mean[ids]
        cost = (n[:, None] * n[None, :] / (n[:, None] + n[None, :])) * (
            (mu[:, None, :] - mu[None, :, :]) ** 2
        ).sum(-1)
        np.fill_diagonal(cost, np.inf)
        a, b = np.unravel_index(np.argmin(cost), cost.shape)
        i, j = ids[min(a, b)], ids[max(a, b)]  # j joins i
        mean[i] = (volume[i] * mean[i] + volume[j] * mean[j]) / (volume[i] + volume[j])
        volume[i] += volume[j]
        alive[j] = False
        group[group == j] = i
    order = sorted(np.flatnonzero(alive), key=lambda g: -volume[g])
    new_id = np.zeros(m, np.int32)
    for rank, g in enumerate(order, start=1):
        new_id[g] = rank
    lut = np.zeros(m + 1, np.int32)
    lut[1:] = new_id[group]
    return lut[tubes]


def tube_descriptors(
    tubes: np.ndarray, supervoxels: np.ndarray, centres: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Mean phi of each tube, ``(m + 1, D)``: the SLIC centres ``(n, D)`` of its clusters
    averaged by their voxel ``counts`` ``(n,)`` (``supervoxels`` gives each voxel's
    cluster, ``tubes`` its tube; row 0 is zero)."""
    m = int(tubes.max())
    inside = tubes > 0
    n = centres.shape[0]
    # every voxel of a kept cluster is in the same tube: read the tube of each cluster
    tube_of = np.zeros(n, np.int64)
    tube_of[supervoxels[inside]] = tubes[inside]
    out = np.zeros((m + 1, centres.shape[1]))
    weight = np.zeros(m + 1)
    np.add.at(out, tube_of, centres * counts[:, None])
    np.add.at(weight, tube_of, counts)
    out[1:] /= np.maximum(weight[1:], 1e-12)[:, None]
    out[0] = 0
    return out


def _check_inputs(
    frames: np.ndarray,
    anchors: dict[int, np.ndarray],
    flows: np.ndarray | None,
    backward_flows: np.ndarray | None = None,
) -> None:
    """Raise :class:`STVIInputError` (a ``ValueError``) for input STVI cannot run on."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise STVIInputError(
            f"frames must be (T, H, W, 3) uint8, got {frames.dtype} {frames.shape}"
        )
    t, h, w = frames.shape[:3]
    check_anchors(anchors, t, (w, h))
    if flows is not None and flows.shape != (t - 1, h, w, 2):
        raise STVIInputError(f"flows must be {(t - 1, h, w, 2)}, got {flows.shape}")
    if backward_flows is not None:
        if flows is None:
            raise STVIInputError("backward flows were given without the forward flows")
        if backward_flows.shape != (t - 1, h, w, 2):
            raise STVIInputError(
                f"backward flows must be {(t - 1, h, w, 2)}, got {backward_flows.shape}"
            )


STVI_DIS_PRESET = "medium-full"
"""DIS preset of STVI's flows unless told otherwise (issue 16): OpenCV's medium searched
down to full resolution without variational refinement (``motionlab.flow.estimators``).
The flow carries the anchor masks over up to 19 frames; on the 10 DAVIS tuning sequences
the carried masks' J rose on every one against medium (mean 0.789 -> 0.810), at 2.3x the
flow's time (docs/stvi.md "Flow at full resolution")."""


def stvi_flow_options(method: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The estimator options STVI uses for ``method``: ``options``, with DIS's preset
    ``STVI_DIS_PRESET`` unless ``options`` names one."""
    from motionlab.flow.estimators import with_dis_preset

    return with_dis_preset(method, options, STVI_DIS_PRESET)


def compute_flows(
    frames: np.ndarray,
    method: str = "dis",
    *,
    estimator: Any = None,
    progress: bool = False,
    direction: Literal["forward", "backward"] = "forward",
    **options: Any,
) -> np.ndarray:
    """Forward flow of every pair of a ``(T, H, W, 3)`` clip, ``(T - 1, H, W, 2)`` float32
    (``direction="backward"``: element t is the flow from frame t + 1 back to frame t).

    ``estimator`` (a :class:`motionlab.flow.FlowEstimator`) replaces ``method`` and
    ``options``; ``progress`` shows progress (a bar on a terminal, lines in logs).
    """
    from motionlab.flow import video_flow
    from motionlab.progress import track

    out = np.empty((len(frames) - 1, *frames.shape[1:3], 2), np.float32)
    # pairs per estimator call: the estimator's batch size (RAFT --batch-size), else 1
    batch = int(getattr(estimator, "batch_size", options.get("batch_size", 1)))
    pairs = video_flow(
        frames, method=method, estimator=estimator, direction=direction, batch_size=batch,
        **options,
    )  # fmt: skip
    # a bar on a terminal, plain lines in logs (motionlab.progress)
    label = "flow" if direction == "forward" else "backward flow"
    for pair in track(pairs, label, total=len(out), unit="pair", enabled=progress):
        out[pair.index] = pair.forward if direction == "forward" else pair.backward
    return out


def object_masks(
    frames: np.ndarray,
    anchors: dict[int, np.ndarray],
    flows: np.ndarray,
    backward_flows: np.ndarray | None = None,
    *,
    colour: bool = True,
    match_anchor: bool = True,
    tail_floor: float = TAIL_FLOOR,
) -> np.ndarray:
    """The object's probability in every frame as STVI judges clusters with it: the anchor
    masks carried along the flow (:func:`motionlab.stvi.tracking.flow_carried_masks`, with
    ``match_anchor`` each frame also matched to its anchor frame, after the last anchor
    weighted by its path's reliability down to ``tail_floor``), corrected by the
    anchors' colour models with ``colour``
    (:func:`motionlab.stvi.colour_model.colour_corrected_masks`); ``(T, H, W)`` float32 in
    [0, 1]. Thresholded at 0.5 it is the mask-propagation baseline."""
    carried = flow_carried_masks(
        anchors, flows, len(frames), backward_flows,
        frames=frames if match_anchor else None, tail_floor=tail_floor,
    )  # fmt: skip
    return colour_corrected_masks(frames, carried, anchors) if colour else carried


def stvi(
    frames: np.ndarray,
    anchors: dict[int, np.ndarray],
    *,
    flows: np.ndarray | None = None,
    params: STVIParams = STVIParams(),
    flow_method: str = "dis",
    backward_flows: np.ndarray | None = None,
    flow_options: dict[str, Any] | None = None,
) -> STVIResult:
    """Decompose the anchored object of a clip into part tubes.

    Parameters
    ----------
    frames : (T, H, W, 3) uint8 ndarray
        The clip, RGB.
    anchors : dict
        Frame index -> bool ``(H, W)`` object mask, non-empty: frame 0 and every n-th
        frame after it, or any subset that includes frame 0.
    flows : (T - 1, H, W, 2) float32 ndarray, optional
        Forward flow of every pair; computed with ``flow_method`` when omitted, together
        with ``backward_flows``.
    params : STVIParams
    flow_method : str
        Flow method of :func:`motionlab.flow.get_estimator` for the flows not given.
    backward_flows : (T - 1, H, W, 2) float32 ndarray, optional
        Flow from frame t + 1 back to frame t, to follow the anchors back in time (boxes)
        and carry their masks forward (:mod:`motionlab.stvi.tracking`). With ``flows``
        given and this omitted, the forward flow stands in for it (the module's note; what
        STVI did before issue 16's fourth stop, and worse at motion boundaries).
    flow_options : dict, optional
        Options of ``flow_method`` (:func:`stvi_flow_options`: DIS gets the preset
        ``STVI_DIS_PRESET`` unless one is named).

    Returns
    -------
    STVIResult

    Raises
    ------
    STVIInputError
        (a ``ValueError``) Fewer than two frames, frames not ``(T, H, W, 3)`` uint8, no
        anchor or an empty one, no anchor in frame 0, a mask of another size than the
        frames, flows of the wrong shape (:func:`motionlab.stvi.anchors.check_anchors`).
    """
    frames = np.asarray(frames)
    _check_inputs(frames, anchors, flows, backward_flows)
    t_n, h, w = frames.shape[:3]
    if flows is None:
        from motionlab.flow import get_estimator

        # built once for both directions
        estimator = get_estimator(flow_method, **stvi_flow_options(flow_method, flow_options))
        flows = compute_flows(frames, estimator=estimator)
        backward_flows = compute_flows(frames, estimator=estimator, direction="backward")
    boxes = track_boxes(flows, anchors, t_n, backward_flows)
    origins, size = object_windows(boxes, margin=params.margin)

    # the anchor masks carried along the flow into every frame (issue 16): a feature channel
    # (mask_weight) and, with the anchor-frame overlap, the judge of every cluster
    carried = (
        object_masks(
            frames, anchors, flows, backward_flows,
            colour=params.corrects_colour, match_anchor=params.matches_anchor,
            tail_floor=params.tail_floor,
        )
        if params.judges_carried
        else None
    )
    # per-frame flow (pair t, t+1; the last frame reuses the last pair), background
    # cancelled with the anchor mask where there is one, else the tracked box (eq. 6.1)
    rel = np.empty((t_n, size[1], size[0], 2), np.float32)
    valid = np.empty((t_n, size[1], size[0]), bool)
    inside_box = np.zeros((t_n, size[1], size[0]), bool)
    ones = np.ones((h, w), bool)
    for t in range(t_n):
        f = flows[min(t, t_n - 2)]
        if t in anchors:
            obj = anchors[t]
        else:
            obj = np.zeros((h, w), bool)
            x0, y0, x1, y1 = np.rint(boxes[t]).astype(int)
            obj[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
        rel[t] = crop(cancel_background_motion(f, obj), origins[t], size)
        valid[t] = crop(ones, origins[t], size)
        inside_box[t] = crop(obj, origins[t], size)
    lab = np.stack([lab_volume(crop(frames[t], origins[t], size)) for t in range(t_n)])

    scales = auto_parameters(
        boxes,
        rel,
        inside_box & valid,
        sigma=params.sigma,
        tau=params.tau,
        alpha=params.alpha,
        beta=params.beta,
    )
    log.debug("STVI scales %s, window %s", scales, size)
    feats = scale_space(
        np.concatenate([lab, scales.beta * rel], axis=-1), scales.sigma, scales.tau, valid
    )
    del lab, rel
    gamma = params.mask_feature_weight
    if gamma > 0 and carried is not None:
        # our addition to eq. 6.4: gamma * m, m the carried mask in [0, 1] (Lab units),
        # not smoothed in the scale space: it is already a blend of two carried anchors,
        # and tau (large for fast objects) would smear its outline over the frames
        m = np.stack([crop(carried[t], origins[t], size) for t in range(t_n)])
        feats = np.concatenate([feats, np.float32(gamma) * m[..., None]], axis=-1)
        del m
    if params.clusters is None:
        keys = sorted(anchors)
        share = float((inside_box[keys] & valid[keys]).sum() / max(int(valid[keys].sum()), 1))
        n_clusters, n_tubes = cluster_count(params.k, share), tube_count(params.k, share)
    else:
        n_clusters, n_tubes = params.clusters, params.k
    log.debug("STVI: %d SLIC clusters for at most %d tubes", n_clusters, n_tubes)
    clusters = slic3d(feats, n_clusters, alpha=scales.alpha, valid=valid, max_iter=params.max_iter)
    centres, counts = cluster_means(feats, clusters, n_clusters, alpha=scales.alpha)
    del feats
    supervoxels = np.stack([uncrop(clusters[t], origins[t], (w, h), fill=-1) for t in range(t_n)])
    # clusters between anchors that meet no anchor frame: judged against the nearest
    # anchor's mask moved with the box (finer clusters than the thesis's have shorter
    # spans; dropping them would leave holes between anchors)
    fallback = carried_masks(anchors, boxes) if params.clusters is None else None
    # our addition (issue 16): the clusters between anchors are judged too, against the
    # anchor masks carried along the flow (mean with the anchor-frame overlap)
    labels, overlaps = select_tubes(supervoxels, anchors, params.threshold, fallback, carried)
    labels = limit_tubes(labels, n_tubes, tube_descriptors(labels, supervoxels, centres, counts))
    return STVIResult(
        labels=labels,
        supervoxels=supervoxels,
        boxes=boxes,
        origins=origins,
        size=size,
        scales=scales,
        anchors=sorted(anchors),
        overlaps=overlaps,
        clusters=n_clusters,
    )
