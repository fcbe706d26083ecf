"""Optical-flow estimators behind one call.

Every estimator maps two RGB frames to the *forward* flow of the pair: a ``float32
(H, W, 2)`` field F such that pixel p of ``frame_a`` moves to ``p + F(p)`` in ``frame_b``
(u = x to the right, v = y down, pixels). Backward flow is the same call with the frames
swapped.

Methods (see :func:`list_methods`):

* ``dis`` (default): OpenCV's Dense Inverse Search (Kroeger et al., ECCV 2016), presets
  ``ultrafast``, ``fast``, ``medium`` (default) and our ``medium-full`` (STVI's default);
* ``farneback``: Farnebäck polynomial expansion (SCIA 2003);
* ``tvl1``: Dual TV-L1 (Zach et al. 2007; OpenCV contrib);
* ``deepflow``: DeepFlow (Weinzaepfel et al., ICCV 2013; OpenCV contrib);
* ``raft-small``, ``raft-large``: RAFT (Teed & Deng, ECCV 2020) from torchvision, see
  :mod:`motionlab.flow.raft`.

This module is the method registry (:func:`register`, :func:`get_estimator`); the
interface :class:`FlowEstimator` lives in :mod:`motionlab.flow.base` (re-exported here),
so that RAFT's module subclasses it without importing this one. A new method: a
:class:`FlowEstimator` subclass decorated ``@register("name")`` here, or, for one with
heavy imports in its own module, a ``@register`` builder here that imports it when built.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
>>> flow = estimate(a, np.roll(a, 2, axis=1), method="dis")
>>> flow.shape, flow.dtype
((64, 64, 2), dtype('float32'))
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from motionlab.errors import MotionlabError
from motionlab.flow.base import (  # noqa: F401 - re-exported: defined here before
    MIN_FLOW_SIDE,
    FlowEstimator,
    check_frame_pair,
)

DEFAULT_METHOD = "dis"


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


_REGISTRY: dict[str, Callable[..., FlowEstimator]] = {}


def register(name: str) -> Callable[[Callable[..., FlowEstimator]], Callable[..., FlowEstimator]]:
    """Class decorator adding a builder to the method registry under ``name``."""

    def deco(builder: Callable[..., FlowEstimator]) -> Callable[..., FlowEstimator]:
        _REGISTRY[name] = builder
        return builder

    return deco


def list_methods() -> list[str]:
    """Names accepted by :func:`get_estimator` and :func:`estimate`."""
    return sorted(_REGISTRY)


def get_estimator(method: str = DEFAULT_METHOD, **options: Any) -> FlowEstimator:
    """Build the estimator ``method`` with keyword ``options`` (see each class)."""
    if method not in _REGISTRY:
        raise MotionlabError(
            f"unknown flow method {method!r}; choose one of {', '.join(sorted(_REGISTRY))}"
        )
    try:
        return _REGISTRY[method](**options)
    except TypeError as exc:
        raise MotionlabError(f"flow method {method!r}: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _cached_estimator(method: str, options: tuple[tuple[str, Any], ...]) -> FlowEstimator:
    return get_estimator(method, **dict(options))


def estimate(
    frame_a: np.ndarray, frame_b: np.ndarray, *, method: str = DEFAULT_METHOD, **options: Any
) -> np.ndarray:
    """Forward optical flow from ``frame_a`` to ``frame_b``.

    Parameters
    ----------
    frame_a, frame_b : (H, W, 3) or (H, W) uint8 ndarray
        RGB (or grey) frames of one size.
    method : str
        One of :func:`list_methods` (default ``"dis"``).
    **options
        Keyword settings of the method (e.g. ``preset="fast"`` for DIS, ``weights=...``,
        ``iters=...`` for RAFT, ``upsample=2`` for any). The built estimator is cached,
        so repeated calls do not reload models.

    Returns
    -------
    flow : (H, W, 2) float32 ndarray
        u (right) and v (down) in pixels: pixel p of ``frame_a`` moves to p + flow[p].
    """
    key = tuple(sorted((k, str(v) if hasattr(v, "__fspath__") else v) for k, v in options.items()))
    return _cached_estimator(method, key)(frame_a, frame_b)


# --------------------------------------------------------------------------------------
# OpenCV estimators

_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    "medium-full": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,  # + the settings below
}
DIS_PRESETS = tuple(_DIS_PRESETS)
# Our preset, not OpenCV's: medium's patch search carried down to the full resolution
# (finest scale 0 instead of 1) without the variational refinement (medium: 5 iterations).
# Chosen for STVI (issue 16), where the flow carries anchor masks over up to 19 frames:
# on the 10 DAVIS tuning sequences the carried masks' J rose on every one (mean 0.789 ->
# 0.810) at 2.3x medium's time; with the refinement kept it was no better, at 4.5x.
_DIS_SETTINGS = {"medium-full": {"FinestScale": 0, "VariationalRefinementIterations": 0}}


def with_dis_preset(method: str, options: Mapping[str, Any] | None, preset: str) -> dict[str, Any]:
    """A copy of ``options`` with DIS's ``preset`` filled in when ``method`` is ``"dis"`` and
    they name none: a command's own default (fast for AFD, medium-full for STVI) that a
    user's preset overrides. Other methods' options are returned unchanged."""
    out = dict(options or {})
    if method == "dis":
        out.setdefault("preset", preset)
    return out


class _OpenCVEstimator(FlowEstimator):
    """OpenCV algorithm objects, one per frame size.

    OpenCV's DIS keeps state sized by the first pair it sees: measured here, a DIS object
    first used on 64x64 frames then takes 22 ms instead of 3 ms per 320x240 pair. So each
    frame size gets its own object (a few kept; creating one costs microseconds).
    """

    _MAX_SIZES = 4

    def __init__(self, *, upsample: float = 1.0) -> None:
        super().__init__(upsample=upsample)
        self._objects: dict[tuple[int, int], Any] = {}

    def _create(self) -> Any:
        raise NotImplementedError

    def _object(self, frame: np.ndarray) -> Any:
        key = frame.shape[:2]
        obj = self._objects.pop(key, None)
        if obj is None:
            obj = self._create()
            if len(self._objects) >= self._MAX_SIZES:
                self._objects.pop(next(iter(self._objects)))
        self._objects[key] = obj  # most recently used last
        return obj

    def _estimate(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return self._object(frame_a).calc(_gray(frame_a), _gray(frame_b), None)


@register("dis")
class DISEstimator(_OpenCVEstimator):
    """OpenCV Dense Inverse Search on grey frames.

    Parameters
    ----------
    preset : {"ultrafast", "fast", "medium", "medium-full"}
        Speed/accuracy preset (default ``"medium"``): OpenCV's three, or ``"medium-full"``,
        medium searched down to full resolution without variational refinement (about
        2.3x medium's time; STVI's default, see ``_DIS_SETTINGS``).
    """

    name = "dis"

    def __init__(self, *, preset: str = "medium", upsample: float = 1.0) -> None:
        super().__init__(upsample=upsample)
        if preset not in _DIS_PRESETS:
            raise MotionlabError(
                f"unknown DIS preset {preset!r}; choose one of {', '.join(_DIS_PRESETS)}"
            )
        self.preset = preset

    def from_initial(
        self, frame_a: np.ndarray, frame_b: np.ndarray, initial: np.ndarray
    ) -> np.ndarray:
        """DIS flow from ``frame_a`` to ``frame_b`` started from ``initial`` instead of zero.

        Frames ``(H, W, 3)`` RGB uint8 or ``(H, W)`` grey uint8, ``initial`` ``(H, W, 2)``
        float32 in pixels; returns ``(H, W, 2)`` float32. OpenCV's DIS takes a given flow
        of the frames' size as the start of its coarsest scale, so a displacement far
        beyond its search range is found when ``initial`` is near it. No upsampling; a
        fresh OpenCV object per call (callers pass windows of varying size).
        """
        grey_a = frame_a if frame_a.ndim == 2 else _gray(frame_a)
        grey_b = frame_b if frame_b.ndim == 2 else _gray(frame_b)
        if initial.shape != (*grey_a.shape, 2) or grey_b.shape != grey_a.shape:
            raise MotionlabError(
                f"frames {grey_a.shape} and {grey_b.shape} and initial flow {initial.shape} "
                "must share one size"
            )
        start = np.array(initial, np.float32, order="C")  # OpenCV writes into it
        return self._create().calc(grey_a, grey_b, start)

    def _create(self) -> Any:
        dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[self.preset])
        for name, value in _DIS_SETTINGS.get(self.preset, {}).items():
            getattr(dis, "set" + name)(value)
        return dis


@register("farneback")
class FarnebackEstimator(FlowEstimator):
    """OpenCV Farnebäck flow on grey frames (5 pyramid levels, 15 px window)."""

    name = "farneback"

    def __init__(
        self,
        *,
        levels: int = 5,
        winsize: int = 15,
        iterations: int = 3,
        poly_n: int = 5,
        poly_sigma: float = 1.2,
        upsample: float = 1.0,
    ) -> None:
        super().__init__(upsample=upsample)
        self.params = (0.5, levels, winsize, iterations, poly_n, poly_sigma, 0)

    def _estimate(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(_gray(frame_a), _gray(frame_b), None, *self.params)


@register("tvl1")
class TVL1Estimator(_OpenCVEstimator):
    """OpenCV contrib Dual TV-L1 with its default settings (accurate, slow)."""

    name = "tvl1"

    def _create(self) -> Any:
        return cv2.optflow.DualTVL1OpticalFlow_create()


@register("deepflow")
class DeepFlowEstimator(_OpenCVEstimator):
    """OpenCV contrib DeepFlow (its variational part; no DeepMatching initialisation)."""

    name = "deepflow"

    def _create(self) -> Any:
        return cv2.optflow.createOptFlow_DeepFlow()


# RAFT pulls in torch (seconds to import): its module is imported only when it is built.
@register("raft-small")
def _raft_small(**options: Any) -> FlowEstimator:
    from motionlab.flow.raft import RaftEstimator

    return RaftEstimator(variant="small", **options)


@register("raft-large")
def _raft_large(**options: Any) -> FlowEstimator:
    from motionlab.flow.raft import RaftEstimator

    return RaftEstimator(variant="large", **options)
