"""The DINO matcher of the thesis: ViT-S/8 keys compared with template descriptors.

Thesis Sec. 5.3, after Amir et al., "Deep ViT Features as Dense Visual Descriptors"
(2021): a frame is resized to ``load_size`` (224) on its short side and fed to DINO
ViT-S/8 (timm ``vit_small_patch8_224.dino``) with the patch embedding applied at stride 4
instead of 8 (overlapping patches: a 4x finer grid; the position embeddings are
interpolated to it). Each patch's descriptor is the chosen facet (``key`` by default;
``query``, ``value``, or the block's output ``token``) of the chosen block (``layer`` 11,
the last), all heads concatenated (384 values). A template is the descriptor of one patch
at a user-chosen point of a user-chosen image. The saliency of a patch p is the mean over
the selected templates t of the clipped cosine similarity (eq. 5.1)::

    S(p) = 1/|T| * sum_t max(0, cos(d_p, d_t))

reassembled to the patch grid and upsampled bilinearly to the frame (eq. 5.2).

Weights: the timm hub name (downloaded by timm on a user's machine), a local file
(``weights=PATH``: a timm state dict, or the original DINO checkpoint
``dino_deitsmall8_pretrain.pth``, or a DINO training checkpoint with ``teacher``/
``student`` entries), or ``weights="random"`` (random initialisation: only for testing the
mechanics).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.privacy.base import Matcher
from motionlab.privacy.dino_features import (  # noqa: F401 - re-exported: defined here before
    DEFAULT_MODEL,
    FACET_LAYOUT,
    FACETS,
    HUB_TIMEOUT_S,
    QKV_INDEX,
    RANDOM,
    DinoExtractor,
    DinoSettings,
    clipped_cosine,
    resized_size,
    sha256_file,
)
from motionlab.privacy.templates import (
    Template,
    TemplateLibrary,
    check_facet_layout,
    load_library,
)


class DinoMatcher(Matcher):
    """Saliency from DINO descriptors and a template library (eq. 5.1-5.2).

    Parameters
    ----------
    library : TemplateLibrary or path
        Templates made with ``motionlab templates create`` (all with the same settings).
    weights : path, "random" or None
        See :class:`DinoExtractor`.
    device : str
    extractor : DinoExtractor, optional
        Reuse a built extractor (its settings must match the library's).
    """

    name = "dino"
    combine = "mean"  # eq. 5.1: the mean over the selected templates

    def __init__(
        self,
        *,
        library: TemplateLibrary | str | os.PathLike[str],
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        extractor: DinoExtractor | None = None,
    ) -> None:
        lib = library if isinstance(library, TemplateLibrary) else load_library(Path(library))
        dino = [t for t in lib.templates if t.matcher == "dino"]
        if not dino:
            raise MotionlabError("the template library holds no DINO templates")
        check_facet_layout(tuple(dino))  # a file was checked on load; objects here
        settings = {t.settings for t in dino}
        if len(settings) > 1:
            raise MotionlabError(
                "the library mixes DINO settings (model/layer/facet/stride); make one library "
                "per setting"
            )
        self.templates: dict[str, Template] = {t.name: t for t in dino}
        self.settings: DinoSettings = settings.pop()
        if extractor is not None and extractor.settings != self.settings:
            raise MotionlabError("the extractor's settings differ from the library's")
        self.extractor = extractor or DinoExtractor(
            settings=self.settings, weights=weights, device=device
        )

    @property
    def template_names(self) -> tuple[str, ...]:
        return tuple(self.templates)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            **self.settings.to_dict(),
            "facet_layout": FACET_LAYOUT,
            "weights": self.extractor.weights_id,
        }

    def _match(self, frame: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        return self.maps(frame, names)

    def maps(self, frame: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """``(K, H, W)`` clipped cosine similarity of each named template, upsampled."""
        h, w = frame.shape[:2]
        desc = self.extractor.descriptors(frame)
        t = np.stack([self.templates[n].descriptor for n in names])
        grids = clipped_cosine(desc, t)
        return np.stack([self.extractor.upsample(g, h, w) for g in grids])
