"""Selective obfuscation (eq. 5.5), its config, and the motion of its noise."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from motionlab.afd.noise import NoiseRange
from motionlab.errors import MotionlabError
from motionlab.flow import get_estimator
from motionlab.privacy import (
    ObfuscationConfig,
    blend,
    combine_maps,
    noise_range_of,
    obfuscate_steps,
)
from motionlab.privacy.matchers import Matcher
from motionlab.synthetic import moving_disc_scene


class BoxMatcher(Matcher):
    """Saliency 1 inside a fixed box, 0 elsewhere (a stand-in for a real matcher)."""

    name = "box"

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.box = box
        self.calls = 0

    @property
    def template_names(self) -> tuple[str, ...]:
        return ("box",)

    def _match(self, frame: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        self.calls += 1
        x0, y0, x1, y1 = self.box
        m = np.zeros((len(names), *frame.shape[:2]), np.float32)
        m[:, y0:y1, x0:x1] = 1.0
        return m


class OrderMatcher(Matcher):
    """Saliency that depends on the order of the calls: wrong if frames were matched out of
    order or twice; fails on call ``fail_at``."""

    name = "order"

    def __init__(self, fail_at: int = -1) -> None:
        self.seen: list[int] = []
        self.fail_at = fail_at

    @property
    def template_names(self) -> tuple[str, ...]:
        return ("order",)

    def _match(self, frame: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        if len(self.seen) == self.fail_at:
            raise MotionlabError(f"no map for call {self.fail_at}")
        self.seen.append(int(frame[0, 0, 0]))
        m = np.zeros((len(names), *frame.shape[:2]), np.float32)
        m[:, : 4 * len(self.seen)] = 1.0  # a band that widens with every call
        return m


def test_blend_hand_computed() -> None:
    frame = np.full((2, 2, 3), 10, np.uint8)
    noise = np.full((2, 2, 3), 20, np.uint8)
    s = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    out = blend(frame, noise, s)
    assert out[0, 0].tolist() == [10, 10, 10]
    assert out[0, 1].tolist() == [20, 20, 20]
    assert out[1, 0].tolist() == [15, 15, 15]
    assert out[1, 1].tolist() == [12, 12, 12]  # 10 + 0.25 * 10 = 12.5 -> round half even


def test_blend_equals_the_formula_on_the_whole_frame() -> None:
    """eq. 5.5 computed on the whole frame (the definition) and the blend, which computes
    it on the box around S != 0 only, agree bit for bit: blobs anywhere (edges and corners
    included), a single pixel, values outside [0, 1], and an empty S."""
    rng = np.random.default_rng(3)
    h, w = 37, 53
    for trial in range(40):
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        s = np.zeros((h, w), np.float32)
        for _ in range(trial % 4):  # 0 to 3 blobs
            y, x = rng.integers(0, h), rng.integers(0, w)
            dy, dx = rng.integers(1, 9, size=2)
            s[y : y + dy, x : x + dx] = rng.uniform(-0.5, 1.5, (dy, dx))[: h - y, : w - x]
        i = frame.astype(np.float32)
        full = i + np.clip(s, 0, 1)[..., None] * (noise.astype(np.float32) - i)
        expected = np.clip(np.rint(full), 0, 255).astype(np.uint8)
        assert np.array_equal(blend(frame, noise, s), expected), trial
    one = np.zeros((h, w), np.float32)
    one[h - 1, w - 1] = 1.0
    assert np.array_equal(blend(frame, noise, one)[h - 1, w - 1], noise[h - 1, w - 1])


def test_blend_clips_saliency_and_checks_shapes() -> None:
    frame = np.zeros((3, 4, 3), np.uint8)
    noise = np.full((3, 4, 3), 200, np.uint8)
    assert (blend(frame, noise, np.full((3, 4), 7.0)) == 200).all()
    assert (blend(frame, noise, np.full((3, 4), -1.0)) == 0).all()
    with pytest.raises(MotionlabError, match="must agree"):
        blend(frame, noise, np.zeros((4, 3)))


def test_combine_maps_mean_and_max() -> None:
    maps = np.stack([np.full((2, 2), 1.0), np.zeros((2, 2))]).astype(np.float32)
    assert np.allclose(combine_maps(maps, how="mean"), 0.5)
    assert np.allclose(combine_maps(maps, how="max"), 1.0)
    with pytest.raises(MotionlabError):
        combine_maps(maps, how="median")
    with pytest.raises(MotionlabError):
        combine_maps(np.zeros((2, 2)))


def test_config_validates() -> None:
    with pytest.raises(MotionlabError, match="noise mode"):
        ObfuscationConfig(("box",), noise="gauss")
    with pytest.raises(MotionlabError, match="at least one"):
        ObfuscationConfig(())
    assert ObfuscationConfig(("box",), noise="iid").afd_config().mode == "iid"
    assert ObfuscationConfig(("box",)).afd_config().mode == "advect"


def test_matcher_rejects_unknown_template() -> None:
    with pytest.raises(MotionlabError, match="no template"):
        BoxMatcher((0, 0, 1, 1))(np.zeros((4, 4, 3), np.uint8), ["eyes"])


def test_noise_range_from_video_statistics() -> None:
    frames = [np.full((4, 4, 3), v, np.uint8) for v in (100, 120)]
    r = noise_range_of(frames)  # mean 110, std 10 per channel (eq. 5.3)
    assert np.allclose(r.low, 100) and np.allclose(r.high, 120)


def _scene(n: int = 8) -> tuple[list[np.ndarray], list[np.ndarray]]:
    pairs = list(moving_disc_scene(n, size=(96, 72), seed=3))
    return [f for f, _ in pairs], [fl for _, fl in pairs]


def test_unsalient_pixels_unchanged_salient_pixels_are_noise() -> None:
    frames, _ = _scene(6)
    box = (20, 10, 60, 50)
    rng_ = NoiseRange.from_mean_std((110, 110, 110), (30, 30, 30))
    config = ObfuscationConfig(("box",), seed=1, noise_range=rng_)
    steps = list(obfuscate_steps(frames, matcher=BoxMatcher(box), config=config))
    assert len(steps) == len(frames)
    inside = np.zeros(frames[0].shape[:2], bool)
    inside[10:50, 20:60] = True
    for step, frame in zip(steps, frames, strict=True):
        assert (step.output[~inside] == frame[~inside]).all()
        assert (step.output[inside] == step.noise[inside]).all()
        assert step.output[inside].min() >= 80 and step.output[inside].max() <= 140
        assert step.maps.shape == (1, *frame.shape[:2])


def _region_epe(noise: str) -> float:
    """EPE (px) inside the obfuscated region between the flow of the obfuscated video and
    the flow of the original video."""
    frames, _ = _scene(10)
    box = (16, 12, 80, 60)
    config = ObfuscationConfig(("box",), noise=noise, seed=2)
    outs = [s.output for s in obfuscate_steps(frames, matcher=BoxMatcher(box), config=config)]
    est = get_estimator("dis", preset="medium")
    errs = []
    for t in range(len(frames) - 1):
        ref = est(frames[t], frames[t + 1])[20:52, 24:72]
        got = est(outs[t], outs[t + 1])[20:52, 24:72]
        errs.append(np.linalg.norm(got - ref, axis=-1).mean())
    return float(np.mean(errs))


def test_motion_noise_keeps_flow_iid_noise_does_not() -> None:
    motion, iid = _region_epe("motion"), _region_epe("iid")
    assert motion < 1.0, motion
    assert iid > 2 * motion, (motion, iid)


def test_obfuscate_function_on_frames_and_on_a_file(tmp_path: Path) -> None:
    from motionlab.privacy import obfuscate
    from motionlab.video import write_video

    frames, _ = _scene(4)
    box = BoxMatcher((0, 0, 10, 10))
    outs = list(obfuscate(frames, templates=["box"], matcher=box, seed=3))
    assert len(outs) == 4 and all(o.shape == frames[0].shape for o in outs)
    assert (outs[2][20:, 20:] == frames[2][20:, 20:]).all()
    write_video(tmp_path / "clip.mkv", frames, fps=10)
    again = list(obfuscate(tmp_path / "clip.mkv", templates=["box"], matcher=box, seed=3))
    assert all(np.array_equal(a, b) for a, b in zip(outs, again, strict=True))


@pytest.mark.parametrize("ahead", [1, 2, 5])
def test_matcher_ahead_gives_the_same_steps(ahead: int) -> None:
    """The matcher runs ``ahead`` frames ahead in a thread; it still sees each frame once,
    in order, and the steps equal those of the plain loop (``ahead=0``)."""
    frames, _ = _scene(7)
    for k, f in enumerate(frames):
        f[0, 0] = k  # frame number, read back by the matcher
    config = ObfuscationConfig(("order",), seed=2)
    plain, ahead_m = OrderMatcher(), OrderMatcher()
    expected = list(obfuscate_steps(frames, matcher=plain, config=config, ahead=0))
    got = list(obfuscate_steps(frames, matcher=ahead_m, config=config, ahead=ahead))
    assert plain.seen == ahead_m.seen == list(range(len(frames)))
    for a, b in zip(expected, got, strict=True):
        assert a.index == b.index
        assert np.array_equal(a.maps, b.maps) and np.array_equal(a.output, b.output)
    assert not (expected[1].saliency == expected[0].saliency).all()  # the band moved


def test_matcher_failure_ahead_reaches_the_caller_and_no_thread_is_left() -> None:
    frames, _ = _scene(7)
    config = ObfuscationConfig(("order",))
    got = []
    with pytest.raises(MotionlabError, match="no map for call 4"):
        for step in obfuscate_steps(frames, matcher=OrderMatcher(fail_at=4), config=config):
            got.append(step.index)
    assert got == [0, 1, 2, 3]
    steps = obfuscate_steps(frames, matcher=OrderMatcher(), config=config, ahead=3)
    next(steps)
    steps.close()  # stopped early: the queued matches are dropped, the thread ends
    assert not [t for t in threading.enumerate() if t.name.startswith("obfuscate-match")]
    with pytest.raises(MotionlabError, match="ahead"):
        next(obfuscate_steps(frames, matcher=OrderMatcher(), config=config, ahead=-1))
