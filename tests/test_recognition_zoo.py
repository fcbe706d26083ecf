"""Model zoo: every architecture builds, runs a tiny clip, and has its published size."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorchvideo")

from motionlab.errors import MotionlabError  # noqa: E402
from motionlab.recognition.zoo import (  # noqa: E402
    ModelSpec,
    build_model,
    count_parameters,
    get_spec,
    list_models,
    load_weights,
    replace_classifier,
)

# One of each kind runs by default (image, 3D CNN, SlowFast packing, flow input, E2S and its
# ablation); every other architecture runs its tiny clip in the slow set (-m slow).
FAST_FORWARD = {
    "resnet18", "x3d_xs", "c2d_r50", "slowfast_r50", "i3d_r50_flow", "e2s_x3d_m", "e2s_x3d_rgb2",
    "tiny3d", "e2s_tiny", "fast_r50",
}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine, two threads are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def quick_build(spec: ModelSpec | str, num_classes: int) -> torch.nn.Module:
    """Build on the meta device and fill with small random values: skips pytorchvideo's
    slow weight init, which only the mechanics tested here do not need."""
    try:
        with torch.device("meta"):
            model = build_model(spec, num_classes)
    except RuntimeError:  # MViT calls .item() while building
        model = build_model(spec, num_classes)
    model = model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02, generator=gen)
        for m in model.modules():
            if hasattr(m, "reset_running_stats"):
                m.reset_running_stats()
    return model


def test_registry_lists_the_issue_architectures() -> None:
    names = set(list_models())
    wanted = {
        "resnet50", "i3d_r50", "c2d_r50", "r2plus1d_r50", "slow_r50", "slowfast_r50",
        "x3d_xs", "x3d_s", "x3d_m", "x3d_l", "csn_r101", "mvit_base_16x4", "two_stream_r50",
        "i3d_r50_flow", "resnet18", "resnet101", "vit_b_16", "vit_b_32", "fast_r50",
        "e2s_x3d_s", "e2s_x3d_m", "e2s_x3d_l", "e2s_x3d_rgb2",
    }  # fmt: skip
    assert wanted <= names


def test_published_samplings() -> None:
    assert get_spec("x3d_xs").streams[0].describe() == "rgb 4×12 @160"
    assert get_spec("x3d_m").streams[0].describe() == "rgb 16×5 @224"
    e2s = get_spec("e2s_x3d_m").streams
    assert [s.describe() for s in e2s] == ["rgb 16×5 @224", "flow 13×6 @160"]
    assert [s.kind for s in get_spec("e2s_x3d_rgb2").streams] == ["rgb", "rgb"]


@pytest.mark.parametrize("name", [n for n in list_models() if get_spec(n).params])
def test_parameter_count_matches_published(name: str) -> None:
    if name.startswith("mvit"):
        pytest.skip("MViT cannot be built on the meta device; covered by the slow test")
    spec = get_spec(name)
    model = quick_build(spec, spec.published_classes)
    assert count_parameters(model) == spec.params


def _forward(name: str) -> None:
    """A tiny clip through the model, in eval and in train mode: (B, K) finite logits whose
    rows do not sum to 1 (a softmax head would make every row sum to exactly 1)."""
    spec = get_spec(name)
    frames = 1 if spec.streams[0].frames == 1 else 4
    small = spec.with_input(frames=frames, size=32)
    model = quick_build(small, 7)
    gen = torch.Generator().manual_seed(1)
    inputs = [
        torch.randn(2, s.channels, s.frames, s.size, s.size, generator=gen) for s in small.streams
    ]
    for mode in ("eval", "train"):
        getattr(model, mode)()
        with torch.no_grad():
            out = model(*inputs)
        assert out.shape == (2, 7)
        assert torch.isfinite(out).all()
        sums = out.sum(dim=1)
        assert not torch.allclose(sums, torch.ones_like(sums), atol=1e-3), (mode, sums)
        assert (out < 0).any() or (out > 1).any(), (mode, out)  # not probabilities
        if hasattr(model, "stream_logits"):  # E2S fuses the streams' logits, not probabilities
            with torch.no_grad():
                for part in model.stream_logits(*inputs):
                    sums = part.sum(dim=1)
                    assert not torch.allclose(sums, torch.ones_like(sums), atol=1e-3), mode


@pytest.mark.parametrize("name", sorted(FAST_FORWARD))
def test_forward_tiny_clip(name: str) -> None:
    _forward(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if n not in FAST_FORWARD])
def test_forward_tiny_clip_slow(name: str) -> None:
    _forward(name)


# Table 4.1 of the thesis: f×r of every evaluated network (two-stream: appearance, motion),
# and the crop sizes of §4.4 (224, except 160 for X3D XS and S, and the X3D-S flow stream).
TABLE_4_1 = {
    "resnet50": ["1×1 @224"],
    "i3d_r50": ["8×8 @224"],
    "two_stream_r50": ["1×1 @224", "10×1 @224"],
    "c2d_r50": ["8×8 @224"],
    "r2plus1d_r50": ["16×4 @224"],
    "slow_r50": ["8×8 @224"],
    "fast_r50": ["32×2 @224"],
    "slowfast_r50": ["32×2 @224"],  # one 32×2 clip; the slow 8×8 is every 4th frame of it
    "i3d_r50_flow": ["8×8 @224"],
    "x3d_xs": ["4×12 @160"],
    "x3d_s": ["13×6 @160"],
    "x3d_m": ["16×5 @224"],
    "mvit_base_16x4": ["16×4 @224"],
    "e2s_x3d_m": ["16×5 @224", "13×6 @160"],
}


@pytest.mark.parametrize("name", sorted(TABLE_4_1))
def test_samplings_of_table_4_1(name: str) -> None:
    got = [s.describe().split(" ", 1)[1] for s in get_spec(name).streams]
    assert got == TABLE_4_1[name]


def test_fast_is_the_slowfast_fast_pathway() -> None:
    """fast_r50's trunk holds, tensor for tensor, the shapes of the fast pathway of
    pytorchvideo's SlowFast-R50 (stem and four stages, without the fusion convolutions);
    its parameter count is that pathway's plus a 256 -> 400 classifier."""
    from pytorchvideo.models import hub

    with torch.device("meta"):
        slowfast = hub.slowfast_r50(pretrained=False)
        fast = build_model("fast_r50", 400)
    pathway = [
        tuple(p.shape)
        for block in slowfast.blocks[:5]  # stem and res2..res5; then pool, head
        for p in block.multipathway_blocks[1].parameters()
    ]
    trunk = [tuple(p.shape) for n, p in fast.named_parameters() if not n.startswith("blocks.5")]
    assert trunk == pathway
    head = fast.blocks[5].proj
    assert (head.in_features, head.out_features) == (256, 400)
    expected = sum(math.prod(s) for s in pathway) + 256 * 400 + 400
    assert count_parameters(fast) == expected == get_spec("fast_r50").params == 616_952
    assert get_spec("fast_r50").hub is None  # no public weights for the pathway alone


