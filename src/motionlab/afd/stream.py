"""Appearance-free video on the fly: AFD frames of an RGB video, with no AFD copy on disk.

:class:`AFDSource` is the transform behind ``--condition afd`` of ``train``, ``evaluate``,
``diagnose`` and ``predict``: given an RGB video of a dataset, it returns the frames of
that video's AFD version exactly as ``motionlab afd-dataset`` stores them, for the same
dataset seed, settings and flow: each video's noise seed is
:func:`motionlab.afd.dataset.video_seed` of the dataset seed and the video's path relative
to the dataset root, the flow is estimated with the same method and options (or read from
the flow cache of ``afd-dataset --save-flow``), and the frames come from the same
:func:`motionlab.afd.afd_steps`. A stored tree is lossless, so on-the-fly frames and the
stored video's frames are byte-equal (tested).

Cost. AFD noise is propagated by the flow from frame 0 (``advect`` moves particles pair
by pair; ``first-frame`` warps R_0 by each pair's flow, which is the same thing in
sequence), so AFD frame k needs frames 0..k decoded, their flow estimated and the noise
carried through: a clip whose last frame is k costs k + 1 frames of the whole pipeline,
however few frames it samples. Centre clips of a video of n frames cost about
``(n + span) / 2`` frames, random training clips on average the same. The source keeps
the AFD frames of the last ``keep`` videos in memory (per process; DataLoader workers
each have their own), so that a second clip of a recent video, or another stream of the
same clip, costs nothing; ``keep=0`` keeps nothing. Whether storing the AFD tree pays off
is measured in ``benchmarks/afd_on_the_fly.py`` (docs/benchmarks.md).

A flow cache holds forward flow only, quantised to 8 bits (0.16 px steps): with it,
``advect`` (and ``first-frame`` with ``first_frame_flow="forward"``) skip flow estimation,
but their frames equal a stored tree only if that tree was made from the same quantised
flow; the published ``first-frame`` mode with backward sampling needs backward flow and
always estimates.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from motionlab.afd.make import AFDConfig, afd_from_flows, afd_steps
from motionlab.errors import MotionlabError


class AFDSource:
    """AFD frames of the videos of one dataset, computed from the RGB videos.

    Parameters
    ----------
    root : path
        The dataset root (``afd-dataset``'s SRC): seeds hash the video's path relative to
        it, ``Class/video.avi``.
    config : AFDConfig
        Settings as ``afd-dataset`` takes them; ``config.seed`` is the *dataset* seed.
    flow_cache : path, optional
        A flow cache of ``afd-dataset --save-flow`` mirroring ``root``; forward flow is
        read from it instead of being estimated (``advect`` and forward ``first-frame``).
    keep : int
        AFD videos kept in memory (most recently used); 0 keeps none.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        config: AFDConfig = AFDConfig(),
        *,
        flow_cache: str | os.PathLike[str] | None = None,
        keep: int = 2,
    ) -> None:
        self.root = Path(root)
        self.config = config
        self.flow_cache = Path(flow_cache) if flow_cache is not None else None
        if self.flow_cache is not None and config.directions not in ("forward", "none"):
            raise MotionlabError(
                f"AFD mode {config.mode!r} with {config.first_frame_flow} sampling needs "
                "backward flow; a flow cache holds forward flow only (leave it out)"
            )
        if keep < 0:
            raise MotionlabError(f"keep must be >= 0, got {keep}")
        self.keep = keep
        self._memory: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._estimator: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for DataLoader workers without the memory and the built estimator."""
        state = dict(self.__dict__)
        state["_memory"] = OrderedDict()
        state["_estimator"] = None
        return state

    def relpath(self, video: str | os.PathLike[str]) -> str:
        """The path of ``video`` relative to the dataset root, with ``/``."""
        try:
            return Path(video).relative_to(self.root).as_posix()
        except ValueError:
            raise MotionlabError(
                f"{video} is not under the dataset root {self.root}: its AFD seed is a hash "
                "of the path relative to the root"
            ) from None

    def seed_of(self, video: str | os.PathLike[str]) -> int:
        """The noise seed of ``video``: ``video_seed(dataset seed, relative path)``."""
        from motionlab.afd.dataset import video_seed

        return video_seed(self.config.seed, self.relpath(video))

    def describe(self) -> dict[str, Any]:
        """The settings as plain data (for logs and result files)."""
        return {
            "afd": self.config.to_dict(),
            "dataset_seed": self.config.seed,
            "flow_cache": None if self.flow_cache is None else str(self.flow_cache),
            "seeds": "per video: video_seed(dataset_seed, path relative to the dataset root)",
        }

    def iter_frames(
        self, video: str | os.PathLike[str], stop: int | None = None
    ) -> Iterator[np.ndarray]:
        """Yield AFD frames 0, 1, ... of ``video`` (``(H, W, 3)`` uint8), ``stop`` at most.

        Reads only the source frames ``0..stop-1`` (the AFD of frame k depends on nothing
        later); ``stop`` is raised to 2 (flow needs a pair).
        """
        from motionlab.video import VideoReader

        video = Path(video)
        config = dataclasses.replace(self.config, seed=self.seed_of(video))
        if self.flow_cache is not None:
            yield from self._from_cache(video, config, stop)
            return
        if self._estimator is None and config.directions != "none":
            from motionlab.flow import get_estimator

            self._estimator = get_estimator(config.flow_method, **config.resolved_flow_options)
        if stop is not None:
            stop = max(stop, 2)
        with VideoReader(video, stop=stop) as reader:
            steps = afd_steps(reader, config=config, estimator=self._estimator, threaded=False)
            for step in steps:
                yield step.afd

    def _from_cache(self, video: Path, config: AFDConfig, stop: int | None) -> Iterator[np.ndarray]:
        from motionlab.afd.dataset import read_flow_video
        from motionlab.flow import FlowPair
        from motionlab.recognition.data import flow_cache_path

        assert self.flow_cache is not None
        cached = flow_cache_path(self.flow_cache, self.root, video)
        if not cached.exists():
            raise MotionlabError(
                f"{cached}: no cached flow for {video}; make it with "
                "`motionlab afd-dataset --save-flow` or leave out the flow cache"
            )
        flows = read_flow_video(cached)
        first = next(flows, None)
        if first is None:
            raise MotionlabError(f"{cached}: no flow frames")
        h, w = first.shape[:2]

        def pairs() -> Iterator[FlowPair]:
            flow: np.ndarray | None = first
            t = 0
            while flow is not None:
                yield FlowPair(t, flow, None)
                t += 1
                flow = next(flows, None)

        for k, frame in enumerate(afd_from_flows(pairs(), height=h, width=w, config=config)):
            if stop is not None and k >= stop:
                return
            yield frame

    def frames(self, video: str | os.PathLike[str], indices: np.ndarray) -> np.ndarray:
        """AFD frames ``indices`` of ``video`` (any order, repeats allowed):
        ``(len(indices), H, W, 3)`` uint8.

        Computes frames ``0..max(indices)`` (see the module docstring for the cost), or
        takes them from memory when a recent call computed that far.
        """
        video = Path(video)
        wanted = np.asarray(indices, dtype=np.int64)
        if wanted.size == 0:
            raise MotionlabError("no frame indices")
        if wanted.min() < 0:
            raise MotionlabError(f"negative frame index {int(wanted.min())}")
        need = int(wanted.max()) + 1
        have = self._memory.get(video)
        if have is None or len(have) < need:
            have = np.stack(list(self.iter_frames(video, stop=need)))
            if len(have) < need:
                raise MotionlabError(
                    f"{video}: frame {need - 1} asked for, the video has {len(have)}"
                )
            if self.keep:
                self._memory[video] = have
                while len(self._memory) > self.keep:
                    self._memory.popitem(last=False)
        if self.keep and video in self._memory:
            self._memory.move_to_end(video)
        return have[wanted]

    def video(self, video: str | os.PathLike[str]) -> np.ndarray:
        """Every AFD frame of ``video``: ``(T, H, W, 3)`` uint8 (kept in memory like
        :meth:`frames`)."""
        video = Path(video)
        frames = np.stack(list(self.iter_frames(video)))
        if self.keep:
            self._memory[video] = frames
            while len(self._memory) > self.keep:
                self._memory.popitem(last=False)
        return frames
