"""Appearance-free video (AFD): noise animated by a video's optical flow.

No single frame of an AFD video shows anything but noise; played as a video it shows the
motion of the source (thesis ch. 4, Sec. 4.2, Fig. 4.2). Three modes:

``advect`` (default)
    Noise carried by particles that move with the forward flow (:class:`AdvectedNoise`):
    the texture moves with the scene, sub-pixel motion included, while every single frame
    stays i.i.d. uniform noise: no duplicated neighbours from nearest-neighbour stretching,
    fresh noise in disocclusions and expansions, the same statistics everywhere. Our own
    method, measured against the published one in docs/benchmarks.md.
``first-frame``
    The published method: a noise frame R_0 (i.i.d. uniform), and output frame t is R_0
    warped by the flow of pair (t-1, t) with nearest-neighbour sampling; pixels that are
    de-occluded or come from outside the frame take R_0's value; output frame 0 is R_0.
    The warp samples R_0 at ``p + B(p)`` with B the *backward* flow of the pair (defined on
    frame t, pointing into frame t-1), so R_0's texture moves *with* the motion from t-1 to
    t; de-occluded pixels are those that fail the forward-backward check. We deliberately
    differ from the original code here, which samples R_0 at ``p + F(p)`` with the
    *forward* flow (texture displaced against the motion) and refills only out-of-frame
    pixels; ``first_frame_flow="forward"`` reproduces that choice.
``iid``
    Fresh i.i.d. noise every frame: no motion at all (the ablation of thesis Fig. 5.8).

Output frames have the size and count of the input.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from motionlab.afd.noise import (
    AdvectedNoise,
    NoiseRange,
    occlusion_mask,
    sample_nearest,
    uniform_noise,
)
from motionlab.checks import check_frame
from motionlab.errors import MotionlabError
from motionlab.flow import FlowEstimator, FlowPair, get_estimator, video_flow
from motionlab.flow.estimators import DEFAULT_METHOD, with_dis_preset
from motionlab.pipeline import prefetch

Mode = Literal["advect", "first-frame", "iid"]
MODES: tuple[str, ...] = ("advect", "first-frame", "iid")
DEFAULT_MODE = "advect"
DEFAULT_DENSITY = 1
AFD_DIS_PRESET = "fast"
"""DIS preset used for AFD unless one is given: 2 ms per 320x240 pair instead of medium's
11 ms of CPU, for a motion EPE of 0.54 instead of 0.39 px on 6 DAVIS sequences
(docs/benchmarks.md, "Settings of the default mode"); it is what brings the default
pipeline past 100 frames/s on two cores."""


@dataclass(frozen=True)
class AFDConfig:
    """Settings of an appearance-free video (recorded with every output).

    Attributes
    ----------
    mode : {"advect", "first-frame", "iid"}
    seed : int
        Seed of all noise.
    noise : NoiseRange
        Value range per channel (default uniform over 0..255) and grayscale option.
    density : int
        ``advect``: particles per pixel along each axis (default 1; 2 tracks sub-pixel
        motion a little better at about twice the noise cost).
    first_frame_flow : {"backward", "forward"}
        ``first-frame``: which flow of pair (t-1, t) samples R_0 (see module docs).
    flow_method : str
        Optical-flow method (:func:`motionlab.flow.list_methods`).
    flow_options : dict
        Keyword settings of the flow method (preset, weights, iters, ...). With ``dis`` and
        no preset, :data:`AFD_DIS_PRESET` is used (see :attr:`resolved_flow_options`).
    """

    mode: str = DEFAULT_MODE
    seed: int = 0
    noise: NoiseRange = field(default_factory=NoiseRange)
    density: int = DEFAULT_DENSITY
    first_frame_flow: str = "backward"
    flow_method: str = DEFAULT_METHOD
    flow_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise MotionlabError(
                f"unknown AFD mode {self.mode!r}; choose one of {', '.join(MODES)}"
            )
        if self.first_frame_flow not in ("backward", "forward"):
            raise MotionlabError(
                f"first_frame_flow must be 'backward' or 'forward', got {self.first_frame_flow!r}"
            )

    @property
    def resolved_flow_options(self) -> dict[str, Any]:
        """The flow options actually used (the AFD default DIS preset filled in)."""
        return with_dis_preset(self.flow_method, self.flow_options, AFD_DIS_PRESET)

    @property
    def directions(self) -> str:
        """Which flows of each pair the mode needs."""
        if self.mode == "advect":
            return "forward"
        if self.mode == "first-frame":
            return "both" if self.first_frame_flow == "backward" else "forward"
        return "none"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, for provenance records."""
        return {
            "mode": self.mode,
            "seed": self.seed,
            "noise_low": list(self.noise.low),
            "noise_high": list(self.noise.high),
            "grayscale": self.noise.grayscale,
            "density": self.density,
            "first_frame_flow": self.first_frame_flow,
            "flow_method": self.flow_method,
            "flow_options": {k: str(v) for k, v in self.resolved_flow_options.items()},
        }