@pytest.mark.parametrize("name", list_models())
def test_no_softmax_module_in_any_zoo_model(name: str) -> None:
    """pytorchvideo's X3D and R(2+1)D builders end in a softmax by default; no zoo model
    (nor a stream of E2S-X3D) may hold a Softmax / LogSoftmax module."""
    model = quick_build(get_spec(name), 5)
    kinds = {type(m).__name__ for m in model.modules()}
    assert not kinds & {"Softmax", "LogSoftmax", "Softmin", "Softmax2d"}


@pytest.mark.parametrize("name", ["x3d_s", "x3d_m", "r2plus1d_r50", "e2s_x3d_s"])
def test_logits_not_probabilities(name: str) -> None:
    """The models that held a softmax head (and an E2S whose streams did), in both modes."""
    _forward(name)


def test_check_logits_model_refuses_softmax() -> None:
    from motionlab.recognition.zoo import check_logits_model

    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    with pytest.raises(MotionlabError, match=r"softmax modules \(1\)"):
        check_logits_model(net, "toy")


@pytest.mark.parametrize("name", ["x3d_xs", "r2plus1d_r50", "fast_r50"])
def test_training_step_loss_is_cross_entropy_of_the_logits(name: str) -> None:
    """One optimisation step on a fixed batch: the loss equals F.cross_entropy of the
    classifier layer's output (the logits), not of probabilities made from it."""
    from motionlab.recognition.train import train_step

    spec = get_spec(name).with_input(frames=4, size=32)
    model = quick_build(spec, 3).train()
    captured = []
    classifier = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    classifier.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, *(spec.streams[0].frames, 32, 32), generator=gen)
    y = torch.tensor([0, 1, 2, 1])
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    before = [p.detach().clone() for p in model.parameters()]
    loss, logits = train_step(model, [x], y, opt)
    z = captured[0].reshape(4, -1, 3).mean(dim=1)  # classifier output per clip: the logits
    torch.testing.assert_close(logits, z)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(z, y))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.slow
def test_mvit_parameter_count() -> None:
    spec = get_spec("mvit_base_16x4")
    assert count_parameters(build_model(spec, 400)) == spec.params


def test_e2s_fuses_concatenated_logits() -> None:
    spec = get_spec("e2s_x3d_s").with_input(frames=2, size=32)
    model = quick_build(spec, 3).eval()
    a = torch.randn(1, 3, 2, 32, 32)
    b = torch.randn(1, 2, 2, 32, 32)
    with torch.no_grad():
        la, lb = model.stream_logits(a, b)
        expected = model.fusion.weight @ torch.cat([la, lb], 1)[0] + model.fusion.bias
        assert torch.allclose(model(a, b)[0], expected, atol=1e-5)
    assert model.fusion.in_features == 6
    # the flow stream's stem reads 2 channels
    stem = next(m for m in model.motion.modules() if isinstance(m, torch.nn.Conv3d))
    assert stem.in_channels == 2


