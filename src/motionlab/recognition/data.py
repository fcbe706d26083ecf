"""Clip datasets over class-folder trees: sampling f×r, augmentation, RGB and flow streams.

Annotations are parsed into a list of :class:`Sample` by one function per layout
(:func:`ucf101_samples`, :func:`csv_samples`, :func:`folder_samples`); one dataset class,
:class:`ClipDataset`, turns samples into model inputs for a model's streams
(:class:`motionlab.recognition.zoo.StreamSpec`).

Per stream, an item is a float32 tensor ``(C, T, S, S)``:

- RGB: ``(x / 255 - 0.45) / 0.225`` (the Kinetics statistics of pytorchvideo's X3D);
- flow: forward flow of pairs (t, t+1) at the sampled t, clipped to ±20 px and divided by
  20 (TSN's bound, the bound of the ``afd-dataset --save-flow`` cache), so in [-1, 1].

Augmentation (thesis §4.4) applies to RGB streams in training only ("augmentation only on
the appearance stream"): random resized crop, horizontal flip of the whole clip, and
brightness / contrast / hue jitter shared by all frames of a clip, with a strength that
steps from aggressive to mild every 20 epochs (:func:`augment_strength`). Evaluation and
flow streams use a short-side resize and a centre crop.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from motionlab import datasets
from motionlab.datasets import SPLIT_FOLDER as SPLIT_FOLDER  # re-exported for old imports
from motionlab.datasets import VIDEO_SUFFIXES
from motionlab.datasets import read_class_index as read_class_index  # re-exported
from motionlab.errors import MotionlabError
from motionlab.recognition.zoo import StreamSpec

RGB_MEAN = 0.45
RGB_STD = 0.225
FLOW_BOUND = 20.0


@dataclass(frozen=True)
class Sample:
    """One video: its path, class index (0-based) and, where known, the person's id."""

    path: Path
    label: int
    person: str | None = None


# --------------------------------------------------------------------------------------
# annotation parsers (the layouts themselves are read by motionlab.datasets)


def ucf101_samples(
    root: str | os.PathLike[str], *, split: int = 1, subset: str = "train"
) -> tuple[list[Sample], list[str]]:
    """Samples of a UCF101-layout tree (also AFD101 / AFD5 and the synthetic actions).

    Parameters
    ----------
    root : path
        ``root/<Class>/<video>`` with ``classInd.txt``, ``trainlist0{split}.txt`` and
        ``testlist0{split}.txt`` in ``root`` or ``root/ucfTrainTestlist``. Split lines are
        ``Class/video.avi [label]``; lines of classes missing from ``classInd.txt`` (e.g. a
        split file filtered to AFD5) are kept only if the class folder exists.
    split : int
        1, 2 or 3.
    subset : {"train", "test"}

    Returns
    -------
    samples, classes
    """
    root = Path(root)
    if subset not in ("train", "test"):
        raise MotionlabError(f"subset must be 'train' or 'test', got {subset!r}")
    if split not in (1, 2, 3):
        raise MotionlabError(f"split must be 1, 2 or 3, got {split}")
    if not root.is_dir():
        raise MotionlabError(f"{root}: no such dataset folder")
    classes = read_class_index(root)
    present = [c for c in classes if (root / c).is_dir()]
    index = {c: k for k, c in enumerate(present)}
    listing = datasets.find_split_file(root, datasets.split_file_name(subset, split))
    samples = []
    for rel, _label in datasets.read_split_file(listing):
        cls = rel.split("/")[0]
        if cls not in index:
            continue
        path = _resolve_video(root / rel)
        samples.append(Sample(path, index[cls]))
    if not samples:
        raise MotionlabError(f"{listing}: no videos of the classes under {root}")
    return samples, present


def _resolve_video(path: Path) -> Path:
    """``path`` or the same name with another video suffix (AFD trees turn .mov into .mkv)."""
    if path.exists():
        return path
    for suffix in VIDEO_SUFFIXES:
        if path.with_suffix(suffix).exists():
            return path.with_suffix(suffix)
    raise MotionlabError(f"{path}: listed in a split file but missing")


