"""File to file: optical flow written like ``motionlab flow``.

:func:`write_flow_pair` writes the flow of two images as a Middlebury ``.flo`` (and
optionally its colour-coded PNG); :func:`write_flow` the flow of every pair of a video as a
folder of ``.flo`` files with a ``flow.json`` manifest, or as a colour-coded video. Both
record the provenance (settings, input hashes) and write atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from motionlab import __version__
from motionlab.atomic import PathLike, atomic_dir, atomic_file
from motionlab.errors import MotionlabError
from motionlab.flow.base import FlowEstimator, check_flow_size
from motionlab.flow.io import write_flo
from motionlab.flow.stream import video_flow
from motionlab.flow.viz import flow_to_color
from motionlab.progress import Progress
from motionlab.provenance import stamp, write_sidecar
from motionlab.video import (
    VideoReader,
    VideoWriter,
    is_folder_target,
    read_image,
    write_image,
)


def _settings(
    estimator: FlowEstimator, direction: str, max_flow: float | None, settings: dict | None
) -> dict[str, Any]:
    return settings or {"method": estimator.name, "options": {}, "direction": direction,
                        "max_flow": max_flow}  # fmt: skip


def write_flow_pair(
    image_a: PathLike,
    image_b: PathLike,
    output: PathLike,
    *,
    estimator: FlowEstimator,
    png: PathLike | None = None,
    max_flow: float | None = None,
    settings: dict[str, Any] | None = None,
    provenance_inputs: Sequence[PathLike | None] = (),
) -> Path:
    """Write the forward flow from ``image_a`` to ``image_b`` to ``output`` (``.flo``), its
    provenance to ``output.motionlab.json`` and, with ``png``, the colour-coded flow
    (``max_flow`` px at full colour; default: the field's maximum). Returns ``output``."""
    out = Path(output)
    if out.suffix.lower() != ".flo":
        raise MotionlabError(f"{out}: the flow of an image pair is written as a .flo file")
    if png is not None and Path(png).suffix.lower() != ".png":
        raise MotionlabError(f"{png}: --png needs a file name ending in .png")
    a, b = (read_image(p) for p in (image_a, image_b))
    for path, image in ((image_a, a), (image_b, b)):
        check_flow_size(path, image.shape[1], image.shape[0])
    if a.shape != b.shape:
        raise MotionlabError(
            f"{image_b}: is {b.shape[1]}x{b.shape[0]} pixels, {image_a} is "
            f"{a.shape[1]}x{a.shape[0]}: the images of a pair differ in size; resize one of them"
        )
    flow = estimator(a, b)
    write_flo(out, flow)
    record = stamp(
        _settings(estimator, "forward", max_flow, settings),
        inputs=(image_a, image_b, *provenance_inputs),
    )
    write_sidecar(out, record)
    if png is not None:
        color = flow_to_color(flow, max_flow=max_flow)
        with atomic_file(png) as tmp:
            write_image(tmp, color[:, :, ::-1])
    return out


def write_flow(
    source: PathLike,
    output: PathLike,
    *,
    estimator: FlowEstimator,
    direction: Literal["forward", "backward"] = "forward",
    max_flow: float | None = None,
    batch_size: int = 1,
    start: int = 0,
    stop: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    codec: str | None = None,
    settings: dict[str, Any] | None = None,
    provenance_inputs: Sequence[PathLike | None] = (),
    progress: bool = True,
) -> int:
    """Write the flow of every pair of frames of ``source``; return the number of pairs.

    ``output`` ending in ``/`` (or without suffix) is a folder: ``NNNNN.flo`` = the flow of
    frame pair (N, N+1) of the read frames, and ``flow.json`` (settings, naming, rate,
    provenance). Otherwise a colour-coded video (``max_flow`` px at full colour). ``direction``
    ``forward`` maps frame N to N+1, ``backward`` N+1 to N. ``batch_size`` pairs go to the
    estimator at once (RAFT). ``start``, ``stop``, ``size``, ``fps`` as for
    :class:`~motionlab.video.VideoReader`; ``settings`` are recorded (default: the method,
    direction and ``max_flow``).

    >>> import tempfile, pathlib
    >>> from motionlab.flow import get_estimator, read_flo
    >>> from motionlab.synthetic import sample_video_frames
    >>> from motionlab.video import write_video
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_video(folder / "clip.mkv", sample_video_frames(4, size=(64, 48)), fps=25)
    >>> write_flow(folder / "clip.mkv", folder / "flow/", estimator=get_estimator("dis"),
    ...            progress=False)
    3
    >>> read_flo(folder / "flow" / "00000.flo").shape
    (48, 64, 2)
    """
    if direction not in ("forward", "backward"):
        raise MotionlabError("write forward and backward flow with two runs")
    settings = _settings(estimator, direction, max_flow, settings)
    out_text = str(output)
    to_folder = is_folder_target(out_text) or Path(out_text).suffix == ""
    with VideoReader(source, start=start, stop=stop, size=size, fps=fps) as reader:
        n_pairs = reader.info.num_frames - 1
        if n_pairs < 1:
            raise MotionlabError(
                f"{source}: optical flow needs at least two frames, the video has 1"
            )
        check_flow_size(source, *reader.frame_size)
        pairs = video_flow(reader, estimator=estimator, direction=direction, batch_size=batch_size)
        flows = (p.forward if direction == "forward" else p.backward for p in pairs)
        bar = Progress(n_pairs, f"flow ({estimator.name})", "pair", enabled=progress)
        written = 0
        if to_folder:
            with atomic_dir(Path(out_text)) as tmp:
                for flow in flows:
                    write_flo(tmp / f"{written:05d}.flo", flow)
                    written += 1
                    bar.update()
                maps = (
                    "(maps frame N to N+1)" if direction == "forward" else "(maps frame N+1 to N)"
                )
                meta = {
                    **settings,
                    "motionlab": __version__,
                    "source": str(source),
                    "naming": f"NNNNN.flo is the flow of frame pair (N, N+1) of the input {maps}",
                    "start": start,
                    "num_pairs": written,
                    "fps": reader.fps,
                }
                meta = stamp(meta, inputs=(source, *provenance_inputs))
                (tmp / "flow.json").write_text(json.dumps(meta, indent=2) + "\n")
        else:
            record = stamp(
                {**settings, "source": str(source), "start": start},
                inputs=(source, *provenance_inputs),
            )
            video_meta = {"motionlab": json.dumps(record)}
            with VideoWriter(out_text, fps=reader.rate, codec=codec, metadata=video_meta) as w:
                for flow in flows:
                    w.write(flow_to_color(flow, max_flow=max_flow))
                    written += 1
                    bar.update()
        bar.close()
    return written
