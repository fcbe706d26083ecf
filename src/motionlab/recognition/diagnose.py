"""The motion-reliance diagnostic (thesis ch. 4, Table 4.1, §4.2, Fig. 4.4).

- :func:`reliance_row`: accuracy on RGB, on appearance-free video (AFD) and Δ = AFD − RGB;
  a model that uses motion keeps its accuracy on AFD, one that uses appearance drops to
  chance.
- :func:`reorder_confusion`: a class order that puts mutually confused classes next to
  each other (Thoma 2017, "Analysis and optimization of convolutional neural network
  architectures", §confusion-matrix ordering): minimise
  ``sum_ij C[i, j] · |pos(i) − pos(j)|`` over permutations, by local search.
- :func:`most_confused`: the k classes of a group that are most confused with each other,
  leaving out classes under 50 % accuracy (how AFD5 was chosen from UCF101, §4.2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.recognition.metrics import per_class_accuracy


@dataclass(frozen=True)
class RelianceRow:
    """One row of Table 4.1: top-1 accuracy (0..1) on RGB and on AFD, and their change."""

    model: str
    rgb: float
    afd: float

    @property
    def delta(self) -> float:
        """AFD − RGB (negative: the model lost accuracy without appearance)."""
        return self.afd - self.rgb


def reliance_row(model: str, rgb_top1: float, afd_top1: float) -> RelianceRow:
    """Bundle the two accuracies of ``model`` (both in 0..1)."""
    for v in (rgb_top1, afd_top1):
        if not 0.0 <= v <= 1.0:
            raise MotionlabError(f"accuracies must be in 0..1, got {v}")
    return RelianceRow(model, rgb_top1, afd_top1)


def format_reliance_table(rows: Sequence[RelianceRow]) -> str:
    """A plain-text table: model, RGB %, AFD %, Δ (points)."""
    lines = [f"{'model':<24} {'RGB %':>7} {'AFD %':>7} {'Δ':>7}"]
    for r in rows:
        lines.append(f"{r.model:<24} {100 * r.rgb:7.1f} {100 * r.afd:7.1f} {100 * r.delta:+7.1f}")
    return "\n".join(lines)


def _symmetric(confusion: np.ndarray) -> np.ndarray:
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise MotionlabError(f"a confusion matrix must be square, got shape {c.shape}")
    rows = c.sum(axis=1, keepdims=True)
    c = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)  # row-normalised
    s = c + c.T
    np.fill_diagonal(s, 0.0)
    return s


def ordering_cost(confusion: np.ndarray, order: Sequence[int]) -> float:
    """Thoma's objective for ``order``: ``sum_ij S[i, j] · |pos(i) − pos(j)|`` with S the
    symmetrised, row-normalised confusion without its diagonal (lower is better)."""
    s = _symmetric(confusion)
    o = np.asarray(order)
    pos = np.empty(len(o), np.int64)
    pos[o] = np.arange(len(o))
    return float((s * np.abs(pos[:, None] - pos[None, :])).sum() / 2)


def reorder_confusion(
    confusion: np.ndarray, *, iterations: int = 20000, seed: int = 0
) -> np.ndarray:
    """A class order that keeps mutually confused classes together.

    Local search over permutations (random swaps and moves of one class, kept when the
    cost of :func:`ordering_cost` does not rise; Thoma 2017 uses the same objective with
    simulated annealing). Deterministic for a seed.

    Parameters
    ----------
    confusion : (K, K) ndarray
        Counts or rates; row = true class.

    Returns
    -------
    (K,) int ndarray
        The new order; ``confusion[np.ix_(order, order)]`` is the reordered matrix.
    """
    s = _symmetric(confusion)
    k = len(s)
    order = np.arange(k)
    if k < 3:
        return order
    rng = np.random.default_rng(seed)
    idx = np.arange(k)

    def cost(o: np.ndarray) -> float:
        p = np.empty(k, np.int64)
        p[o] = idx
        return float((s * np.abs(p[:, None] - p[None, :])).sum())

    best = cost(order)
    for _ in range(iterations):
        i, j = rng.choice(k, size=2, replace=False)
        cand = order.copy()
        if rng.uniform() < 0.5:
            cand[i], cand[j] = cand[j], cand[i]
        else:
            cand = np.insert(np.delete(cand, i), j, order[i])
        c = cost(cand)
        if c <= best:
            order, best = cand, c
    return order


def most_confused(
    confusion: np.ndarray,
    k: int,
    *,
    group: Sequence[int] | None = None,
    min_accuracy: float = 0.5,
    max_exhaustive: int = 200_000,
) -> list[int]:
    """The ``k`` classes of ``group`` most confused with each other.

    Classes whose accuracy (diagonal / row sum) is under ``min_accuracy`` are left out:
    a class that is mostly wrong is confused with everything (thesis §4.2). The score of a
    set is the sum of the symmetrised row-normalised confusion over its pairs; every set
    is tried when there are at most ``max_exhaustive`` of them, else a greedy search
    starts from the most confused pair.

    Returns
    -------
    list of int
        Class indices, sorted.
    """
    s = _symmetric(confusion)
    acc = per_class_accuracy(confusion)
    members = list(range(len(s))) if group is None else list(group)
    eligible = [c for c in members if not np.isnan(acc[c]) and acc[c] >= min_accuracy]
    if k < 2 or k > len(eligible):
        raise MotionlabError(
            f"cannot pick {k} classes: {len(eligible)} of the group's {len(members)} classes "
            f"reach {min_accuracy:.0%} accuracy"
        )

    def score(subset: Sequence[int]) -> float:
        sub = np.asarray(subset)
        return float(s[np.ix_(sub, sub)].sum())

    if math.comb(len(eligible), k) <= max_exhaustive:
        best = max(itertools.combinations(eligible, k), key=score)
        return sorted(best)
    pair = max(itertools.combinations(eligible, 2), key=score)
    chosen = list(pair)
    while len(chosen) < k:
        rest = [c for c in eligible if c not in chosen]
        chosen.append(max(rest, key=lambda c: score([*chosen, c])))
    return sorted(chosen)
