"""Anchors from a detector (``motionlab stvi`` without ``--anchors``): Mask R-CNN's
mechanics with a randomly initialised model, the rule that picks the object, the weight
download failing fast, and the command end to end with masks injected in place of the
detector (synthetic clip; DAVIS annotations when ../shared is present)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error

import cv2
import numpy as np
import pytest
import torch

from motionlab import MotionlabError
from motionlab.cli import main
from motionlab.stvi import detect
from motionlab.stvi.anchors import STVIInputError
from motionlab.stvi.detect import DetectedObject, Instances, MaskRCNN, to_instances
from motionlab.stvi.io import read_labels
from motionlab.synthetic import two_part_scene

from conftest import DATA, need


def _box_mask(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_to_instances_thresholds_scores_and_masks():
    probs = torch.zeros(4, 1, 3, 4)
    probs[0, 0, 0, :2] = torch.tensor([0.9, 0.5])  # 0.5 is not > 0.5: one pixel
    probs[1, 0] = 0.95  # score too low: dropped
    probs[2, 0, 2, 3] = 0.51
    probs[3, 0] = 0.4  # score fine, but no pixel above the mask threshold: dropped
    output = {
        "boxes": torch.zeros(4, 4),
        "labels": torch.tensor([1, 18, 3, 1]),
        "scores": torch.tensor([0.9, 0.49, 0.5, 0.8]),
        "masks": probs,
    }
    classes = detect.coco_classes()
    inst = to_instances(output, classes)
    assert inst.masks.dtype == bool and inst.masks.shape == (2, 3, 4)
    assert inst.labels == ["person", "car"] and np.allclose(inst.scores, [0.9, 0.5])
    assert inst.masks[0].sum() == 1 and inst.masks[0, 0, 0]
    assert inst.masks[1].sum() == 1 and inst.masks[1, 2, 3]
    looser = to_instances(output, classes, min_score=0.3, mask_threshold=0.3)
    assert looser.labels == ["person", "dog", "car", "person"]


@pytest.mark.parametrize("variant", ["maskrcnn-v2"])  # the default; maskrcnn is built below
def test_random_maskrcnn_gives_frame_sized_bool_masks(variant):
    """The torchvision path itself, untrained (weights=None, weights_backbone=None): masks
    at the frame's size, bool; scores at least min_score; COCO class names."""
    torch.manual_seed(0)
    seg = MaskRCNN(variant, pretrained=False, device="cpu", min_score=0.0, min_size=96,
                   max_size=128)  # fmt: skip
    seg.model.roi_heads.score_thresh = 0.0  # an untrained head scores ~1/91: keep them
    seg.model.roi_heads.detections_per_img = 4  # (default 100: slow on a busy CPU)
    seg.model.rpn._post_nms_top_n = {"training": 50, "testing": 50}
    frames = np.random.default_rng(0).integers(0, 255, (2, 60, 80, 3), dtype=np.uint8)
    out = seg(frames)
    assert len(out) == 2
    for inst in out:
        assert inst.masks.dtype == bool and inst.masks.shape[1:] == (60, 80)
        assert len(inst.masks) == len(inst.scores) == len(inst.labels) > 0
        assert inst.masks.reshape(len(inst.masks), -1).any(axis=1).all()
        assert set(inst.labels) <= set(detect.coco_classes(variant))
    seg.min_score = 1.01  # nothing scores above 1
    assert all(len(i.labels) == 0 and i.masks.shape == (0, 60, 80) for i in seg(frames))


def test_download_failure_is_fast_and_names_the_local_option(monkeypatch):
    seen = {}

    def offline(url, **kwargs):
        seen["timeout"] = socket.getdefaulttimeout()
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    started = time.perf_counter()
    with pytest.raises(MotionlabError, match="--detector-weights PATH") as info:
        detect.load_maskrcnn("maskrcnn-v2")
    assert time.perf_counter() - started < 30  # a model build, no waiting
    assert "maskrcnn_resnet50_fpn_v2_coco" in str(info.value)
    assert seen["timeout"] == detect.DOWNLOAD_TIMEOUT  # a stalled network cannot hang
    assert socket.getdefaulttimeout() is None  # restored


