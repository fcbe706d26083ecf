"""The privacy/utility trade-off of thesis Sec. 5.4 and the template matrix of appendix A.2.

``f_lambda(a, p) = (1 - lambda) * a + lambda * (1 - p)``  (eq. 5.6): ``a`` is the action
recognition top-1 accuracy on obfuscated videos (utility, higher is better), ``p`` the
privacy-attribute top-1 accuracy of an attacker on them (lower is better); lambda weighs
privacy against utility (0.5 in Table 5.2; Fig. 5.7 sweeps it).

Predictions come as a CSV with one row per (method, video)::

    method,video,action_true,action_pred,privacy_true,privacy_pred
    ours,v_001,JumpingJack,JumpingJack,female,male
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError

COLUMNS = ("method", "video", "action_true", "action_pred", "privacy_true", "privacy_pred")


def f_lambda(
    action: float | np.ndarray, privacy: float | np.ndarray, lam: float | np.ndarray
) -> np.ndarray:
    """Eq. 5.6: ``(1 - lam) * action + lam * (1 - privacy)``.

    Accuracies and ``lam`` in [0, 1], scalars or broadcastable arrays; returns a float
    ndarray of the broadcast shape (0-d for scalars).
    """
    lam_a = np.asarray(lam, float)
    if np.any((lam_a < 0) | (lam_a > 1)):
        raise MotionlabError(f"lambda must lie in [0, 1], got {lam}")
    return (1 - lam_a) * np.asarray(action, float) + lam_a * (1 - np.asarray(privacy, float))


@dataclass(frozen=True)
class MethodScore:
    """Accuracies of one obfuscation method over its videos (fractions in [0, 1])."""

    method: str
    videos: int
    action_top1: float
    privacy_top1: float

    def f(self, lam: float = 0.5) -> float:
        return float(f_lambda(self.action_top1, self.privacy_top1, lam))


def read_predictions(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of a predictions CSV (header required, see module docs)."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise MotionlabError(
                    f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
                )
            rows = [dict(r) for r in reader]
    except FileNotFoundError:
        raise MotionlabError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MotionlabError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        raise MotionlabError(f"{path}: no predictions")
    return rows


def score_methods(rows: Iterable[dict[str, str]]) -> list[MethodScore]:
    """Top-1 accuracies per method, in the order methods first appear.

    A (method, video) pair given twice is an error (it would count twice).
    """
    seen: set[tuple[str, str]] = set()
    acc: dict[str, list[int]] = {}
    for r in rows:
        key = (r["method"], r["video"])
        if key in seen:
            raise MotionlabError(f"video {key[1]!r} appears twice for method {key[0]!r}")
        seen.add(key)
        a = acc.setdefault(r["method"], [0, 0, 0])
        a[0] += 1
        a[1] += r["action_true"].strip() == r["action_pred"].strip()
        a[2] += r["privacy_true"].strip() == r["privacy_pred"].strip()
    return [MethodScore(m, n, ca / n, cp / n) for m, (n, ca, cp) in acc.items()]


def format_table(scores: Sequence[MethodScore], *, lam: float = 0.5) -> str:
    """A Table 5.2-style Markdown table (accuracies in %)."""
    lines = [
        f"| method | videos | action top-1 (%) | privacy top-1 (%) | f_{lam:g} |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            f"| {s.method} | {s.videos} | {100 * s.action_top1:.1f} | "
            f"{100 * s.privacy_top1:.1f} | {s.f(lam):.3f} |"
        )
    return "\n".join(lines)


def plot_lambda_sweep(scores: Sequence[MethodScore], path: str | os.PathLike[str]) -> None:
    """Fig. 5.7: f_lambda against lambda in [0, 1] for each method, as an image file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lam = np.linspace(0, 1, 101)
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    for s in scores:
        ax.plot(lam, f_lambda(s.action_top1, s.privacy_top1, lam), label=s.method)
    ax.set_xlabel("λ (weight of privacy)")
    ax.set_ylabel("f_λ")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)


class MapAverager:
    """Running average of per-template saliency maps over a dataset (appendix eq. A.1).

    ``S̄_k(p) = 1/n * sum_i S_i(p)`` for each template k, over the n maps added.

    Parameters
    ----------
    names : sequence of str
        The K templates, in the order of the maps given to :meth:`add`.
    size : (width, height) or None
        None (default): average at the maps' own size, as eq. A.1 (every map must have the
        size of the first). A size: resize each map to it first (``cv2.INTER_AREA``), for
        datasets whose frames differ in size; eq. A.2's sum then runs over that grid.
    """

    def __init__(self, names: Sequence[str], *, size: tuple[int, int] | None = None) -> None:
        self.names = tuple(names)
        self.size = size
        self.sum: np.ndarray | None = None
        if size is not None:
            self.sum = np.zeros((len(self.names), size[1], size[0]), np.float64)
        self.count = 0

    def add(self, maps: np.ndarray) -> None:
        """Add the ``(K, H, W)`` float maps of one frame."""
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[0] != len(self.names):
            raise MotionlabError(
                f"expected {len(self.names)} maps of shape (H, W), got an array of shape "
                f"{maps.shape}"
            )
        if self.size is not None:
            maps = np.stack(
                [cv2.resize(m.astype(np.float32), self.size, interpolation=cv2.INTER_AREA)
                 for m in maps]
            )  # fmt: skip
        if self.sum is None:
            self.sum = np.zeros(maps.shape, np.float64)
        elif maps.shape != self.sum.shape:
            raise MotionlabError(
                f"maps of size {maps.shape[2]}x{maps.shape[1]} after maps of size "
                f"{self.sum.shape[2]}x{self.sum.shape[1]}: give a common size (--size WxH)"
            )
        self.sum += maps
        self.count += 1

    @property
    def mean(self) -> np.ndarray:
        """``(K, h, w)`` float64 average maps S̄ (eq. A.1)."""
        if self.count == 0 or self.sum is None:
            raise MotionlabError("no maps were added")
        return self.sum / self.count


