"""Template libraries: named descriptors with their provenance, in one portable JSON file.

A template is the descriptor of one patch at a user-chosen point of a user-chosen image
(thesis Sec. 5.3). The library file records, for each template, where it came from (the
source image's SHA-256, size and path, the point), and how the descriptor was made
(matcher, model, layer, facet, stride, load size, weights, and ``facet_layout``: how the
facet was cut from the ViT's ``attn.qkv`` output), so a template can be checked and remade.
Descriptors are stored as base64 of little-endian float32.

File layout (``format`` and ``version`` are checked on load)::

    {"format": "motionlab-privacy-templates", "version": 2,
     "templates": [{"name": "hair", "matcher": "dino",
                    "settings": {"model": ..., "layer": 11, "facet": "key", "stride": 4,
                                 "load_size": 224},
                    "facet_layout": "timm-qkv",
                    "weights": "sha256:...", "source": {"path": ..., "sha256": ...,
                    "width": 320, "height": 240}, "point": [x, y], "patch": [row, col],
                    "created": "2026-11-25T10:00:00+00:00",
                    "descriptor": {"dtype": "<f4", "shape": [384], "data": "..."}}]}

Version 1 files come from motionlab before the DINO facet fix: their templates have no
``facet_layout`` and their ``key`` descriptors are DINO *queries* (and ``query`` ones are
keys). :func:`load_library` refuses libraries with such key/query templates, naming the
fix (``motionlab templates rebuild``, which remakes every template from its recorded
source image and point); value/token templates were right and load unchanged.

The nine attribute names of the offline ``landmarks`` matcher are built in and need no
library.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError
from motionlab.privacy.dino_features import FACET_LAYOUT, DinoExtractor, DinoSettings, sha256_file

FORMAT = "motionlab-privacy-templates"
VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Version 1: before ``facet_layout`` (key/query templates swapped; see the module doc)."""


