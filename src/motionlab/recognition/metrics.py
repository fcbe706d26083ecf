"""Classification metrics on arrays: top-k accuracy, confusion matrix, per-class accuracy."""

from __future__ import annotations

import numpy as np

from motionlab.errors import MotionlabError


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of rows whose true label is among the ``k`` highest scores.

    Parameters
    ----------
    scores : (N, K) float ndarray
        Logits or probabilities.
    labels : (N,) int ndarray
        True classes in 0..K-1.
    k : int
        Clipped to K (top-5 of a 3-class task is 1.0).

    Ties are broken by column order (``argsort``), not in the label's favour.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise MotionlabError(
            f"scores must be (N, K) and labels (N,), got {scores.shape}, {labels.shape}"
        )
    if len(labels) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts: row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape:
        raise MotionlabError(f"{labels.shape} labels but {predictions.shape} predictions")
    if len(labels) and (
        min(labels.min(), predictions.min()) < 0
        or max(labels.max(), predictions.max()) >= num_classes
    ):
        raise MotionlabError(f"labels and predictions must be in 0..{num_classes - 1}")
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """``(K,)`` recall of each class (diagonal / row sum); NaN for classes without samples."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)
