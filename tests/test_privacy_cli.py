"""The privacy sub-commands end to end on small synthetic videos."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from motionlab.cli import main
from motionlab.synthetic import sample_video_frames
from motionlab.video import read_metadata, read_video, write_video


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mkv"  # lossless, so unchanged pixels can be compared exactly
    write_video(path, sample_video_frames(6, size=(96, 64), seed=2), fps=10)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    timm = pytest.importorskip("timm")
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "random-dino.pth"
    torch.save(timm.create_model("vit_small_patch8_224.dino").state_dict(), path)
    return path


def test_obfuscate_without_people_changes_nothing(clip: Path, tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    out, sal = tmp_path / "out.mkv", tmp_path / "sal"  # no suffix: a folder of PNGs
    rc = main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "face,hand",
               "--save-saliency", str(sal)])  # fmt: skip
    assert rc == 0
    assert np.array_equal(read_video(out), read_video(clip))  # no face, no hand: S = 0
    pngs = sorted(Path(sal).glob("*.png"))
    assert len(pngs) == 6 and not read_video(sal).any()
    record = json.loads(read_metadata(out)["motionlab"])
    assert record["obfuscation"]["templates"] == [
        "forehead",
        "hair",
        "eyes",
        "cheek",
        "lips",
        "hand",
    ]
    assert record["matcher"]["matcher"] == "landmarks"
    # provenance: the input's hash and the seed (motionlab.provenance)
    assert record["inputs"][0]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert record["seeds"] == {"seed": 0} and record["command"].startswith("motionlab -q obf")


def test_obfuscate_errors_leave_nothing(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.mkv"
    assert (
        main(["obfuscate", str(clip), "-o", str(out), "--templates", "eyes", "--matcher", "dino"])
        == 1
    )
    assert "needs --library" in capsys.readouterr().err
    assert main(["obfuscate", str(tmp_path / "none.mp4"), "-o", str(out), "--templates", "eyes",
                 "--library", str(tmp_path / "none.json")]) == 1  # fmt: skip
    assert "no such template library" in capsys.readouterr().err
    assert not any(tmp_path.glob("o*")) and not any(tmp_path.glob(".o*"))


def test_templates_round_trip_and_dino_obfuscation(
    clip: Path, tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "frame.png"
    cv2.imwrite(str(img), read_video(clip)[0][:, :, ::-1])
    lib = tmp_path / "lib.json"
    small = ["--layer", "2", "--load-size", "32", "--stride", "8", "--weights", str(weights)]
    assert main(["templates", "create", "disc", "--image", str(img), "--point", "48,32",
                 "--library", str(lib), *small]) == 0  # fmt: skip
    assert main(["templates", "create", "corner", "--image", str(img), "--point", "3,3",
                 "--library", str(lib), *small]) == 0  # fmt: skip
    other = ["--layer", "5", "--weights", str(weights)]
    assert main(["templates", "create", "x", "--image", str(img), "--point", "3,3",
                 "--library", str(lib), *other]) == 1  # fmt: skip
    assert "one setting" in capsys.readouterr().err
    assert main(["templates", "list", "--library", str(lib)]) == 0
    listing = capsys.readouterr().out
    assert "disc" in listing and "corner" in listing and "layer 2" in listing
    assert main(["templates", "show", "disc", "--library", str(lib), "--weights", str(weights),
                 "-o", str(tmp_path / "disc.png")]) == 0  # fmt: skip
    assert (tmp_path / "disc.png").read_bytes()[:4] == b"\x89PNG"
    out = tmp_path / "o.mkv"
    dino = ["--library", str(lib), "--weights", str(weights)]
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "disc",
                 *dino, "--noise", "iid"]) == 0  # fmt: skip
    assert read_video(out).shape == read_video(clip).shape
    assert json.loads(read_metadata(out)["motionlab"])["matcher"]["layer"] == 2
    matrix = tmp_path / "sim.png"
    assert main(["-q", "templates", "similarity", str(clip), "--templates", "disc,corner",
                 *dino, "-o", str(matrix), "--every", "2"]) == 0  # fmt: skip
    assert matrix.read_bytes()[:4] == b"\x89PNG"
    printed = np.array(capsys.readouterr().out.replace("[", " ").replace("]", " ").split(), float)
    v = printed.reshape(2, 2)  # eq. A.2: a template is 0 from itself, v symmetric
    assert v[0, 0] == v[1, 1] == 0 and v[0, 1] == v[1, 0] > 0
    assert main(["templates", "remove", "disc", "--library", str(lib)]) == 0
    assert main(["templates", "remove", "disc", "--library", str(lib)]) == 1
    assert json.loads(lib.read_text())["templates"][0]["name"] == "corner"


def test_baseline_command(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "pix.mkv"
    assert main(["-q", "baseline", str(clip), "-o", str(out), "--method", "pixelate16",
                 "--native-size"]) == 0  # fmt: skip
    frames = read_video(out)
    assert frames.shape == (6, 64, 96, 3)
    tiles = frames[0].reshape(4, 16, 6, 16, 3)
    assert (tiles == tiles[:, :1, :, :1]).all()
    with pytest.raises(SystemExit):
        main(["baseline", str(clip), "-o", str(out), "--method", "swirl"])


def test_privacy_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text(
        "method,video,action_true,action_pred,privacy_true,privacy_pred\n"
        "ours,a,run,run,f,m\nours,b,run,walk,m,m\n"
    )
    assert (
        main(["privacy-eval", str(csv), "--lambda", "0.5", "--plot", str(tmp_path / "s.png")]) == 0
    )
    assert "| ours | 2 | 50.0 | 50.0 | 0.500 |" in capsys.readouterr().out
    assert (tmp_path / "s.png").exists()
    assert main(["privacy-eval", str(tmp_path / "none.csv")]) == 1


def test_templates_create_pick_makes_the_same_template_as_point(
    clip: Path, tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--pick`` with the window replaced by an Agg figure driven by synthetic events (a
    click at (48, 32), then Enter): the stored template equals the ``--point 48,32`` one,
    and the preview shown on click is that template's saliency (1 at its own patch)."""
    from matplotlib.backend_bases import KeyEvent, MouseEvent
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from motionlab.privacy import picker

    previews = []

    def fake_pick(image: np.ndarray, *, title: str, preview: object) -> tuple[float, float]:
        fig = Figure()
        FigureCanvasAgg(fig)
        p = picker.PointPicker(fig.add_subplot(), image, preview=preview)  # type: ignore[arg-type]
        x, y = p.ax.transData.transform((48, 32))
        fig.canvas.callbacks.process(
            "button_press_event", MouseEvent("button_press_event", fig.canvas, x, y, button=1)
        )
        previews.append(np.asarray(p._tint.get_array())[..., 3] / p.alpha)
        fig.canvas.callbacks.process(
            "key_press_event", KeyEvent("key_press_event", fig.canvas, "enter")
        )
        return p.result()

    monkeypatch.setattr(picker, "check_display", lambda: "tkagg")
    monkeypatch.setattr(picker, "pick_point", fake_pick)
    img = tmp_path / "frame.png"
    cv2.imwrite(str(img), read_video(clip)[0][:, :, ::-1])
    small = ["--layer", "2", "--load-size", "32", "--stride", "8", "--weights", str(weights)]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["templates", "create", "x", "--image", str(img), "--point", "48,32",
                 "--library", str(a), *small]) == 0  # fmt: skip
    assert main(["templates", "create", "x", "--image", str(img), "--pick",
                 "--library", str(b), *small]) == 0  # fmt: skip
    ta, tb = (json.loads(p.read_text())["templates"][0] for p in (a, b))
    assert tb["point"] == pytest.approx([48, 32], abs=1e-6)
    for field in ("descriptor", "patch", "settings", "weights", "source"):
        assert ta[field] == tb[field], field
    (shown,) = previews
    # eq. 5.2 upsampling is bilinear between patch centres (here 16 px apart): the map
    # peaks near 1 at the centre of the template's own patch, next to the picked pixel
    assert shown.shape == (64, 96) and shown.max() > 0.9
    y, x = np.unravel_index(np.argmax(shown), shown.shape)
    assert abs(x - 48) <= 16 and abs(y - 32) <= 16, (x, y)


