"""Evaluate STVI results against DAVIS-style annotations (thesis Sec. 6.4, Table 6.1)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError
from motionlab.stvi import metrics
from motionlab.stvi.anchors import FolderMasks

COLUMNS = ("sequence", "frames", "ACC", "UE", "TEX", "J", "F", "M")
PART_COLUMNS = ("J_p", "F_p", "C_p")
TABLE_6_1 = ("ACC", "UE", "TEX", "J", "F")
"""The columns of thesis Table 6.1 (object segmentation), in its order."""
TABLE_6_3 = ("J_p", "F_p", "C_p", "M")
"""The columns of thesis Table 6.3 (object parts), in its order; M = tubes per video."""


def evaluate_labels(
    labels: np.ndarray, gt: np.ndarray, parts: np.ndarray | None = None
) -> dict[str, float]:
    """All measures of one sequence.

    ``labels``: (T, H, W) tube ids, 0 = not the object; ``gt``: (T, H, W) bool object
    mask; ``parts``: optional (T, H, W) part ids. ACC and UE ignore label 0 (only tubes
    are supervoxels), TEX is 0 when there is no tube.
    """
    mask = labels > 0
    row: dict[str, float] = {
        "frames": labels.shape[0],
        "ACC": metrics.segmentation_accuracy(labels, gt, background=0),
        "UE": metrics.undersegmentation_error(labels, gt, background=0),
        "TEX": metrics.temporal_extent(labels) if mask.any() else 0.0,
        "J": metrics.jaccard(mask, gt),
        "F": metrics.boundary_f(mask, gt),
        "M": metrics.mean_tubes(labels),
    }
    if parts is not None:
        row.update(metrics.part_scores(labels, parts))
    return row


def read_masks(folder: str | os.PathLike[str], n_frames: int, shape: tuple[int, int]) -> np.ndarray:
    """``(n_frames, H, W)`` bool masks from a folder named by frame index; a missing frame
    is an error (ground truth must be complete)."""
    src = FolderMasks(folder)
    h, w = shape
    out = np.zeros((n_frames, h, w), bool)
    for t in range(n_frames):
        m = src(t, (w, h))
        if m is None:
            raise MotionlabError(f"{folder}: no annotation for frame {t}")
        out[t] = m
    return out


def read_parts(folder: str | os.PathLike[str], n_frames: int, shape: tuple[int, int]) -> np.ndarray:
    """``(n_frames, H, W)`` int part ids from 8/16-bit grey PNGs named by frame index."""
    import cv2

    src = FolderMasks(folder)
    h, w = shape
    out = np.zeros((n_frames, h, w), np.int32)
    for t in range(n_frames):
        path = src.files.get(t)
        if path is None:
            raise MotionlabError(f"{folder}: no part annotation for frame {t}")
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.shape[:2] != (h, w):
            raise MotionlabError(f"{path}: unreadable or not {w}x{h}")
        out[t] = img if img.ndim == 2 else img[..., 0]
    return out


def evaluate_results(
    results_root: str | os.PathLike[str],
    davis_root: str | os.PathLike[str],
    sequences: Sequence[str] | None = None,
    *,
    resolution: str = "480p",
    parts_root: str | os.PathLike[str] | None = None,
) -> list[dict[str, float | str]]:
    """Evaluate ``results_root/SEQ`` (written by ``motionlab stvi``) against
    ``davis_root/Annotations/<resolution>/SEQ`` for every sequence (default: every result
    folder that has DAVIS annotations)."""
    from motionlab.stvi.io import read_labels

    results_root, davis_root = Path(results_root), Path(davis_root)
    ann = davis_root / "Annotations" / resolution
    if not ann.is_dir():
        raise MotionlabError(f"{davis_root}: no DAVIS annotations at {ann}")
    if not results_root.is_dir():
        raise MotionlabError(f"{results_root}: no such results folder")
    if sequences is None:
        sequences = sorted(p.name for p in results_root.iterdir() if (p / "labels.npz").is_file())
        if not sequences:
            raise MotionlabError(f"{results_root}: holds no STVI result folders")
    rows: list[dict[str, float | str]] = []
    for seq in sequences:
        labels = read_labels(results_root / seq)
        shape = labels.shape[1:]
        gt = read_masks(ann / seq, labels.shape[0], shape)
        parts = (
            read_parts(Path(parts_root) / seq, labels.shape[0], shape)
            if parts_root is not None
            else None
        )
        row: dict[str, float | str] = {"sequence": seq, **evaluate_labels(labels, gt, parts)}
        seconds = _seconds(results_root / seq)
        if seconds is not None:
            row["seconds"] = seconds
        rows.append(row)
    if any("seconds" not in r for r in rows):  # a column only when every result has it
        for r in rows:
            r.pop("seconds", None)
    return rows


def _seconds(folder: Path) -> float | None:
    """The run time ``motionlab stvi`` recorded in ``stvi.json`` (None if absent)."""
    import json

    try:
        value = json.loads((folder / "stvi.json").read_text()).get("seconds")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def thesis_rows(mean: dict[str, float | str], name: str = "ours") -> list[str]:
    """The mean as rows of thesis Tables 6.1 and 6.3, Markdown lines.

    Table 6.1: ACC, UE, TEX, J, F (and seconds per sequence when known); Table 6.3: J_p,
    F_p, C_p ("-" without part annotations) and M, the mean number of tubes per video.
    """

    def cell(key: str) -> str:
        value = mean.get(key)
        return "-" if value is None or isinstance(value, str) else f"{value:.2f}"

    first = [*TABLE_6_1, *(("seconds",) if "seconds" in mean else ())]
    return [
        "| Table 6.1 | " + " | ".join(first) + " |",
        "|---|" + "---:|" * len(first),
        f"| {name} | " + " | ".join(cell(k) for k in first) + " |",
        "",
        "| Table 6.3 | " + " | ".join(TABLE_6_3) + " |",
        "|---|" + "---:|" * len(TABLE_6_3),
        f"| {name} | " + " | ".join(cell(k) for k in TABLE_6_3) + " |",
    ]


def mean_row(rows: Sequence[dict[str, float | str]]) -> dict[str, float | str]:
    """The mean of every numeric column, labelled "mean"."""
    keys = [k for k in rows[0] if k != "sequence"]
    return {"sequence": "mean", **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


def write_tables(rows: Sequence[dict[str, float | str]], stem: str | os.PathLike[str]) -> None:
    """Write ``STEM.csv`` and ``STEM.md``: one row per sequence and their mean; the
    Markdown file ends with the mean as rows of Tables 6.1 and 6.3 (:func:`thesis_rows`)."""
    stem = Path(stem)
    table = [*rows, mean_row(rows)]
    keys = list(table[0])
    with atomic_file(stem.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(table)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in table:
        cells = [
            str(r[k])
            if isinstance(r[k], str)
            else (f"{r[k]:.0f}" if k == "frames" else f"{r[k]:.3f}")
            for k in keys
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Mean over {len(rows)} sequences as the thesis's table rows:", ""]
    lines += thesis_rows(table[-1])
    with atomic_file(stem.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
