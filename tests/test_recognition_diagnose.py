"""`motionlab diagnose` / `predict` for any model: conditions, bootstrap, loaders, bad input."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorchvideo")

from torch import nn  # noqa: E402

from motionlab.cli import main  # noqa: E402
from motionlab.errors import MotionlabError  # noqa: E402
from motionlab.recognition.anymodel import (  # noqa: E402
    InputAdapter,
    InputSpec,
    ModelRef,
    label_map,
    parse_model_ref,
)
from motionlab.recognition.data import (  # noqa: E402
    RGB_MEAN,
    RGB_STD,
    ClipDataset,
    Sample,
    condition_indices,
    condition_pairs,
    shuffle_permutation,
)
from motionlab.recognition.diagnose import bootstrap_accuracy, diagnosis_rows  # noqa: E402
from motionlab.recognition.synth_actions import SynthConfig, make_synth_actions  # noqa: E402
from motionlab.recognition.train import spec_to_dict  # noqa: E402
from motionlab.recognition.zoo import build_model, get_spec  # noqa: E402
from motionlab.video import write_video  # noqa: E402

CLASSES = ["JumpingJack", "Lunges", "PullUps", "PushUps", "Swing"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five test videos (one per class; ten for training) of 8 frames at 32 px."""
    root = tmp_path_factory.mktemp("synth")
    config = SynthConfig(
        videos_per_class=3, actors=3, test_actors=1, num_frames=8, size=(32, 32), davis=False
    )
    make_synth_actions(root, config)
    return root


# --------------------------------------------------------------------------------------
# bootstrap


def test_bootstrap_all_right_all_wrong_and_identical_conditions() -> None:
    right = np.ones(7, bool)
    out = bootstrap_accuracy({"rgb": right, "afd": ~right, "static": right}, n_boot=200)
    assert (out["rgb"]["top1"], out["rgb"]["ci_low"], out["rgb"]["ci_high"]) == (1, 1, 1)
    assert (out["afd"]["top1"], out["afd"]["ci_low"], out["afd"]["ci_high"]) == (0, 0, 0)
    assert (out["afd"]["delta"], out["afd"]["delta_low"], out["afd"]["delta_high"]) == (-1, -1, -1)
    # a condition identical to the reference: Δ = 0 with [0, 0] (paired resamples)
    assert (out["static"]["delta"], out["static"]["delta_low"], out["static"]["delta_high"]) == (
        0, 0, 0,
    )  # fmt: skip
    assert out["rgb"]["delta"] is None


def test_bootstrap_interval_matches_the_binomial_width_and_is_paired() -> None:
    """300 of 400 right: the 95 % interval is 0.75 ± 1.96·sqrt(0.75·0.25/400) = ± 0.042.
    The second condition loses 40 of those (and nothing else): Δ = −0.1, and its paired
    interval is −0.1 ± 1.96·sqrt(0.1·0.9/400) = ± 0.029; unpaired resamples would give
    ± 0.062."""
    a = np.zeros(400, bool)
    a[:300] = True
    b = a.copy()
    b[:40] = False
    out = bootstrap_accuracy({"rgb": a, "afd": b}, n_boot=4000, rng=np.random.default_rng(1))
    half = (out["rgb"]["ci_high"] - out["rgb"]["ci_low"]) / 2
    assert out["rgb"]["top1"] == 0.75 and abs(half - 0.0424) < 0.004
    assert abs(out["afd"]["delta"] + 0.1) < 1e-12
    dhalf = (out["afd"]["delta_high"] - out["afd"]["delta_low"]) / 2
    assert abs(dhalf - 0.0294) < 0.004


def test_bootstrap_is_seeded_and_refuses_bad_input() -> None:
    c = {"rgb": np.array([1, 0, 1, 1, 0], bool)}
    one = bootstrap_accuracy(c, rng=np.random.default_rng(3))
    assert one == bootstrap_accuracy(c, rng=np.random.default_rng(3))
    with pytest.raises(MotionlabError, match="same, non-zero number"):
        bootstrap_accuracy({"rgb": np.ones(3, bool), "afd": np.ones(4, bool)})
    with pytest.raises(MotionlabError, match="reference"):
        bootstrap_accuracy({"afd": np.ones(3, bool)})


def test_rows_per_class_hand_computed() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    correct = {"rgb": np.array([1, 1, 1, 0, 0], bool), "shuffled": np.array([1, 0, 0, 0, 0], bool)}
    rows = diagnosis_rows(correct, labels, ["a", "b"], n_boot=100)
    got = {(r["scope"], r["condition"]): r for r in rows}
    assert got[("all", "rgb")]["top1"] == pytest.approx(3 / 5)
    assert got[("a", "rgb")]["top1"] == 1.0 and got[("a", "rgb")]["ci_low"] == 1.0
    assert got[("b", "rgb")]["top1"] == pytest.approx(1 / 3)
    assert got[("a", "shuffled")]["delta"] == pytest.approx(-0.5)
    assert got[("b", "shuffled")]["delta"] == pytest.approx(-1 / 3)
    assert got[("b", "shuffled")]["n"] == 3


