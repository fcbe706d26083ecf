"""Training: E2S-X3D's loss falls; checkpoints, logs, resume, early stopping; the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorchvideo")

from motionlab.afd import AFDConfig  # noqa: E402
from motionlab.afd.dataset import make_afd_dataset  # noqa: E402
from motionlab.cli import main  # noqa: E402
from motionlab.errors import MotionlabError  # noqa: E402
from motionlab.recognition.data import ClipDataset, ucf101_samples  # noqa: E402
from motionlab.recognition.synth_actions import (  # noqa: E402
    ACTIONS,
    SynthConfig,
    make_actor,
    make_synth_actions,
    render_clip,
    sample_clip_params,
)
from motionlab.recognition.train import (  # noqa: E402
    EarlyStopping,
    TrainConfig,
    load_checkpoint,
    train,
)
from motionlab.recognition.zoo import build_model, get_spec  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine, two threads are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    # three actors: two in the training list (one of them held out for validation by
    # `motionlab train`), one in the test list
    root = tmp_path_factory.mktemp("synth")
    config = SynthConfig(
        videos_per_class=3, actors=3, test_actors=1, num_frames=12, size=(32, 32), davis=False
    )
    make_synth_actions(root, config)
    return root


def test_e2s_loss_falls_on_synthetic_clips() -> None:
    """Eight AdamW steps on one batch of synthetic clips (RGB stream; a fixed random tensor
    stands in for the flow stream) lower the cross-entropy of the fused logits."""
    torch.manual_seed(0)
    spec = get_spec("e2s_x3d_s").with_input(frames=2, size=24)
    model = build_model(spec, len(ACTIONS))
    rgb, labels = [], []
    for k, action in enumerate(ACTIONS):
        params = sample_clip_params(np.random.default_rng(k), (24, 24))
        clip = render_clip(action, make_actor(k, seed=0), params, num_frames=2, size=(24, 24))
        rgb.append(torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 255 - 0.5)
        labels.append(k)
    a = torch.stack(rgb)
    b = torch.randn(len(ACTIONS), 2, 2, 24, 24) * 0.2
    y = torch.tensor(labels)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(model(a, b), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses
    assert losses[-1] == min(losses), losses


def test_early_stopping() -> None:
    stop = EarlyStopping(patience=2)
    assert stop.update(0, 1.0) and not stop.stop
    assert not stop.update(1, 1.0)  # equal is no improvement
    assert stop.update(2, 0.5) and stop.bad_epochs == 0
    assert not stop.update(3, 0.7) and not stop.stop
    assert not stop.update(4, 0.6) and stop.stop
    assert (stop.best, stop.best_epoch) == (0.5, 2)


def test_train_checkpoints_log_and_resume(synth, tmp_path) -> None:
    spec = get_spec("x3d_xs").with_input(frames=2, size=24)
    tr_s, classes = ucf101_samples(synth, subset="train")
    te_s, _ = ucf101_samples(synth, subset="test")
    tr = ClipDataset(tr_s, spec.streams, train=True)
    te = ClipDataset(te_s, spec.streams, train=False)
    config = TrainConfig(epochs=2, batch_size=4, steps_per_epoch=1, patience=5)
    out = tmp_path / "run"
    result = train(spec, tr, te, out, classes=classes, config=config, progress=False)
    assert [r["epoch"] for r in result.history] == [0, 1]
    assert result.stopped == "epochs done"
    for name in ("last.pt", "best.pt", "log.csv", "config.json"):
        assert (out / name).is_file()
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert {"train_loss", "val_loss", "val_top1", "val_top5"} <= set(rows[0])
    _, spec2, ckpt = load_checkpoint(out / "last.pt")
    assert spec2.streams == spec.streams and ckpt["classes"] == classes and ckpt["epoch"] == 1
    # resume: one more epoch continues the history
    more = TrainConfig(epochs=3, batch_size=4, steps_per_epoch=1, patience=5)
    result = train(spec, tr, te, out, classes=classes, config=more, progress=False)
    assert [r["epoch"] for r in result.history] == [0, 1, 2]
    # another architecture in the same folder is refused
    other = get_spec("c2d_r50").with_input(frames=2, size=24)
    with pytest.raises(MotionlabError, match="another model"):
        train(other, tr, te, out, classes=classes, config=more, progress=False)


def test_load_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(MotionlabError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"x": 1}, bad)
    with pytest.raises(MotionlabError, match="not a motionlab checkpoint"):
        load_checkpoint(bad)


def test_thesis_recipe_is_the_default() -> None:
    """§4.4: Adam at 3e-4, early stopping, augmentation relaxing every 20 epochs, at most
    80 epochs; other recipes by name."""
    from motionlab.recognition.train import RECIPES, _make_optimizer, get_recipe

    default = TrainConfig()
    assert default == RECIPES["thesis"] == get_recipe("thesis")
    assert (default.optimizer, default.lr, default.weight_decay) == ("adam", 3e-4, 0.0)
    assert (default.epochs, default.augment_step, default.recipe) == (80, 20, "thesis")
    opt = _make_optimizer(torch.nn.Linear(2, 2), default)
    assert type(opt) is torch.optim.Adam and opt.defaults["weight_decay"] == 0.0
    adamw = get_recipe("adamw", lr=1e-3, epochs=None)  # None: keep the recipe's value
    assert (adamw.optimizer, adamw.weight_decay, adamw.lr, adamw.epochs) == (
        "adamw", 0.05, 1e-3, 60,
    )  # fmt: skip
    with pytest.raises(MotionlabError, match=r"unknown recipe 'sgd'.*thesis"):
        get_recipe("sgd")


def test_hold_out_validation_keeps_groups_whole() -> None:
    """UCF101-style names: per class, whole groups (gNN) are held out, seeded."""
    from pathlib import Path

    from motionlab.recognition.data import Sample, hold_out_validation, sample_group

    samples = [
        Sample(Path(f"C{c}/v_C{c}_g{g:02d}_c{k:02d}.avi"), c)
        for c in range(2) for g in range(8, 18) for k in range(1, 3)
    ]  # fmt: skip
    fit, val = hold_out_validation(samples, fraction=0.2, seed=3)
    assert len(val) == 2 * 2 * 2 and len(fit) + len(val) == len(samples)  # 2 groups/class
    assert not {s.path for s in fit} & {s.path for s in val}
    for c in range(2):
        held = {sample_group(s) for s in val if s.label == c}
        kept = {sample_group(s) for s in fit if s.label == c}
        assert len(held) == 2 and not held & kept
    assert hold_out_validation(samples, fraction=0.2, seed=3) == (fit, val)
    assert hold_out_validation(samples, fraction=0.2, seed=4) != (fit, val)
    # one group in a class: single videos held out; one video: stays in training
    one_group = [Sample(Path(f"x_{i}.avi"), 0, person="7") for i in range(4)]
    fit1, val1 = hold_out_validation([*one_group, Sample(Path("y.avi"), 1)], fraction=0.25)
    assert len(val1) == 1 and val1[0].label == 0 and len(fit1) == 4
    with pytest.raises(MotionlabError, match="nothing to hold out"):
        hold_out_validation([Sample(Path("a.avi"), 0), Sample(Path("b.avi"), 1)])
    with pytest.raises(MotionlabError, match="fraction"):
        hold_out_validation(samples, fraction=1.0)


def test_best_pt_is_never_selected_on_test_data(synth, tmp_path, monkeypatch) -> None:
    """`motionlab train` validates (early stopping, best.pt) on videos of the training list
    only: every evaluation during training reads training-list videos, none of the test
    list, and config.json / best.pt record which."""
    import json

    import motionlab.recognition.train as train_module

    seen: list[set[str]] = []
    real = train_module.evaluate

    def spy(model, dataset, **kwargs):
        seen.append({str(s.path) for s in dataset.samples})
        return real(model, dataset, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", spy)
    run = tmp_path / "run"
    assert main(["-q", "train", "--arch", "tiny3d", "--data", str(synth), "-o", str(run),
                 "--epochs", "2", "--steps-per-epoch", "1", "--batch-size", "4",
                 "--frames", "2", "--size", "16", "--threads", "1"]) == 0  # fmt: skip
    train_list = {str(s.path) for s in ucf101_samples(synth, subset="train")[0]}
    test_list = {str(s.path) for s in ucf101_samples(synth, subset="test")[0]}
    assert len(seen) == 2 and all(paths for paths in seen)
    for paths in seen:
        assert paths <= train_list and not paths & test_list
    recorded = set(json.loads((run / "config.json").read_text())["validation"])
    assert recorded == seen[0]
    _, _, ckpt = load_checkpoint(run / "best.pt")
    assert set(ckpt["validation"]) == recorded
    assert ckpt["config"]["recipe"] == "thesis" and ckpt["config"]["optimizer"] == "adam"
    # provenance in the checkpoint and beside it (motionlab info run/best.pt)
    side = json.loads((run / "best.pt.motionlab.json").read_text())
    assert side["seeds"] == {"seed": ckpt["config"]["seed"]} and "train" in side["command"]
    assert side["data"]["hashed"].startswith("folder: name and size")
    assert ckpt["provenance"]["data"] == side["data"]


def test_train_config_validation() -> None:
    with pytest.raises(MotionlabError, match="optimizer"):
        TrainConfig(optimizer="sgd")
    with pytest.raises(MotionlabError, match="lr"):
        TrainConfig(lr=0)


def test_cli_models_lists_sampling_and_params(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("x3d_m "))
    assert "rgb 16×5 @224" in line and "3.79M" in line
    e2s = next(x for x in out.splitlines() if x.startswith("e2s_x3d_m "))
    assert "flow 13×6 @160" in e2s and "7.91M" in e2s


def test_cli_train_evaluate_diagnose(synth, tmp_path, capsys) -> None:
    afd = tmp_path / "afd"
    make_afd_dataset(synth, afd, config=AFDConfig(seed=1))
    run = tmp_path / "run"
    common = ["--threads", "1"]
    assert main(["-q", "train", "--arch", "x3d_xs", "--data", str(synth), "-o", str(run),
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4",
                 "--frames", "2", "--size", "24", *common]) == 0  # fmt: skip
    assert (run / "best.pt").is_file()
    capsys.readouterr()
    js = tmp_path / "eval.json"
    assert main(["-q", "evaluate", str(run / "best.pt"), "--data", str(synth),
                 "--json", str(js), *common]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "top-1" in out and "JumpingJack" in out
    assert np.array(__import__("json").loads(js.read_text())["confusion"]).sum() == 5
    # --condition afd: AFD clips made on the fly from the RGB videos score exactly as the
    # stored AFD tree of the same dataset seed
    on_disk, on_the_fly = tmp_path / "disk.json", tmp_path / "fly.json"
    assert main(["-q", "evaluate", str(run / "best.pt"), "--data", str(afd),
                 "--json", str(on_disk), *common]) == 0  # fmt: skip
    assert main(["-q", "evaluate", str(run / "best.pt"), "--data", str(synth), "--condition",
                 "afd", "--afd-seed", "1", "--json", str(on_the_fly), *common]) == 0  # fmt: skip
    a, b = (__import__("json").loads(p.read_text()) for p in (on_disk, on_the_fly))
    assert a["loss"] == b["loss"] and a["confusion"] == b["confusion"]
    capsys.readouterr()
    assert main(["-q", "diagnose", "--model", str(run / "best.pt"), "--rgb", str(synth),
                 "--afd", str(afd), "-k", "2", "--min-accuracy", "0", *common]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "RGB %" in out and "AFD %" in out and "class order" in out


def test_cli_evaluate_mean_over_splits(synth, tmp_path, capsys) -> None:
    """`evaluate A B C --splits 1,2,3`: each checkpoint on its split's test list, and the
    mean of the per-split top-1 (Table 4.1 reports the mean over UCF101's three splits)."""
    import json
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synth, data)
    test1 = (data / "testlist01.txt").read_text().splitlines()
    for k, lines in ((2, test1[:2]), (3, test1[2:])):
        shutil.copy(data / "trainlist01.txt", data / f"trainlist0{k}.txt")
        (data / f"testlist0{k}.txt").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    common = ["--threads", "1"]
    assert main(["-q", "train", "--arch", "tiny3d", "--data", str(data), "-o", str(run),
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4",
                 "--frames", "2", "--size", "16", *common]) == 0  # fmt: skip
    ckpt = str(run / "best.pt")
    single = []
    for k in (1, 2, 3):
        js = tmp_path / f"s{k}.json"
        assert main(["-q", "evaluate", ckpt, "--data", str(data), "--split", str(k),
                     "--json", str(js), *common]) == 0  # fmt: skip
        single.append(json.loads(js.read_text()))
    assert [r["clips"] for r in single] == [5, 2, 3]
    capsys.readouterr()
    js = tmp_path / "all.json"
    assert main(["-q", "evaluate", ckpt, ckpt, ckpt, "--splits", "1,2,3", "--data", str(data),
                 "--json", str(js), *common]) == 0  # fmt: skip
    summary = json.loads(js.read_text())
    assert [r["top1"] for r in summary["splits"]] == [r["top1"] for r in single]
    assert summary["mean_top1"] == pytest.approx(sum(r["top1"] for r in single) / 3)
    assert "mean over splits" in capsys.readouterr().out
    assert main(["evaluate", ckpt, "--splits", "1,2", "--data", str(data)]) == 1
    assert "one checkpoint per split" in capsys.readouterr().err
    assert main(["evaluate", ckpt, "--splits", "1,4", "--data", str(data)]) == 1
    assert "distinct splits of 1, 2, 3" in capsys.readouterr().err


