"""The offline (MediaPipe) matcher on real frames: parts where they are, stable in time,
and an independent face detector no longer finds the obfuscated faces."""

from __future__ import annotations

import itertools
import threading

import cv2
import numpy as np
import pytest

from motionlab.privacy import FACE_ATTRIBUTES, get_matcher, noise_range_of, obfuscate_steps
from motionlab.privacy.obfuscate import ObfuscationConfig
from motionlab.video import VideoReader, read_image

from conftest import DATA, need

pytest.importorskip("mediapipe", reason="needs mediapipe 0.10.21 (see docs/privacy.md)")

IPN = DATA / "ipn_face_gesture"


def _haar_faces(frame: np.ndarray) -> np.ndarray:
    """Face boxes (x, y, w, h) of OpenCV's Haar cascade: a detector independent of MediaPipe."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    side = max(12, frame.shape[0] // 8)
    return np.asarray(cascade.detectMultiScale(gray, 1.1, 5, minSize=(side, side))).reshape(-1, 4)


def _centroid(m: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(m > 0.5)
    return np.array([xs.mean(), ys.mean()])


def test_face_parts_lie_where_an_independent_detector_puts_the_face() -> None:
    frame = read_image(need(IPN / "ipn1.jpg"))
    (x, y, w, h), *_ = _haar_faces(frame)
    maps = get_matcher("landmarks")(frame, FACE_ATTRIBUTES)
    assert maps.shape == (5, *frame.shape[:2]) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() == 1.0
    c = {n: _centroid(m) for n, m in zip(FACE_ATTRIBUTES, maps, strict=True)}
    for name in ("eyes", "cheek", "lips"):
        assert x < c[name][0] < x + w and y < c[name][1] < y + h, name
    # top to bottom: forehead, eyes, cheek, lips; the hair reaches above the forehead
    order = [c[n][1] for n in ("forehead", "eyes", "cheek", "lips")]
    assert order == sorted(order), order
    top = {
        n: np.nonzero((m > 0.5).any(1))[0][0] for n, m in zip(FACE_ATTRIBUTES, maps, strict=True)
    }
    assert top["hair"] < top["forehead"] - 5
    # hair is the hair, not the head: little of it on the eyes, nothing on the lips
    eyes, lips = maps[2] > 0.99, maps[4] > 0.99
    assert maps[1][eyes].mean() < 0.2 and maps[1][lips].max() < 0.05
    # soft edges: values strictly between 0 and 1 exist around each part
    for m in maps:
        assert ((m > 0.05) & (m < 0.95)).sum() > 20


def _ipn_frames(n: int) -> list[np.ndarray]:
    with VideoReader(need(IPN / "frames"), stop=n) as reader:
        return list(reader)


def test_maps_are_stable_over_time_and_held_when_lost() -> None:
    frames = _ipn_frames(12)
    m = get_matcher("landmarks", hold=2)
    eyes = [m(f, ["eyes"])[0] > 0.5 for f in frames]
    ious = [(a & b).sum() / (a | b).sum() for a, b in itertools.pairwise(eyes)]
    assert min(ious) > 0.6, ious
    last = m(frames[-1], ["eyes"])
    blank = np.zeros_like(frames[0])
    assert np.array_equal(m(blank, ["eyes"]), last)  # held for two frames
    assert np.array_equal(m(blank, ["eyes"]), last)
    assert not m(blank, ["eyes"]).any()  # then dropped


@pytest.mark.parametrize("source", ["ipn", "carphone"])
def test_face_templates_hide_the_face_from_an_independent_detector(source: str) -> None:
    if source == "ipn":
        frames = _ipn_frames(16)
    else:
        with VideoReader(need(DATA / "videos" / "carphone.mp4"), stop=16) as reader:
            frames = list(reader)
    before = np.mean([len(_haar_faces(f)) > 0 for f in frames])
    config = ObfuscationConfig(FACE_ATTRIBUTES, noise_range=noise_range_of(frames), seed=0)
    steps = list(obfuscate_steps(frames, matcher=get_matcher("landmarks"), config=config))
    after = np.mean([len(_haar_faces(s.output)) > 0 for s in steps])
    assert before >= 0.9 and after <= 0.1, (before, after)
    for step in steps:  # pixels with saliency 0 are untouched
        zero = step.saliency == 0
        assert zero.mean() > 0.3 and (step.output[zero] == step.source[zero]).all()


def test_body_parts_of_many_small_people_lie_on_what_moves() -> None:
    """Pedestrians seen from above (768x576): ``people="many"`` gives torso/legs maps on
    several people, and they cover moving pixels (frame differencing, independent of the
    detectors) far more densely than the frame as a whole."""
    with VideoReader(need(DATA / "videos" / "pedestrians_vtest.avi"), start=100, stop=103) as r:
        a, _, b = list(r)
    maps = get_matcher("landmarks", people="many")(a, ["torso", "legs"])
    body = maps.max(0) > 0.5
    n_people, _ = cv2.connectedComponents(body.astype(np.uint8))
    assert n_people - 1 >= 3  # several separate people
    diff = np.abs(a.astype(int) - b.astype(int)).max(-1)
    moving = cv2.morphologyEx((diff > 40).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3))) > 0
    inside = moving[body].mean()
    overall = moving.mean()
    assert inside > 10 * overall, (inside, overall)
    assert body.mean() < 0.1  # the street is not hidden


def test_hand_from_pose_points_only() -> None:
    """``hands_model=False`` (``--hands pose``) finds the raised hand without running the
    hand-landmark model: in these frames the right hand is raised at the lower left."""
    frames = _ipn_frames(60)[-4:]
    cheap = get_matcher("landmarks", hands_model=False)
    for f in frames:
        rough = cheap(f, ["hand"])[0] > 0.5
    assert "hands" not in cheap._models
    assert 500 < rough.sum() < 0.1 * rough.size
    x, y = _centroid(rough)
    assert x < 0.45 * rough.shape[1] and y > 0.5 * rough.shape[0], (x, y)


def test_threads_and_reset_change_nothing() -> None:
    """All nine maps are the same with the models run in parallel threads or one after the
    other, and ``reset`` (restarting the graphs' runs) replays a video exactly as a fresh
    matcher does (tracking state and held maps forgotten)."""
    frames = _ipn_frames(6)
    names = (*FACE_ATTRIBUTES, "hand", "arm", "torso", "legs")
    serial = get_matcher("landmarks", threads=False)
    parallel = get_matcher("landmarks", threads=True)
    first = [serial(f, names) for f in frames]
    assert all(
        m[names.index("eyes")].max() == 1 and m[names.index("hand")].max() == 1 for m in first
    )
    for f, expected in zip(frames, first, strict=True):
        assert np.array_equal(parallel(f, names), expected)
    parallel.reset()
    for f, expected in zip(frames, first, strict=True):
        assert np.array_equal(parallel(f, names), expected)
    parallel.reset()  # every frame in flight at once: each model still takes them in order
    futures = [parallel.submit(f, names) for f in frames]
    for future, expected in zip(futures, first, strict=True):
        assert np.array_equal(future.result(), expected)
    serial.close()
    parallel.close()


def test_obfuscation_is_the_same_with_the_matcher_ahead() -> None:
    """``obfuscate_steps`` with the matcher 0, 1 or 3 frames ahead of the noise and blend
    gives the same frames (and closing the generator early leaves no matching thread)."""
    frames = _ipn_frames(6)
    config = ObfuscationConfig(("eyes", "hand", "torso"), noise_range=noise_range_of(frames))
    m = get_matcher("landmarks")
    runs = {
        ahead: [s.output for s in obfuscate_steps(frames, matcher=m, config=config, ahead=ahead)]
        for ahead in (0, 1, 3)
    }
    for ahead in (1, 3):
        assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[ahead], strict=True))
    assert not all(np.array_equal(a, f) for a, f in zip(runs[0], frames, strict=True))
    steps = obfuscate_steps(frames, matcher=m, config=config, ahead=3)
    next(steps)
    steps.close()
    m.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(("landmarks", "obfuscate"))]


def test_hands_in_crops_match_the_whole_frame_hand_model() -> None:
    """``hands_roi`` (the hand model on crops around each hand, palm detector only when a
    hand is lost) covers what the whole-frame hand model covers: on 30 IPN frames the hand
    maps overlap with IoU >= 0.75 on average, far closer than the pose-only hand, and the
    whole-frame graph is never built."""
    frames = _ipn_frames(30)
    maps = {}
    for label, options in [
        ("frame", {"hands_roi": False}),
        ("roi", {"hands_roi": True}),
        ("pose", {"hands_model": False}),
    ]:
        m = get_matcher("landmarks", **options)
        maps[label] = np.array([m(f, ["hand"])[0] for f in frames]) > 0.5
        if label == "roi":
            assert "hands" not in m._models and "hand-roi-right" in m._models
        m.close()

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((a & b).sum((1, 2)) / np.maximum((a | b).sum((1, 2)), 1)))

    assert maps["frame"].any((1, 2)).all()
    roi, pose = iou(maps["roi"], maps["frame"]), iou(maps["pose"], maps["frame"])
    assert roi >= 0.75 and roi > pose + 0.2, (roi, pose)


def test_preloaded_models_give_the_same_maps_and_obfuscation() -> None:
    """``preload`` (the models built in their threads while the caller reads, and the noise
    kernels loaded) changes nothing: maps of all nine, and the obfuscated frames."""
    from motionlab.privacy.obfuscate import preload

    frames = _ipn_frames(5)
    names = (*FACE_ATTRIBUTES, "hand", "arm", "torso", "legs")
    plain = get_matcher("landmarks", threads=False)
    expected = [plain(f, names) for f in frames]
    plain.close()
    m = get_matcher("landmarks")
    m.preload(names)
    m._settle()
    assert {"face", "segment", "pose", "hand-roi-left", "hand-roi-right"} <= set(m._models)
    assert all(np.array_equal(m(f, names), e) for f, e in zip(frames, expected, strict=True))
    config = ObfuscationConfig(("eyes", "hair"), noise_range=noise_range_of(frames))
    runs = []
    for warm in (False, True):
        m.reset()
        if warm:
            preload(m, config.templates, noise="motion")
        runs.append([s.output for s in obfuscate_steps(frames, matcher=m, config=config)])
    assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))
    m.close()


def test_mediapipe_import_defers_pyplot_and_sounddevice() -> None:
    """``import mediapipe`` imports matplotlib.pyplot (drawing helpers), sounddevice
    (microphone input) and the Tasks API, none used here: all are imported only on first
    use, and then work."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from motionlab.privacy.landmarks import load_mediapipe_solutions\n"
        "load_mediapipe_solutions()\n"
        "print(sorted(k for k in ('matplotlib', 'matplotlib.pyplot', 'sounddevice', "
        "'mediapipe.tasks', 'mediapipe.tasks.python') if k in sys.modules))\n"
        "from mediapipe.python.solutions import drawing_utils\n"
        "import matplotlib.pyplot as plt\n"
        "print(drawing_utils.plt.figure is plt.figure, type(plt).__name__)\n"
        "import mediapipe as mp\n"
        "print(mp.tasks.BaseOptions.__name__, type(sys.modules['mediapipe.tasks']).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True module"
    assert out[2] == "BaseOptions module"
