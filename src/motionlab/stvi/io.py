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
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motionlab.atomic import atomic_dir
from motionlab.errors import MotionlabError
from motionlab.stvi.tubes import STVIResult
from motionlab.video import write_image

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
            write_image(tmp / "labels" / f"{name}.png", lab.astype(np.uint16))
            write_image(tmp / "mask" / f"{name}.png", (lab > 0).astype(np.uint8) * 255)
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
    """The ``(T, H, W)`` int32 tube labels of a result folder (``labels.npz``).

    The array's header is checked before any memory is allocated: its dtype must be an
    integer (or bool) type, its shape three-dimensional, and the bytes it claims must be
    the bytes the file holds (a header claiming 100000x100000 frames is refused, not
    allocated).

    Raises
    ------
    MotionlabError
        If the file is missing, not a NumPy ``.npz``, has no ``labels`` array, or the array
        is not an integer ``(T, H, W)`` volume.
    """
    path = Path(folder) / "labels.npz"
    if not path.is_file():
        raise MotionlabError(f"{folder}: not an STVI result (no labels.npz)")
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                member = archive.getinfo("labels.npy")
            except KeyError:
                raise MotionlabError(
                    f"{path}: unreadable STVI labels (no 'labels' array)"
                ) from None
            with archive.open(member) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                if dtype.kind not in "iub" or len(shape) != 3:
                    raise MotionlabError(
                        f"{path}: STVI labels must be a (T, H, W) integer array, the file "
                        f"holds {dtype} {shape}"
                    )
                claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                held = member.file_size - f.tell()
                if claimed != held:
                    raise MotionlabError(
                        f"{path}: the labels header claims {shape} {dtype} ({claimed} bytes) "
                        f"but the file holds {held} bytes (corrupt or truncated)"
                    )
                data = np.frombuffer(f.read(claimed), dtype=dtype)
        return data.reshape(shape, order="F" if fortran else "C").astype(np.int32)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionlabError(f"{path}: unreadable STVI labels ({exc})") from None


def write_pictures(folder: Path, frames: np.ndarray, labels: np.ndarray) -> None:
    """``overlay.png``, ``slice_xt.png``, ``slice_yt.png`` and ``trajectories.png``."""
    from motionlab.stvi import pictures

    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str, rgb: np.ndarray) -> None:
        write_image(folder / name, rgb[..., ::-1])

    save("overlay.png", pictures.overlay_strip(frames, labels))
    if labels.max() > 0:
        xt, yt = pictures.spacetime_slices(labels)
        save("slice_xt.png", xt)
        save("slice_yt.png", yt)
        try:
            pictures.plot_trajectories(labels, folder / "trajectories.png")
        except ImportError:
            log.warning("matplotlib is not installed: no trajectory plot")
