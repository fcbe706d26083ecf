"""Matchers: turn a frame and a selection of template names into saliency maps.

A matcher maps an RGB frame ``(H, W, 3)`` uint8 to one soft map per selected template,
``(K, H, W)`` float32 in [0, 1] (1 = this pixel shows the attribute), and combines them
into the saliency ``S`` that decides where the frame is replaced by noise (thesis eq. 5.1,
5.5). Two are registered:

``landmarks`` (default, offline)
    Face mesh, pose, hand landmarks and person segmentation of MediaPipe 0.10.21, whose
    models ship inside its wheel (:mod:`motionlab.privacy.landmarks`).
``dino``
    The thesis's matcher: keys of DINO ViT-S/8 compared with template descriptors
    (:mod:`motionlab.privacy.dino`).

This module is the registry: the base class lives in :mod:`motionlab.privacy.base`
(re-exported here), and each built-in matcher is registered below by a builder that
imports its module only when it is built (MediaPipe and torch load in seconds). A new
matcher: subclass :class:`Matcher` in its own module and add one ``@register`` builder here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motionlab.errors import MotionlabError
from motionlab.privacy.base import Matcher, combine_maps  # noqa: F401 - re-exported

DEFAULT_MATCHER = "landmarks"


_REGISTRY: dict[str, Callable[..., Matcher]] = {}


def register(name: str) -> Callable[[Callable[..., Matcher]], Callable[..., Matcher]]:
    """Decorator: register a keyword-only matcher builder under ``name``."""

    def deco(builder: Callable[..., Matcher]) -> Callable[..., Matcher]:
        _REGISTRY[name] = builder
        return builder

    return deco


def list_matchers() -> list[str]:
    """Names accepted by :func:`get_matcher`."""
    return sorted(_REGISTRY)


def get_matcher(name: str = DEFAULT_MATCHER, **options: Any) -> Matcher:
    """Build the matcher ``name`` with its keyword ``options``."""
    if name not in _REGISTRY:
        raise MotionlabError(
            f"unknown matcher {name!r}; choose one of {', '.join(list_matchers())}"
        )
    return _REGISTRY[name](**options)


@register("landmarks")
def _landmarks(**options: Any) -> Matcher:
    from motionlab.privacy.landmarks import LandmarkMatcher

    return LandmarkMatcher(**options)


@register("dino")
def _dino(**options: Any) -> Matcher:
    from motionlab.privacy.dino import DinoMatcher

    return DinoMatcher(**options)