# --------------------------------------------------------------------------------------
# conditions


def test_condition_indices_and_pairs() -> None:
    idx = np.array([2, 4, 6, 8])
    assert condition_indices("rgb", idx, None).tolist() == [2, 4, 6, 8]
    assert condition_indices("static", idx, None).tolist() == [6, 6, 6, 6]
    perm = shuffle_permutation(4, 0)
    assert sorted(perm.tolist()) == [0, 1, 2, 3] and not (perm == np.arange(4)).any()
    assert condition_indices("shuffled", idx, perm).tolist() == idx[perm].tolist()
    first, second = condition_pairs("rgb", idx, None)
    assert first.tolist() == [2, 4, 6, 8] and second.tolist() == [3, 5, 7, 9]
    first, second = condition_pairs("static", idx, None)
    assert first.tolist() == second.tolist() == [6, 6, 6, 6]
    perm5 = np.array([4, 0, 3, 1, 2])
    first, second = condition_pairs("shuffled", idx, perm5)  # frames 2 4 6 8 9 -> 9 2 8 4 6
    assert first.tolist() == [9, 2, 8, 4] and second.tolist() == [2, 8, 4, 6]


def test_static_and_shuffled_clips(tmp_path) -> None:
    """Frame t of the video is filled with 10·t: a static clip repeats the middle sampled
    frame; a shuffled clip holds the same frames as the rgb clip in another order, the same
    order in every epoch."""
    video = tmp_path / "v.avi"
    write_video(video, [np.full((16, 16, 3), 10 * t, np.uint8) for t in range(12)], fps=25)
    spec = get_spec("tiny3d").with_input(frames=4, size=16)

    def values(condition: str, epoch: int = 0) -> list[int]:
        ds = ClipDataset([Sample(video, 0)], spec.streams, train=False, condition=condition)
        ds.set_epoch(epoch)
        x = ds[0][0][0]  # (3, T, S, S), normalised
        return [round(float(v)) for v in (x[0, :, 0, 0] * RGB_STD + RGB_MEAN) * 255 / 10]

    rgb = values("rgb")
    assert rgb == sorted(rgb) and len(set(rgb)) == 4
    static = values("static")
    assert static == [rgb[2]] * 4
    shuffled = values("shuffled")
    assert sorted(shuffled) == rgb and shuffled != rgb
    assert values("shuffled", epoch=3) == shuffled
    with pytest.raises(MotionlabError, match="needs an AFD source"):
        ClipDataset([Sample(video, 0)], spec.streams, train=False, condition="afd")
    with pytest.raises(MotionlabError, match="unknown condition"):
        ClipDataset([Sample(video, 0)], spec.streams, train=False, condition="upside-down")


def test_input_adapter_converts_normalisation_and_channel_order() -> None:
    seen = {}

    class Spy(nn.Module):
        def forward(self, x):
            seen["x"] = x
            return x.mean(dim=(2, 3, 4))

    v = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1, 1).expand(1, 3, 2, 2, 2)
    ours = (v - RGB_MEAN) / RGB_STD  # what ClipDataset makes
    spec = InputSpec(mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.5), channel_order="bgr")
    InputAdapter(Spy(), spec)(ours)
    want = (torch.tensor([0.8, 0.5, 0.2]) - torch.tensor([0.1, 0.2, 0.3])) / 0.5
    torch.testing.assert_close(seen["x"][0, :, 0, 0, 0], want)


# --------------------------------------------------------------------------------------
# loaders


def test_parse_model_ref(tmp_path) -> None:
    assert parse_model_ref("hub:facebookresearch/pytorchvideo:x3d_s") == ModelRef(
        "hub", "facebookresearch/pytorchvideo", "x3d_s"
    )
    ref = parse_model_ref("hub:owner/repo:v1.0:build")
    assert ref == ModelRef("hub", "owner/repo:v1.0", "build")
    assert parse_model_ref("tiny3d") == ModelRef("zoo", "tiny3d")
    assert parse_model_ref("my_pkg.models:build") == ModelRef("entry", "my_pkg.models", "build")
    script = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), script)
    assert parse_model_ref(str(script)).kind == "torchscript"
    plain = tmp_path / "w.pt"
    torch.save({"a": torch.zeros(1)}, plain)
    assert parse_model_ref(str(plain)).kind == "checkpoint"
    for bad in ("hub:onlyrepo", "hub:owner/repo", "hub:o/r:1bad"):
        with pytest.raises(MotionlabError, match="hub:owner/repo:entry"):
            parse_model_ref(bad)
    with pytest.raises(MotionlabError, match="not a file, a zoo model"):
        parse_model_ref("no such thing")
    with pytest.raises(MotionlabError, match="no such file"):
        parse_model_ref(str(tmp_path / "missing.pt"))