@dataclass(frozen=True)
class AFDStep:
    """One output step: source frame t, the flow pair (t-1, t) (None for t = 0), AFD frame t."""

    index: int
    source: np.ndarray
    flow: FlowPair | None
    afd: np.ndarray


def afd_from_flows(
    flows: Iterable[FlowPair],
    *,
    height: int,
    width: int,
    config: AFDConfig = AFDConfig(),
) -> Iterator[np.ndarray]:
    """AFD frames from the flows of consecutive pairs (frame 0, then one per pair).

    Parameters
    ----------
    flows : iterable of FlowPair
        Pair (t-1, t) yields output frame t. ``advect`` needs ``forward``;
        ``first-frame`` needs ``backward`` and ``forward`` (``forward`` only with
        ``first_frame_flow="forward"``); ``iid`` needs neither.
    height, width : int
        Frame size.

    Yields
    ------
    (height, width, 3) uint8 ndarray
    """
    rng = np.random.default_rng(config.seed)
    if config.mode == "iid":
        yield uniform_noise(height, width, noise=config.noise, rng=rng)
        for _ in flows:
            yield uniform_noise(height, width, noise=config.noise, rng=rng)
        return
    if config.mode == "first-frame":
        r0 = uniform_noise(height, width, noise=config.noise, rng=rng)
        yield r0
        for pair in flows:
            if config.first_frame_flow == "backward":
                _need(pair.backward, "backward", pair.index)
                _need(pair.forward, "forward", pair.index)
                warped, inside = sample_nearest(r0, pair.backward)
                # de-occluded in frame t: not visible in frame t-1
                refill = ~inside | occlusion_mask(pair.backward, pair.forward)
            else:  # the original code: forward flow as sampling field, out-of-frame refill
                _need(pair.forward, "forward", pair.index)
                warped, inside = sample_nearest(r0, pair.forward)
                refill = ~inside
            warped[refill] = r0[refill]
            yield warped
        return
    noise = AdvectedNoise(height, width, density=config.density, noise=config.noise, rng=rng)
    yield noise.render()
    for pair in flows:
        _need(pair.forward, "forward", pair.index)
        noise.advect(pair.forward)
        yield noise.render()


def _need(flow: np.ndarray | None, name: str, index: int) -> None:
    if flow is None:
        raise MotionlabError(f"AFD needs the {name} flow of pair ({index}, {index + 1})")


def frames_with_flow(
    frames: Iterable[np.ndarray], *, directions: str, estimator: FlowEstimator | None
) -> Iterator[tuple[np.ndarray, FlowPair | None]]:
    """Yield ``(frame 0, None)``, then ``(frame t, flow of pair (t-1, t))`` for t >= 1.

    ``directions`` is ``"forward"``, ``"backward"``, ``"both"`` or ``"none"`` (no flow is
    estimated; the pairs carry None). An estimator with a ``batch_size`` (RAFT) gets that
    many pairs per call, holding ``batch_size + 1`` frames.
    """
    if directions == "none":
        count = 0
        for t, frame in enumerate(frames):
            yield frame, (None if t == 0 else FlowPair(t - 1, None, None))
            count += 1
        if count < 2:
            raise MotionlabError(f"an appearance-free video needs at least two frames, got {count}")
        return
    seen: deque[np.ndarray] = deque()

    def tee() -> Iterator[np.ndarray]:
        for frame in frames:
            seen.append(frame)
            yield frame

    assert estimator is not None
    # pairs per estimator call: the estimator's own batch size (RAFT --batch-size), else 1
    batch = int(getattr(estimator, "batch_size", 1))
    pairs = video_flow(tee(), estimator=estimator, direction=directions, batch_size=batch)  # type: ignore[arg-type]
    for pair in pairs:
        if pair.index == 0:
            yield seen[0], None
        seen.popleft()
        yield seen[0], pair