def test_cli_input_errors(tmp_path, capsys) -> None:
    assert (
        main(["train", "--arch", "nope", "--data", str(tmp_path), "-o", str(tmp_path / "r")])
        == 1
    )
    assert "motionlab: error: unknown model 'nope'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.pt"), "--data", str(tmp_path)]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["train", "--arch", "x3d_xs", "--data", str(tmp_path / "none"),
                 "-o", str(tmp_path / "r")]) == 1  # fmt: skip
    assert "no such dataset folder" in capsys.readouterr().err


def test_cli_synth_actions(tmp_path, capsys) -> None:
    out = tmp_path / "s"
    args = ["--videos-per-class", "2", "--actors", "2", "--test-actors", "1", "--frames", "4"]
    assert main(["-q", "synth-actions", str(out), *args, "--size", "32x32", "--no-davis"]) == 0
    assert len(list(out.glob("*/*.avi"))) == 10
    assert main(["synth-actions", str(out), "--actors", "2", "--test-actors", "2"]) == 1
    assert "test_actors" in capsys.readouterr().err


def test_cli_train_on_metadata_csv(synth, tmp_path, capsys) -> None:
    """KTH-style table: held-out persons form the validation set; identity labels work."""
    run = tmp_path / "run"
    base = ["-q", "train", "--arch", "tiny3d", "--data", str(synth), "-o", str(run),
            "--csv", str(synth / "metadata.csv"), "--epochs", "1", "--batch-size", "4",
            "--frames", "2", "--size", "24", "--threads", "1"]  # fmt: skip
    assert main(base) == 1
    assert "--test-persons" in capsys.readouterr().err
    assert main([*base, "--test-persons", "1"]) == 0
    _, _, ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["classes"] == list(ACTIONS)
    assert main([*base, "--test-persons", "7"]) == 1  # no such person: empty split
    assert "empty split" in capsys.readouterr().err


