"""RAFT: original-checkpoint conversion, normalisation and padding, weight loading."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torchvision.models.optical_flow import raft_large, raft_small

from motionlab import MotionlabError
from motionlab.flow import endpoint_error, get_estimator, read_flo
from motionlab.flow.raft import convert_princeton_state_dict, load_raft
from motionlab.video import read_image

from conftest import DATA, RAFT_SMALL, need


def test_converted_raft_small_reproduces_flyingchairs_epe():
    """The original RAFT-small checkpoint gives mean EPE ~1.5 on the 6 FlyingChairs pairs
    (12 iterations); a wrong key mapping, normalisation or padding gives far more."""
    weights = need(RAFT_SMALL)
    folder = need(DATA / "flow" / "flyingchairs")
    est = get_estimator("raft-small", weights=weights, iters=12)
    firsts = sorted(folder.glob("*-img0.ppm"))
    assert len(firsts) == 6
    errors = []
    for img0 in firsts:
        stem = img0.name.removesuffix("-img0.ppm")
        a, b = read_image(img0), read_image(folder / f"{stem}-img1.ppm")
        errors.append(endpoint_error(est(a, b), read_flo(folder / f"{stem}-gt.flo")))
    # Measured: 1.484. Tolerance +-0.1 (CPU vs GPU float differences are ~1e-3).
    assert np.mean(errors) == pytest.approx(1.5, abs=0.1), errors


def test_padding_odd_sizes_and_batches_match_single_pairs():
    weights = need(RAFT_SMALL)
    folder = need(DATA / "flow" / "flyingchairs")
    a = read_image(folder / "0000003-img0.ppm")[:203, :251]  # not multiples of 8
    b = read_image(folder / "0000003-img1.ppm")[:203, :251]
    gt = read_flo(folder / "0000003-gt.flo")[:203, :251]
    single = get_estimator("raft-small", weights=weights)
    flow = single(a, b)
    assert flow.shape == (203, 251, 2)
    assert endpoint_error(flow, gt) < 2.0
    batched = get_estimator("raft-small", weights=weights, batch_size=2)
    flows = batched.estimate_pairs([a, b], [b, a])
    np.testing.assert_allclose(flows[0], flow, atol=1e-3)


def _to_princeton_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision RAFT names -> original RAFT names (the inverse of our conversion, written
    out independently), including the original's duplicate downsample norms."""
    out = {}
    for key, value in state.items():
        k = key.replace("feature_encoder.", "fnet.").replace("context_encoder.", "cnet.")
        k = k.replace("convnormrelu.0.", "conv1.").replace("convnormrelu.1.", "norm1.")
        k = re.sub(r"^(fnet|cnet)\.conv\.", r"\1.conv2.", k)
        k = re.sub(r"convnormrelu(\d)\.0\.", r"conv\1.", k)
        k = re.sub(r"convnormrelu(\d)\.1\.", r"norm\1.", k)
        k = k.replace("update_block.motion_encoder.", "update_block.encoder.")
        k = re.sub(r"encoder\.convcorr(\d)\.0\.", r"encoder.convc\1.", k)
        k = re.sub(r"encoder\.convflow(\d)\.0\.", r"encoder.convf\1.", k)
        k = k.replace("encoder.conv.0.", "encoder.conv.")
        m = re.match(r"update_block\.recurrent_block\.convgru(\d)\.conv([zrq])\.(.+)", k)
        if m:
            k = f"update_block.gru.conv{m.group(2)}{m.group(1)}.{m.group(3)}"
        k = k.replace("mask_predictor.convrelu.0.", "update_block.mask.0.")
        k = k.replace("mask_predictor.conv.", "update_block.mask.2.")
        out["module." + k] = value
        m = re.match(r"(module\.(?:fnet|cnet)\.layer\d\.\d)\.downsample\.1\.(.+)", "module." + k)
        if m:  # the original also stores the downsample norm as the block's last norm
            out[f"{m.group(1)}.norm3.{m.group(2)}"] = value
    return out


def test_conversion_covers_raft_large_layout():
    model = raft_large()
    target = model.state_dict()
    original = _to_princeton_names(target)
    assert any(".gru.convz2." in k for k in original)
    assert any(".norm3." in k for k in original)
    converted = convert_princeton_state_dict(original, set(target))
    assert set(converted) == set(target)
    for k, v in converted.items():
        assert torch.equal(v, target[k]), k


def test_local_torchvision_state_dict_and_wrong_variant(tmp_path):
    torch.manual_seed(0)
    model = raft_small()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "tv.pth")
    loaded = load_raft("small", weights=tmp_path / "tv.pth")
    for (k, v), w in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    with pytest.raises(MotionlabError, match="does not fit RAFT-large"):
        load_raft("large", weights=tmp_path / "tv.pth")


def test_original_checkpoint_into_wrong_variant():
    weights = need(RAFT_SMALL)
    with pytest.raises(MotionlabError, match="other RAFT variant"):
        load_raft("large", weights=weights)


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(MotionlabError, match="no such RAFT checkpoint"):
        load_raft("small", weights=tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(MotionlabError, match="not a readable PyTorch checkpoint"):
        load_raft("small", weights=tmp_path / "junk.pth")


def test_failed_download_says_how_to_pass_a_file(monkeypatch):
    import urllib.error

    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(MotionlabError, match="--weights PATH"):
        load_raft("small")


def test_raft_large_untrained_mechanics():
    """Only shapes and padding: no RAFT-large weights exist on this machine."""
    est = get_estimator("raft-large", pretrained=False, iters=2)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (45, 37, 3), dtype=np.uint8)
    flow = est(a, a)
    assert flow.shape == (45, 37, 2) and np.isfinite(flow).all()