MEASURES: tuple[str, ...] = ("l1", "mae", "cosine")
"""How :func:`compare_templates` compares average maps: ``l1`` is eq. A.2 as written,
``mae`` the same divided by the number of pixels, ``cosine`` a similarity (alternative)."""


def _flat_maps(mean_maps: np.ndarray) -> np.ndarray:
    m = np.asarray(mean_maps, np.float64)
    if m.ndim != 3 or m.shape[0] == 0:
        raise MotionlabError(f"mean maps must have shape (K, H, W), got {m.shape}")
    return m.reshape(len(m), -1)


def template_distances(mean_maps: np.ndarray, *, per_pixel: bool = False) -> np.ndarray:
    """Appendix eq. A.2: ``v_ij = sum_p |S̄_i(p) - S̄_j(p)|`` for every pair of templates.

    Parameters
    ----------
    mean_maps : (K, H, W) float ndarray
        Average saliency maps S̄ (eq. A.1, :class:`MapAverager`), values in [0, 1].
    per_pixel : bool
        False (default): the sum over all H * W pixels, as eq. A.2 is written (in units
        of saliency x pixels; it grows with the map size). True: that sum divided by
        H * W, the mean absolute error per pixel that Fig. A.6 is titled with (in [0, 1]
        for maps in [0, 1], comparable across map sizes).

    Returns
    -------
    (K, K) float64 ndarray
        Symmetric, 0 on the diagonal; *small* = similar templates (Fig. A.6 plots it
        so that brighter means more similar).
    """
    m = _flat_maps(mean_maps)
    k = len(m)
    v = np.zeros((k, k), np.float64)
    for i in range(k):  # pair by pair: K * K * H * W at once would be GBs for full frames
        for j in range(i + 1, k):
            v[i, j] = v[j, i] = np.abs(m[i] - m[j]).sum()
    return v / m.shape[1] if per_pixel else v


def template_cosine(mean_maps: np.ndarray) -> np.ndarray:
    """Cosine similarity of the flattened average maps, ``(K, K)`` float64 in [0, 1] for
    maps >= 0 (1 = same shape of map). Not eq. A.2: a named alternative (it ignores how
    strong a map is, only where it lies)."""
    m = _flat_maps(mean_maps)
    m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return m @ m.T


def compare_templates(mean_maps: np.ndarray, *, measure: str = "l1") -> np.ndarray:
    """The ``(K, K)`` template matrix of appendix A.2 by ``measure`` (see :data:`MEASURES`):
    ``l1`` eq. A.2 as written, ``mae`` eq. A.2 per pixel, ``cosine`` the alternative."""
    if measure == "l1":
        return template_distances(mean_maps)
    if measure == "mae":
        return template_distances(mean_maps, per_pixel=True)
    if measure == "cosine":
        return template_cosine(mean_maps)
    raise MotionlabError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")


def plot_similarity(
    matrix: np.ndarray,
    names: Sequence[str],
    path: str | os.PathLike[str],
    *,
    measure: str = "l1",
) -> None:
    """The template matrix as an annotated heat map image, brighter = more similar (as
    Fig. A.6): distances (``l1``, ``mae``) on a reversed colour scale from 0 to their
    largest value, ``cosine`` on [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, np.float64)
    k = len(names)
    if measure == "cosine":
        cmap, vmin, vmax, label = "viridis", 0.0, 1.0, "cosine similarity"
    else:
        top = float(matrix.max()) or 1.0
        cmap, vmin, vmax = "viridis_r", 0.0, top
        label = "sum |S̄i - S̄j| (eq. A.2)" if measure == "l1" else "mean |S̄i - S̄j| per pixel"
    fig, ax = plt.subplots(figsize=(1.6 + 0.55 * k, 0.8 + 0.5 * k), dpi=120)
    im = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    fmt = ".0f" if measure == "l1" and vmax >= 100 else ".2f"
    for i in range(k):
        for j in range(k):
            bright = (matrix[i, j] - vmin) / (vmax - vmin)
            bright = bright if cmap == "viridis" else 1 - bright
            colour = "black" if bright > 0.6 else "white"
            ax.text(j, i, format(matrix[i, j], fmt), ha="center", va="center", fontsize=7,
                    color=colour)  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.046, label=label)
    fig.tight_layout()
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