def test_local_weights_errors(tmp_path):
    with pytest.raises(MotionlabError, match="no such detector weights"):
        detect.load_maskrcnn("maskrcnn", weights=tmp_path / "nosuch.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint\n")
    with pytest.raises(MotionlabError, match="not a readable PyTorch checkpoint"):
        detect.load_maskrcnn("maskrcnn", weights=tmp_path / "text.pth")
    torch.save({"backbone.body.conv1.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(MotionlabError, match=r"do not fit maskrcnn .*--detector maskrcnn-v2"):
        detect.load_maskrcnn("maskrcnn", weights=tmp_path / "other.pth")
    with pytest.raises(MotionlabError, match="unknown detector"):
        detect.load_maskrcnn("yolo")
    with pytest.raises(MotionlabError, match="not a COCO class"):
        detect.check_class("persn")
    detect.check_class("person")


def _segmenter(per_frame: list[Instances]):
    """A segmenter that answers the anchor frames in order."""

    def segment(frames: np.ndarray) -> list[Instances]:
        assert len(frames) == len(per_frame)
        return per_frame

    return segment


def test_the_object_is_the_best_first_instance_then_the_same_one():
    h, w = 40, 60
    person = _box_mask(h, w, 5, 5, 15, 30)
    dog = _box_mask(h, w, 40, 20, 55, 35)
    frames = np.zeros((21, h, w, 3), np.uint8)
    first = Instances(np.stack([person, dog]), [0.8, 0.9], ["person", "dog"])
    # frame 10: another dog scores higher far away; frame 20: no dog near the tracked one
    moved = _box_mask(h, w, 38, 18, 53, 33)
    far = _box_mask(h, w, 0, 0, 10, 10)
    # ... and a cat sits exactly where the dog was (another class: never the object)
    names = ["dog", "dog", "person", "cat"]
    later = Instances(np.stack([far, moved, person, dog]), [0.99, 0.6, 0.95, 0.97], names)
    gone = Instances(np.stack([far]), [0.99], ["dog"])
    found = DetectedObject(_segmenter([first, later, gone]), frames, [0, 10, 20])
    assert found.label == "dog" and found.score == pytest.approx(0.9)  # highest score
    anchors = found.anchors()
    assert sorted(anchors) == [0, 10]  # frame 20 skipped: nothing overlaps the object
    np.testing.assert_array_equal(anchors[0], dog)
    np.testing.assert_array_equal(anchors[10], moved)  # overlap beats score
    # a chosen class
    found = DetectedObject(_segmenter([first, later, gone]), frames, [0, 10, 20], label="person")
    np.testing.assert_array_equal(found.anchors()[10], person)
    # nothing of that class in the first frame: a clear error, raised at detection
    with pytest.raises(STVIInputError, match=r"found no 'cat' in the first frame \(frame 0\)"):
        DetectedObject(_segmenter([first, later, gone]), frames, [0, 10, 20], label="cat")
    empty = Instances(np.zeros((0, h, w), bool), [], [])
    with pytest.raises(ValueError, match="found no object in the first frame"):
        DetectedObject(_segmenter([empty, later, gone]), frames, [0, 10, 20])


def test_the_flow_carries_the_object_box_to_the_next_anchor():
    """An object that moved past its own width is found again only with the flow."""
    h, w = 40, 80
    frames = np.zeros((11, h, w, 3), np.uint8)
    start = _box_mask(h, w, 5, 10, 15, 30)
    there = _box_mask(h, w, 45, 10, 55, 30)  # 40 px to the right after 10 frames
    decoy = _box_mask(h, w, 18, 10, 28, 30)  # overlaps where the object was ... almost
    first = Instances(start[None], [0.9], ["person"])
    later = Instances(np.stack([there, decoy]), [0.7, 0.9], ["person", "person"])
    flows = np.zeros((10, h, w, 2), np.float32)
    flows[..., 0] = 4.0  # everything moves 4 px per frame to the right
    found = DetectedObject(_segmenter([first, later]), frames, [0, 10])
    assert sorted(found.anchors()) == [0]  # without flow: no overlap, skipped
    np.testing.assert_array_equal(found.anchors(flows)[10], there)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("detclip")
    frames, parts = two_part_scene(24, size=(96, 72), seed=1)
    (root / "frames").mkdir()
    (root / "masks").mkdir()
    for t, (f, p) in enumerate(zip(frames, parts, strict=True)):
        cv2.imwrite(str(root / "frames" / f"{t:05d}.png"), f[..., ::-1])
        cv2.imwrite(str(root / "masks" / f"{t:05d}.png"), (p > 0).astype(np.uint8) * 255)
    return root, frames, parts > 0


def _annotation_segmenter(frames: np.ndarray, masks: np.ndarray):
    """A 'detector' answering each frame with its annotation (score 0.9, "person") and a
    decoy "person" in the top-left corner scoring 0.8."""
    h, w = masks.shape[1:]
    decoy = _box_mask(h, w, 0, 0, 8, 8)

    def segment(batch: np.ndarray) -> list[Instances]:
        out = []
        for f in batch:
            (t,) = [i for i in range(len(frames)) if np.array_equal(frames[i], f)][:1]
            out.append(Instances(np.stack([masks[t], decoy]), [0.9, 0.8], ["person"] * 2))
        return out

    return segment


def test_cli_without_anchors_uses_the_detector(clip, tmp_path, monkeypatch):
    root, frames, masks = clip
    calls = []

    def fake(variant, weights):
        calls.append((variant, weights))
        return _annotation_segmenter(frames, masks)

    monkeypatch.setattr(detect, "load_segmenter", fake)
    argv = ["-q", "stvi", str(root / "frames"), "--every", "10", "--detector-class", "person"]
    assert main([*argv, "-o", str(tmp_path / "det")]) == 0
    assert calls == [("maskrcnn-v2", None)]
    meta = json.loads((tmp_path / "det" / "stvi.json").read_text())
    assert meta["anchors"] == [0, 10, 20]
    assert meta["detector"] == {"model": "maskrcnn-v2", "class": "person", "score": 0.9}
    # the same anchors as the annotation folder: the same tubes
    argv = ["-q", "stvi", str(root / "frames"), "--every", "10", "--anchors", str(root / "masks")]
    assert main([*argv, "-o", str(tmp_path / "ann")]) == 0
    np.testing.assert_array_equal(read_labels(tmp_path / "det"), read_labels(tmp_path / "ann"))


def test_cli_detector_failures_are_one_line(clip, tmp_path, monkeypatch, capsys):
    root, frames, masks = clip

    def offline(url, **kwargs):
        print(f'Downloading: "{url}" to /nowhere')  # as torch.hub does, on stdout
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    out = tmp_path / "out"
    started = time.perf_counter()
    assert main(["stvi", str(root / "frames"), "-o", str(out)]) == 1
    assert time.perf_counter() - started < 60  # no flow was computed
    said = capsys.readouterr()
    err = said.err.strip().splitlines()
    assert len(err) == 1 and "could not download" in err[0] and "--detector-weights" in err[0]
    assert said.out == ""  # the hub's own line is swallowed on failure
    # an object class the first frame does not have
    monkeypatch.setattr(detect, "load_segmenter", lambda v, w: _annotation_segmenter(frames, masks))
    assert main(["stvi", str(root / "frames"), "-o", str(out), "--detector-class", "dog"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "found no 'dog' in the first frame" in err[0]
    # detector options with --anchors
    argv = ["stvi", str(root / "frames"), "--anchors", str(root / "masks"), "-o", str(out)]
    assert main([*argv, "--detector-class", "person"]) == 1
    assert "applies without --anchors only" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_davis_without_anchors_from_annotation_detections(tmp_path, monkeypatch):
    """blackswan's first 41 frames, the 'detector' answering with the DAVIS annotation."""
    from motionlab.stvi.evaluate import read_masks
    from motionlab.stvi.metrics import jaccard
    from motionlab.video import read_video

    davis = need(DATA / "davis2016")
    seq = davis / "JPEGImages" / "480p" / "blackswan"
    frames = read_video(seq, stop=41)
    gt = read_masks(davis / "Annotations" / "480p" / "blackswan", 41, frames.shape[1:3])
    monkeypatch.setattr(detect, "load_segmenter", lambda v, w: _annotation_segmenter(frames, gt))
    assert main(["-q", "stvi", str(seq), "--stop", "41", "-o", str(tmp_path / "r")]) == 0
    labels = read_labels(tmp_path / "r")
    assert json.loads((tmp_path / "r" / "stvi.json").read_text())["anchors"] == [0, 20, 40]
    assert jaccard(labels > 0, gt) > 0.7
