"""DINO matcher mechanics on random weights (no download) and the template library."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy.dino import (
    FACET_LAYOUT,
    DinoExtractor,
    DinoMatcher,
    DinoSettings,
    clipped_cosine,
)
from motionlab.privacy.templates import (
    TemplateLibrary,
    load_library,
    load_or_new,
    make_template,
    rebuild_library,
    save_library,
)
from motionlab.synthetic import sample_video_frames

pytest.importorskip("timm", reason="the DINO matcher needs timm (pip install 'motionlab[privacy]')")

# Small and fast: the mechanics are those of the thesis settings (layer 11, stride 4, 224).
SMALL = DinoSettings(layer=3, facet="key", stride=4, load_size=64)


@pytest.fixture(scope="module")
def extractor() -> DinoExtractor:
    return DinoExtractor(settings=SMALL, weights="random", seed=0)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return next(iter(sample_video_frames(2, size=(96, 64), seed=5)))


def test_clipped_cosine_hand_computed() -> None:
    d = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    assert np.allclose(clipped_cosine(d, np.array([[1.0, 0.0]])), [[1, 0, 0]])
    assert np.allclose(clipped_cosine(d, np.array([[1.0, 1.0]])), [[0.7071, 0.7071, 0]], atol=1e-4)


def test_grid_geometry_matches_thesis_settings() -> None:
    ex = DinoExtractor.__new__(DinoExtractor)
    ex.settings, ex.patch = DinoSettings(), 8
    # 320x240 -> 299x224 on the short side; 8x8 patches every 4 px
    assert ex.grid_shape(240, 320) == ((224 - 8) // 4 + 1, (299 - 8) // 4 + 1)
    assert ex.point_to_patch(0, 0, 240, 320) == (0, 0)
    # the centre of patch (10, 20) in the resized frame is (20*4 + 4, 10*4 + 4)
    x, y = (20 * 4 + 4) * 320 / 299 - 0.5, (10 * 4 + 4) * 240 / 224 - 0.5
    assert ex.point_to_patch(x, y, 240, 320) == (10, 20)


def test_upsample_puts_a_patch_at_its_centre(extractor: DinoExtractor) -> None:
    gh, gw = extractor.grid_shape(64, 96)
    grid = np.zeros((gh, gw), np.float32)
    grid[5, 9] = 1.0
    up = extractor.upsample(grid, 64, 96)
    assert up.shape == (64, 96)
    y, x = np.unravel_index(up.argmax(), up.shape)
    assert extractor.point_to_patch(x, y, 64, 96) == (5, 9)
    assert up.max() <= 1.0 and up.min() >= 0.0


def test_template_matches_its_own_image_best_at_its_point(
    extractor: DinoExtractor, image: np.ndarray
) -> None:
    t = make_template("spot", image, (30, 20), extractor=extractor)
    desc = extractor.descriptors(image)
    sim = clipped_cosine(desc, t.descriptor[None])[0]
    assert np.unravel_index(sim.argmax(), sim.shape) == t.patch
    assert sim[t.patch] == pytest.approx(1.0, abs=1e-5)
    assert sim.min() >= 0.0 and (sim < 0.999).mean() > 0.9  # other patches are less similar
    matcher = DinoMatcher(library=TemplateLibrary((t,)), extractor=extractor)
    maps = matcher(image, ["spot"])
    y, x = np.unravel_index(maps[0].argmax(), maps[0].shape)
    assert abs(x - 30) <= 4 and abs(y - 20) <= 4


def test_saliency_is_the_mean_over_templates(extractor: DinoExtractor, image: np.ndarray) -> None:
    a = make_template("a", image, (10, 10), extractor=extractor)
    b = make_template("b", image, (80, 50), extractor=extractor)
    matcher = DinoMatcher(library=TemplateLibrary((a, b)), extractor=extractor)
    maps = matcher(image, ["a", "b"])
    assert np.allclose(matcher.saliency(maps), (maps[0] + maps[1]) / 2)
    grid = clipped_cosine(extractor.descriptors(image), np.stack([a.descriptor, b.descriptor]))
    assert np.allclose(maps[1], extractor.upsample(grid[1], 64, 96), atol=1e-6)
    with pytest.raises(MotionlabError, match="no template"):
        matcher(image, ["hair"])


def test_library_round_trip_and_errors(
    tmp_path: Path, extractor: DinoExtractor, image: np.ndarray
) -> None:
    src = tmp_path / "img.png"
    src.write_bytes(b"not really a png, only hashed")
    t = make_template("hair", image, (12.5, 7), extractor=extractor, source_path=src)
    lib = load_or_new(tmp_path / "lib.json").add(t)
    save_library(lib, tmp_path / "lib.json")
    back = load_library(tmp_path / "lib.json").get("hair")
    assert np.array_equal(back.descriptor, t.descriptor)
    assert back.point == (12.5, 7.0) and back.patch == t.patch and back.settings == SMALL
    assert back.source["sha256"] == __import__("hashlib").sha256(src.read_bytes()).hexdigest()
    assert back.weights == "random(seed=0)"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(MotionlabError, match="already has"):
        lib.add(t)
    assert lib.add(t, replace_existing=True).names == ("hair",)
    assert lib.remove("hair").names == ()
    with pytest.raises(MotionlabError, match="no template"):
        lib.remove("eyes")
    with pytest.raises(MotionlabError, match="outside"):
        make_template("x", image, (96, 3), extractor=extractor)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(MotionlabError, match="not a template library"):
        load_library(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(MotionlabError, match="format"):
        load_library(bad)
    bad.write_text(json.dumps({"format": "motionlab-privacy-templates", "version": 99}))
    with pytest.raises(MotionlabError, match="version"):
        load_library(bad)
    with pytest.raises(MotionlabError, match="no such"):
        load_library(tmp_path / "missing.json")


def test_local_weights_original_dino_layout(tmp_path: Path, extractor: DinoExtractor) -> None:
    import torch

    state = {f"module.{k}": v for k, v in extractor.model.state_dict().items()}
    state["module.head.mlp.0.weight"] = torch.zeros(2, 2)  # DINO's projection head: ignored
    torch.save({"teacher": state, "epoch": 1}, tmp_path / "ckpt.pth")
    loaded = DinoExtractor(settings=SMALL, weights=tmp_path / "ckpt.pth")
    img = np.full((32, 48, 3), 90, np.uint8)
    assert np.allclose(loaded.descriptors(img), extractor.descriptors(img), atol=1e-5)
    assert loaded.weights_id.startswith("sha256:")
    torch.save({"blocks.0.norm1.weight": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(MotionlabError, match="does not fit"):
        DinoExtractor(settings=SMALL, weights=tmp_path / "wrong.pth")
    with pytest.raises(MotionlabError, match="no such weights"):
        DinoExtractor(settings=SMALL, weights=tmp_path / "none.pth")


def test_settings_validate_and_library_must_agree(
    extractor: DinoExtractor, image: np.ndarray
) -> None:
    with pytest.raises(MotionlabError, match="facet"):
        DinoSettings(facet="attn")
    with pytest.raises(MotionlabError, match="layer"):
        DinoExtractor(settings=DinoSettings(layer=12, load_size=32), weights="random")
    a = make_template("a", image, (10, 10), extractor=extractor)
    other = DinoSettings(layer=2, stride=4, load_size=64)
    b = make_template("b", image, (10, 10), extractor=extractor)
    b = type(b)(**{**b.__dict__, "settings": other})
    with pytest.raises(MotionlabError, match="mixes"):
        DinoMatcher(library=TemplateLibrary((a, b)), extractor=extractor)


def test_facets_differ(extractor: DinoExtractor, image: np.ndarray) -> None:
    out = {}
    for facet in ("key", "query", "value", "token"):
        ex = copy.copy(extractor)  # the same model, another facet
        ex.settings = replace(SMALL, facet=facet)
        out[facet] = ex.descriptors(image)
        assert out[facet].shape == (*extractor.grid_shape(64, 96), 384)
    assert not np.allclose(out["key"], out["query"]) and not np.allclose(out["key"], out["token"])
    assert not np.allclose(out["key"], out["value"])


def _projections(extractor: DinoExtractor, image: np.ndarray) -> dict[str, np.ndarray]:
    """q, k, v of the chosen block computed here from its ``norm1`` output and the qkv
    projection weights (``x_norm @ W_f^T + b_f`` with W_f the f-th third of the rows), and
    the block's output token: ``(gh * gw, C)`` each, patch tokens only."""
    import torch

    block = extractor.model.blocks[extractor.settings.layer]
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        block.norm1.register_forward_hook(lambda _m, _i, o: seen.setdefault("norm", o.clone())),
        block.register_forward_hook(lambda _m, _i, o: seen.setdefault("out", o.clone())),
    ]
    try:
        extractor.descriptors(image)
    finally:
        for h in hooks:
            h.remove()
    w = block.attn.qkv.weight.detach().double()
    b = block.attn.qkv.bias.detach().double()
    c = w.shape[1]
    x = seen["norm"][0, 1:].double()  # drop the CLS token
    out = {f: (x @ w[i * c : (i + 1) * c].T + b[i * c : (i + 1) * c]).numpy()
           for i, f in enumerate(("query", "key", "value"))}  # fmt: skip
    out["token"] = seen["out"][0, 1:].double().numpy()
    return out


