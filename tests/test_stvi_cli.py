"""``motionlab stvi`` and ``motionlab stvi-eval`` end to end on a synthetic clip, and the
DAVIS 2016 sequences when ../shared is present."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from motionlab.cli import main
from motionlab.stvi.io import read_labels
from motionlab.stvi.tracking import TAIL_FLOOR
from motionlab.synthetic import two_part_scene

from conftest import DATA, need


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 24-frame two-part clip as a PNG folder, DAVIS-like masks, and the part labels."""
    root = tmp_path_factory.mktemp("clip")
    frames, parts = two_part_scene(24, size=(96, 72), seed=1)
    (root / "frames").mkdir()
    ann = root / "davis" / "Annotations" / "480p" / "toy"
    ann.mkdir(parents=True)
    for t, (f, p) in enumerate(zip(frames, parts, strict=True)):
        cv2.imwrite(str(root / "frames" / f"{t:05d}.jpg"), f[..., ::-1])
        cv2.imwrite(str(ann / f"{t:05d}.png"), (p > 0).astype(np.uint8) * 255)
    return root, parts


def test_stvi_writes_labels_masks_and_metadata(clip, capsys):
    root, parts = clip
    out = root / "results" / "toy"
    args = ["-q", "stvi", str(root / "frames"), "--anchors"]
    args += [
        str(root / "davis/Annotations/480p/toy"),
        "--every",
        "10",
        "-o",
        str(out),
        "--pictures",
    ]
    assert main(args) == 0
    labels = read_labels(out)
    assert labels.shape == parts.shape and labels.max() >= 1
    pngs = sorted((out / "labels").glob("*.png"))
    assert [p.stem for p in pngs] == [f"{t:05d}" for t in range(24)]  # named like the input
    first = cv2.imread(str(pngs[5]), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(first, labels[5])
    mask = cv2.imread(str(out / "mask" / "00005.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(mask > 0, labels[5] > 0)
    for name in ("overlay", "slice_xt", "slice_yt", "trajectories"):
        picture = cv2.imread(str(out / "pictures" / f"{name}.png"))
        assert picture is not None and picture.std() > 0, name
    xt = cv2.imread(str(out / "pictures" / "slice_xt.png"))
    assert xt.shape[:2] == (24, 96)  # one row per frame, one column per pixel
    meta = json.loads((out / "stvi.json").read_text())
    assert meta["anchors"] == [0, 10, 20] and meta["tubes"] == labels.max()
    assert meta["sigma"] > 0 and meta["seconds"] > 0
    assert meta["mask_weight"] == 50 and meta["omega"] == 0.8 and meta["carried"] is True
    assert meta["flow_directions"] == ["forward", "backward"]
    assert meta["colour_model"] is True and meta["anchor_match"] is True
    assert meta["tail_floor"] == TAIL_FLOOR
    assert meta["flow_options"] == {"preset": "medium-full"}  # STVI's DIS preset
    # provenance: the frame folder and the anchors are hashed (motionlab.provenance)
    assert [x["path"] for x in meta["inputs"]] == [args[2], args[4]]
    assert meta["inputs"][0]["hashed"].startswith("folder: ") and meta["command"]

    # evaluation: a CSV and a Markdown table with a row per sequence and their mean
    assert main(["stvi-eval", str(root / "results"), "--davis", str(root / "davis")]) == 0
    assert "mean over 1 sequences" in capsys.readouterr().out
    rows = list(csv.DictReader((root / "results" / "stvi_eval.csv").read_text().splitlines()))
    assert [r["sequence"] for r in rows] == ["toy", "mean"]
    assert 0.5 < float(rows[0]["J"]) <= 1 and float(rows[0]["M"]) == labels.max()
    assert "| toy |" in (root / "results" / "stvi_eval.md").read_text()


@pytest.mark.parametrize("preset", [None, "medium"])
def test_stvi_command_tracks_with_the_backward_flow(clip, tmp_path, monkeypatch, preset):
    """`motionlab stvi` hands STVI the backward flow of every pair (frame t + 1 to t) with
    the forward one, from the same estimator: DIS medium-full unless --preset says."""
    from motionlab.stvi import write

    root, _ = clip
    got: dict = {}
    real = write.stvi

    def spy(frames, anchors, **kwargs):
        got.update(kwargs, frames=frames)
        return real(frames, anchors, **kwargs)

    monkeypatch.setattr(write, "stvi", spy)
    args = ["-q", "stvi", str(root / "frames"), "--anchors"]
    args += [str(root / "davis/Annotations/480p/toy"), "-o", str(tmp_path / "out")]
    assert main(args + (["--preset", preset] if preset else [])) == 0
    frames, backward = got["frames"], got["backward_flows"]
    assert backward is not None and backward.shape == got["flows"].shape == (23, 72, 96, 2)
    from motionlab.stvi.tubes import compute_flows

    used = preset or "medium-full"
    pair = frames[7:9]
    np.testing.assert_array_equal(got["flows"][7], compute_flows(pair, preset=used)[0])
    back = compute_flows(pair, direction="backward", preset=used)[0]
    np.testing.assert_array_equal(backward[7], back)
    assert not np.array_equal(back, compute_flows(pair, direction="backward", preset="fast")[0])
    meta = json.loads((tmp_path / "out" / "stvi.json").read_text())
    assert meta["flow_options"] == {"preset": used}


@pytest.mark.parametrize("off", [False, True])
@pytest.mark.parametrize(
    ("module", "name", "flag", "key", "calls_on"),
    [
        # the carried masks corrected by the anchors' colour models, once
        ("tubes", "colour_corrected_masks", "--no-colour-model", "colour_model", 1),
        # each carried frame matched to its anchor frame: anchors every 20 of 24 frames,
        # between 0 and 20 each side the 10 frames where it has at least half the blend
        # weight, the 3 frames after 20 all
        ("tracking", "match_to_anchor", "--no-anchor-match", "anchor_match", 2 * 10 + 3),
    ],
)
def test_stvi_command_steps_of_issue_16_are_on_unless_told(
    clip, tmp_path, monkeypatch, off, module, name, flag, key, calls_on
):
    import importlib

    owner = importlib.import_module(f"motionlab.stvi.{module}")
    root, _ = clip
    calls: list[int] = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    args = ["-q", "stvi", str(root / "frames"), "--anchors"]
    args += [str(root / "davis/Annotations/480p/toy"), "-o", str(tmp_path / "out")]
    assert main(args + ([flag] if off else [])) == 0
    assert len(calls) == (0 if off else calls_on)
    meta = json.loads((tmp_path / "out" / "stvi.json").read_text())
    assert meta[key] is (not off)


def test_stvi_command_passes_and_records_its_tail_floor(clip, tmp_path, monkeypatch):
    from motionlab.stvi import write

    root, _ = clip
    seen = []
    real = write.stvi

    def spy(frames, anchors, **kwargs):
        seen.append(kwargs["params"].tail_floor)
        return real(frames, anchors, **kwargs)

    monkeypatch.setattr(write, "stvi", spy)
    args = ["-q", "stvi", str(root / "frames"), "--anchors"]
    args += [str(root / "davis/Annotations/480p/toy"), "-o", str(tmp_path / "out")]
    assert main([*args, "--tail-floor", "0.3"]) == 0
    assert seen == [0.3]
    assert json.loads((tmp_path / "out" / "stvi.json").read_text())["tail_floor"] == 0.3


def test_stvi_eval_scores_a_perfect_result_as_perfect(clip, tmp_path):
    root, parts = clip
    seq = tmp_path / "res" / "toy"
    seq.mkdir(parents=True)
    np.savez(seq / "labels.npz", labels=parts.astype(np.int32))  # body = 1, limb = 2
    part_root = tmp_path / "parts" / "toy"
    part_root.mkdir(parents=True)
    for t, p in enumerate(parts):
        cv2.imwrite(str(part_root / f"{t:05d}.png"), p)
    out = tmp_path / "table"
    argv = ["stvi-eval", str(tmp_path / "res"), "--davis", str(root / "davis")]
    assert main([*argv, "--parts", str(tmp_path / "parts"), "-o", str(out)]) == 0
    row = next(csv.DictReader(out.with_suffix(".csv").read_text().splitlines()))
    for key, value in {"ACC": 1, "UE": 0, "TEX": 1, "J": 1, "F": 1, "M": 2}.items():
        assert float(row[key]) == pytest.approx(value), key
    for key, value in {"J_p": 1, "F_p": 1, "C_p": 0}.items():
        assert float(row[key]) == pytest.approx(value), key


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--anchors", "{root}/nothing"], "no such mask folder"),
        (["--anchors", "{root}/frames", "--every", "0"], "spacing"),
        (["--anchors", "{root}/empty_masks"], "no anchor in the first frame"),
    ],
)
def test_stvi_errors_are_one_line(clip, capsys, extra, message):
    root, _ = clip
    (root / "empty_masks").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "empty_masks" / "00000.png"), np.zeros((72, 96), np.uint8))
    out = root / "bad_out"
    argv = ["stvi", str(root / "frames"), "-o", str(out)]
    argv += [a.format(root=root) for a in extra]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("motionlab: error:") and message in err[0]
    assert not out.exists()