def test_tensorboard_events_match_the_csv_log(synth, tmp_path) -> None:
    """With tensorboard installed, every log.csv column is written as a scalar per epoch."""
    pytest.importorskip("tensorboard", reason="tensorboard is optional (pip install tensorboard)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = get_spec("tiny3d").with_input(frames=2, size=24)
    tr_s, classes = ucf101_samples(synth, subset="train")
    te_s, _ = ucf101_samples(synth, subset="test")
    tr = ClipDataset(tr_s, spec.streams, train=True)
    te = ClipDataset(te_s, spec.streams, train=False)
    out = tmp_path / "run"
    config = TrainConfig(epochs=2, batch_size=4, steps_per_epoch=1, patience=5)
    train(spec, tr, te, out, classes=classes, config=config, progress=False)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert set(events.Tags()["scalars"]) == set(rows[0])
    for key in ("train_loss", "val_loss", "val_top1"):
        logged = [(e.step, e.value) for e in events.Scalars(key)]
        assert [s for s, _ in logged] == [0, 1]
        np.testing.assert_allclose([v for _, v in logged], [float(r[key]) for r in rows], rtol=1e-5)


@pytest.mark.slow
def test_ddp_on_cpu_with_torchrun(synth, tmp_path) -> None:
    """`torchrun --nproc_per_node 2` (gloo backend, CPU): both ranks train in step, rank 0
    writes the checkpoint and log, and the run finishes (no rank left waiting)."""
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun") or str(
        __import__("pathlib").Path(sys.executable).with_name("torchrun")
    )
    if not os.path.exists(torchrun):
        pytest.skip("torchrun not found next to the Python interpreter")
    run = tmp_path / "run"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "motionlab", "-q",
           "train", "--arch", "tiny3d", "--data", str(synth), "-o", str(run),
           "--epochs", "2", "--batch-size", "2", "--frames", "2", "--size", "24",
           "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _, _, ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["epoch"] == 1 and len(ckpt["history"]) == 2
    with (run / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert all(0.0 <= float(r["train_top1"]) <= 1.0 for r in rows)


def _kth_videos(root, persons=(11, 12, 1, 4, 22, 2, 3), actions=("boxing", "walking")):
    """A tiny KTH tree with real videos: ``boxing/person11_boxing_d1_uncomp.avi``."""
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import write_video

    for i, action in enumerate(actions):
        for p in persons:
            frames = sample_video_frames(6, size=(24, 24), seed=100 * i + p)
            write_video(root / action / f"person{p:02d}_{action}_d1_uncomp.avi", frames, fps=25)
    return root


def test_cli_kth_person_split(tmp_path, capsys) -> None:
    """`--split kth` needs no lists: training sees the training persons, validation (early
    stopping, best.pt) the validation persons, evaluate the test persons."""
    import json

    data = _kth_videos(tmp_path / "kth")
    run = tmp_path / "run"
    assert main(["-q", "train", "--arch", "tiny3d", "--data", str(data), "-o", str(run),
                 "--split", "kth", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size",
                 "4", "--frames", "2", "--size", "16", "--threads", "1"]) == 0  # fmt: skip
    val = {Path(p).name for p in json.loads((run / "config.json").read_text())["validation"]}
    assert val == {
        f"person{p:02d}_{a}_d1_uncomp.avi" for p in (1, 4) for a in ("boxing", "walking")
    }
    js = tmp_path / "eval.json"
    assert main(["-q", "evaluate", str(run / "best.pt"), "--data", str(data), "--split", "KTH",
                 "--json", str(js), "--threads", "1"]) == 0  # fmt: skip
    record = json.loads(js.read_text())
    assert record["split"] == "kth" and record["clips"] == 6  # persons 2, 3, 22; two actions


def test_cli_person_split_errors(tmp_path, capsys) -> None:
    """Bad person splits: one line on stderr, exit 1, before anything is trained."""
    data = tmp_path / "kth"
    for action in ("boxing", "walking"):  # listing never opens a video: empty files do
        for p in (11, 22):
            (data / action).mkdir(parents=True, exist_ok=True)
            (data / action / f"person{p:02d}_{action}_d1_uncomp.avi").touch()
    table = tmp_path / "split.csv"
    base = ["train", "--arch", "tiny3d", "--data", str(data), "-o", str(tmp_path / "run")]

    def fails(*extra: str, match: str) -> None:
        assert main([*base, *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith("motionlab: error: ") and err.count("\n") == 1, err
        assert match in err, err

    fails("--split", "kth", match="no videos for the val part (persons 1, 4, 19, 20, 21, 23")
    table.write_text("person,split\n11,train\n22,test\nperson11,test\n")
    fails("--split-csv", str(table), match="person 11 is in two parts (train and test)")
    table.write_text("person,split\n11,train\n22,test\n")
    fails("--split-csv", str(table), "--person-column", "actor", match="no column actor")
    fails("--split-csv", str(table), "--split", "kth", match="two splits")
    fails("--split-csv", str(table), "--test-persons", "22", match="--test-persons and")
    table.write_text("person,split\n11,train\n23,test\n")
    fails("--split-csv", str(table), match="no videos for the test part (persons 23)")
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--split", "ucf"])
    assert exit_.value.code == 2 and "or kth, got 'ucf'" in capsys.readouterr().err
