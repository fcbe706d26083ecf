"""Selective obfuscation: replace the salient parts of each frame by motion-consistent noise.

Thesis Sec. 5.3: a matcher gives the saliency ``S_t`` of the selected privacy attributes
in frame ``I_t``; an appearance-free noise video ``N_t`` animated by the video's own
optical flow (:mod:`motionlab.afd`) and drawn from ``U(mean - std, mean + std)`` of the
video or a dataset (eq. 5.3-5.4) is blended in::

    O_t = I_t + S_t * (N_t - I_t)                                  (eq. 5.5)

so pixels with ``S = 0`` are untouched, pixels with ``S = 1`` are pure noise, and the noise
inside the obfuscated region moves the way the hidden person moved: a motion-based action
recogniser still sees the motion, an observer no longer sees the attribute.

Noise modes (``ObfuscationConfig.noise``): ``motion`` (default; the AFD ``advect`` mode,
noise carried by the forward flow, every frame i.i.d.), ``first-frame`` (the published
AFD warping of one noise frame), ``iid`` (fresh noise every frame: the ablation of thesis
Fig. 5.8, which destroys the motion inside the region).

Replacements (``ObfuscationConfig.replace``, :mod:`motionlab.privacy.replace`): the noise is
the default; blur, pixelation, the region's mean colour or a fixed colour can take its
place inside the same soft mask (``O_t = I_t + S_t (R_t - I_t)``), to compare the naive
baselines with the noise on the same region. Those need no optical flow.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionlab.afd import AFDConfig, AFDStep, afd_steps
from motionlab.afd.noise import NoiseRange
from motionlab.checks import check_frame
from motionlab.errors import MotionlabError
from motionlab.flow import FlowEstimator
from motionlab.flow.estimators import DEFAULT_METHOD
from motionlab.privacy.attributes import parse_names
from motionlab.privacy.frame_stats import frames_mean_std
from motionlab.privacy.lookahead import Lookahead
from motionlab.privacy.matchers import DEFAULT_MATCHER, Matcher, get_matcher
from motionlab.privacy.replace import Replacement, replacement_frame

NOISE_MODES: dict[str, str] = {"motion": "advect", "first-frame": "first-frame", "iid": "iid"}
"""Obfuscation noise mode -> AFD mode of :mod:`motionlab.afd`."""

AHEAD = 16
"""Frames the matcher may run ahead of the noise and blend (:func:`obfuscate_steps`): at
start-up it works through the first frames while the noise's kernels load, and later the
landmarks matcher passes each frame through up to four threads in turn (face mesh,
segmentation, drawing, combining), each busy with a frame of its own."""
AHEAD_BYTES = 128 << 20
"""Memory for the frames in flight (a frame and two float32 maps per template): fewer
than ``AHEAD`` for large frames, but never fewer than ``MIN_AHEAD``."""
MIN_AHEAD = 4


def blend(frame: np.ndarray, noise: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """Thesis eq. 5.5: ``O = I + S * (N - I)``, rounded to uint8.

    Parameters
    ----------
    frame : (H, W, 3) uint8 ndarray
        Original frame I.
    noise : (H, W, 3) uint8 ndarray
        Noise frame N.
    saliency : (H, W) float ndarray
        S in [0, 1] (values outside are clipped).

    Returns
    -------
    (H, W, 3) uint8 ndarray
        Equal to ``frame`` exactly where ``S == 0`` and to ``noise`` where ``S == 1``.
    """
    frame = check_frame(frame)
    noise = check_frame(noise, name="noise")
    s = np.asarray(saliency, np.float32)
    if noise.shape != frame.shape or s.shape != frame.shape[:2]:
        raise MotionlabError(
            f"frame {frame.shape}, noise {noise.shape} and saliency {s.shape} must agree "
            "(saliency is (H, W))"
        )
    s = np.clip(s, 0.0, 1.0)
    # Only the box around the pixels with S != 0 can change (elsewhere the formula gives
    # I exactly): compute it there, the same values at a fraction of the cost for small
    # regions (far faces in a wide frame).
    rows, cols = np.flatnonzero(s.any(1)), np.flatnonzero(s.any(0))
    out = frame.copy()
    if not len(rows):
        return out
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    i = frame[box].astype(np.float32)
    mixed = i + s[box][..., None] * (noise[box].astype(np.float32) - i)
    out[box] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class ObfuscationConfig:
    """Settings of one obfuscation run (recorded with every output).

    Attributes
    ----------
    templates : tuple of str
        Selected template names (e.g. ``("forehead", "hair", "eyes", "cheek", "lips")``).
    noise : {"motion", "first-frame", "iid"}
        Noise inside the obfuscated region (see module docs).
    seed : int
        Seed of the noise.
    noise_range : NoiseRange
        Uniform noise range per channel; thesis eq. 5.3 uses ``mean +- std`` of the video
        or dataset (:meth:`NoiseRange.from_mean_std`).
    flow_method : str
        Optical flow that animates the noise (default DIS, AFD's ``fast`` preset).
    flow_options : dict
        Settings of the flow method.
    replace : Replacement
        What is blended into the salient pixels: the noise (default; the settings above
        apply to it only) or a baseline inside the mask (:mod:`motionlab.privacy.replace`).
    """

    templates: tuple[str, ...]
    noise: str = "motion"
    seed: int = 0
    noise_range: NoiseRange = field(default_factory=NoiseRange)
    flow_method: str = DEFAULT_METHOD
    flow_options: dict[str, Any] = field(default_factory=dict)
    replace: Replacement = field(default_factory=Replacement)

    def __post_init__(self) -> None:
        if self.noise not in NOISE_MODES:
            raise MotionlabError(
                f"unknown noise mode {self.noise!r}; choose one of {', '.join(NOISE_MODES)}"
            )
        if not self.templates:
            raise MotionlabError("select at least one template")

    def afd_config(self) -> AFDConfig:
        """The appearance-free video settings of the noise."""
        return AFDConfig(
            mode=NOISE_MODES[self.noise],
            seed=self.seed,
            noise=self.noise_range,
            flow_method=self.flow_method,
            flow_options=dict(self.flow_options),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, for provenance records (noise settings only with the noise)."""
        if self.replace.kind != "noise":
            return {"templates": list(self.templates), "replace": self.replace.to_dict()}
        return {
            "templates": list(self.templates),
            "noise": self.noise,
            "afd": self.afd_config().to_dict(),
            "replace": self.replace.to_dict(),
        }


@dataclass(frozen=True)
class ObfuscationStep:
    """One frame of a run: source, per-template maps, saliency, noise and output.

    Attributes
    ----------
    index : int
        Frame index t.
    source : (H, W, 3) uint8 ndarray
    maps : (K, H, W) float32 ndarray
        One map per selected template, in [0, 1].
    saliency : (H, W) float32 ndarray
        Combined saliency S_t in [0, 1].
    noise : (H, W, 3) uint8 ndarray
        Replacement frame: the noise frame N_t, or R_t of another
        :class:`~motionlab.privacy.replace.Replacement`.
    output : (H, W, 3) uint8 ndarray
        Obfuscated frame O_t.
    """

    index: int
    source: np.ndarray
    maps: np.ndarray
    saliency: np.ndarray
    noise: np.ndarray
    output: np.ndarray


def _plain_steps(frames: Iterable[np.ndarray]) -> Iterator[AFDStep]:
    """Frames as steps without flow or noise (their ``afd`` is the frame itself)."""
    for t, frame in enumerate(frames):
        frame = check_frame(frame, name=f"frame {t}")
        yield AFDStep(t, frame, None, frame)


def obfuscate_steps(
    frames: Iterable[np.ndarray],
    *,
    matcher: Matcher,
    config: ObfuscationConfig,
    estimator: FlowEstimator | None = None,
    ahead: int = AHEAD,
) -> Iterator[ObfuscationStep]:
    """Stream the obfuscation of ``frames`` (at least two for the noise), one step per frame.

    Flow is estimated in a background thread. Each frame goes to the matcher
    (:meth:`Matcher.submit`: in a thread of its own, or in its own threads) as soon as
    it is read (:class:`~motionlab.privacy.lookahead.Lookahead`), up to ``ahead`` frames
    ahead of the one whose noise is rendered and blended here (fewer for large frames,
    :data:`AHEAD_BYTES`); it still sees every frame in order. ``ahead=0`` runs everything
    one step after the other. Memory is bounded. The steps are identical either way.
    Replacements other than the noise need no flow (``estimator`` is not used).
    """
    if ahead < 0:
        raise MotionlabError(f"ahead must be >= 0, got {ahead}")
    names = matcher.check_names(config.templates)
    matcher.reset()
    replace = config.replace

    def steps_of(source: Iterable[np.ndarray]) -> Iterator[AFDStep]:
        if replace.kind == "noise":
            return afd_steps(source, config=config.afd_config(), estimator=estimator)
        return _plain_steps(source)  # no flow, no noise: each frame stands alone

    def finish(step: AFDStep, maps: np.ndarray) -> ObfuscationStep:
        saliency = matcher.saliency(maps)
        if replace.kind == "noise":
            other = step.afd
        else:
            other = replacement_frame(step.source, saliency, replace)
        return ObfuscationStep(
            step.index, step.source, maps, saliency, other,
            blend(step.source, other, saliency),
        )  # fmt: skip

    if ahead == 0:
        for step in steps_of(frames):
            yield finish(step, matcher(step.source, names))
        return

    def fit(frame: np.ndarray) -> int:  # frames in flight that AHEAD_BYTES holds
        shape = np.shape(frame)  # not checked yet: a bad frame fails where it is checked
        pixels = int(np.prod(shape[:2])) if len(shape) >= 2 else 1
        cost = max(pixels * (3 + 8 * len(names)), 1)  # uint8 RGB, two float32 maps each
        return min(ahead, max(MIN_AHEAD, AHEAD_BYTES // cost)) + 1

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="obfuscate-match") as pool:
        look = Lookahead(lambda f: matcher.submit(f, names, pool), ahead + 1, fit)
        steps = steps_of(look.feed(frames))
        try:
            for step in steps:
                maps = look.next().result()
                yield finish(step, maps)
                look.done()
        finally:  # stopped early or failed: stop reading, drop what has not started
            getattr(steps, "close", lambda: None)()  # afd_steps joins its reading thread
            look.close()


def preload(matcher: Matcher, names: Sequence[str], *, noise: str | None) -> None:
    """Start, in background threads, the one-time work of a run that does not depend on
    the frames, and return at once: the matcher's models (:meth:`Matcher.preload`) and,
    for ``noise="motion"``, the compiled noise kernels (numba loads them from its cache
    and imports SciPy for the quantisation tables: about 1 s of start-up). The caller
    meanwhile reads the video for its noise range. The outputs are the same with or
    without it."""
    matcher.preload(names)
    if noise == "motion":
        threading.Thread(target=_warm_noise, name="obfuscate-warm-noise").start()


def _warm_noise() -> None:
    """Load the motion noise's compiled kernels (one step of an 8x8 noise)."""
    from motionlab.afd.noise import AdvectedNoise

    noise = AdvectedNoise(8, 8, rng=np.random.default_rng(0))
    noise.advect(np.zeros((8, 8, 2), np.float32))


def noise_range_of(frames: Iterable[np.ndarray], *, grayscale: bool = False) -> NoiseRange:
    """Thesis eq. 5.3: ``U(mean - std, mean + std)`` per channel of ``frames`` (exact
    integer sums, :mod:`motionlab.privacy.frame_stats`)."""
    mean, std = frames_mean_std(frames)
    return NoiseRange.from_mean_std(mean, std, grayscale=grayscale)


def obfuscate(
    video_or_frames: str | os.PathLike[str] | Iterable[np.ndarray],
    *,
    templates: str | Sequence[str],
    matcher: str | Matcher = DEFAULT_MATCHER,
    noise: str = "motion",
    seed: int = 0,
    noise_range: NoiseRange | None = None,
    flow: str = DEFAULT_METHOD,
    replace: str | Replacement = "noise",
    **flow_options: Any,
) -> Iterator[np.ndarray]:
    """Yield the obfuscated frames of a video, one at a time.

    Parameters
    ----------
    video_or_frames : path or iterable of (H, W, 3) uint8 ndarray
        A video file, a frame folder, or frames (at least two).
    templates : str or sequence of str
        Template names, e.g. ``["hair", "eyes"]`` or ``"hair,eyes"``; the groups ``face``,
        ``body``, ``all`` and the thesis's sets ``sbu``, ``kth``, ``ipn`` expand.
    matcher : str or Matcher
        ``"landmarks"`` (default, offline) or ``"dino"``, or a built matcher.
    noise : {"motion", "first-frame", "iid"}
    seed : int
    noise_range : NoiseRange, optional
        Default: mean +- std of this video (eq. 5.3). A path is read twice for it; frames
        given as an iterable are collected in memory first.
    flow : str
        Optical-flow method; ``**flow_options`` are its settings.
    replace : str or Replacement
        ``"noise"`` (default), ``"blur"``, ``"pixelate"``, ``"mask"``, ``"colour"`` with
        their default settings, or a :class:`~motionlab.privacy.replace.Replacement`.

    Yields
    ------
    (H, W, 3) uint8 ndarray
    """
    replacement = Replacement(replace) if isinstance(replace, str) else replace
    m = get_matcher(matcher) if isinstance(matcher, str) else matcher
    text = templates if isinstance(templates, str) else ",".join(templates)
    names = parse_names(text, known=m.template_names)  # groups and presets (sbu, kth, ipn)
    is_path = isinstance(video_or_frames, (str, os.PathLike))
    if not is_path:
        video_or_frames = [check_frame(f) for f in video_or_frames]  # type: ignore[union-attr]
    if noise_range is None and replacement.kind != "noise":
        noise_range = NoiseRange()  # unused: no noise is made
    if noise_range is None:
        if is_path:
            from motionlab.video import VideoReader

            with VideoReader(Path(video_or_frames)) as reader:  # type: ignore[arg-type]
                noise_range = noise_range_of(reader)
        else:
            noise_range = noise_range_of(video_or_frames)  # type: ignore[arg-type]
    config = ObfuscationConfig(
        names, noise=noise, seed=seed, noise_range=noise_range,
        flow_method=flow, flow_options=dict(flow_options), replace=replacement,
    )  # fmt: skip
    if is_path:
        from motionlab.video import VideoReader

        with VideoReader(Path(video_or_frames)) as reader:  # type: ignore[arg-type]
            for step in obfuscate_steps(reader, matcher=m, config=config):
                yield step.output
        return
    for step in obfuscate_steps(video_or_frames, matcher=m, config=config):  # type: ignore[arg-type]
        yield step.output