def test_templates_create_pick_without_display_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "backend", "agg")  # what a headless box has
    img = tmp_path / "frame.png"
    cv2.imwrite(str(img), np.zeros((16, 16, 3), np.uint8))
    lib = tmp_path / "lib.json"
    assert main(["templates", "create", "x", "--image", str(img), "--pick",
                 "--library", str(lib), "--weights", str(tmp_path / "none.pth")]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "--pick needs" in err and "--point X,Y" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == [img]


@pytest.mark.parametrize(
    ("hands", "model", "roi"),
    [("landmarks", True, True), ("frame", True, False), ("pose", False, False)],
)
def test_hands_option_picks_the_hand_model(hands: str, model: bool, roi: bool) -> None:
    pytest.importorskip("mediapipe")
    import argparse

    from motionlab.cli.privacy import _build_matcher

    args = argparse.Namespace(
        matcher=None, library=None, weights=None, device="cpu", people="one", hands=hands
    )
    m = _build_matcher(args)
    assert (m.hands_model, m.hands_roi) == (model, roi)
    assert m.describe()["hands_roi"] is roi
    m.close()


def test_library_from_before_the_facet_fix_is_refused_then_rebuilt(
    clip: Path, tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version-1 library (its "key" templates hold queries) stops obfuscate with one line
    naming the library and the fix; ``templates rebuild`` remakes it from its source."""
    img = tmp_path / "frame.png"
    cv2.imwrite(str(img), read_video(clip)[0][:, :, ::-1])
    lib = tmp_path / "lib.json"
    small = ["--layer", "2", "--load-size", "32", "--stride", "8", "--weights", str(weights)]
    assert main(["templates", "create", "disc", "--image", str(img), "--point", "48,32",
                 "--library", str(lib), *small]) == 0  # fmt: skip
    fresh = json.loads(lib.read_text())
    doc = json.loads(lib.read_text())
    doc["version"] = 1
    del doc["templates"][0]["facet_layout"]
    doc["templates"][0]["descriptor"]["data"] = fresh["templates"][0]["descriptor"]["data"][::-1]
    lib.write_text(json.dumps(doc))
    out = tmp_path / "o.mkv"
    dino = ["--library", str(lib), "--weights", str(weights)]
    capsys.readouterr()
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "disc",
                 *dino, "--noise", "iid"]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(lib) in err and "templates rebuild" in err
    assert not out.exists()
    assert main(["templates", "list", "--library", str(lib)]) == 0
    assert "STALE" in capsys.readouterr().out
    assert main(["templates", "rebuild", "--library", str(lib)]) == 1  # weights file needed
    assert "--weights" in capsys.readouterr().err
    other = tmp_path / "other.pth"
    other.write_bytes(b"other weights")
    assert main(["templates", "rebuild", "--library", str(lib), "--weights", str(other)]) == 1
    assert "not the weights" in capsys.readouterr().err
    assert json.loads(lib.read_text())["version"] == 1  # nothing written on failure
    assert main(["templates", "rebuild", "--library", str(lib), "--weights", str(weights)]) == 0
    back = json.loads(lib.read_text())
    assert back["version"] == 2
    assert back["templates"][0]["descriptor"] == fresh["templates"][0]["descriptor"]
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "disc",
                 *dino, "--noise", "iid"]) == 0  # fmt: skip


def test_obfuscate_thesis_presets_and_unknown_names(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("mediapipe")
    out = tmp_path / "o.mkv"
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "ipn"]) == 0
    record = json.loads(read_metadata(out)["motionlab"])
    assert record["obfuscation"]["templates"] == ["cheek", "eyes", "forehead", "hair"]
    out.unlink()
    capsys.readouterr()  # mediapipe's harmless import line
    for bad in ("sbux", "sbu,nose"):
        assert main(["obfuscate", str(clip), "-o", str(out), "--templates", bad]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "unknown template" in err and "sbu, kth, ipn" in err
    assert not any(tmp_path.glob("o*")) and not any(tmp_path.glob(".o*"))


@pytest.mark.parametrize("small", ["auto", "on", "off"])
def test_small_faces_option_reaches_the_matcher(small: str) -> None:
    pytest.importorskip("mediapipe")
    from motionlab.cli import build_parser
    from motionlab.cli.privacy import _build_matcher

    args = build_parser().parse_args(
        ["obfuscate", "in.mp4", "-o", "out.mkv", "--templates", "face", "--small-faces", small]
    )
    m = _build_matcher(args)
    assert m.small_faces == small and m.describe()["small_faces"] == small
    m.close()
    default = build_parser().parse_args(["obfuscate", "a.mp4", "-o", "b.mkv", "--templates", "x"])
    assert default.small_faces == "auto"
