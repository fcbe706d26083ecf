"""Small, far faces: tiles that cover the frame, head masks that cover the face box, boxes
held over frames, and (with MediaPipe) a small face in a big frame is now hidden."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy.small_faces import (
    OVERLAP,
    REFRESH,
    TILE,
    HeldBoxes,
    TiledFaceDetector,
    head_mask,
    outside,
    tile_origins,
)

from conftest import DATA, need


@pytest.mark.parametrize("size", [1, 100, TILE, TILE + 1, 300, 576, 768, 1000, 1920])
def test_tiles_cover_the_frame_with_overlap(size: int) -> None:
    starts = tile_origins(size)
    assert starts[0] == 0 and starts == sorted(starts)
    covered = np.zeros(size, bool)
    for s in starts:
        covered[s : s + TILE] = True
        assert s + TILE <= max(size, TILE)  # no tile leaves the frame
    assert covered.all()
    if size > TILE:
        assert starts[-1] + TILE == size
        assert all(b - a <= TILE - OVERLAP for a, b in itertools.pairwise(starts))
    # any face up to OVERLAP pixels wide lies whole inside one tile
    for x0 in range(0, max(size - OVERLAP, 0) + 1, 7):
        assert any(s <= x0 and x0 + OVERLAP <= s + TILE for s in starts), x0


def test_tile_origins_refuse_tiles_not_larger_than_their_overlap() -> None:
    with pytest.raises(ValueError, match="larger than overlap"):
        tile_origins(500, tile=40, overlap=40)


def test_head_mask_covers_the_face_box_and_the_hair_above() -> None:
    shape = (120, 160)
    box = np.array([[70.0, 50.0, 80.0, 62.0]])  # a 10 x 12 px face
    m = head_mask(box, shape).astype(bool)
    assert m[50:63, 70:81].all()  # every pixel of the box
    assert m[45, 75] and not m[36, 75]  # hair above the forehead, not far above
    assert not m[:, :60].any() and not m[:, 91:].any()  # about 1.6 box widths wide
    assert not head_mask(np.zeros((0, 4)), shape).any()
    two = head_mask(np.array([[10.0, 10, 20, 22], [120, 80, 130, 92]]), shape)
    assert two[16, 15] and two[86, 125] and not two[50, 70]


def test_outside_drops_boxes_centred_in_a_meshed_face() -> None:
    boxes = np.array([[10.0, 10, 20, 20], [100, 100, 110, 110], [48, 48, 70, 70]])
    face = np.array([40.0, 40, 80, 80])  # holds the centre of the third box only
    kept = outside(boxes, [face])
    assert kept.tolist() == boxes[:2].tolist()
    assert outside(boxes, []).tolist() == boxes.tolist()
    assert outside(np.zeros((0, 4)), [face]).shape == (0, 4)


def test_held_boxes_are_kept_hold_frames_then_dropped() -> None:
    held = HeldBoxes(hold=2)
    a = np.array([[1.0, 2, 3, 4]])
    assert held(a).tolist() == a.tolist()
    none = np.zeros((0, 4))
    assert held(none).tolist() == a.tolist()  # 1 frame after
    assert held(none).tolist() == a.tolist()  # 2 frames after
    assert held(none).shape == (0, 4)  # dropped
    held(a)
    held.reset()
    assert held(none).shape == (0, 4)


class _WhiteSquares:
    """Stands for the face detector: one detection around the pure-white pixels of a tile
    (relative box, as MediaPipe's), and a count of the tiles it was given."""

    def __init__(self) -> None:
        self.calls = 0

    def process(self, tile: np.ndarray) -> SimpleNamespace:
        self.calls += 1
        ys, xs = np.nonzero((tile == 255).all(-1))
        if not len(xs):
            return SimpleNamespace(detections=None)
        h, w = tile.shape[:2]
        box = SimpleNamespace(
            xmin=xs.min() / w, ymin=ys.min() / h,
            width=(xs.max() + 1 - xs.min()) / w, height=(ys.max() + 1 - ys.min()) / h,
        )  # fmt: skip
        return SimpleNamespace(
            detections=[SimpleNamespace(location_data=SimpleNamespace(relative_bounding_box=box))]
        )

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def _detector(skip: bool) -> tuple[TiledFaceDetector, _WhiteSquares]:
    model = _WhiteSquares()
    solutions = SimpleNamespace(face_detection=SimpleNamespace(FaceDetection=lambda **kw: model))
    return TiledFaceDetector(solutions, skip_still=skip), model


def _walk(n: int) -> list[np.ndarray]:
    """A 400x500 noisy grey scene (+-2 levels per frame) in which a white 6x6 "face"
    appears at frame 3, walks right 4 pixels a frame across tile seams, and stands still
    from frame 20 on."""
    rng = np.random.default_rng(0)
    base = rng.integers(60, 190, (400, 500, 3)).astype(np.int16)
    frames = []
    for t in range(n):
        f = np.clip(base + rng.integers(-2, 3, base.shape), 0, 254).astype(np.uint8)
        if t >= 3:
            x = 100 + 4 * (min(t, 20) - 3)
            f[200:206, x : x + 6] = 255
        frames.append(f)
    return frames


def test_still_tiles_are_skipped_and_no_face_is_lost() -> None:
    """Skipping unchanged tiles without faces gives the boxes of looking at every tile of
    every frame, on a scene whose face appears in a tile that was still until then and
    walks across seams; unchanged tiles are looked at again every REFRESH + 1 frames."""
    frames = _walk(30)
    every, m_every = _detector(skip=False)
    skip, m_skip = _detector(skip=True)
    for t, f in enumerate(frames):
        a, b = every(f), skip(f)
        assert np.array_equal(a, b), t
        assert len(b) >= (1 if t >= 3 else 0), t  # found from the frame it appears on
    tiles = len(tile_origins(400)) * len(tile_origins(500))
    assert m_every.calls == tiles * len(frames)
    assert m_skip.calls < 0.5 * m_every.calls
    # a still scene: every tile once, then again only after REFRESH skipped frames
    still, model = _detector(skip=True)
    for f in [frames[0]] * (2 * REFRESH + 3):
        still(f)
    assert model.calls == tiles * 3  # frames 0, REFRESH + 1, 2 * REFRESH + 2
    still.reset()
    still(frames[0])
    assert model.calls == tiles * 4  # reset forgets what the tiles showed


# -- with MediaPipe ------------------------------------------------------------------------


def _small_face_frame(scale: float, at: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A 768x576 grey frame with the IPN still shrunk by ``scale`` pasted at ``at``, and
    the face's box (x0, y0, x1, y1) there (from the face mesh on the full-size still)."""
    from motionlab.privacy import get_matcher
    from motionlab.video import read_image

    still = read_image(need(DATA / "ipn_face_gesture" / "ipn1.jpg"))
    m = get_matcher("landmarks", small_faces="off")
    ys, xs = np.nonzero(m.saliency(m(still, ["forehead", "eyes", "cheek", "lips"])) > 0.99)
    m.close()
    small = cv2.resize(still, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((576, 768, 3), 120, np.uint8)
    x, y = at
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()]) * scale + [x, y, x, y]
    return frame, box


@pytest.mark.parametrize("at", [(300, 200), (130, 130), (20, 500)])  # (130, 130): on seams
def test_a_small_face_in_a_big_frame_is_now_hidden(at: tuple[int, int]) -> None:
    pytest.importorskip("mediapipe", reason="needs mediapipe 0.10.21 (see docs/privacy.md)")
    from motionlab.privacy import get_matcher

    frame, (x0, y0, x1, y1) = _small_face_frame(0.12, at)  # a face of ~9 px
    inside = (slice(int(np.ceil(y0)), int(y1) + 1), slice(int(np.ceil(x0)), int(x1) + 1))
    for mode, hidden in [("off", False), ("auto", True), ("on", True)]:
        m = get_matcher("landmarks", small_faces=mode)
        for name in ("lips", "hair"):  # any face template hides the whole small face
            s = m.saliency(m(frame, [name]))
            if hidden:
                assert s[inside].min() == 1.0, (mode, name)
                assert (s > 0).mean() < 0.01  # the face, not the frame
            else:
                assert not s.any(), (mode, name)
        m.close()


def test_small_faces_leave_meshed_faces_and_small_frames_as_they_were() -> None:
    """A face the mesh outlines keeps its parts (the detector's box over it is dropped);
    ``auto`` does nothing on frames under 384 pixels high (IPN, carphone)."""
    pytest.importorskip("mediapipe", reason="needs mediapipe 0.10.21 (see docs/privacy.md)")
    from motionlab.privacy import get_matcher
    from motionlab.privacy.landmarks import load_mediapipe_solutions
    from motionlab.privacy.small_faces import TiledFaceDetector
    from motionlab.video import read_image

    still = read_image(need(DATA / "ipn_face_gesture" / "ipn1.jpg"))
    big = np.full((576, 768, 3), 120, np.uint8)  # the still 1.6x: a face of ~125 px
    big[100:484, 200:712] = cv2.resize(still, (512, 384), interpolation=cv2.INTER_LINEAR)
    detector = TiledFaceDetector(load_mediapipe_solutions())
    boxes = detector(big)  # the detector finds that face too: its box must be dropped
    detector.close()
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert ((centres > [400, 170]) & (centres < [580, 330])).all(1).any(), boxes
    for frame, modes in [(big, ("off", "on")), (still, ("off", "auto"))]:
        maps = []
        for mode in modes:
            m = get_matcher("landmarks", small_faces=mode)
            maps.append(m(frame, ["lips", "eyes"]))
            m.close()
        assert maps[0][0].any()
        assert np.array_equal(maps[0], maps[1]), modes


def test_small_faces_setting_is_checked() -> None:
    pytest.importorskip("mediapipe", reason="needs mediapipe 0.10.21 (see docs/privacy.md)")
    from motionlab.privacy import get_matcher

    with pytest.raises(MotionlabError, match="small_faces must be one of auto, on, off"):
        get_matcher("landmarks", small_faces="sometimes")
