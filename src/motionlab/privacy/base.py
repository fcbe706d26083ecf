"""The matcher interface: :class:`Matcher` and :func:`combine_maps`.

A matcher maps an RGB frame ``(H, W, 3)`` uint8 to one soft map per selected template,
``(K, H, W)`` float32 in [0, 1]. The implementations (:mod:`motionlab.privacy.landmarks`,
:mod:`motionlab.privacy.dino`) subclass :class:`Matcher` from here, and the registry
:mod:`motionlab.privacy.matchers` builds them by name; this module sits below both so
that no implementation imports the registry that lists it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError


class Matcher(ABC):
    """Base class: ``matcher(frame, names)`` returns ``(K, H, W)`` float32 maps in [0, 1].

    Attributes
    ----------
    name : str
        Registry name.
    combine : {"mean", "max"}
        How :meth:`saliency` merges the maps of several templates.
    """

    name: str = "matcher"
    combine: str = "mean"

    @property
    @abstractmethod
    def template_names(self) -> tuple[str, ...]:
        """The template names this matcher can match."""

    def check_names(self, names: Sequence[str]) -> tuple[str, ...]:
        """Return ``names`` as a tuple, or raise naming the unknown ones and the known."""
        names = tuple(names)
        if not names:
            raise MotionlabError("select at least one template")
        unknown = [n for n in names if n not in self.template_names]
        if unknown:
            raise MotionlabError(
                f"matcher {self.name!r} has no template(s) {', '.join(unknown)}; it has "
                f"{', '.join(self.template_names) or 'none'}"
            )
        return names

    def __call__(self, frame: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Saliency maps of ``names`` on ``frame``: ``(K, H, W)`` float32 in [0, 1]."""
        frame = check_frame(frame)
        maps = self._match(frame, self.check_names(names))
        return np.clip(maps, 0.0, 1.0, out=maps)

    @abstractmethod
    def _match(self, frame: np.ndarray, names: tuple[str, ...]) -> np.ndarray: ...

    def submit(
        self, frame: np.ndarray, names: Sequence[str], executor: Executor | None = None
    ) -> Future[np.ndarray]:
        """Start matching ``frame``; the future holds what ``self(frame, names)`` returns.

        Frames submitted one after the other are matched in that order (temporal state
        sees every frame in order), so a caller can submit frame t + 1 and work on frame
        t meanwhile. Here the whole call runs on ``executor``, which must have a single
        worker (or, without one, at once in the caller's thread); matchers with threads
        of their own override this.
        """
        if executor is None:
            future: Future[np.ndarray] = Future()
            try:
                future.set_result(self(frame, names))
            except Exception as exc:
                future.set_exception(exc)
            return future
        return executor.submit(self, frame, names)

    def saliency(self, maps: np.ndarray) -> np.ndarray:
        """Merge ``(K, H, W)`` maps into one ``(H, W)`` float32 saliency in [0, 1]."""
        return combine_maps(maps, how=self.combine)

    def preload(self, names: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Start loading the models that matching ``names`` needs, in the background
        where the matcher has threads of its own, and return at once (a hint: matching
        works without it, and gives the same maps)."""

    def reset(self) -> None:  # noqa: B027 - optional hook, most matchers keep no state
        """Forget temporal state (call before a new video)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models."""

    def describe(self) -> dict[str, Any]:
        """Plain-JSON settings, recorded with every output."""
        return {"matcher": self.name, "combine": self.combine}


def combine_maps(maps: np.ndarray, *, how: str = "mean") -> np.ndarray:
    """Merge per-template maps ``(K, H, W)`` into ``(H, W)`` float32.

    ``mean`` is thesis eq. 5.1 (the average over the selected templates); ``max`` is the
    union of attribute regions (used for region masks, where averaging would halve a pixel
    that belongs to one attribute only).
    """
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise MotionlabError(f"maps must have shape (K, H, W) with K >= 1, got {maps.shape}")
    if how == "mean":
        return maps.mean(axis=0)
    if how == "max":
        return maps.max(axis=0)
    raise MotionlabError(f"combine must be 'mean' or 'max', got {how!r}")