def csv_samples(
    table: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    label_column: str = "action",
    path_column: str = "path",
    person_column: str | None = "person",
    classes: Sequence[str] | None = None,
) -> tuple[list[Sample], list[str]]:
    """Samples of a KTH-style metadata CSV (``path,action,person,...``).

    ``label_column="person"`` makes a privacy (identity) task of the same videos. Paths are
    relative to ``root`` (default: the CSV's folder). Classes are sorted unless given.
    """
    table = Path(table)
    root = Path(root) if root is not None else table.parent
    if not table.is_file():
        raise MotionlabError(f"{table}: no such metadata CSV")
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f))
    need = [label_column, path_column] + ([person_column] if person_column else [])
    if not rows or any(c not in rows[0] for c in need):
        got = ", ".join(rows[0]) if rows else "none"
        raise MotionlabError(f"{table}: expected columns {', '.join(need)}, got {got}")
    names = list(classes) if classes is not None else sorted({r[label_column] for r in rows})
    index = {c: k for k, c in enumerate(names)}
    samples = [
        Sample(
            _resolve_video(root / r[path_column]),
            index[r[label_column]],
            r[person_column] if person_column else None,
        )
        for r in rows
        if r[label_column] in index
    ]
    return samples, names


def folder_samples(root: str | os.PathLike[str]) -> tuple[list[Sample], list[str]]:
    """Every video of a class-folder tree ``root/<Class>/<video>`` (no split)."""
    root = Path(root)
    if not root.is_dir():
        raise MotionlabError(f"{root}: no such dataset folder")
    classes = read_class_index(root)
    samples = []
    for k, c in enumerate(classes):
        for p in datasets.list_videos(root / c):  # hidden names included, as always
            samples.append(Sample(p, k))
    if not samples:
        raise MotionlabError(f"{root}: no videos in class folders")
    return samples, classes


_GROUP_PATTERNS = (
    re.compile(r"_g(\d+)_c\d+"),  # UCF101 / AFD101: v_Class_g08_c01 (group = actor + scene)
    re.compile(r"_a(\d+)_v\d+"),  # synthetic actions: Class_a03_v012 (actor)
)


def sample_group(sample: Sample) -> str:
    """The group a video belongs to, for splits that keep a group on one side.

    A CSV's person id when given; else UCF101's group (``_g08_`` in
    ``v_ApplyEyeMakeup_g08_c01``: clips of one group share actor and background, which is
    why the official splits never divide a group); else the synthetic actions' actor
    (``_a03_``); else the video itself.
    """
    if sample.person is not None:
        return f"person:{sample.person}"
    name = Path(sample.path).name
    for pattern in _GROUP_PATTERNS:
        found = pattern.search(name)
        if found:
            return f"group:{int(found[1])}"
    return f"video:{sample.path}"