def afd_steps(
    frames: Iterable[np.ndarray],
    *,
    config: AFDConfig = AFDConfig(),
    estimator: FlowEstimator | None = None,
    threaded: bool = True,
    need_forward: bool = False,
) -> Iterator[AFDStep]:
    """Stream source frames, their flow and AFD frames together, in bounded memory.

    Parameters
    ----------
    frames : iterable of (H, W, 3) uint8 ndarray
        At least two frames.
    estimator : FlowEstimator, optional
        Reuse a built estimator; default: built from ``config.flow_method`` and options.
    threaded : bool
        Decode and estimate flow in a background thread while the noise is made here.
    need_forward : bool
        Estimate the forward flow of every pair even if the mode needs none (to save it).
    """
    directions = config.directions
    if need_forward:
        directions = {"none": "forward", "backward": "both"}.get(directions, directions)
    est = None
    if directions != "none":
        est = estimator or get_estimator(config.flow_method, **config.resolved_flow_options)
    source = frames_with_flow(frames, directions=directions, estimator=est)
    if threaded:
        source = prefetch(source)
    # closed on the way out, whatever ends the loop: the producer thread stops (and is
    # joined) while the caller's reader is still open
    with contextlib.closing(source):
        it = iter(source)
        try:
            first, _ = next(it)
        except StopIteration:
            raise MotionlabError(
                "an appearance-free video needs at least two frames, got 0"
            ) from None
        check_frame(first, name="frame 0")
        h, w = first.shape[:2]
        current: list[tuple[np.ndarray, FlowPair | None]] = [(first, None)]

        def pairs() -> Iterator[FlowPair]:
            for frame, pair in it:
                current[0] = (frame, pair)
                assert pair is not None
                yield pair

        for index, afd in enumerate(afd_from_flows(pairs(), height=h, width=w, config=config)):
            frame, pair = current[0]
            yield AFDStep(index, frame, pair, afd)


def make_afd(
    video_or_frames: str | os.PathLike[str] | Iterable[np.ndarray],
    *,
    mode: Mode = DEFAULT_MODE,
    flow: str = DEFAULT_METHOD,
    seed: int = 0,
    noise: NoiseRange = NoiseRange(),
    density: int = DEFAULT_DENSITY,
    estimator: FlowEstimator | None = None,
    **flow_options: Any,
) -> Iterator[np.ndarray]:
    """Yield the frames of the appearance-free version of a video, one at a time.

    Parameters
    ----------
    video_or_frames : path or iterable of (H, W, 3) uint8 ndarray
        A video file, a frame folder, or frames.
    mode : {"advect", "first-frame", "iid"}
        See the module documentation; ``advect`` is the default.
    flow : str
        Optical-flow method (default ``"dis"``); ``**flow_options`` are its settings.
    seed : int
        Seed of the noise.
    noise : NoiseRange
        Value range per channel and grayscale option.

    Yields
    ------
    (H, W, 3) uint8 ndarray
        As many frames as the input, of its size.

    Examples
    --------
    >>> from motionlab.synthetic import sample_video_frames
    >>> frames = list(make_afd(sample_video_frames(4, size=(64, 48)), seed=1))
    >>> len(frames), frames[0].shape
    (4, (48, 64, 3))
    """
    config = AFDConfig(
        mode=mode,
        seed=seed,
        noise=noise,
        density=density,
        flow_method=flow,
        flow_options=dict(flow_options),
    )
    if isinstance(video_or_frames, (str, os.PathLike)):
        from motionlab.video import VideoReader

        with VideoReader(Path(video_or_frames)) as reader:
            for step in afd_steps(reader, config=config, estimator=estimator):
                yield step.afd
        return
    for step in afd_steps(video_or_frames, config=config, estimator=estimator):
        yield step.afd