def test_facets_are_the_qkv_projections(extractor: DinoExtractor, image: np.ndarray) -> None:
    """Eq. 5.1 matches DINO-ViT *keys*: the "key" facet is x_norm @ W_k^T + b_k (timm's qkv
    is laid out q, k, v), not the query."""
    ref = _projections(extractor, image)
    assert np.abs(ref["key"] - ref["query"]).max() > 0.5  # random weights tell them apart
    for facet in ("key", "query", "value", "token"):
        ex = copy.copy(extractor)
        ex.settings = replace(SMALL, facet=facet)
        d = ex.descriptors(image)
        assert np.allclose(d.reshape(-1, d.shape[-1]), ref[facet], atol=1e-4), facet
    assert DinoSettings().facet == "key"


def _as_version_1(path: Path) -> None:
    """Rewrite a library file as motionlab wrote it before the facet fix."""
    doc = json.loads(path.read_text())
    doc["version"] = 1
    for t in doc["templates"]:
        del t["facet_layout"]
    path.write_text(json.dumps(doc))


def test_libraries_from_before_the_facet_fix_are_refused_then_rebuilt(
    tmp_path: Path, extractor: DinoExtractor, image: np.ndarray
) -> None:
    import cv2

    src = tmp_path / "src.png"
    cv2.imwrite(str(src), image[:, :, ::-1])
    old = copy.copy(extractor)  # what the old code returned for "key": the queries
    old.settings = replace(SMALL, facet="query")
    t = make_template("hair", image, (30, 20), extractor=extractor, source_path=src)
    assert t.facet_layout == FACET_LAYOUT and not t.stale
    queries = old.descriptors(image)[t.patch]
    lib = tmp_path / "old.json"
    save_library(TemplateLibrary((replace(t, descriptor=queries),)), lib)
    assert json.loads(lib.read_text())["version"] == 2
    assert json.loads(lib.read_text())["templates"][0]["facet_layout"] == FACET_LAYOUT
    _as_version_1(lib)
    with pytest.raises(MotionlabError) as err:
        load_library(lib)
    msg = str(err.value)
    assert str(lib) in msg and "hair" in msg and "templates rebuild" in msg and "\n" not in msg
    stale = load_library(lib, allow_stale=True)
    assert stale.get("hair").stale and stale.get("hair").facet_layout == ""
    with pytest.raises(MotionlabError, match="rebuild"):
        DinoMatcher(library=stale, extractor=extractor)  # objects are checked too
    rebuilt = rebuild_library(stale)  # recorded weights: random(seed=0)
    new = rebuilt.get("hair")
    assert not new.stale and new.point == t.point and new.patch == t.patch
    assert np.allclose(new.descriptor, t.descriptor, atol=1e-5)  # the keys, not the queries
    assert not np.allclose(new.descriptor, queries, atol=1e-2)
    # value and token templates were right before the fix: a version-1 file of them loads
    val = copy.copy(extractor)
    val.settings = replace(SMALL, facet="value")
    save_library(TemplateLibrary((make_template("v", image, (5, 5), extractor=val),)), lib)
    _as_version_1(lib)
    assert load_library(lib).get("v").settings.facet == "value"
    src.write_bytes(b"changed")
    with pytest.raises(MotionlabError, match="changed"):
        rebuild_library(stale)


