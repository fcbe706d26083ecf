"""Replacements inside the saliency mask (``--replace``): definitions, blend, defaults."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from motionlab.afd.noise import NoiseRange
from motionlab.cli import main
from motionlab.errors import MotionlabError
from motionlab.flow.estimators import FlowEstimator
from motionlab.privacy import (
    ObfuscationConfig,
    Replacement,
    blend,
    get_baseline,
    mask_region,
    obfuscate,
    obfuscate_steps,
    replacement_frame,
)
from motionlab.privacy.matchers import Matcher
from motionlab.synthetic import moving_disc_scene
from motionlab.video import read_metadata, read_video, write_video

KINDS = ("blur", "pixelate", "mask", "colour")


class MapMatcher(Matcher):
    """Saliency ``value`` inside a box (the whole frame by default), 0 elsewhere."""

    name = "map"

    def __init__(self, value: float = 1.0, box: tuple[int, int, int, int] | None = None) -> None:
        self.value, self.box = value, box

    @property
    def template_names(self) -> tuple[str, ...]:
        return ("box",)

    def _match(self, frame: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        m = np.zeros((len(names), *frame.shape[:2]), np.float32)
        x0, y0, x1, y1 = self.box or (0, 0, frame.shape[1], frame.shape[0])
        m[:, y0:y1, x0:x1] = self.value
        return m


class Shift(FlowEstimator):
    """Constant flow (1.5, -0.5) px: the pinned hash must not depend on OpenCV's DIS."""

    name = "shift"

    def _estimate(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        flow = np.zeros((*frame_a.shape[:2], 2), np.float32)
        flow[..., 0], flow[..., 1] = 1.5, -0.5
        return flow


def _frames(n: int = 3, size: tuple[int, int] = (96, 72)) -> list[np.ndarray]:
    return [f for f, _ in moving_disc_scene(max(n, 2), size=size, seed=4)][:n]


def _outputs(
    frames: list[np.ndarray], matcher: Matcher, replace: Replacement, **kw: object
) -> list[np.ndarray]:
    config = ObfuscationConfig(("box",), replace=replace, **kw)  # type: ignore[arg-type]
    return [s.output for s in obfuscate_steps(frames, matcher=matcher, config=config)]


# hashes of the outputs of the code before --replace existed (main at 4394e50)
PINNED = {
    "motion": "0dfbee51172db5c9d6bac61ddeff0b5523e013bb581b962b03ada8f50fea5a4d",
    "first-frame": "dfe19685c461e6882e79ae12e0cc97e7880f2a0eba408ea09a13121a52b90b3c",
    "iid": "a64b5a2e5a25d95757694119528744427902a3f1f185f5cdd8cb12346a1f4dd7",
}


@pytest.mark.parametrize("noise", sorted(PINNED))
@pytest.mark.parametrize("explicit", [False, True])
def test_noise_default_is_bit_identical_to_before(noise: str, explicit: bool) -> None:
    frames = _frames(5, size=(48, 32))
    extra = {"replace": Replacement("noise")} if explicit else {}
    config = ObfuscationConfig(
        ("box",), noise=noise, seed=7,
        noise_range=NoiseRange.from_mean_std((100, 110, 120), (30, 30, 30)), **extra,
    )  # fmt: skip
    digest = hashlib.sha256()
    for step in obfuscate_steps(
        frames, matcher=MapMatcher(box=(8, 4, 40, 28)), config=config, estimator=Shift()
    ):
        digest.update(step.output.tobytes())
    assert digest.hexdigest() == PINNED[noise]


def test_blur_in_a_full_mask_is_the_whole_frame_blur_baseline() -> None:
    frames = _frames()
    outs = _outputs(frames, MapMatcher(1.0), Replacement("blur"))
    for out, frame in zip(outs, frames, strict=True):
        assert np.array_equal(out, get_baseline("blur-strong")(frame))
    weak = Replacement("blur", kernel=13, sigma=10.0, work_size=None)
    out = _outputs(frames[:1], MapMatcher(1.0), weak)[0]
    assert np.array_equal(out, get_baseline("blur-weak", work_size=None)(frames[0]))


def test_pixelate_in_a_full_mask_gives_constant_blocks_of_the_block_mean() -> None:
    frame = _frames(1, size=(64, 48))[0]
    out = _outputs([frame], MapMatcher(1.0), Replacement("pixelate", block=8, work_size=None))[0]
    for y in range(0, 48, 8):
        for x in range(0, 64, 8):
            block = out[y : y + 8, x : x + 8].reshape(-1, 3)
            assert (block == block[0]).all(), (x, y)
            mean = frame[y : y + 8, x : x + 8].reshape(-1, 3).astype(float).mean(0)
            assert np.array_equal(block[0], np.rint(mean).astype(np.uint8)), (x, y)
    # default: 16x16 blocks at the thesis's 224x224 working size
    big = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    out = _outputs([big], MapMatcher(1.0), Replacement("pixelate"))[0]
    blocks = out.reshape(14, 16, 14, 16, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()
    assert np.array_equal(out, get_baseline("pixelate16")(big))


def test_mask_and_colour_fill_with_one_colour() -> None:
    frame = _frames(1)[0]
    out = _outputs([frame], MapMatcher(1.0), Replacement("colour", colour=(12, 200, 7)))[0]
    assert (out.reshape(-1, 3) == [12, 200, 7]).all()
    out = _outputs([frame], MapMatcher(1.0), Replacement("mask"))[0]
    mean = np.rint(frame.reshape(-1, 3).astype(float).mean(0))
    assert (out.reshape(-1, 3) == mean).all()
    # a binary box: the box's mean colour, exactly the mask baseline with that region
    box = np.zeros(frame.shape[:2], bool)
    box[10:40, 20:70] = True
    out = _outputs([frame], MapMatcher(1.0, box=(20, 10, 70, 40)), Replacement("mask"))[0]
    assert np.array_equal(out, mask_region(frame, box, fill="mean"))
    assert len(np.unique(out[box], axis=0)) == 1


def test_mask_colour_is_the_saliency_weighted_mean() -> None:
    frame = np.zeros((1, 2, 3), np.uint8)
    frame[0, 0], frame[0, 1] = 10, 100
    s = np.array([[1.0, 0.5]])  # (1 * 10 + 0.5 * 100) / 1.5 = 40
    assert (replacement_frame(frame, s, Replacement("mask")) == 40).all()
    assert np.array_equal(replacement_frame(frame, np.zeros((1, 2)), Replacement("mask")), frame)


@pytest.mark.parametrize("kind", KINDS)
def test_pixels_outside_the_mask_are_untouched(kind: str) -> None:
    frames = _frames()
    outs = _outputs(frames, MapMatcher(1.0, box=(30, 20, 60, 50)), Replacement(kind))
    inside = np.zeros(frames[0].shape[:2], bool)
    inside[20:50, 30:60] = True
    for out, frame in zip(outs, frames, strict=True):
        assert np.array_equal(out[~inside], frame[~inside])
        assert not np.array_equal(out[inside], frame[inside])


@pytest.mark.parametrize("kind", KINDS)
def test_half_mask_is_the_blend(kind: str) -> None:
    frames = _frames(2)
    replace = Replacement(kind, colour=(30, 50, 70))
    outs = _outputs(frames, MapMatcher(0.5), replace)
    for out, frame in zip(outs, frames, strict=True):
        full = replacement_frame(frame, np.ones(frame.shape[:2]), replace)
        i = frame.astype(float)
        expected = np.rint(i + 0.5 * (full.astype(float) - i)).astype(np.uint8)
        assert np.array_equal(out, expected)
        assert np.array_equal(out, blend(frame, full, np.full(frame.shape[:2], 0.5)))
    if kind == "colour":  # by hand: 10 + 0.5 (c - 10) with c = (30, 50, 70)
        flat = [np.full((4, 4, 3), 10, np.uint8)]
        got = _outputs(flat, MapMatcher(0.5), replace)[0]
        assert (got.reshape(-1, 3) == [20, 30, 40]).all()


def test_replacements_need_no_flow_and_work_on_one_frame() -> None:
    class NoFlow(FlowEstimator):
        def _estimate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            raise AssertionError("a replacement other than noise estimated flow")

    frame = _frames(1)[0]
    config = ObfuscationConfig(("box",), replace=Replacement("colour"))
    (step,) = obfuscate_steps([frame], matcher=MapMatcher(1.0), config=config, estimator=NoFlow())
    assert (step.output == 0).all() and (step.noise == 0).all()


def test_obfuscate_function_takes_a_replacement_name() -> None:
    frames = _frames(3)
    outs = list(obfuscate(frames, templates="box", matcher=MapMatcher(1.0), replace="pixelate"))
    for out, frame in zip(outs, frames, strict=True):
        assert np.array_equal(out, get_baseline("pixelate16")(frame))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "smudge"}, "unknown replacement 'smudge'; choose one of noise, blur"),
        ({"kind": "pixelate", "block": 0}, "block must be >= 1"),
        ({"kind": "blur", "kernel": 4}, "odd"),
        ({"kind": "blur", "sigma": 0.0}, "sigma must be positive"),
        ({"kind": "colour", "colour": (0, 0, 256)}, "0..255"),
    ],
)
def test_bad_replacement_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(MotionlabError, match=match):
        Replacement(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(MotionlabError, match="whole video"):
        replacement_frame(np.zeros((2, 2, 3), np.uint8), np.ones((2, 2)), Replacement())


# ---------------------------------------------------------------------------------------
# command line


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mkv"
    write_video(path, _frames(4), fps=10)
    return path


@pytest.fixture
def box_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's matcher replaced by a fixed box (x 30..60, y 20..50)."""
    import motionlab.cli.privacy as pcli

    monkeypatch.setattr(pcli, "_build_matcher", lambda args: MapMatcher(1.0, box=(30, 20, 60, 50)))


def test_cli_replace_colour_and_blur(clip: Path, tmp_path: Path, box_matcher: None) -> None:
    src = read_video(clip)
    out = tmp_path / "c.mkv"
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "box",
                 "--replace", "colour", "--colour", "255,0,7"]) == 0  # fmt: skip
    got = read_video(out)
    assert (got[:, 20:50, 30:60].reshape(-1, 3) == [255, 0, 7]).all()
    got[:, 20:50, 30:60] = src[:, 20:50, 30:60]
    assert np.array_equal(got, src)
    record = json.loads(read_metadata(out)["motionlab"])["obfuscation"]
    assert record["replace"] == {"kind": "colour", "colour": [255, 0, 7]}
    assert "afd" not in record
    out = tmp_path / "b.mkv"
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "box",
                 "--replace", "blur", "--native-size"]) == 0  # fmt: skip
    blurred = [get_baseline("blur-strong", work_size=None)(f) for f in src]
    assert np.array_equal(read_video(out)[:, 20:50, 30:60], np.stack(blurred)[:, 20:50, 30:60])