def test_label_map() -> None:
    assert label_map(["a", "b"], None, 2).tolist() == [0, 1]
    assert label_map(["b", "c"], ["a", "b", "c"], 3).tolist() == [1, 2]
    with pytest.raises(MotionlabError, match="2 outputs, the dataset 3 classes"):
        label_map(["a", "b", "c"], None, 2)
    with pytest.raises(MotionlabError, match="no output for the dataset's classes d"):
        label_map(["a", "d"], ["a", "b"], 2)


class Flat(nn.Module):
    """Accepts exactly (B, 3, 4, 32, 32): a linear layer on the flattened clip."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 32 * 32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(["-q", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc: int, err: str, text: str) -> None:
    assert rc == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("motionlab: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert text in lines[0], lines[0]


COMMON = ["--threads", "1", "--bootstrap", "50"]


def test_diagnose_zoo_model_writes_table_csv_json_plot(synth, tmp_path, capsys) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "w.pt"
    torch.save(build_model(get_spec("tiny2d"), 5).state_dict(), weights)
    out = tmp_path / "diag"
    rc, stdout, err = _run(
        ["diagnose", "--model", "tiny2d", "--weights", str(weights), "--data", str(synth),
         "--frames", "4", "--size", "32", "--conditions", "rgb,afd,static,shuffled",
         "-o", str(out), *COMMON], capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert "Δ vs rgb" in stdout and "shuffled" in stdout and "per class" in stdout
    rows = list(csv.DictReader((out / "diagnose.csv").open()))
    assert len(rows) == 4 * (1 + 5)
    record = json.loads((out / "diagnose.json").read_text())
    assert record["conditions"] == ["rgb", "afd", "static", "shuffled"]
    assert len(record["videos"]) == 5
    # a per-frame model with features averaged over time ignores the order of frames
    assert all(v["rgb"] == v["shuffled"] for v in record["videos"])
    assert (out / "diagnose.png").read_bytes()[:4] == b"\x89PNG"


def test_diagnose_torchscript_and_entry_point(synth, tmp_path, capsys, monkeypatch) -> None:
    torch.manual_seed(0)
    script = tmp_path / "flat.pt"
    torch.jit.save(torch.jit.trace(Flat().eval(), torch.zeros(1, 3, 4, 32, 32)), script)
    args = ["--data", str(synth), "--conditions", "rgb,static", *COMMON]
    rc, stdout, err = _run(
        ["diagnose", "--model", str(script), "--frames", "4", "--size", "32", *args], capsys
    )
    assert rc == 0, err
    assert "static" in stdout
    # an input shape it does not take: one line, non-zero exit
    rc, _, err = _run(["diagnose", "--model", str(script), "--frames", "8", "--size", "32",
                       *args], capsys)  # fmt: skip
    _one_line_error(rc, err, "does not take input (1, 3, 8, 32, 32)")

    (tmp_path / "mymodels.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Mean(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 5)

            def forward(self, x):
                return self.fc(x.mean(dim=(2, 3, 4)))

        def build():
            torch.manual_seed(0)
            return Mean()

        def not_a_model():
            return 42
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    rc, stdout, err = _run(["diagnose", "--model", "mymodels:build", *args], capsys)
    assert rc == 0, err
    rc, _, err = _run(["diagnose", "--model", "mymodels:not_a_model", *args], capsys)
    _one_line_error(rc, err, "gave a int, not a torch nn.Module")
    rc, _, err = _run(["diagnose", "--model", "no_such_module_xyz:build", *args], capsys)
    _one_line_error(rc, err, "cannot import module 'no_such_module_xyz'")
    rc, _, err = _run(["diagnose", "--model", "mymodels:missing", *args], capsys)
    _one_line_error(rc, err, "has no function 'missing'")


def test_diagnose_hub_entry_parsing_and_error(synth, capsys, monkeypatch) -> None:
    calls = []

    def offline(repo, entry, **kw):
        calls.append((repo, entry))
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "load", offline)
    args = ["--data", str(synth), "--conditions", "rgb", *COMMON]
    rc, _, err = _run(["diagnose", "--model", "hub:someone/videonets:v2:x3d", *args], capsys)
    _one_line_error(rc, err, "cannot load hub:someone/videonets:v2:x3d from torch.hub")
    assert calls == [("someone/videonets:v2", "x3d")]
    rc, _, err = _run(["diagnose", "--model", "hub:someone", *args], capsys)
    _one_line_error(rc, err, "hub:owner/repo:entry")
    monkeypatch.setattr(torch.hub, "load", lambda repo, entry, **kw: build_model("tiny2d", 5))
    rc, stdout, err = _run(["diagnose", "--model", "hub:a/b:c", "--frames", "4", "--size", "32",
                            *args], capsys)  # fmt: skip
    assert rc == 0, err
    assert "hub:a/b:c" in stdout


def test_diagnose_refuses_weights_of_another_architecture_or_class_count(
    synth, tmp_path, capsys
) -> None:
    args = ["--data", str(synth), "--frames", "4", "--size", "32", *COMMON]
    seven = tmp_path / "seven.pt"
    torch.save(build_model("tiny2d", 7).state_dict(), seven)
    rc, _, err = _run(["diagnose", "--model", "tiny2d", "--weights", str(seven), *args], capsys)
    _one_line_error(rc, err, "does not fit tiny2d with 5 classes: tensors 2 of another shape")
    other = tmp_path / "other.pt"
    torch.save(build_model("tiny3d", 5).state_dict(), other)
    rc, _, err = _run(["diagnose", "--model", "tiny2d", "--weights", str(other), *args], capsys)
    _one_line_error(rc, err, "does not fit tiny2d with 5 classes")
    rc, _, err = _run(["diagnose", "--model", "tiny2d", *args], capsys)
    _one_line_error(rc, err, "give its trained weights with --weights")
    rc, _, err = _run(["diagnose", "--model", "tiny2d", "--weights", str(seven), "--conditions",
                       "rgb,upside-down", *args], capsys)  # fmt: skip
    _one_line_error(rc, err, "--conditions takes distinct names")
    rc, _, err = _run(["diagnose", "--model", "tiny2d", "--weights", str(seven), "--level",
                       "95", *args], capsys)  # fmt: skip
    _one_line_error(rc, err, "--level must be in (0, 1)")


def test_train_on_afd_made_on_the_fly(synth, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    rc, _, err = _run(["train", "--arch", "tiny2d", "--data", str(synth), "-o", str(run),
                       "--condition", "afd", "--afd-seed", "3", "--epochs", "1",
                       "--steps-per-epoch", "1", "--batch-size", "2", "--frames", "2",
                       "--size", "24", "--threads", "1"], capsys)  # fmt: skip
    assert rc == 0, err
    assert (run / "best.pt").is_file()
    rc, _, err = _run(["evaluate", str(run / "best.pt"), "--data", str(synth), "--condition",
                       "afd", "--flow-cache", str(tmp_path), "--threads", "1"], capsys)  # fmt: skip
    _one_line_error(rc, err, "--flow-cache holds the RGB videos' flow")


def test_predict_top_k_with_names_from_the_checkpoint_or_a_file(synth, tmp_path, capsys) -> None:
    torch.manual_seed(0)
    spec = get_spec("tiny2d").with_input(frames=4, size=32)
    model = build_model(spec, 5)
    with torch.no_grad():  # a model that always says "PullUps" most, then "Swing"
        model.proj.weight.zero_()
        model.proj.bias.copy_(torch.tensor([0.0, 1.0, 3.0, 0.5, 2.0]))
    ckpt = tmp_path / "best.pt"
    torch.save({"spec": spec_to_dict(spec), "model": model.state_dict(), "classes": CLASSES}, ckpt)
    video = next((synth / "Lunges").glob("*.avi"))
    rc, stdout, err = _run(["predict", str(video), "--model", str(ckpt), "-k", "3",
                            "--threads", "1"], capsys)  # fmt: skip
    assert rc == 0, err
    ranked = [ln.split()[1] for ln in stdout.splitlines()[1:]]
    assert ranked == ["PullUps", "Swing", "Lunges"]
    weights = tmp_path / "w.pt"
    torch.save(model.state_dict(), weights)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"n{i}" for i in range(5)) + "\n")
    rc, stdout, err = _run(["predict", str(video), "--model", "tiny2d", "--weights", str(weights),
                            "--classes", str(names), "--frames", "4", "--size", "32",
                            "-k", "2", "--condition", "afd", "--threads", "1"], capsys)  # fmt: skip
    assert rc == 0, err
    assert [ln.split()[1] for ln in stdout.splitlines()[1:]] == ["n2", "n4"]
    names.write_text("a\nb\n")
    rc, _, err = _run(["predict", str(video), "--model", "tiny2d", "--weights", str(weights),
                       "--classes", str(names), "--threads", "1"], capsys)  # fmt: skip
    _one_line_error(rc, err, "does not fit tiny2d with 2 classes")