@dataclass(frozen=True)
class Template:
    """One named template.

    Attributes
    ----------
    name : str
    matcher : str
        Matcher that made (and can use) it: ``dino``.
    settings : DinoSettings
    descriptor : (C,) float32 ndarray
    weights : str
        Which weights made it: ``sha256:...`` of a file, ``timm:NAME`` or ``random(...)``.
    source : dict
        ``path``, ``sha256``, ``width``, ``height`` of the source image.
    point : (x, y)
        Pixel of the source image the template was taken at.
    patch : (row, col)
        Grid cell of that point.
    created : str
        ISO 8601 time (UTC).
    facet_layout : str
        How the descriptor was cut from ``attn.qkv`` (:data:`~motionlab.privacy.dino.
        FACET_LAYOUT` for templates made now; ``""`` for version-1 entries, whose
        key/query facets are swapped).
    """

    name: str
    matcher: str
    settings: DinoSettings
    descriptor: np.ndarray = field(repr=False, compare=False)
    weights: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    point: tuple[float, float] = (0.0, 0.0)
    patch: tuple[int, int] = (0, 0)
    created: str = ""
    facet_layout: str = FACET_LAYOUT

    @property
    def stale(self) -> bool:
        """True for a key/query template cut with the old, swapped facet index."""
        return self.settings.facet in ("key", "query") and self.facet_layout != FACET_LAYOUT

    def to_dict(self) -> dict[str, Any]:
        d = np.ascontiguousarray(self.descriptor, dtype="<f4")
        return {
            "name": self.name,
            "matcher": self.matcher,
            "settings": self.settings.to_dict(),
            "facet_layout": self.facet_layout,
            "weights": self.weights,
            "source": dict(self.source),
            "point": list(self.point),
            "patch": list(self.patch),
            "created": self.created,
            "descriptor": {
                "dtype": "<f4",
                "shape": list(d.shape),
                "data": base64.b64encode(d.tobytes()).decode("ascii"),
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Template:
        try:
            desc = d["descriptor"]
            raw = base64.b64decode(desc["data"], validate=True)
            vec = np.frombuffer(raw, dtype=np.dtype(desc["dtype"])).astype(np.float32)
            vec = vec.reshape(desc["shape"])
            return cls(
                name=str(d["name"]),
                matcher=str(d["matcher"]),
                settings=DinoSettings(**d["settings"]),
                descriptor=vec,
                weights=str(d.get("weights", "")),
                source=dict(d.get("source", {})),
                point=tuple(float(v) for v in d["point"]),  # type: ignore[arg-type]
                patch=tuple(int(v) for v in d.get("patch", (0, 0))),  # type: ignore[arg-type]
                created=str(d.get("created", "")),
                facet_layout=str(d.get("facet_layout", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MotionlabError(
                f"malformed template entry ({type(exc).__name__}: {exc})"
            ) from None


@dataclass(frozen=True)
class TemplateLibrary:
    """An ordered set of templates with unique names, all made with the same settings."""

    templates: tuple[Template, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.templates)

    def get(self, name: str) -> Template:
        for t in self.templates:
            if t.name == name:
                return t
        raise MotionlabError(
            f"no template {name!r} in the library; it has {', '.join(self.names) or 'none'}"
        )

    def add(self, template: Template, *, replace_existing: bool = False) -> TemplateLibrary:
        """A new library with ``template`` added (or replacing one of the same name)."""
        if template.name in self.names and not replace_existing:
            raise MotionlabError(
                f"the library already has a template {template.name!r}; remove it first or "
                "pass --replace"
            )
        kept = tuple(t for t in self.templates if t.name != template.name)
        if kept and kept[0].settings != template.settings:
            raise MotionlabError(
                f"template {template.name!r} was made with {template.settings}, the library's "
                f"with {kept[0].settings}: one library holds one setting (they are averaged "
                "together, eq. 5.1); use another library file"
            )
        return replace(self, templates=(*kept, template))

    def remove(self, name: str) -> TemplateLibrary:
        """A new library without ``name``."""
        self.get(name)
        return replace(self, templates=tuple(t for t in self.templates if t.name != name))


def check_facet_layout(templates: tuple[Template, ...], path: str | None = None) -> None:
    """Raise if any template holds the swapped key/query facet of library version 1.

    ``path`` names the library file in the message."""
    stale = [t.name for t in templates if t.stale]
    if stale:
        facets = "/".join(sorted({t.settings.facet for t in templates if t.stale}))
        where = f"{path}: " if path else "the library: "
        raise MotionlabError(
            f"{where}template(s) {', '.join(stale)} were made before motionlab fixed the DINO "
            f"facets (their {facets} descriptors are the other of query/key); rebuild it: "
            f"motionlab templates rebuild --library {path or 'FILE'} [--weights PATH]"
        )


def load_library(path: str | os.PathLike[str], *, allow_stale: bool = False) -> TemplateLibrary:
    """Read a library file; a missing file is an error (see :func:`load_or_new`).

    A version-1 library whose key/query templates hold the swapped facet is refused
    (:func:`check_facet_layout`) unless ``allow_stale`` (for :func:`rebuild_library`)."""
    path = Path(path)
    if not path.is_file():
        raise MotionlabError(f"{path}: no such template library")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionlabError(f"{path}: not a template library ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MotionlabError(f"{path}: not a motionlab template library (format != {FORMAT!r})")
    if data.get("version") not in READABLE_VERSIONS:
        raise MotionlabError(
            f"{path}: library version {data.get('version')!r}; this motionlab reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    try:
        templates = tuple(Template.from_dict(d) for d in data["templates"])
    except MotionlabError as exc:
        raise MotionlabError(f"{path}: {exc}") from None
    names = [t.name for t in templates]
    if len(set(names)) != len(names):
        raise MotionlabError(f"{path}: duplicate template names")
    if not allow_stale:
        check_facet_layout(templates, str(path))
    return TemplateLibrary(templates)


def load_or_new(path: str | os.PathLike[str]) -> TemplateLibrary:
    """The library at ``path``, or an empty one if the file does not exist yet."""
    return load_library(path) if Path(path).exists() else TemplateLibrary()


def save_library(library: TemplateLibrary, path: str | os.PathLike[str]) -> None:
    """Write ``library`` to ``path`` atomically."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "templates": [t.to_dict() for t in library.templates],
    }
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n")


def make_template(
    name: str,
    image: np.ndarray,
    point: tuple[float, float],
    *,
    extractor: DinoExtractor,
    source_path: str | os.PathLike[str] | None = None,
    descriptors: np.ndarray | None = None,
) -> Template:
    """The template ``name`` taken at pixel ``point`` (x, y) of ``image`` ``(H, W, 3)`` uint8.

    ``descriptors`` : ``extractor.descriptors(image)`` if already computed (the picker's
    preview needs them), ``(gh, gw, C)``; computed here otherwise."""
    h, w = image.shape[:2]
    x, y = point
    if not (0 <= x < w and 0 <= y < h):
        raise MotionlabError(f"point ({x:g}, {y:g}) lies outside the {w}x{h} image")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise MotionlabError(f"template names are letters, digits, '-' and '_', got {name!r}")
    row, col = extractor.point_to_patch(x, y, h, w)
    if descriptors is None:
        descriptors = extractor.descriptors(image)
    desc = descriptors[row, col]
    source: dict[str, Any] = {"width": w, "height": h}
    if source_path is not None:
        source["path"] = str(source_path)
        source["sha256"] = sha256_file(Path(source_path))
    return Template(
        name=name,
        matcher="dino",
        settings=extractor.settings,
        descriptor=desc.astype(np.float32),
        weights=extractor.weights_id,
        source=source,
        point=(float(x), float(y)),
        patch=(row, col),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )


def _extractor_for(
    template: Template, weights: str | os.PathLike[str] | None, device: str
) -> DinoExtractor:
    """An extractor with the weights ``template`` was made with (checked where possible)."""
    recorded = template.weights
    if recorded.startswith("random(seed=") and recorded.endswith(")") and weights is None:
        seed = int(recorded[len("random(seed=") : -1])
        return DinoExtractor(settings=template.settings, weights="random", seed=seed)
    if recorded.startswith("sha256:"):
        if weights is None:
            raise MotionlabError(
                f"template {template.name!r} was made with the weights file {recorded[:19]}...; "
                "give that file with --weights PATH"
            )
        got = sha256_file(Path(weights)) if Path(weights).is_file() else None
        if got is not None and f"sha256:{got}" != recorded:
            raise MotionlabError(
                f"{weights}: not the weights template {template.name!r} was made with "
                f"({recorded[:19]}..., this file sha256:{got[:12]}...)"
            )
    return DinoExtractor(settings=template.settings, weights=weights, device=device)


def rebuild_library(
    library: TemplateLibrary,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> TemplateLibrary:
    """Remake every template from its recorded source image and point with today's extractor.

    The fix for version-1 libraries (swapped key/query facets): name, point, settings and
    source stay; descriptor, patch, ``facet_layout`` and creation time are new.

    Parameters
    ----------
    library : TemplateLibrary
        Typically ``load_library(path, allow_stale=True)``.
    weights : path or None
        The weights file the templates were made with (checked against the recorded
        SHA-256); None for templates made with timm's hub weights or random weights.
    device : str

    Raises
    ------
    MotionlabError
        A source image is missing or changed (its SHA-256 differs), or the weights differ.
    """
    from motionlab.video import read_image

    extractors: dict[str, DinoExtractor] = {}
    out = TemplateLibrary()
    for t in library.templates:
        src = t.source.get("path")
        if not src or not Path(src).is_file():
            raise MotionlabError(
                f"template {t.name!r}: its source image {src or '(not recorded)'} is missing; "
                "remake it with motionlab templates create --replace"
            )
        if "sha256" in t.source and sha256_file(Path(src)) != t.source["sha256"]:
            raise MotionlabError(f"template {t.name!r}: its source image {src} has changed")
        if t.weights not in extractors:
            extractors[t.weights] = _extractor_for(t, weights, device)
        ex = extractors[t.weights]
        new = make_template(t.name, read_image(src), t.point, extractor=ex, source_path=src)
        out = out.add(new)
    return out
