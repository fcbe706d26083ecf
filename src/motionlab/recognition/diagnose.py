"""The motion-reliance diagnostic (thesis ch. 4, Table 4.1, §4.2, Fig. 4.4).

- :func:`reliance_row`: accuracy on RGB, on appearance-free video (AFD) and Δ = AFD − RGB;
  a model that uses motion keeps its accuracy on AFD, one that uses appearance drops to
  chance.
- :func:`reorder_confusion`: a class order that puts mutually confused classes next to
  each other (Thoma 2017, "Analysis and optimization of convolutional neural network
  architectures", §confusion-matrix ordering): minimise
  ``sum_ij C[i, j] · |pos(i) − pos(j)|`` over permutations, by local search.
- :func:`select_by_entropy`: the AFD5 selection criterion of §4.2 — among the classes of
  a group with at least 50 % accuracy, the k with the highest inter-class entropy
  (:func:`inter_class_entropy`).
- :func:`most_confused`: an alternative set score (sum of pairwise confusion within the
  set); it was this module's stand-in for the §4.2 criterion and is kept for comparison.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def inter_class_entropy(confusion: np.ndarray) -> np.ndarray:
    """Inter-class entropy of every class: the Shannon entropy, in bits, of its
    row-normalised confusion row.

    ``H_i = -sum_j p_ij log2 p_ij`` with ``p_ij = C_ij / sum_j C_ij`` over all K classes
    of the matrix, the diagonal included (``0 log 0 = 0``). It is the entropy of the
    prediction distribution of class i's samples: 0 for a class that is always predicted
    as one class, growing with the share of its samples that go to other classes and with
    the number of classes they spread over (at most ``log2 K``). Row normalisation makes
    classes with different sample counts comparable; the base (bits) does not change
    any ranking.

    Parameters
    ----------
    confusion : (K, K) ndarray
        Counts or rates; row = true class, column = prediction.

    Returns
    -------
    (K,) float64 ndarray
        Entropies in bits; NaN for a class without samples (an all-zero row).
    """
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise MotionlabError(f"a confusion matrix must be square, got shape {c.shape}")
    if (c < 0).any() or not np.isfinite(c).all():
        raise MotionlabError("a confusion matrix must hold finite, non-negative values")
    rows = c.sum(axis=1, keepdims=True)
    p = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    h = terms.sum(axis=1)
    h[rows[:, 0] == 0] = np.nan
    return h


def select_by_entropy(
    confusion: np.ndarray,
    k: int = 5,
    *,
    group: Sequence[int] | None = None,
    min_accuracy: float = 0.5,
) -> list[int]:
    """The AFD5 selection of thesis §4.2: the ``k`` classes with the highest inter-class
    entropy among the classes with at least ``min_accuracy`` accuracy.

    §4.2: "With the selection of *Body Motion*, we finetune the previously trained ResNet
    on that particular group. Given that finetuning, we perform confusion matrix reordering
    [179] and select the five classes that are most confused among each other in the group.
    More precisely we find the permutation matrix that has the highest interclass entropy,
    excluding classes with less than 50% accuracy." Implemented as written, per class:

    1. restrict the matrix to the group (rows and columns of ``group``; the thesis's matrix
       is that of a model fine-tuned on the group, i.e. already the group's);
    2. leave out classes whose accuracy ``C_ii / sum_j C_ij`` is under ``min_accuracy``
       (a class that is mostly wrong is confused with everything);
    3. rank the others by :func:`inter_class_entropy` of their row within the group
       (Shannon entropy in bits of the row-normalised row, diagonal included) and take
       the ``k`` highest; ties go to the lower class index.

    The reordering (:func:`reorder_confusion`, Fig. 4.4 b) permutes rows and columns
    together and so leaves every row's entropy unchanged: it shows the chosen classes as
    a block but does not change which are chosen.

    Parameters
    ----------
    confusion : (K, K) ndarray
        Counts or rates; row = true class.
    k : int
        Classes to pick (5 for AFD5).
    group : sequence of int, optional
        Class indices of the group (default: all).
    min_accuracy : float
        Accuracy threshold in 0..1 (0.5 in the thesis; a class at exactly 0.5 is kept).

    Returns
    -------
    list of int
        Indices into ``confusion`` (not into ``group``), sorted.

    Raises
    ------
    MotionlabError
        Fewer than ``k`` classes reach ``min_accuracy``.
    """
    c = np.asarray(confusion, dtype=np.float64)
    members = list(range(len(c))) if group is None else [int(g) for g in group]
    if len(set(members)) != len(members) or any(not 0 <= g < len(c) for g in members):
        raise MotionlabError(f"group must hold distinct class indices 0..{len(c) - 1}")
    sub = c[np.ix_(members, members)]
    entropy = inter_class_entropy(sub)
    acc = per_class_accuracy(sub)
    eligible = [i for i in range(len(members)) if not np.isnan(acc[i]) and acc[i] >= min_accuracy]
    if k < 1 or k > len(eligible):
        raise MotionlabError(
            f"cannot pick {k} classes: {len(eligible)} of the group's {len(members)} classes "
            f"reach {min_accuracy:.0%} accuracy"
        )
    ranked = sorted(eligible, key=lambda i: (-entropy[i], i))
    return sorted(members[i] for i in ranked[:k])


def most_confused(
    confusion: np.ndarray,
    k: int,
    *,
    group: Sequence[int] | None = None,
    min_accuracy: float = 0.5,
    max_exhaustive: int = 200_000,
) -> list[int]:
    """The ``k`` classes of ``group`` most confused with each other, by pairwise confusion.

    Not the thesis's criterion (that is :func:`select_by_entropy`); kept as an
    alternative set score. Classes whose accuracy (diagonal / row sum) is under
    ``min_accuracy`` are left out: a class that is mostly wrong is confused with
    everything (thesis §4.2). The score of a
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


# --------------------------------------------------------------------------------------
# the diagnostic for any model: conditions, bootstrap intervals, table, files, plot

DIAGNOSE_CONDITIONS = ("rgb", "afd", "afd-first-frame", "static", "shuffled")
"""Conditions of ``motionlab diagnose``: the video; its AFD version (our ``advect`` mode);
its AFD version in the published first-frame mode; one frame repeated (appearance only);
the clip's frames permuted (appearance without temporal order). All are computed on the
fly from the RGB videos."""


def bootstrap_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` indices of resamples with replacement of ``n`` items."""
    return rng.integers(0, n, size=(n_boot, n))


def bootstrap_accuracy(
    correct: dict[str, np.ndarray],
    *,
    reference: str | None = "rgb",
    n_boot: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator | None = None,
) -> dict[str, dict[str, float | None]]:
    """Top-1 of every condition and its change from ``reference``, with percentile
    bootstrap confidence intervals over videos.

    One set of ``n_boot`` resamples of the videos (with replacement) is drawn and used
    for every condition, so the intervals of Δ are paired: Δ_b = mean over resample b of
    ``correct[c] - correct[reference]``. The interval is the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` percentiles of the resampled statistic (``numpy.percentile``,
    linear interpolation). All correct gives [1, 1]; a condition identical to the
    reference gives Δ = 0 with [0, 0].

    Parameters
    ----------
    correct : dict of condition -> (N,) bool ndarray
        Whether the model's top-1 was right on each of the same N videos.
    reference : str or None
        The condition Δ is taken from (None: no Δ).
    n_boot : int
        Resamples (>= 1).
    level : float in (0, 1)
    rng : numpy Generator

    Returns
    -------
    dict of condition -> dict
        ``n``, ``top1``, ``ci_low``, ``ci_high`` (0..1) and ``delta``, ``delta_low``,
        ``delta_high`` (None for the reference itself and when there is none).
    """
    if n_boot < 1:
        raise MotionlabError(f"bootstrap resamples must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise MotionlabError(f"confidence level must be in (0, 1), got {level}")
    arrays = {c: np.asarray(v, dtype=np.float64) for c, v in correct.items()}
    sizes = {len(v) for v in arrays.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise MotionlabError("every condition needs the same, non-zero number of videos")
    if reference is not None and reference not in arrays:
        raise MotionlabError(f"the reference condition {reference!r} was not run")
    n = sizes.pop()
    rng = rng if rng is not None else np.random.default_rng(0)
    idx = bootstrap_indices(n, n_boot, rng)
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    out: dict[str, dict[str, float | None]] = {}
    for c, v in arrays.items():
        boot = v[idx].mean(axis=1)
        lo, hi = np.percentile(boot, q)
        row: dict[str, float | None] = {
            "n": float(n), "top1": float(v.mean()), "ci_low": float(lo), "ci_high": float(hi),
            "delta": None, "delta_low": None, "delta_high": None,
        }  # fmt: skip
        if reference is not None and c != reference:
            d = v - arrays[reference]
            dlo, dhi = np.percentile(d[idx].mean(axis=1), q)
            row |= {"delta": float(d.mean()), "delta_low": float(dlo), "delta_high": float(dhi)}
        out[c] = row
    return out


def diagnosis_rows(
    correct: dict[str, np.ndarray],
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    reference: str | None = "rgb",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows of the diagnostic: all videos (``scope="all"``), then every class.

    The bootstrap of the ``all`` rows resamples all videos (generator
    ``default_rng([seed, 0])``); a class's rows resample that class's videos only
    (``default_rng([seed, 1 + class index])``), so a row's interval does not depend on
    which other classes were evaluated. A class without videos is left out.

    Returns
    -------
    list of dict
        ``scope``, ``condition`` and the fields of :func:`bootstrap_accuracy`.
    """
    labels = np.asarray(labels)
    rows = []
    scopes: list[tuple[str, np.ndarray, int]] = [("all", np.ones(len(labels), bool), 0)]
    scopes += [(name, labels == k, 1 + k) for k, name in enumerate(classes)]
    for scope, mask, stream in scopes:
        if not mask.any():
            continue
        stats = bootstrap_accuracy(
            {c: np.asarray(v)[mask] for c, v in correct.items()}, reference=reference,
            n_boot=n_boot, level=level, rng=np.random.default_rng([seed, stream]),
        )  # fmt: skip
        for c in correct:
            rows.append({"scope": scope, "condition": c, **stats[c]})
    return rows


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def format_diagnosis(rows: Sequence[dict[str, Any]], *, chance: float, level: float = 0.95) -> str:
    """The diagnostic as text: one line per condition over all videos (top-1, interval,
    Δ vs the reference and its interval), then top-1 per class and condition."""
    ci = f"{round(100 * level)} % CI"
    lines = [
        f"{'condition':<16} {'top-1 %':>8} {ci:>14} {'Δ vs rgb':>9} {ci:>15}",
    ]
    overall = [r for r in rows if r["scope"] == "all"]
    for r in overall:
        interval = f"[{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]"
        if r["delta"] is None:
            delta, dint = "", ""
        else:
            delta = f"{100 * r['delta']:+.1f}"
            dint = f"[{100 * r['delta_low']:+.1f}, {100 * r['delta_high']:+.1f}]"
        top = _pct(r["top1"])
        lines.append(f"{r['condition']:<16} {top:>8} {interval:>14} {delta:>9} {dint:>15}")
    lines.append(f"(chance {100 * chance:.1f} %; {int(overall[0]['n'])} videos)")
    conditions = [r["condition"] for r in overall]
    scopes = [s for s in dict.fromkeys(r["scope"] for r in rows) if s != "all"]
    if scopes:
        lines.append("")
        lines.append(f"{'top-1 % per class':<20} " + " ".join(f"{c:>15}" for c in conditions))
        table = {(r["scope"], r["condition"]): r for r in rows}
        for s in scopes:
            cells = [_pct(table[(s, c)]["top1"]) for c in conditions]
            n = int(table[(s, conditions[0])]["n"])
            lines.append(f"{s[:14] + f' ({n})':<20} " + " ".join(f"{x:>15}" for x in cells))
    return "\n".join(lines)


CSV_FIELDS = (
    "scope", "condition", "n", "top1", "ci_low", "ci_high", "delta", "delta_low", "delta_high",
)  # fmt: skip


def write_diagnosis_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """The rows as CSV (:data:`CSV_FIELDS`; accuracies in 0..1, empty where undefined)."""
    import csv

    from motionlab.atomic import atomic_file

    with atomic_file(Path(path)) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_FIELDS))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r[k] is None else r[k]) for k in CSV_FIELDS})