@pytest.fixture(scope="module")
def bad_masks(clip):
    """Mask folders STVI must refuse: another size, none for frame 0, an empty one."""
    root, parts = clip
    base = root / "bad_masks"
    for name, frames in (("other_size", (0, 10)), ("no_first", (10, 20)), ("empty", (0, 10))):
        (base / name).mkdir(parents=True)
        for t in frames:
            m = (parts[t] > 0).astype(np.uint8) * 255
            if name == "other_size":
                m = cv2.resize(m, (48, 36), interpolation=cv2.INTER_NEAREST)
            if name == "empty" and t == 0:
                m[:] = 0
            cv2.imwrite(str(base / name / f"{t:05d}.png"), m)
    return base


@pytest.mark.parametrize(
    "case, message",
    [
        ("other_size", "00000.png: mask is 48x36, the frames are 96x72"),
        ("no_first", "no anchor in the first frame (frame 0): it has no object mask"),
        ("empty", "no anchor in the first frame (frame 0): it has an empty object mask"),
        ("one_frame", "STVI needs at least two frames, got 1"),
    ],
)
def test_stvi_bad_anchors_and_clips_are_one_line(clip, bad_masks, tmp_path, capsys, case, message):
    """The issue's bad-input list: one line on stderr, exit 1, no output folder (not even
    a temporary one) left behind."""
    root, _ = clip
    masks = root / "davis/Annotations/480p/toy" if case == "one_frame" else bad_masks / case
    argv = ["stvi", str(root / "frames"), "--anchors", str(masks), "--every", "10"]
    argv += ["-o", str(tmp_path / "out")]
    if case == "one_frame":
        argv += ["--stop", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("motionlab: error:"), err
    assert message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_stvi_eval_without_results(clip, tmp_path, capsys):
    root, _ = clip
    assert main(["stvi-eval", str(tmp_path), "--davis", str(root / "davis")]) == 1
    assert "no STVI result" in capsys.readouterr().err


@pytest.mark.slow
def test_davis_blackswan_against_its_annotations(tmp_path):
    davis = need(DATA / "davis2016")
    seq = "blackswan"
    out = tmp_path / "res" / seq
    frames = davis / "JPEGImages" / "480p" / seq
    argv = ["-q", "stvi", str(frames), "--anchors", str(davis / "Annotations/480p" / seq)]
    assert main([*argv, "-o", str(out)]) == 0
    assert main(["stvi-eval", str(tmp_path / "res"), "--davis", str(davis)]) == 0
    row = next(csv.DictReader((tmp_path / "res" / "stvi_eval.csv").read_text().splitlines()))
    assert float(row["J"]) > 0.5 and float(row["TEX"]) > 0.5


def test_stvi_eval_rows_of_tables_6_1_and_6_3_with_m(tmp_path, capsys):
    """M is the number of distinct tubes per video (ids need not be 1..M), averaged over
    videos; stvi-eval prints and writes the Table 6.1 and 6.3 rows with it, and the time
    per sequence from stvi.json."""
    gt = np.zeros((4, 6, 8), bool)
    gt[:, 1:5, 2:6] = True
    davis = tmp_path / "davis" / "Annotations" / "480p"
    volumes = {}
    a = np.zeros((4, 6, 8), np.int32)  # tubes 2 and 7: M = 2 (not 7, the largest id)
    a[:, 1:5, 2:4] = 2
    a[:2, 1:5, 4:6] = 7
    b = np.zeros((4, 6, 8), np.int32)  # tubes 1, 2, 3, one of them in one frame only
    b[:, 1:3, 2:6], b[:, 3:5, 2:6], b[3, 0, 0] = 1, 2, 3
    volumes = {"a": (a, 12.0), "b": (b, 20.0)}
    for seq, (labels, seconds) in volumes.items():
        (davis / seq).mkdir(parents=True)
        for t in range(4):
            cv2.imwrite(str(davis / seq / f"{t:05d}.png"), gt[t].astype(np.uint8) * 255)
        (tmp_path / "res" / seq).mkdir(parents=True)
        np.savez(tmp_path / "res" / seq / "labels.npz", labels=labels)
        (tmp_path / "res" / seq / "stvi.json").write_text(json.dumps({"seconds": seconds}))
    from motionlab.stvi.evaluate import evaluate_results, mean_row

    rows = evaluate_results(tmp_path / "res", tmp_path / "davis")
    assert [r["M"] for r in rows] == [2, 3]
    assert [r["seconds"] for r in rows] == [12.0, 20.0]
    assert mean_row(rows)["M"] == pytest.approx(2.5)
    assert main(["stvi-eval", str(tmp_path / "res"), "--davis", str(tmp_path / "davis")]) == 0
    out = capsys.readouterr().out
    assert "| Table 6.1 | ACC | UE | TEX | J | F | seconds |" in out
    assert "| Table 6.3 | J_p | F_p | C_p | M |" in out
    assert "| ours | - | - | - | 2.50 |" in out  # no part annotations: J_p, F_p, C_p "-"
    md = (tmp_path / "res" / "stvi_eval.md").read_text()
    assert "| ours | - | - | - | 2.50 |" in md and "16.00 |" in md  # mean seconds
    table = list(csv.DictReader((tmp_path / "res" / "stvi_eval.csv").read_text().splitlines()))
    assert [float(r["M"]) for r in table] == [2, 3, 2.5]
