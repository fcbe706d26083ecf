"""The privacy/utility trade-off of thesis Sec. 5.4 and the template-similarity matrix.

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

    Maps of any frame size are resized to ``size`` (width, height) before averaging.
    """

    def __init__(self, names: Sequence[str], *, size: tuple[int, int] = (64, 64)) -> None:
        self.names = tuple(names)
        self.size = size
        self.sum = np.zeros((len(self.names), size[1], size[0]), np.float64)
        self.count = 0

    def add(self, maps: np.ndarray) -> None:
        """Add the ``(K, H, W)`` maps of one frame."""
        if maps.shape[0] != len(self.names):
            raise MotionlabError(f"expected {len(self.names)} maps, got {maps.shape[0]}")
        for k, m in enumerate(maps):
            self.sum[k] += cv2.resize(m.astype(np.float32), self.size, interpolation=cv2.INTER_AREA)
        self.count += 1

    @property
    def mean(self) -> np.ndarray:
        """``(K, h, w)`` float32 average maps."""
        if self.count == 0:
            raise MotionlabError("no maps were added")
        return (self.sum / self.count).astype(np.float32)


def template_similarity(mean_maps: np.ndarray) -> np.ndarray:
    """Appendix eq. A.2 as we read it: cosine similarity between the flattened average
    saliency maps of every pair of templates, ``(K, K)`` in [0, 1] (maps are >= 0)."""
    m = np.asarray(mean_maps, np.float64).reshape(len(mean_maps), -1)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    m = m / np.maximum(n, 1e-12)
    return (m @ m.T).astype(np.float32)


def plot_similarity(matrix: np.ndarray, names: Sequence[str], path: str | os.PathLike[str]) -> None:
    """The template-similarity matrix as an annotated heat map image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k), dpi=120)
    im = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    for i in range(k):
        for j in range(k):
            colour = "black" if matrix[i, j] > 0.6 else "white"
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