def test_with_input_keeps_stream_ratios() -> None:
    small = get_spec("e2s_x3d_m").with_input(frames=8, size=112)
    assert [(s.frames, s.size) for s in small.streams] == [(8, 112), (6, 80)]
    assert small.streams[0].rate == 5


def test_unknown_model_and_bad_args() -> None:
    with pytest.raises(MotionlabError, match=r"unknown model 'nope'.*x3d_s"):
        get_spec("nope")
    with pytest.raises(MotionlabError, match="num_classes"):
        build_model("x3d_xs", 0)
    with pytest.raises(MotionlabError, match="either"):
        build_model("x3d_xs", 3, pretrained=True, weights="w.pt")
    with pytest.raises(MotionlabError, match="divisible by its patch size 32"):
        build_model(get_spec("vit_b_32").with_input(size=48), 3)
    with pytest.raises(MotionlabError, match="no public pretrained"):
        build_model("tiny3d", 3, pretrained=True)  # (E2S-X3D loads Kinetics X3D streams)


def test_local_weights_roundtrip_and_head_skipped(tmp_path) -> None:
    spec = get_spec("x3d_xs").with_input(frames=2, size=32)
    a = quick_build(spec, 5)
    path = tmp_path / "w.pt"
    torch.save({"model": a.state_dict()}, path)
    b = build_model(spec, 5, weights=path)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    # fine-tuning to 3 classes: everything but the classifier is loaded
    c = build_model(spec, 3, weights=path)
    skipped = load_weights(c, path)
    assert skipped == ["blocks.5.proj.bias", "blocks.5.proj.weight"]
    assert torch.equal(c.state_dict()["blocks.0.conv.conv_t.weight"],
                       a.state_dict()["blocks.0.conv.conv_t.weight"])  # fmt: skip


def test_bad_weights_file(tmp_path) -> None:
    spec = get_spec("x3d_xs").with_input(frames=2, size=32)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(MotionlabError, match="cannot read weights"):
        build_model(spec, 3, weights=bad)
    with pytest.raises(MotionlabError, match="does not exist"):
        build_model(spec, 3, weights=tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"x": torch.zeros(1)}, other)
    with pytest.raises(MotionlabError, match="matches none"):
        build_model(spec, 3, weights=other)


def test_replace_classifier() -> None:
    model = quick_build(get_spec("resnet18").with_input(size=32), 1000)
    replace_classifier(model, 4)
    assert model.eval()(torch.randn(1, 3, 1, 32, 32)).shape == (1, 4)


def test_e2s_streams_from_x3d_weights_with_flow_stem_adapted(tmp_path) -> None:
    """Kinetics-style initialisation from local X3D checkpoints (random stand-ins here):
    the appearance stream takes X3D-M's tensors, the motion stream X3D-S's with the stem
    averaged over RGB and repeated for the two flow channels; heads of another class count
    stay at their initialisation."""
    from motionlab.recognition.e2s import adapt_state, pretrained_e2s

    torch.manual_seed(0)
    x3d_m, x3d_s = build_model("x3d_m", 400), build_model("x3d_s", 400)
    torch.save({"model_state": x3d_m.state_dict()}, tmp_path / "x3d_m.pyth")
    torch.save(x3d_s.state_dict(), tmp_path / "x3d_s.pt")
    model = pretrained_e2s(
        "e2s_x3d_m", 7, appearance_weights=tmp_path / "x3d_m.pyth",
        motion_weights=tmp_path / "x3d_s.pt",
    )  # fmt: skip
    a, m = model.appearance.state_dict(), model.motion.state_dict()
    src_m, src_s = x3d_m.state_dict(), x3d_s.state_dict()
    adapted = [k for k in m if m[k].shape != src_s[k].shape and m[k].ndim >= 3]
    assert len(adapted) == 1  # only the stem's first convolution reads the input channels
    stem = adapted[0]
    assert m[stem].shape[1] == 2 and src_s[stem].shape[1] == 3
    expected = src_s[stem].mean(dim=1, keepdim=True).repeat(1, 2, 1, 1, 1)
    torch.testing.assert_close(m[stem], expected)
    same = [k for k in a if a[k].shape == src_m[k].shape]
    assert all(torch.equal(a[k], src_m[k]) for k in same)
    assert all(torch.equal(m[k], src_s[k]) for k in m if k != stem and m[k].shape == src_s[k].shape)
    heads = [k for k in a if a[k].shape != src_m[k].shape]
    assert heads and all(a[k].shape[0] == 7 for k in heads)  # the 7-class head is new
    # what adapt_state leaves out: tensors of another shape that are not a stem
    assert "x" not in adapt_state({"x": torch.zeros(3, 4)}, {"x": torch.zeros(5, 4)})
    with pytest.raises(MotionlabError, match="does not exist"):
        pretrained_e2s("e2s_x3d_s", 7, appearance_weights=tmp_path / "nope.pt")
    with pytest.raises(MotionlabError, match="not an E2S-X3D"):
        pretrained_e2s("x3d_m", 7)
