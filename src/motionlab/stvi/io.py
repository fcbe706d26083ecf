"""STVI results on disk.

A result folder holds

* ``labels/NAME.png`` -- one 16-bit grey PNG per input frame, named like the input frames
  (``00000.png`` ... for a video), pixel value = tube id, 0 = not the object;
* ``mask/NAME.png`` -- the object mask (union of the kept tubes), 0 / 255;
* ``labels.npz`` -- ``labels`` (T, H, W) int32, ``supervoxels`` (all clusters, -1 outside
  the sub-volume), ``boxes`` (T, 4), ``origins`` (T, 2), ``names``;
* ``stvi.json`` -- parameters, scales actually used, anchors, tube overlaps, timing.

The folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from motionlab.atomic import atomic_dir
from motionlab.errors import MotionlabError
from motionlab.stvi.tubes import STVIResult

log = logging.getLogger(__name__)


def write_result(
    folder: str | os.PathLike[str],
    result: STVIResult,
    names: Sequence[str],
    info: dict[str, Any] | None = None,
    *,
    frames: np.ndarray | None = None,
) -> Path:
    """Write ``result`` to ``folder`` (see the module doc); ``names`` are the frame file
    stems, one per frame. With ``frames`` (the ``(T, H, W, 3)`` clip) also write
    ``pictures/``: tubes over four frames, the x-t and y-t slices and, when matplotlib is
    installed, the centroid trajectories. Returns the folder."""
    folder = Path(folder)
    t_n = result.labels.shape[0]
    if len(names) != t_n:
        raise MotionlabError(f"{len(names)} frame names for {t_n} frames")
    with atomic_dir(folder) as tmp:
        (tmp / "labels").mkdir()
        (tmp / "mask").mkdir()
        for name, lab in zip(names, result.labels, strict=True):
            if not cv2.imwrite(str(tmp / "labels" / f"{name}.png"), lab.astype(np.uint16)):
                raise MotionlabError(f"{folder}: could not write label PNGs")
            cv2.imwrite(str(tmp / "mask" / f"{name}.png"), (lab > 0).astype(np.uint8) * 255)
        np.savez_compressed(
            tmp / "labels.npz",
            labels=result.labels,
            supervoxels=result.supervoxels,
            boxes=result.boxes,
            origins=result.origins,
            names=np.array(list(names)),
        )
        meta = {
            **result.summary(),
            "overlaps": {str(k): round(v, 4) for k, v in result.overlaps.items()},
            **(info or {}),
        }
        (tmp / "stvi.json").write_text(json.dumps(meta, indent=2) + "\n")
        if frames is not None:
            write_pictures(tmp / "pictures", frames, result.labels)
    return folder


def read_labels(folder: str | os.PathLike[str]) -> np.ndarray:
    """The ``(T, H, W)`` int32 tube labels of a result folder (``labels.npz``)."""
    path = Path(folder) / "labels.npz"
    if not path.is_file():
        raise MotionlabError(f"{folder}: not an STVI result (no labels.npz)")
    try:
        with np.load(path) as data:
            return data["labels"].astype(np.int32)
    except (OSError, ValueError, KeyError) as exc:
        raise MotionlabError(f"{path}: unreadable STVI labels ({exc})") from None


def write_pictures(folder: Path, frames: np.ndarray, labels: np.ndarray) -> None:
    """``overlay.png``, ``slice_xt.png``, ``slice_yt.png`` and ``trajectories.png``."""
    from motionlab.stvi import pictures

    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str, rgb: np.ndarray) -> None:
        cv2.imwrite(str(folder / name), np.ascontiguousarray(rgb[..., ::-1]))

    save("overlay.png", pictures.overlay_strip(frames, labels))
    if labels.max() > 0:
        xt, yt = pictures.spacetime_slices(labels)
        save("slice_xt.png", xt)
        save("slice_yt.png", yt)
        try:
            pictures.plot_trajectories(labels, folder / "trajectories.png")
        except ImportError:
            log.warning("matplotlib is not installed: no trajectory plot")
