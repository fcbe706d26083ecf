"""The stimulus catalogue and the lossless frame sheets the browser plays.

Stimuli are found once, when the server starts, by globbing each source's pattern under
its root; every file is given an opaque key (a hash of ``source:relative/path``). The web
app names stimuli only by key and the server looks keys up in this catalogue, so a request
can never name a file: there is no path to traverse. Files whose real path (symlinks
resolved) lies outside the source's root are left out.

A stimulus is delivered as one PNG *frame sheet*: all its decoded frames tiled in a grid,
lossless, so every pixel of an appearance-free video's noise reaches the canvas exactly
(no lossy ``<video>`` codec). The browser cuts the sheet into frames once and plays them
with ``requestAnimationFrame`` at the participant's frame rate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError
from motionlab.study.config import StimulusSource, StudyConfig

log = logging.getLogger("motionlab.study")

#: Largest sheet side: browsers decode PNGs up to 16384 px per side or more; stay below.
MAX_SHEET_SIDE = 16384
VIDEO_SUFFIXES = {".avi", ".mkv", ".mp4", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".ogv"}


@dataclass(frozen=True)
class Stimulus:
    """One stimulus file of the catalogue."""

    key: str
    source: str
    label: str
    relpath: str  # relative to the source's root, with '/' separators
    path: Path

    @property
    def name(self) -> str:
        """``source/relpath``: how exports and reports name the stimulus."""
        return f"{self.source}/{self.relpath}"


@dataclass(frozen=True)
class SheetInfo:
    """Geometry of a frame sheet."""

    width: int
    height: int
    frames: int
    cols: int
    rows: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def stimulus_key(source: str, relpath: str) -> str:
    """The opaque, stable key of a stimulus (20 hex digits)."""
    return hashlib.sha256(f"{source}:{relpath}".encode()).hexdigest()[:20]


def _is_stimulus(path: Path) -> bool:
    if path.is_dir():  # a frame folder
        return any(
            p.suffix.lower() in (".png", ".jpg", ".jpeg", ".ppm", ".bmp") for p in path.iterdir()
        )
    return path.suffix.lower() in VIDEO_SUFFIXES


def scan_source(source: StimulusSource, classes: tuple[str, ...]) -> dict[str, list[Stimulus]]:
    """All stimuli of one source, per class, sorted by path."""
    root = source.root
    if not root.is_dir():
        raise MotionlabError(f"stimulus root {root} (source {source.name!r}) is not a folder")
    found: dict[str, list[Stimulus]] = {}
    for label in classes:
        pattern = source.pattern.replace("{class}", label)
        items = []
        for path in sorted(root.glob(pattern)):
            if path.name.startswith(".") or not _is_stimulus(path):
                continue
            real = path.resolve()
            if not real.is_relative_to(root):
                log.warning("skipping %s: it lies outside %s", path, root)
                continue
            rel = path.relative_to(root).as_posix()
            items.append(Stimulus(stimulus_key(source.name, rel), source.name, label, rel, real))
        found[label] = items
    return found


class Catalogue:
    """Every stimulus of a study, by source and class, and by key.

    Parameters
    ----------
    config : StudyConfig
    cache_dir : Path
        Where frame sheets are kept once made (one PNG and one JSON per stimulus).
    """

    def __init__(self, config: StudyConfig, *, cache_dir: Path) -> None:
        self.config = config
        self.cache_dir = Path(cache_dir)
        self.by_source: dict[str, dict[str, list[Stimulus]]] = {}
        self.by_key: dict[str, Stimulus] = {}
        for name, source in config.sources.items():
            per_class = scan_source(source, config.classes)
            self.by_source[name] = per_class
            for items in per_class.values():
                for s in items:
                    self.by_key[s.key] = s
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.check_counts()

    def check_counts(self) -> None:
        """Raise if some phase cannot get the stimuli it asks for (per class)."""
        needed: dict[tuple[str, str], int] = {}
        for phase in self.config.phases:
            if not phase.has_stimuli:
                continue
            for label in self.config.classes:
                have = len(self.by_source[phase.source][label])
                key = (phase.source, label)
                used = needed.get(key, 0)
                want = phase.per_class if phase.per_class is not None else 1
                if used + want > have:
                    root = self.config.sources[phase.source].root
                    raise MotionlabError(
                        f"source {phase.source!r}, class {label!r}: {have} stimuli found in "
                        f"{root} (pattern {self.config.sources[phase.source].pattern!r}), "
                        f"but the phases up to {phase.name!r} need {used + want}; add "
                        "stimuli or lower per_class"
                    )
                if phase.disjoint:
                    needed[key] = used + (phase.per_class or have - used)
        checks = self.config.attention
        if checks is not None:
            n_tests = sum(p.kind == "test" for p in self.config.phases)
            have = sum(len(v) for v in self.by_source[checks.source].values())
            if have < n_tests * checks.per_test_phase:
                raise MotionlabError(
                    f"attention checks: source {checks.source!r} has {have} clips, but "
                    f"{n_tests} test phases x {checks.per_test_phase} need "
                    f"{n_tests * checks.per_test_phase}; add clips or lower per_test_phase"
                )

    def __len__(self) -> int:
        return len(self.by_key)

    # -- frame sheets --------------------------------------------------------------
    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def sheet(self, key: str) -> tuple[Path, SheetInfo]:
        """The frame sheet of stimulus ``key`` (made on first use), and its geometry."""
        stim = self.by_key[key]
        png = self.cache_dir / f"{key}.png"
        meta = self.cache_dir / f"{key}.json"
        with self._lock(key):
            if not (png.exists() and meta.exists()):
                source = self.config.sources[stim.source]
                sheet, info = make_sheet(stim.path, max_frames=source.max_frames, size=source.size)
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                ok, buf = cv2.imencode(".png", sheet[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
                if not ok:
                    raise MotionlabError(f"{stim.path}: could not encode the frame sheet")
                with atomic_file(png) as tmp:
                    tmp.write_bytes(buf.tobytes())
                with atomic_file(meta) as tmp:
                    tmp.write_text(json.dumps(info.to_dict()))
            info = SheetInfo(**json.loads(meta.read_text()))
        return png, info

    def prepare(self, progress=None) -> int:
        """Make every frame sheet now (so the first participants wait for none)."""
        for i, key in enumerate(sorted(self.by_key)):
            self.sheet(key)
            if progress is not None:
                progress(i + 1, len(self.by_key))
        return len(self.by_key)


def make_sheet(
    source: Path, *, max_frames: int = 300, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, SheetInfo]:
    """Decode a video (or frame folder) and tile its frames into one image.

    Returns
    -------
    sheet : (rows * H, cols * W, 3) uint8 ndarray
        Frame ``i`` is at row ``i // cols``, column ``i % cols``; unused cells are black.
    info : SheetInfo
    """
    from motionlab.video import VideoReader

    with VideoReader(source, stop=max_frames, size=size) as reader:
        frames = list(reader)
    if not frames:
        raise MotionlabError(f"{source}: no frames")
    h, w = frames[0].shape[:2]
    n = len(frames)
    cols = min(max(1, min(n, math.ceil(math.sqrt(n * h / w)))), MAX_SHEET_SIDE // w)
    rows = math.ceil(n / cols) if cols else 0
    if cols < 1 or rows * h > MAX_SHEET_SIDE:
        raise MotionlabError(
            f"{source}: {n} frames of {w}x{h} do not fit a {MAX_SHEET_SIDE}px sheet; lower "
            "max_frames or set size in the source's table"
        )
    sheet = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = frame
    return sheet, SheetInfo(w, h, n, cols, rows)


def sheet_frames(sheet: np.ndarray, info: SheetInfo) -> np.ndarray:
    """The frames of a sheet, ``(T, H, W, 3)`` uint8 (the inverse of :func:`make_sheet`)."""
    out = np.empty((info.frames, info.height, info.width, 3), np.uint8)
    for i in range(info.frames):
        r, c = divmod(i, info.cols)
        out[i] = sheet[
            r * info.height : (r + 1) * info.height, c * info.width : (c + 1) * info.width
        ]
    return out
