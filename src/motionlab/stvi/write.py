"""File to folder: the object-part tubes of a video, written like ``motionlab stvi``.

:func:`write_stvi` is the driver behind ``motionlab stvi``: it reads the frames, takes the
object's anchor masks from a folder (or from a segmenter such as Mask R-CNN), checks them
before any flow is computed, estimates the flow, runs :func:`~motionlab.stvi.tubes.stvi`
and writes the result folder (label PNGs, masks, ``labels.npz``, ``stvi.json`` with the
provenance, optional pictures) atomically.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from motionlab.atomic import PathLike
from motionlab.flow.base import FlowEstimator, check_flow_size
from motionlab.provenance import stamp
from motionlab.stvi.anchors import (
    FolderMasks,
    STVIInputError,
    anchor_indices,
    check_anchors,
    load_anchors,
)
from motionlab.stvi.io import write_result
from motionlab.stvi.tubes import (
    STVIParams,
    STVIResult,
    compute_flows,
    stvi,
    stvi_flow_options,
)
from motionlab.video import VideoReader, list_frame_files, read_video

log = logging.getLogger("motionlab")


def frame_names(source: Path, n: int) -> list[str]:
    """Names of the ``n`` output frames: the frame files' stems for a frame folder (DAVIS
    ``00000`` ...), else ``00000`` ... ``n-1``."""
    if source.is_dir():
        files = list_frame_files(source)
        if len(files) >= n:
            return [f.stem for f in files[:n]]
    return [f"{i:05d}" for i in range(n)]


def write_stvi(
    source: PathLike,
    output: PathLike,
    *,
    estimator: FlowEstimator | None = None,
    flow: str = "dis",
    flow_options: dict[str, Any] | None = None,
    anchors: PathLike | None = None,
    segmenter: Any = None,
    object_class: str | None = None,
    every: int = 20,
    start: int = 0,
    stop: int | None = None,
    params: STVIParams | None = None,
    pictures: bool = False,
    settings: dict[str, Any] | None = None,
    provenance_inputs: tuple[PathLike | None, ...] = (),
    progress: bool = True,
) -> STVIResult:
    """Decompose the object of ``source`` into part tubes and write them to ``output``.

    Parameters
    ----------
    source : path
        Video file or frame folder (at least two frames).
    output : path
        Result folder (written whole or not at all).
    estimator, flow, flow_options
        Optical flow of every pair: a built estimator, or one built from ``flow`` and
        ``flow_options`` once the frames and anchors have passed their checks (DIS with
        the preset ``STVI_DIS_PRESET`` unless ``flow_options`` names one:
        :func:`~motionlab.stvi.tubes.stvi_flow_options`; recorded in ``stvi.json``).
    anchors, segmenter, object_class
        The object's masks: a folder of masks named by frame index (``anchors``, e.g. DAVIS
        ``Annotations/480p/SEQ``; the first frame's is required), or a ``segmenter``
        (:func:`motionlab.stvi.detect.load_segmenter`) whose best instance of
        ``object_class`` (any class if None) in the first frame is the object.
    every : int
        Use the mask of every n-th frame (20, the thesis's "Ours ⇓").
    start, stop : int
        Frames ``start`` .. ``stop - 1`` of the source (mask files keep the source's index).
    params : STVIParams
        k, clusters, omega, the mask weight and the scales (default: the automatic
        0-parameter mode).
    pictures : bool
        Also write ``pictures/`` (tubes over frames, x-t / y-t slices, trajectories).
    settings, provenance_inputs
        Extra fields for ``stvi.json`` and further files whose hashes it records.
    progress : bool
        Show the flow's progress (see :mod:`motionlab.progress`).
    """
    started = time.perf_counter()
    with VideoReader(source, start=start, stop=stop):
        pass  # a missing or unreadable input is named before the anchors' folder is checked
    masks = FolderMasks(anchors) if anchors is not None else None
    frames = read_video(source, start=start, stop=stop)
    t_n, h, w = frames.shape[:3]
    if t_n < 2:
        raise STVIInputError(f"{source}: STVI needs at least two frames, got {t_n}")
    check_flow_size(source, w, h)
    indices = anchor_indices(t_n, every)
    found = None
    if masks is not None:
        # mask files are named by the frame index of the input, so a start offset applies
        marks = load_anchors(lambda i, size: masks(i + start, size), indices, (w, h))
        check_anchors(marks, t_n, (w, h))  # before minutes of flow
        log.info("%d frames %dx%d, anchors at frames %s", t_n, w, h, sorted(marks))
    else:  # no object in the first frame fails here, before the flow
        from motionlab.stvi import detect

        found = detect.DetectedObject(segmenter, frames, indices, label=object_class)
        log.info("detector: the object is a %s (score %.2f)", found.label, found.score)
    built_with = None  # the options of an estimator built here, for stvi.json
    if estimator is None:
        from motionlab.flow import get_estimator

        built_with = stvi_flow_options(flow, flow_options)
        estimator = get_estimator(flow, **built_with)
    flows = compute_flows(frames, estimator=estimator, progress=progress)
    # both directions: the backward flow follows the anchors back in time (tracking note)
    backward = compute_flows(frames, estimator=estimator, progress=progress, direction="backward")
    if found is not None:
        marks = found.anchors(flows)
        check_anchors(marks, t_n, (w, h))
        log.info("%d frames %dx%d, detected anchors at %s", t_n, w, h, sorted(marks))
    log.info("clustering the space-time volume ...")
    result = stvi(
        frames, marks, flows=flows, backward_flows=backward, params=params or STVIParams()
    )
    info = dict(settings or {})
    detector = info.pop("detector", {})
    info["seconds"] = round(time.perf_counter() - started, 2)
    info["flow_directions"] = ["forward", "backward"]  # both computed above
    if built_with is not None:
        info["flow_options"] = {k: str(v) for k, v in built_with.items()}
    if found is not None:
        info["detector"] = {**detector, "class": found.label, "score": found.score}
    info = stamp(info, inputs=(source, anchors, *provenance_inputs))
    write_result(
        output, result, frame_names(Path(source), t_n), info, frames=frames if pictures else None
    )
    return result
