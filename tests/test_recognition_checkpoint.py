"""Checkpoints: loading never runs code from the file; what a checkpoint records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorchvideo")

from motionlab.cli import main  # noqa: E402
from motionlab.errors import MotionlabError  # noqa: E402
from motionlab.recognition.data import (  # noqa: E402
    ClipDataset,
    FlowSource,
    Sample,
    flow_source_mismatch,
    ucf101_samples,
)
from motionlab.recognition.synth_actions import SynthConfig, make_synth_actions  # noqa: E402
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


# -- the flow source a flow stream was trained on -----------------------------------------


def _manifest(cache: Path, method: str = "dis", options: dict | None = None) -> Path:
    """The afd_dataset.json that `afd-dataset --save-flow` writes (the parts read here)."""
    cache.mkdir(parents=True, exist_ok=True)
    data = {
        "source": "/data/UCF101", "classes": "all", "save_flow": True,
        "afd": {"flow_method": method, "flow_options": options or {"preset": "fast"}},
    }  # fmt: skip
    (cache / "afd_dataset.json").write_text(json.dumps(data))
    return cache


def test_flow_source_records_and_mismatches(tmp_path) -> None:
    on_the_fly = FlowSource(method="dis", options=(("preset", "fast"),)).describe()
    assert on_the_fly == {
        "kind": "estimated", "method": "dis", "options": {"preset": "fast"}, "bound_px": 20.0,
    }  # fmt: skip
    cache = FlowSource(cache=_manifest(tmp_path / "a"), root=tmp_path).describe()
    assert cache["kind"] == "cache" and cache["method"] == "dis"
    assert cache["options"] == {"preset": "fast"} and len(cache["identity"]) == 16
    # the same recipe elsewhere has the same identity; another recipe another one
    again = FlowSource(cache=_manifest(tmp_path / "b"), root=tmp_path).describe()
    raft = FlowSource(cache=_manifest(tmp_path / "c", "raft-small", {}), root=tmp_path).describe()
    assert again["identity"] == cache["identity"] != raft["identity"]
    unknown = FlowSource(cache=tmp_path / "none", root=tmp_path).describe()
    assert unknown["method"] is None and unknown["identity"] is None
    # same method and options match, whether cached or estimated per clip
    assert flow_source_mismatch(on_the_fly, cache) is None
    assert flow_source_mismatch(cache, again) is None
    medium = FlowSource(method="dis", options=(("preset", "medium"),)).describe()
    assert "preset=medium" in flow_source_mismatch(on_the_fly, medium)
    assert "raft-small" in flow_source_mismatch(cache, raft)
    assert "unknown method" in flow_source_mismatch(on_the_fly, unknown)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    config = SynthConfig(  # two training actors: one is held out for validation
        videos_per_class=3, actors=3, test_actors=1, num_frames=12, size=(32, 32), davis=False
    )
    make_synth_actions(root, config)
    return root


def test_evaluate_refuses_another_flow_source(synth, tmp_path, capsys, caplog) -> None:
    """An E2S model trained on DIS flow: its checkpoint records it; evaluation with
    Farneback flow, or with a cache whose origin is unknown, is refused in one line;
    --allow-flow-mismatch runs it with a warning; the training flow source runs."""
    run = tmp_path / "run"
    common = ["--threads", "1"]
    assert main(["-q", "train", "--arch", "e2s_tiny", "--data", str(synth), "-o", str(run),
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4",
                 "--frames", "2", "--size", "16", *common]) == 0  # fmt: skip
    recorded = read_checkpoint(run / "best.pt")["flow_source"]
    assert recorded == {
        "kind": "estimated", "method": "dis", "options": {"preset": "fast"}, "bound_px": 20.0,
    }  # fmt: skip
    assert json.loads((run / "config.json").read_text())["flow_source"] == recorded
    ckpt = str(run / "best.pt")
    capsys.readouterr()
    assert main(["-q", "evaluate", ckpt, "--data", str(synth), "--flow", "farneback",
                 *common]) == 1  # fmt: skip
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "flow source differs from training" in captured.err and "farneback" in captured.err
    assert "top-1" not in captured.out  # refused before evaluating
    assert main(["-q", "evaluate", ckpt, "--data", str(synth), "--flow-cache",
                 str(tmp_path / "nocache"), *common]) == 1  # fmt: skip
    assert "unknown method" in capsys.readouterr().err
    assert main(["evaluate", ckpt, "--data", str(synth), "--flow", "farneback",
                 "--allow-flow-mismatch", *common]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "top-1" in captured.out and "allowed by --allow-flow-mismatch" in caplog.text
    assert main(["-q", "evaluate", ckpt, "--data", str(synth), *common]) == 0
    assert "top-1" in capsys.readouterr().out


def test_rgb_model_records_no_flow_source(synth, tmp_path) -> None:
    spec = get_spec("tiny3d").with_input(frames=2, size=16)
    samples, classes = ucf101_samples(synth, subset="train")
    data = ClipDataset(samples, spec.streams, train=True)
    train(spec, data, data, tmp_path / "r", classes=classes, progress=False,
          config=TrainConfig(epochs=1, batch_size=4, steps_per_epoch=1))  # fmt: skip
    assert read_checkpoint(tmp_path / "r" / "last.pt")["flow_source"] is None
