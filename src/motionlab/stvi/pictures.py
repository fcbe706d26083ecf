"""Pictures of STVI results: tubes over frames, space-time slices (thesis Fig. 6.5) and
part-centroid trajectories in viewer- and object-centred coordinates (Fig. 6.6).

Images are ``(H, W, 3)`` uint8 RGB arrays; the trajectory plot needs matplotlib (the
``dev`` extra) and is written straight to a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from skimage.segmentation import find_boundaries


def tube_colours(n: int, seed: int = 7) -> np.ndarray:
    """``(n + 1, 3)`` uint8 colours, row 0 (not the object) black, the rest distinct."""
    import colorsys

    rng = np.random.default_rng(seed)
    hues = (np.arange(n) / max(n, 1) + rng.uniform(0, 1)) % 1.0
    order = rng.permutation(n)
    cols = [colorsys.hsv_to_rgb(h, 0.85, 1.0) for h in hues[order]]
    return np.vstack([[0, 0, 0], np.round(np.array(cols).reshape(-1, 3) * 255)]).astype(np.uint8)


def overlay(frame: np.ndarray, labels: np.ndarray, *, opacity: float = 0.5) -> np.ndarray:
    """Tubes of one frame (``(H, W)`` ids, 0 = none) tinted over ``frame`` with white
    tube borders."""
    colours = tube_colours(int(labels.max()) if labels.size else 0)
    out = frame.astype(np.float32)
    inside = labels > 0
    out[inside] = (1 - opacity) * out[inside] + opacity * colours[labels[inside]]
    out[find_boundaries(labels, mode="inner") & inside] = 255
    return out.astype(np.uint8)


def overlay_strip(
    frames: np.ndarray, labels: np.ndarray, indices: Sequence[int] | None = None
) -> np.ndarray:
    """:func:`overlay` of a few frames (default: 4 evenly spaced) side by side."""
    t_n = len(frames)
    if indices is None:
        indices = np.linspace(0, t_n - 1, min(4, t_n)).round().astype(int)
    return np.concatenate([overlay(frames[t], labels[t]) for t in indices], axis=1)


def spacetime_slices(labels: np.ndarray, *, row: int | None = None, column: int | None = None):
    """Fig. 6.5: the label volume cut along x-t (one image row over time, ``(T, W, 3)``)
    and y-t (one image column over time, ``(T, H, 3)``), coloured by tube. The row and
    column default to the object's mean centroid."""
    colours = tube_colours(int(labels.max()))
    obj = labels > 0
    if row is None or column is None:
        ys, xs = np.nonzero(obj.any(axis=0))
        cy, cx = (
            (int(ys.mean()), int(xs.mean()))
            if ys.size
            else (labels.shape[1] // 2, labels.shape[2] // 2)
        )
        row = cy if row is None else row
        column = cx if column is None else column
    return colours[labels[:, row, :]], colours[labels[:, :, column]]


def centroids(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Per tube, its centroid ``(x, y)`` in every frame, ``(T, 2)`` float (NaN where absent)."""
    t_n = labels.shape[0]
    ys, xs = np.mgrid[: labels.shape[1], : labels.shape[2]]
    out = {}
    for tube in range(1, int(labels.max()) + 1):
        c = np.full((t_n, 2), np.nan)
        for t in range(t_n):
            m = labels[t] == tube
            if m.any():
                c[t] = xs[m].mean(), ys[m].mean()
        out[tube] = c
    return out


def plot_trajectories(labels: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Fig. 6.6: part centroids over time in viewer-centred coordinates (image pixels) and
    object-centred ones (relative to the centroid of the whole object), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from motionlab.atomic import atomic_file

    cents = centroids(labels)
    obj = centroids((labels > 0).astype(np.int32)).get(1)
    colours = tube_colours(int(labels.max())) / 255.0
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for tube, c in cents.items():
        axes[0].plot(c[:, 0], c[:, 1], "-", color=colours[tube], lw=2, label=f"tube {tube}")
        if obj is not None:
            rel = c - obj
            axes[1].plot(rel[:, 0], rel[:, 1], "-", color=colours[tube], lw=2)
    axes[0].set_title("viewer-centred (image pixels)")
    axes[1].set_title("object-centred (pixels from the object's centroid)")
    for ax in axes:
        ax.invert_yaxis()
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    if cents:
        axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
