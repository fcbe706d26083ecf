"""Checkpoints: loading never runs code from the file; what a checkpoint records."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorchvideo")

from motionlab.cli import main  # noqa: E402
from motionlab.errors import MotionlabError  # noqa: E402
from motionlab.recognition.data import ClipDataset, Sample  # noqa: E402
from motionlab.recognition.train import (  # noqa: E402
    TrainConfig,
    load_checkpoint,
    plain,
    read_checkpoint,
    spec_to_dict,
    train,
)
from motionlab.recognition.zoo import build_model, get_spec  # noqa: E402

SMALL = get_spec("tiny3d").with_input(frames=2, size=16)


class Payload:
    """A pickle payload: unpickling it calls ``os.mkdir(marker)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def crafted_checkpoint(path: Path, marker: Path) -> Path:
    """A file shaped like a motionlab checkpoint that carries a payload."""
    torch.save(
        {"spec": spec_to_dict(SMALL), "classes": ["a", "b"], "model": {}, "x": Payload(marker)},
        path,
    )
    return path


def old_format_checkpoint(path: Path, **extra) -> Path:
    """A checkpoint laid out as `motionlab train` wrote it before this change."""
    model = build_model(SMALL, 2)
    ckpt = {
        "spec": spec_to_dict(SMALL), "classes": ["a", "b"], "config": {"epochs": 1},
        "model": model.state_dict(), "optimizer": {}, "epoch": 0,
        "history": [{"epoch": 0, "val_loss": 0.7}], "best_epoch": 0, "best_val_loss": 0.7,
        "bad_epochs": 0, **extra,
    }  # fmt: skip
    torch.save(ckpt, path)
    return path


def test_the_payload_is_live(tmp_path) -> None:
    """The crafted file does run its payload under an unsafe load (so the tests below,
    where the marker stays absent, show that motionlab's loading refuses it)."""
    marker = tmp_path / "ran"
    evil = crafted_checkpoint(tmp_path / "evil.pt", marker)
    torch.load(evil, weights_only=False)
    assert marker.is_dir()


def test_crafted_checkpoint_never_runs(tmp_path) -> None:
    marker = tmp_path / "ran"
    evil = crafted_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(MotionlabError, match=r"refused to load checkpoint .*evil\.pt.*\.mkdir"):
        load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["evaluate", "diagnose"])
def test_cli_refuses_crafted_checkpoint_in_one_line(tmp_path, capsys, command) -> None:
    marker = tmp_path / "ran"
    evil = crafted_checkpoint(tmp_path / "evil.pt", marker)
    if command == "evaluate":
        argv = ["evaluate", str(evil), "--data", str(tmp_path)]
    else:
        argv = ["diagnose", "--model", str(evil), "--rgb", str(tmp_path), "--afd", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert not marker.exists()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("motionlab: error: refused to load checkpoint") and str(evil) in err


def test_resume_refuses_crafted_last_checkpoint(tmp_path) -> None:
    marker = tmp_path / "ran"
    out = tmp_path / "run"
    out.mkdir()
    crafted_checkpoint(out / "last.pt", marker)
    data = ClipDataset([Sample(tmp_path / "v.avi", 0)], SMALL.streams, train=True)
    with pytest.raises(MotionlabError, match=r"refused to load checkpoint .*last\.pt"):
        train(SMALL, data, data, out, classes=["a", "b"], config=TrainConfig(epochs=1),
              progress=False)  # fmt: skip
    assert not marker.exists()


def test_old_format_checkpoint_still_loads(tmp_path) -> None:
    path = old_format_checkpoint(tmp_path / "old.pt")
    model, spec, ckpt = load_checkpoint(path)
    assert spec.streams == SMALL.streams and ckpt["classes"] == ["a", "b"]
    assert isinstance(model, torch.nn.Module)


def test_checkpoint_with_non_plain_metadata_asks_to_resave(tmp_path) -> None:
    """Metadata pickled as a NumPy scalar cannot be loaded safely: one clear line."""
    path = old_format_checkpoint(tmp_path / "np.pt", best_val_loss=np.float64(0.7))
    with pytest.raises(MotionlabError, match=r"np\.pt.*numpy.*re-save") as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)


def test_corrupt_and_wrong_checkpoints(tmp_path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(MotionlabError, match=r"cannot read checkpoint .*junk\.pt") as info:
        read_checkpoint(junk)
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(MotionlabError, match=r"cannot read checkpoint .*empty\.pt"):
        read_checkpoint(empty)
    other = old_format_checkpoint(tmp_path / "other.pt")
    ckpt = torch.load(other, weights_only=True)
    ckpt["classes"] = ["a", "b", "c"]  # another class count than the weights
    torch.save(ckpt, other)
    with pytest.raises(MotionlabError, match="do not fit tiny3d with 3 classes"):
        load_checkpoint(other)


def test_plain_metadata() -> None:
    data = {"a": np.float32(0.5), "b": (1, np.int64(2)), "c": np.zeros(2), "d": Path("x")}
    assert plain(data) == {"a": 0.5, "b": [1, 2], "c": [0.0, 0.0], "d": "x"}
    with pytest.raises(TypeError):
        plain({"x": object()})
