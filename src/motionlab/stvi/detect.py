"""Anchor masks from an instance-segmentation detector (thesis Sec. 6.3, step 1).

The thesis anchors the object with Mask R-CNN (trained on COCO) in the first frame and
every n-th frame after it. ``motionlab stvi`` without ``--anchors`` does the same with
torchvision's Mask R-CNN, so no mask needs drawing by hand (the "0-parameter" claim of
Sec. 6.3 end to end).

Two small pieces, so that tests and other detectors plug in:

* a :class:`Segmenter` is any callable ``frames (N, H, W, 3) uint8 -> list of
  Instances`` (one :class:`Instances` per frame: boolean masks, scores, class names);
  :class:`MaskRCNN` is the torchvision one;
* :class:`DetectedObject` decides which instance is *the object* and gives the anchor
  masks: in the first frame the highest-scoring instance (of ``label`` when given, e.g.
  ``"person"``); in every later anchor frame the instance of the *same class* whose box
  overlaps most (IoU) with the object's previous anchor box carried to that frame by the
  flow (the median displacement of its mask's pixels, as the box tracking does). A frame
  where no instance of that class overlaps that box gives no anchor (a warning says so;
  the box tracking carries on to the next anchor): a wrong anchor would select the wrong
  tubes, a missing one only leaves drift uncorrected for n more frames.

Why the highest score in the first frame: the thesis restricts itself to one object per
video, the one the dataset annotates, and in a clip filmed around one salient object we
expect it to be the detector's surest instance (not measured with COCO weights here); the
score is also what a user sees when the detections are drawn. The largest instance was
the alternative: it prefers background objects close to the camera (a parked car, a
crowd member) over the moving subject. When a clip holds several objects, choose the kind
with ``label`` (``--detector-class``).
Why the same class and the carried box later: a detector's scores change from frame to
frame, so "highest score" alone can jump to another object (a second person); the class
and the overlap with where the object was tracked to keep it the same one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.stvi.anchors import STVIInputError
from motionlab.weights import read_state_dict_file

log = logging.getLogger(__name__)

MIN_SCORE = 0.5
"""Instances scoring below this are not considered (torchvision's usual display cut)."""
MASK_THRESHOLD = 0.5
"""A pixel belongs to an instance when its mask probability exceeds this (Mask R-CNN)."""
DOWNLOAD_TIMEOUT = 20.0
"""Seconds a stalled weight download may wait on the network before it fails."""
VARIANTS = ("maskrcnn-v2", "maskrcnn")
"""``maskrcnn-v2``: torchvision's maskrcnn_resnet50_fpn_v2 (COCO mask AP 41.8);
``maskrcnn``: maskrcnn_resnet50_fpn (the original, mask AP 34.6)."""


@dataclass
class Instances:
    """The detections in one frame.

    masks : (N, H, W) bool -- one mask per instance, at the frame's size.
    scores : (N,) float -- detection confidence in [0, 1].
    labels : N class names (COCO names for Mask R-CNN, e.g. "person").
    """

    masks: np.ndarray
    scores: np.ndarray
    labels: list[str]

    def __post_init__(self) -> None:
        self.masks = np.asarray(self.masks, bool)
        self.scores = np.asarray(self.scores, float).reshape(-1)
        if self.masks.ndim != 3 or not len(self.masks) == len(self.scores) == len(self.labels):
            raise MotionlabError(
                f"instances need (N, H, W) masks and N scores and labels, got masks "
                f"{self.masks.shape}, {len(self.scores)} scores, {len(self.labels)} labels"
            )


class Segmenter(Protocol):
    """Instance segmentation of frames: ``(N, H, W, 3)`` uint8 RGB -> N :class:`Instances`."""

    def __call__(self, frames: np.ndarray) -> list[Instances]: ...


def _builders() -> dict[str, tuple[Any, Any]]:
    from torchvision.models import detection as d

    return {
        "maskrcnn-v2": (d.maskrcnn_resnet50_fpn_v2, d.MaskRCNN_ResNet50_FPN_V2_Weights),
        "maskrcnn": (d.maskrcnn_resnet50_fpn, d.MaskRCNN_ResNet50_FPN_Weights),
    }


def coco_classes(variant: str = "maskrcnn-v2") -> list[str]:
    """The class names of the variant's COCO weights, indexed by label id (no download)."""
    return list(_builders()[variant][1].DEFAULT.meta["categories"])


def _download(url: str) -> dict[str, Any]:
    """torchvision's state dict at ``url`` through the torch hub cache (downloads once).

    A stalled network fails after :data:`DOWNLOAD_TIMEOUT` seconds instead of hanging; the
    hub's "Downloading ..." line (printed on stdout) is logged instead.
    """
    import torch

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            state = torch.hub.load_state_dict_from_url(
                url, progress=False, check_hash=True, map_location="cpu", weights_only=True
            )
    finally:
        socket.setdefaulttimeout(previous)
    if said.getvalue().strip():  # only after success: a failure stays one line
        log.info("%s", said.getvalue().strip())
    return state


def load_maskrcnn(
    variant: str = "maskrcnn-v2",
    *,
    weights: str | os.PathLike[str] | None = None,
    pretrained: bool = True,
    **options: Any,
) -> Any:
    """torchvision's Mask R-CNN ``variant`` with COCO weights, in eval mode.

    Parameters
    ----------
    variant : {"maskrcnn-v2", "maskrcnn"}
    weights : path, optional
        A local torchvision state dict of that variant (e.g. the file
        ``maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth`` from download.pytorch.org). Without
        it the COCO weights are downloaded into the torch hub cache on first use.
    pretrained : bool
        ``False``: randomly initialised (backbone too), for tests of the mechanics only.
    **options
        Passed to the torchvision builder (e.g. ``min_size`` for a faster test).

    Raises
    ------
    MotionlabError
        Unknown variant; the download failed (the message names ``--detector-weights``);
        the file is missing, unreadable or of another variant.
    """

    if variant not in VARIANTS:
        raise MotionlabError(f"unknown detector {variant!r}; choose one of {', '.join(VARIANTS)}")
    if weights is not None and not Path(weights).is_file():
        raise MotionlabError(f"{weights}: no such detector weights file")
    builder, enum = _builders()[variant]
    if weights is None and not pretrained:
        return builder(weights=None, weights_backbone=None, num_classes=91, **options).eval()
    if weights is None:  # fetched before the model is built: a failure costs no time
        url = enum.DEFAULT.url
        try:
            state = _download(url)
        except Exception as exc:  # URLError, timeout, HTTPError, hash mismatch, OSError ...
            raise MotionlabError(
                f"could not download the {variant} detector weights {url} "
                f"({type(exc).__name__}: {exc}); give a local copy with --detector-weights "
                f"PATH, or masks with --anchors FOLDER"
            ) from exc
        source = url
    else:
        path = Path(weights)
        state = read_state_dict_file(path, missing="no such detector weights file")
        source = str(path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = builder(weights=None, weights_backbone=None, num_classes=91, **options)
    target = model.state_dict()
    missing = set(target) - set(state)
    bad = [k for k in state if k in target and tuple(state[k].shape) != tuple(target[k].shape)]
    if missing or bad or set(state) - set(target):
        other = VARIANTS[1 - VARIANTS.index(variant)]
        raise MotionlabError(
            f"{source}: weights do not fit {variant} ({len(missing)} missing, {len(bad)} of "
            f"another shape, {len(set(state) - set(target))} unknown tensors); are they "
            f"{other}'s (--detector {other})?"
        )
    model.load_state_dict(state)
    return model.eval()


def to_instances(
    output: dict[str, Any],
    classes: Sequence[str],
    *,
    min_score: float = MIN_SCORE,
    mask_threshold: float = MASK_THRESHOLD,
) -> Instances:
    """Turn one torchvision Mask R-CNN output (``boxes``, ``labels``, ``scores``, ``masks``
    ``(N, 1, H, W)`` probabilities) into :class:`Instances`: instances scoring at least
    ``min_score``, masks ``> mask_threshold``, label ids named by ``classes``; instances
    whose mask is empty after thresholding are dropped."""
    scores = output["scores"].detach().cpu().numpy().astype(float)
    probs = output["masks"].detach().cpu().numpy()[:, 0]
    ids = output["labels"].detach().cpu().numpy()
    keep = scores >= min_score
    masks = probs[keep] > mask_threshold
    nonempty = masks.any(axis=(1, 2))
    names = [classes[i] if 0 <= i < len(classes) else str(i) for i in ids[keep]]
    return Instances(
        masks=masks[nonempty],
        scores=scores[keep][nonempty],
        labels=[n for n, k in zip(names, nonempty, strict=True) if k],
    )


class MaskRCNN:
    """torchvision's Mask R-CNN as a :class:`Segmenter`.

    Parameters
    ----------
    variant, weights, pretrained :
        See :func:`load_maskrcnn` (the weights load here, so a failed download fails
        before any other work).
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``.
    min_score, mask_threshold : float
        See :func:`to_instances`.
    """

    def __init__(
        self,
        variant: str = "maskrcnn-v2",
        *,
        weights: str | os.PathLike[str] | None = None,
        pretrained: bool = True,
        device: str | None = None,
        min_score: float = MIN_SCORE,
        mask_threshold: float = MASK_THRESHOLD,
        **options: Any,
    ) -> None:
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = load_maskrcnn(variant, weights=weights, pretrained=pretrained, **options)
        self.model.to(self.device)
        self.classes = coco_classes(variant)
        self.min_score = min_score
        self.mask_threshold = mask_threshold

    def __call__(self, frames: np.ndarray) -> list[Instances]:
        import torch

        out = []
        with torch.inference_mode():
            for frame in np.asarray(frames):  # one at a time: 480p at 800 px is large
                x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)
                x = x.to(self.device, torch.float32) / 255.0
                (pred,) = self.model([x])
                out.append(
                    to_instances(
                        pred,
                        self.classes,
                        min_score=self.min_score,
                        mask_threshold=self.mask_threshold,
                    )
                )
        return out


def _box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when disjoint)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class DetectedObject:
    """The object a :class:`Segmenter` finds in the first anchor frame, followed through
    the later ones (the rule is in the module docstring).

    Parameters
    ----------
    segmenter : Segmenter
    frames : (T, H, W, 3) uint8 ndarray
        The clip.
    indices : sequence of int
        Anchor frames, the first one first (0, n, 2n, ...).
    label : str, optional
        Only instances of this class (e.g. "person") can be the object.

    Raises
    ------
    STVIInputError
        When the first anchor frame has no instance (of ``label``): raised here, right
        after detection, before the flow is computed.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        frames: np.ndarray,
        indices: Sequence[int],
        *,
        label: str | None = None,
    ) -> None:
        self.indices = list(indices)
        if not self.indices:
            raise STVIInputError("no anchor frames asked for (an empty clip?)")
        frames = np.asarray(frames)
        self.instances = segmenter(frames[self.indices])
        if len(self.instances) != len(self.indices):
            raise MotionlabError(
                f"the detector gave {len(self.instances)} results for {len(self.indices)} frames"
            )
        first = self.instances[0]
        candidates = [
            j
            for j in range(len(first.labels))
            if (label is None or first.labels[j] == label) and first.masks[j].any()
        ]
        if not candidates:
            what = f"no {label!r}" if label else "no object"
            raise STVIInputError(
                f"the detector found {what} in the first frame (frame {self.indices[0]}): "
                "STVI starts from the object's mask there (thesis Sec. 6.3); give masks with "
                "--anchors FOLDER" + ("" if label else " or choose a class with --detector-class")
            )
        self.first = max(candidates, key=lambda j: first.scores[j])
        self.label = first.labels[self.first]
        self.score = float(first.scores[self.first])

    def anchors(self, flows: np.ndarray | None = None) -> dict[int, np.ndarray]:
        """Frame index -> bool ``(H, W)`` mask of the object in every anchor frame where it
        was found; the first anchor frame always. ``flows`` ``(T - 1, H, W, 2)`` (forward
        flow of every pair) carries the previous anchor's box to the next anchor frame
        before the overlap test; without it the box stays where it was."""
        from motionlab.stvi.tracking import track_boxes

        i0 = self.indices[0]
        out = {i0: self.instances[0].masks[self.first]}
        previous = i0
        skipped = []
        for i, inst in zip(self.indices[1:], self.instances[1:], strict=True):
            if flows is not None:  # the previous anchor's box, moved with the object
                expected = track_boxes(flows, {previous: out[previous]}, len(flows) + 1)[i]
            else:
                expected = _box(out[previous])
            overlaps = [
                (box_iou(_box(inst.masks[j]), expected), inst.scores[j], j)
                for j in range(len(inst.labels))
                if inst.labels[j] == self.label and inst.masks[j].any()
            ]
            best = max(overlaps, default=(0.0, 0.0, -1))
            if best[0] > 0:
                out[i] = inst.masks[best[2]]
                previous = i
            else:
                skipped.append(i)
        if skipped:
            log.warning(
                "no %s overlapping the tracked object in anchor frames %s: skipped",
                self.label,
                skipped,
            )
        return out


def load_segmenter(
    variant: str = "maskrcnn-v2", weights: str | os.PathLike[str] | None = None
) -> Segmenter:
    """The segmenter ``motionlab stvi`` uses without ``--anchors`` (tests replace it)."""
    return MaskRCNN(variant, weights=weights)


def check_class(label: str | None, variant: str = "maskrcnn-v2") -> None:
    """Refuse a ``label`` that is not one of the variant's COCO classes (before any work)."""
    if label is None:
        return
    names = [c for c in coco_classes(variant) if c not in ("__background__", "N/A")]
    if label not in names:
        raise MotionlabError(
            f"--detector-class {label!r} is not a COCO class of {variant}; choose one of "
            f"{', '.join(names[:12])}, ... ({len(names)} classes)"
        )