def test_hub_weights_offline_fail_in_seconds_naming_the_local_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without network, timm's download retried for ~53 s; now one bounded probe."""
    import socket
    import time

    from motionlab.privacy import dino_features as dino  # the weight loading lives there

    monkeypatch.setattr(dino, "_cached_hub_file", lambda _name: None)  # nothing cached
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(*_a: object, **_k: object) -> socket.socket:
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    start = time.perf_counter()
    with pytest.raises(MotionlabError) as err:
        DinoExtractor(settings=SMALL)
    assert time.perf_counter() - start < 3.0
    msg = str(err.value)
    assert "--weights PATH" in msg and "unreachable" in msg and "\n" not in msg

    def hangs(*_a: object, **_k: object) -> socket.socket:  # a resolver that never answers
        time.sleep(5)
        raise OSError("late")

    monkeypatch.setattr(socket, "create_connection", hangs)
    monkeypatch.setattr(dino, "HUB_TIMEOUT_S", 0.2)
    start = time.perf_counter()
    with pytest.raises(MotionlabError, match=r"did not answer in 0.2 s.*--weights PATH"):
        DinoExtractor(settings=SMALL)
    assert time.perf_counter() - start < 1.0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MotionlabError, match=r"HF_HUB_OFFLINE is set.*--weights PATH"):
        DinoExtractor(settings=SMALL)


def test_hub_weights_from_the_local_cache_need_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extractor: DinoExtractor
) -> None:
    import torch

    from motionlab.privacy import dino_features as dino  # the weight loading lives there

    cached = tmp_path / "pytorch_model.bin"
    torch.save(extractor.model.state_dict(), cached)
    monkeypatch.setattr(dino, "_cached_hub_file", lambda _name: cached)
    monkeypatch.setattr(dino, "_hub_unreachable", lambda _t: pytest.fail("probed the network"))
    loaded = DinoExtractor(settings=SMALL)
    assert loaded.weights_id == "timm:vit_small_patch8_224.dino"
    img = np.full((32, 48, 3), 90, np.uint8)
    assert np.allclose(loaded.descriptors(img), extractor.descriptors(img), atol=1e-5)