def plot_diagnosis(
    rows: Sequence[dict[str, Any]], path: str | os.PathLike[str], *, chance: float, title: str
) -> None:
    """A PNG: top-1 per condition with its interval (all videos, left) and per class
    (right), chance as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from motionlab.atomic import atomic_file

    overall = [r for r in rows if r["scope"] == "all"]
    conditions = [r["condition"] for r in overall]
    scopes = [s for s in dict.fromkeys(r["scope"] for r in rows) if s != "all"]
    table = {(r["scope"], r["condition"]): r for r in rows}
    fig, axes = plt.subplots(
        1, 2, figsize=(4 + 1.2 * max(len(scopes), 3), 3.6),
        gridspec_kw={"width_ratios": [1, max(len(scopes), 1) / 2]},
    )  # fmt: skip
    x = np.arange(len(conditions))
    top = np.array([100 * r["top1"] for r in overall])
    err = np.array([
        [100 * (r["top1"] - r["ci_low"]) for r in overall],
        [100 * (r["ci_high"] - r["top1"]) for r in overall],
    ])  # fmt: skip
    colours = [f"C{i}" for i in range(len(conditions))]
    axes[0].bar(x, top, yerr=err, color=colours, capsize=3)
    axes[0].set_xticks(x, conditions, rotation=30, ha="right")
    axes[0].set_ylabel("top-1 %")
    axes[0].set_title("all videos")
    width = 0.8 / max(len(conditions), 1)
    xs = np.arange(len(scopes))
    for i, c in enumerate(conditions):
        vals = [100 * table[(s, c)]["top1"] for s in scopes]
        lo = [100 * (table[(s, c)]["top1"] - table[(s, c)]["ci_low"]) for s in scopes]
        hi = [100 * (table[(s, c)]["ci_high"] - table[(s, c)]["top1"]) for s in scopes]
        axes[1].bar(xs + (i - (len(conditions) - 1) / 2) * width, vals, width,
                    yerr=[lo, hi], color=colours[i], label=c, capsize=2)  # fmt: skip
    axes[1].set_xticks(xs, scopes, rotation=30, ha="right")
    axes[1].set_title("per class")
    axes[1].legend(fontsize=7, ncol=len(conditions), loc="upper center",
                   bbox_to_anchor=(0.5, -0.35))  # fmt: skip
    for ax in axes:
        ax.axhline(100 * chance, color="k", ls="--", lw=0.8)
        ax.set_ylim(0, 105)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_file(Path(path)) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
