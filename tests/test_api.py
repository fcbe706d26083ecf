"""The Python API each capability documents (issue 18): names in ``__all__`` that resolve,
and the file-to-file ``write_*`` drivers equal to the functions on arrays."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from motionlab.afd import AFDConfig, NoiseRange, make_afd, write_afd
from motionlab.afd.flowcache import read_flow_video
from motionlab.privacy import ObfuscationConfig, obfuscate, write_obfuscation
from motionlab.synthetic import sample_video_frames
from motionlab.video import read_video, write_video
from test_privacy_obfuscate import BoxMatcher

PACKAGES = ["afd", "cli", "flow", "privacy", "recognition", "stvi", "study"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_capability_lists_its_api(name: str) -> None:
    module = importlib.import_module(f"motionlab.{name}")
    names = module.__all__
    assert names and len(set(names)) == len(names), name
    for item in names:
        assert getattr(module, item) is not None, f"motionlab.{name}.{item}"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    frames = np.stack(list(sample_video_frames(6, size=(64, 48), seed=2)))
    path = tmp_path_factory.mktemp("api") / "clip.mkv"  # FFV1: the frames exactly
    write_video(path, frames, fps=25)
    return path, frames


@pytest.mark.parametrize("mode", ["advect", "first-frame", "iid"])
def test_write_afd_file_equals_make_afd_arrays(
    clip: tuple[Path, np.ndarray], tmp_path: Path, mode: str
) -> None:
    path, frames = clip
    out = tmp_path / "afd.mkv"
    n = write_afd(path, out, config=AFDConfig(mode=mode, seed=7), progress=False)
    assert n == len(frames)
    want = np.stack(list(make_afd(frames, mode=mode, seed=7, preset="fast")))
    assert np.array_equal(read_video(out), want)


def test_write_afd_triptych_and_flow_output(clip: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, frames = clip
    out, flows = tmp_path / "t.mkv", tmp_path / "flow.mkv"
    write_afd(path, out, triptych=True, flow_output=flows, progress=False)
    tri = read_video(out)
    assert tri.shape == (6, 48, 192, 3)
    assert np.array_equal(tri[:, :, :64], frames)  # source | flow | AFD
    assert np.array_equal(tri[:, :, 128:], read_video(_plain(path, tmp_path)))
    assert len(list(read_flow_video(flows))) == 5  # one per pair


def _plain(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "plain.mkv"
    write_afd(path, out, progress=False)
    return out


BOX = (20, 10, 40, 30)  # x0, y0, x1, y1: rows 10:30, columns 20:40


def test_write_obfuscation_file_equals_obfuscate_arrays(
    clip: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, frames = clip
    out, sal = tmp_path / "o.mkv", tmp_path / "sal"
    config = ObfuscationConfig(("box",), seed=3)
    n = write_obfuscation(
        path, out, matcher=BoxMatcher(BOX), config=config, saliency_output=sal, progress=False
    )
    assert n == len(frames)
    frames_out = obfuscate(
        frames, templates="box", matcher=BoxMatcher(BOX), seed=3, noise_range=NoiseRange()
    )
    want = np.stack(list(frames_out))
    got = read_video(out)
    assert np.array_equal(got, want)
    assert np.array_equal(got[:, :10], frames[:, :10])  # outside the box: the source
    assert not np.array_equal(got[:, 10:30, 20:40], frames[:, 10:30, 20:40])
    assert len(sorted(sal.glob("*.png"))) == len(frames)  # a name without suffix: PNG folder


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("motionlab.noise", "motionlab.afd.noise", "NoiseRange"),
        ("motionlab.afd_dataset", "motionlab.afd.dataset", "video_seed"),
        ("motionlab.afd_stream", "motionlab.afd.stream", "AFDSource"),
    ],
)
def test_old_module_paths_forward_and_warn(old: str, new: str, name: str) -> None:
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert getattr(module, "_" + "check_earlier_run", None) is getattr(
        importlib.import_module(new), "_check_earlier_run", None
    )