def test_cli_replace_noise_is_the_default(clip: Path, tmp_path: Path, box_matcher: None) -> None:
    a, b = tmp_path / "a.mkv", tmp_path / "b.mkv"
    assert main(["-q", "obfuscate", str(clip), "-o", str(a), "--templates", "box"]) == 0
    assert main(["-q", "obfuscate", str(clip), "-o", str(b), "--templates", "box",
                 "--replace", "noise"]) == 0  # fmt: skip
    assert np.array_equal(read_video(a), read_video(b))
    assert json.loads(read_metadata(a)["motionlab"])["obfuscation"]["replace"] == {"kind": "noise"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--replace", "smudge"], "unknown replacement 'smudge'; choose one of noise, blur, "),
        (["--replace", "blur", "--block", "8"], "--block applies to --replace pixelate"),
        (["--colour", "1,2,3"], "--colour applies to --replace colour"),
        (["--replace", "colour", "--colour", "1,2,300"], "0..255"),
    ],
)
def test_cli_bad_replace_is_one_line_and_writes_nothing(
    clip: Path,
    tmp_path: Path,
    box_matcher: None,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "o.mkv"
    assert main(["obfuscate", str(clip), "-o", str(out), "--templates", "box", *extra]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not any(tmp_path.glob("o*")) and not any(tmp_path.glob(".o*"))