def hold_out_validation(
    samples: Sequence[Sample], *, fraction: float = 0.1, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """Split a training list into (train, validation) for early stopping and model choice.

    Thesis §4.4 trains with early stopping; UCF101 has only train and test lists, and
    choosing the model on the test list would be selection on test data. So, per class, a
    seeded random ``fraction`` of the class's groups (:func:`sample_group`; at least one)
    is held out, whole groups only, so that no actor and scene is on both sides. A class
    with a single group holds out ``fraction`` of its videos instead (at least one; the
    two sides then share an actor, logged as a warning); a class with a single video
    stays in training only.

    Parameters
    ----------
    samples : sequence of Sample
        The training list.
    fraction : float in (0, 1)
        Share of each class's groups held out (0.1: 2 of UCF101's 18 training groups of
        split 1, rounded).
    seed : int

    Returns
    -------
    train, validation : list of Sample
        Disjoint, in the input order; together they are ``samples``.

    Raises
    ------
    MotionlabError
        ``fraction`` outside (0, 1), or no class has two videos to divide.
    """
    import logging

    if not 0.0 < fraction < 1.0:
        raise MotionlabError(f"validation fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[Sample]] = {}
    for s in samples:
        by_class.setdefault(s.label, []).append(s)
    held: set[int] = set()
    shared = []
    for label in sorted(by_class):
        members = by_class[label]
        groups = sorted({sample_group(s) for s in members})
        if len(groups) >= 2:
            n = min(max(1, round(fraction * len(groups))), len(groups) - 1)
            chosen = {groups[i] for i in rng.choice(len(groups), size=n, replace=False)}
            held |= {id(s) for s in members if sample_group(s) in chosen}
        elif len(members) >= 2:
            n = min(max(1, round(fraction * len(members))), len(members) - 1)
            held |= {id(members[i]) for i in rng.choice(len(members), size=n, replace=False)}
            shared.append(label)
    if not held:
        raise MotionlabError(
            "the training list has no class with two videos: nothing to hold out for "
            "validation (early stopping and the choice of best.pt need one)"
        )
    if shared:
        logging.getLogger(__name__).warning(
            "classes %s have one group (actor/scene) only: their validation videos share it "
            "with training", shared,
        )  # fmt: skip
    train = [s for s in samples if id(s) not in held]
    val = [s for s in samples if id(s) in held]
    return train, val


def subset_by_person(samples: Sequence[Sample], persons: Sequence[str]) -> list[Sample]:
    """The samples of the given persons (KTH-style person splits)."""
    wanted = set(persons)
    return [s for s in samples if s.person in wanted]


def split_by_person(
    samples: Sequence[Sample], table: dict[str, str]
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(train, val, test) of a person-disjoint split (:func:`motionlab.datasets.split_by_person`).

    A sample's person is its ``person`` (from a metadata CSV) or else read from a KTH file
    name (``person04_boxing_d2_uncomp.avi``); the returned samples carry it, in
    :func:`motionlab.datasets.person_id` spelling, so that :func:`hold_out_validation`
    keeps persons whole. ``table`` maps persons to ``train``/``val``/``test``
    (:func:`motionlab.datasets.kth_person_split`, :func:`motionlab.datasets.read_person_split`);
    samples of persons it does not name are left out. ``val`` is empty when the table
    names no validation person.
    """
    persons = [
        datasets.person_id(s.person) if s.person is not None else datasets.kth_person(s.path)
        for s in samples
    ]
    parts = datasets.split_by_person(persons, table)
    tagged = [Sample(s.path, s.label, p) for s, p in zip(samples, persons, strict=True)]
    train, val, test = ([tagged[i] for i in parts[part]] for part in datasets.PARTS)
    return train, val, test


# --------------------------------------------------------------------------------------
# temporal sampling


def clip_indices(
    num_frames: int,
    frames: int,
    rate: int,
    *,
    position: float | None = None,
    jitter: int = 0,
    rng: np.random.Generator | None = None,
    pairs: bool = False,
) -> np.ndarray:
    """Frame indices of one f×r clip of a video with ``num_frames`` frames.

    Parameters
    ----------
    num_frames : int
        Frames of the video (>= 1; >= 2 with ``pairs``).
    frames, rate : int
        f and r.
    position : float in [0, 1], optional
        Where the clip starts within the possible start range; None = centred (0.5).
    jitter : int
        Each index moves by a uniform integer in ``[-jitter, jitter]`` (needs ``rng``);
        indices stay sorted and in range.
    pairs : bool
        Indices of flow pairs (t, t+1): the last usable t is ``num_frames - 2``.

    Returns
    -------
    (frames,) int64 ndarray
        Sorted indices; a video shorter than the clip's span repeats its last frame
        (a clip is never refused for being short).
    """
    last = num_frames - (2 if pairs else 1)
    if last < 0:
        raise MotionlabError(f"a video of {num_frames} frames is too short for this clip")
    span = (frames - 1) * rate
    room = max(last - span, 0)
    pos = 0.5 if position is None else float(position)
    start = round(pos * room)
    idx = start + rate * np.arange(frames, dtype=np.int64)
    if jitter and rng is not None:
        idx = idx + rng.integers(-jitter, jitter + 1, size=frames)
        idx = np.maximum.accumulate(idx)  # keep temporal order
    return np.clip(idx, 0, last)


# --------------------------------------------------------------------------------------
# augmentation


@dataclass(frozen=True)
class AugmentStrength:
    """Augmentation of the appearance stream at one stage of training.

    Attributes
    ----------
    min_scale : float
        Smallest area fraction of a random resized crop (1 = no crop).
    brightness, contrast : float
        Factors drawn from ``[1 - x, 1 + x]``.
    hue : float
        Hue shift, fraction of the hue circle, drawn from ``[-x, x]``.
    flip : float
        Probability of a horizontal flip of the whole clip.
    """

    min_scale: float
    brightness: float
    contrast: float
    hue: float
    flip: float = 0.5


SCHEDULE = (
    AugmentStrength(min_scale=0.25, brightness=0.4, contrast=0.4, hue=0.1),
    AugmentStrength(min_scale=0.5, brightness=0.25, contrast=0.25, hue=0.05),
    AugmentStrength(min_scale=0.8, brightness=0.1, contrast=0.1, hue=0.02),
)
"""Aggressive, medium, mild; :func:`augment_strength` steps through them."""


def augment_strength(
    epoch: int, *, step: int = 20, schedule: Sequence[AugmentStrength] = SCHEDULE
) -> AugmentStrength:
    """The strength for ``epoch`` (0-based): aggressive for the first ``step`` epochs, then
    one stage milder every ``step`` epochs, mild from then on (§4.4)."""
    return schedule[min(epoch // step, len(schedule) - 1)]


def _crop_resize(clip: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    x, y, w, h = box
    out = np.empty((clip.shape[0], size, size, clip.shape[3]), clip.dtype)
    for t, frame in enumerate(clip[:, y : y + h, x : x + w]):
        inter = cv2.INTER_AREA if w > size else cv2.INTER_LINEAR
        out[t] = cv2.resize(frame, (size, size), interpolation=inter).reshape(out.shape[1:])
    return out


def centre_box(height: int, width: int) -> tuple[int, int, int, int]:
    """The largest centred square ``(x, y, w, h)`` of a frame."""
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side, side


def random_box(
    height: int, width: int, min_scale: float, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """A random resized crop box ``(x, y, w, h)``: area fraction in [min_scale, 1] of the
    frame, aspect ratio in [3/4, 4/3] (Inception-style; falls back to the centre square)."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(min_scale, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
    return centre_box(height, width)


def colour_jitter(
    clip: np.ndarray, strength: AugmentStrength, rng: np.random.Generator
) -> np.ndarray:
    """Brightness, contrast and hue jitter with one draw for the whole clip.

    ``clip`` is ``(T, H, W, 3)`` uint8; returns the same shape and dtype.
    """
    b = rng.uniform(1 - strength.brightness, 1 + strength.brightness)
    c = rng.uniform(1 - strength.contrast, 1 + strength.contrast)
    shift = rng.uniform(-strength.hue, strength.hue) * 180.0  # OpenCV hue is 0..180
    x = clip.astype(np.float32) * b
    mean = x.mean()
    x = np.clip((x - mean) * c + mean, 0, 255).astype(np.uint8)
    if shift:
        for t in range(len(x)):
            hsv = cv2.cvtColor(x[t], cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + round(shift)) % 180).astype(np.uint8)
            x[t] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return x


def rgb_to_tensor_layout(clip: np.ndarray) -> np.ndarray:
    """``(T, S, S, 3)`` uint8 -> normalised float32 ``(3, T, S, S)``."""
    x = clip.astype(np.float32) / 255.0
    return np.ascontiguousarray(((x - RGB_MEAN) / RGB_STD).transpose(3, 0, 1, 2))


def flow_to_tensor_layout(flows: np.ndarray, size: int) -> np.ndarray:
    """``(T, H, W, 2)`` float flow in px -> ``(2, T, size, size)`` in [-1, 1].

    Centre square, resized to ``size``; vectors are scaled with the image (a flow of 4 px
    at 320 px is 2 px at 160 px), then clipped to ±20 px and divided by 20.
    """
    h, w = flows.shape[1:3]
    box = centre_box(h, w)
    scale = size / box[2]
    out = _crop_resize(flows.astype(np.float32), box, size) * scale
    out = np.clip(out, -FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND
    return np.ascontiguousarray(out.transpose(3, 0, 1, 2))


# --------------------------------------------------------------------------------------
# conditions of the motion-reliance diagnostic

CONDITIONS = ("rgb", "afd", "static", "shuffled")
"""What a model can be shown of a video (:class:`ClipDataset` ``condition``)."""


def condition_seed(seed: int, video: str | os.PathLike[str]) -> int:
    """The seed of a video's ``shuffled`` permutation: a stable hash of ``seed`` and the
    video's file name (:func:`motionlab.afd.dataset.video_seed`)."""
    from motionlab.afd.dataset import video_seed

    return video_seed(seed, f"shuffle:{Path(video).name}")


def shuffle_permutation(n: int, seed: int) -> np.ndarray:
    """A permutation of ``n`` frames that moves every frame when it can (a derangement for
    n >= 2, drawn by rejection from ``default_rng(seed).permutation``): a shuffled clip
    keeps no frame where it was. (n,) int64."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        perm = rng.permutation(n)
        if n < 2 or not (perm == np.arange(n)).any():
            return perm
    return np.roll(np.arange(n), 1)  # unreachable in practice (P(reject) ~ 1 - 1/e)


def condition_indices(condition: str, idx: np.ndarray, perm: np.ndarray | None) -> np.ndarray:
    """Frame indices an RGB stream reads under ``condition`` for the sampled ``idx``:
    ``idx`` (rgb, afd), the middle one repeated (static), ``idx[perm]`` (shuffled)."""
    if condition == "static":
        return np.full_like(idx, idx[len(idx) // 2])
    if condition == "shuffled":
        assert perm is not None
        return idx[perm]
    return idx


def condition_pairs(
    condition: str, idx: np.ndarray, perm: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Frame pairs ``(first, second)`` a flow stream reads under ``condition`` for the
    sampled pair starts ``idx``: ``(idx, idx + 1)`` (rgb, afd); the middle frame with
    itself (static: zero motion); for shuffled, the frames ``idx`` and ``idx[-1] + 1``
    (the clip's T + 1 frames) permuted by ``perm`` (length T + 1), paired with their
    successor in the shuffled order."""
    if condition == "static":
        mid = np.full_like(idx, idx[len(idx) // 2])
        return mid, mid
    if condition == "shuffled":
        assert perm is not None
        order = np.concatenate([idx, idx[-1:] + 1])[perm]
        return order[:-1], order[1:]
    return idx, idx + 1


# --------------------------------------------------------------------------------------
# the dataset


def _read_frames(path: Path, indices: np.ndarray) -> np.ndarray:
    """Decode the frames ``indices`` (any order, repeats allowed) of a video: ``(n, H, W, 3)``."""
    from motionlab.video import VideoReader

    wanted = np.asarray(indices)
    lo, hi = int(wanted.min()), int(wanted.max()) + 1
    with VideoReader(path, start=lo, stop=hi) as reader:
        frames = list(reader)
    if len(frames) < hi - lo:
        raise MotionlabError(f"{path}: expected frames {lo}..{hi - 1}, decoded {len(frames)}")
    return np.stack([frames[i - lo] for i in wanted])


def count_frames(path: Path) -> int:
    """Frames of a video (container count, or demuxed)."""
    from motionlab.video import probe

    return probe(path).num_frames


def flow_cache_path(cache: Path, root: Path, video: Path) -> Path:
    """The cached flow of ``video`` written by ``afd-dataset --save-flow``:
    ``cache/<Class>/<stem>.flow.mkv`` (same relative folder as under ``root``)."""
    rel = video.relative_to(root)
    return cache / rel.parent / f"{rel.name.split('.')[0]}.flow.mkv"


@dataclass(frozen=True)
class FlowSource:
    """Where flow streams come from.

    Attributes
    ----------
    cache : path, optional
        A flow cache from ``afd-dataset --save-flow`` (mirrors the dataset tree).
    root : path, optional
        The dataset root the cache mirrors (needed with ``cache``).
    method : str
        Otherwise flow is estimated on the fly with this ``motionlab.flow`` method.
    options : tuple of (name, value)
        Its settings (e.g. ``(("preset", "fast"),)``, ``(("upsample", 2.0),)`` to upsample
        frames before RAFT).
    """

    cache: Path | None = None
    root: Path | None = None
    method: str = "dis"
    options: tuple[tuple[str, Any], ...] = (("preset", "fast"),)

    def describe(self) -> dict[str, Any]:
        """How this source makes flow, as plain data (recorded in checkpoints).

        Keys: ``kind`` (``"estimated"`` or ``"cache"``), ``method`` and ``options``
        (option values as strings) of the flow estimator, ``bound_px`` (the clipping bound
        of the network input), and for a cache its ``path`` and ``identity``: a SHA-256 of
        what made it, read from the ``afd_dataset.json`` that ``afd-dataset --save-flow``
        writes (source folder, classes, flow method and options, quantisation bound). A
        cache without that manifest has ``method``, ``options`` and ``identity`` None
        (unknown).
        """
        if self.cache is None:
            return {
                "kind": "estimated",
                "method": self.method,
                "options": {str(k): str(v) for k, v in self.options},
                "bound_px": FLOW_BOUND,
            }
        import hashlib
        import json

        from motionlab.afd.dataset import MANIFEST

        record: dict[str, Any] = {
            "kind": "cache", "path": str(Path(self.cache).resolve()), "method": None,
            "options": None, "identity": None, "bound_px": FLOW_BOUND,
        }  # fmt: skip
        manifest = Path(self.cache) / MANIFEST
        try:
            data = json.loads(manifest.read_text())
            afd = data["afd"]
            made = {
                "source": data.get("source"), "classes": data.get("classes"),
                "flow_method": afd["flow_method"],
                "flow_options": {str(k): str(v) for k, v in afd.get("flow_options", {}).items()},
                "bound_px": FLOW_BOUND,
            }  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return record  # no (readable) manifest: how the flow was made is unknown
        canonical = json.dumps(made, sort_keys=True).encode()
        record |= {
            "method": made["flow_method"],
            "options": made["flow_options"],
            "identity": hashlib.sha256(canonical).hexdigest()[:16],
        }
        return record


def flow_source_mismatch(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Why flow from ``current`` is not what a model trained on ``recorded`` saw; None when
    it is (same estimator method and options, same input bound).

    Both are :meth:`FlowSource.describe` records. A cache and on-the-fly estimation with
    the same method and options match (the cache's 8-bit quantisation, 0.16 px, is far
    below the differences between methods); a cache whose manifest is missing matches
    nothing, since how its flow was made is unknown.
    """

    def what(r: dict[str, Any]) -> str:
        if r.get("method") is None:
            return f"a flow cache of unknown method ({r.get('path')}: no afd_dataset.json)"
        opts = ",".join(f"{k}={v}" for k, v in sorted((r.get("options") or {}).items()))
        where = f"cache {r.get('path')}" if r.get("kind") == "cache" else "estimated per clip"
        return f"{r['method']}[{opts}] ({where})"

    keys = ("method", "options", "bound_px")
    if recorded.get("method") is None or current.get("method") is None:
        return f"trained on {what(recorded)}, now {what(current)}"
    if any(recorded.get(k) != current.get(k) for k in keys):
        return f"trained on {what(recorded)}, now {what(current)}"
    return None


class ClipDataset:
    """Clips of videos for the streams of a model.

    ``dataset[i] -> (inputs, label)`` where ``inputs`` is a list with one float32
    ``torch.Tensor (C, T, S, S)`` per stream (see the module docstring) and ``label`` an int.
    Randomness (start, jitter, augmentation) comes from ``default_rng([seed, epoch, i])``, so
    an item is the same in any worker process; call :meth:`set_epoch` every epoch.

    Parameters
    ----------
    samples : sequence of Sample
    streams : sequence of StreamSpec
        A model's :attr:`~motionlab.recognition.zoo.ModelSpec.streams`.
    train : bool
        Random start, temporal jitter and augmentation of RGB streams; else centred clip
        and centre crop.
    flow : FlowSource
    seed : int
    augment_step : int
        Epochs per augmentation stage (20 in the thesis).
    schedule : sequence of AugmentStrength
        The stages, aggressive first (default :data:`SCHEDULE`).
    cache_videos : bool
        Keep every decoded video (and its estimated flow) in memory, per worker process:
        for small datasets such as the synthetic benchmark, where decoding and flow would
        cost more than the model.
    condition : {"rgb", "afd", "static", "shuffled"}
        What the model is shown of each video (:data:`CONDITIONS`; the motion-reliance
        diagnostic compares them): ``rgb`` the video; ``afd`` its appearance-free version
        made on the fly by ``afd`` (no AFD copy on disk; flow streams then estimate flow
        from the AFD frames, as the thesis does); ``static`` one frame, the clip's middle
        sampled frame, repeated (appearance only; flow is zero); ``shuffled`` the clip's
        sampled frames in a random order (appearance without temporal order; a flow
        stream gets the flow between consecutive frames of the shuffled sequence). The
        permutation is seeded per video by :func:`condition_seed` (``seed`` and the file
        name), the same in every epoch and worker.
    afd : AFDSource, optional
        The on-the-fly AFD source (:class:`motionlab.afd.stream.AFDSource`); required by
        ``condition="afd"``.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        streams: Sequence[StreamSpec],
        *,
        train: bool,
        flow: FlowSource = FlowSource(),
        seed: int = 0,
        augment_step: int = 20,
        schedule: Sequence[AugmentStrength] = SCHEDULE,
        cache_videos: bool = False,
        condition: str = "rgb",
        afd: Any = None,
    ) -> None:
        if not samples:
            raise MotionlabError("no samples")
        if condition not in CONDITIONS:
            raise MotionlabError(
                f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}"
            )
        if condition == "afd" and afd is None:
            raise MotionlabError("condition 'afd' needs an AFD source (AFDSource)")
        if condition != "rgb" and flow.cache is not None:
            raise MotionlabError(
                f"a flow cache holds the flow of the RGB videos; condition {condition!r} "
                "estimates flow from what the model is shown (leave out the flow cache)"
            )
        self.condition = condition
        self.afd = afd
        self.samples = list(samples)
        self.streams = tuple(streams)
        self.train = train
        self.flow = flow
        self.seed = seed
        self.augment_step = augment_step
        self.schedule = tuple(schedule)
        self.cache_videos = cache_videos
        self._cache: dict[Path, np.ndarray] = {}
        self._flow_cache: dict[Path, np.ndarray] = {}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stage and the random draws of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def preload(self) -> float:
        """Fill the in-memory caches now: decode every video and, when a stream reads flow
        estimated on the fly, estimate the flow of all its pairs. Needs ``cache_videos``.

        Lets a benchmark time training without the one-off decoding and flow estimation
        that would otherwise happen in the first epoch. Returns the seconds it took.
        """
        import time

        if not self.cache_videos:
            raise MotionlabError("preload needs cache_videos=True")
        tic = time.perf_counter()
        wants_flow = any(s.kind == "flow" for s in self.streams) and self.flow.cache is None
        for sample in self.samples:
            video = self._video(sample.path)
            if wants_flow and len(video) > 1:
                self._flows(sample.path, np.arange(1))
        return time.perf_counter() - tic

    def __getitem__(self, i: int) -> tuple[list[Any], int]:
        import torch

        sample = self.samples[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        n = len(self._video(sample.path)) if self.cache_videos else count_frames(sample.path)
        position = rng.uniform() if self.train else None
        inputs = []
        for stream in self.streams:
            jitter = (stream.rate - 1) // 2 if self.train else 0
            idx = clip_indices(
                n, stream.frames, stream.rate, position=position, jitter=jitter, rng=rng,
                pairs=stream.kind == "flow",
            )  # fmt: skip
            if stream.kind == "rgb":
                idx = condition_indices(self.condition, idx, self._perm(sample, len(idx)))
                x = self._rgb(sample.path, idx, stream.size, rng)
            else:
                first, second = condition_pairs(
                    self.condition, idx, self._perm(sample, len(idx) + 1)
                )
                x = flow_to_tensor_layout(self._flows(sample.path, first, second), stream.size)
            inputs.append(torch.from_numpy(x))
        return inputs, sample.label

    def _perm(self, sample: Sample, n: int) -> np.ndarray | None:
        """The permutation of a clip of ``n`` frames under ``shuffled`` (None otherwise)."""
        if self.condition != "shuffled":
            return None
        return shuffle_permutation(n, condition_seed(self.seed, sample.path))

    def _video(self, path: Path) -> np.ndarray:
        """The whole decoded video ``(T, H, W, 3)``, from the in-memory cache."""
        if path not in self._cache:
            from motionlab.video import read_video

            if self.condition == "afd":
                self._cache[path] = self.afd.video(path)
            else:
                self._cache[path] = read_video(path)
        return self._cache[path]

    def _frames(self, path: Path, idx: np.ndarray) -> np.ndarray:
        if self.cache_videos:
            return self._video(path)[idx]
        if self.condition == "afd":
            return self.afd.frames(path, idx)
        return _read_frames(path, idx)

    def _rgb(self, path: Path, idx: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
        clip = self._frames(path, idx)
        h, w = clip.shape[1:3]
        if self.train:
            strength = augment_strength(self.epoch, step=self.augment_step, schedule=self.schedule)
            clip = _crop_resize(clip, random_box(h, w, strength.min_scale, rng), size)
            if rng.uniform() < strength.flip:
                clip = clip[:, :, ::-1]
            clip = colour_jitter(clip, strength, rng)
        else:
            clip = _crop_resize(clip, centre_box(h, w), size)
        return rgb_to_tensor_layout(clip)

    def _flows(self, path: Path, idx: np.ndarray, second: np.ndarray | None = None) -> np.ndarray:
        """``(T, H, W, 2)`` forward flows of pairs (t, t+1) for t in ``idx``; of pairs
        ``(idx[j], second[j])`` when ``second`` is given and not ``idx + 1``."""
        if second is not None and not np.array_equal(second, idx + 1):
            from motionlab.flow import get_estimator

            estimator = get_estimator(self.flow.method, **dict(self.flow.options))
            frames = self._frames(path, np.concatenate([idx, second]))
            k = len(idx)
            return np.stack(estimator.estimate_pairs(list(frames[:k]), list(frames[k:])))
        if self.flow.cache is not None:
            from motionlab.afd.dataset import dequantize_flow

            if self.flow.root is None:
                raise MotionlabError("a flow cache needs the dataset root it mirrors")
            cached = flow_cache_path(self.flow.cache, self.flow.root, path)
            if not cached.exists():
                raise MotionlabError(
                    f"{cached}: no cached flow for {path}; make it with "
                    "`motionlab afd-dataset --save-flow` or leave out the flow cache"
                )
            return np.stack([dequantize_flow(f) for f in _read_frames(cached, idx)])
        from motionlab.flow import get_estimator

        estimator = get_estimator(self.flow.method, **dict(self.flow.options))
        if self.cache_videos:  # the flow of every pair of the video, once
            if path not in self._flow_cache:
                video = self._video(path)
                pairs = estimator.estimate_pairs(list(video[:-1]), list(video[1:]))
                self._flow_cache[path] = np.stack(pairs)
            return self._flow_cache[path][idx]
        frames = self._frames(path, np.concatenate([idx, idx + 1]))
        k = len(idx)
        return np.stack(estimator.estimate_pairs(list(frames[:k]), list(frames[k:])))
