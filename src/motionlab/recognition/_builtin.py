"""The built-in models of the zoo, registered when :mod:`motionlab.recognition` loads.

The registry (:func:`~motionlab.recognition.zoo.register`, ``list_models``,
``get_spec``, ``build_model``) lives in :mod:`motionlab.recognition.zoo`; the models
with a module of their own register from here, so that none of them is imported by the
registry it registers into (E2S-X3D's builders need ``zoo.build_model``:
:mod:`motionlab.recognition.e2s` imports the zoo, the zoo does not import it). The
package's ``__init__`` imports this module, so every import of a
``motionlab.recognition`` submodule sees the full registry. Registration order is the
listing order of ``motionlab models``. A new model: one ``register(ModelSpec(...))``
below (its builder in the zoo, or in a module of its own that this one imports).
"""

from __future__ import annotations

from motionlab.recognition import zoo
from motionlab.recognition.e2s import register_e2s
from motionlab.recognition.zoo import ModelSpec, StreamSpec, register


def register_builtin() -> None:
    """Register every built-in model (once; a second call finds them and does nothing)."""
    if zoo._REGISTRY:
        return
    zoo._WRAPPERS["slowfast_r50"] = zoo._slowfast_wrap
    rgb = StreamSpec
    video = [
        # name, stream, published params (pytorchvideo model zoo, Kinetics-400), text
        ("i3d_r50", rgb("rgb", 8, 8, 224), 28_043_472, "I3D ResNet-50 (inflated 3D)"),
        ("c2d_r50", rgb("rgb", 8, 8, 224), 24_327_632, "C2D ResNet-50 (2D convs, 3D pools)"),
        ("r2plus1d_r50", rgb("rgb", 16, 4, 224), 28_107_600, "R(2+1)D ResNet-50"),
        ("slow_r50", rgb("rgb", 8, 8, 224), 32_454_096, "Slow-only ResNet-50"),
        ("x3d_xs", rgb("rgb", 4, 12, 160), 3_794_274, "X3D-XS"),
        ("x3d_s", rgb("rgb", 13, 6, 160), 3_794_274, "X3D-S"),
        ("x3d_m", rgb("rgb", 16, 5, 224), 3_794_274, "X3D-M"),
        ("x3d_l", rgb("rgb", 16, 5, 312), 6_153_384, "X3D-L"),
        ("csn_r101", rgb("rgb", 32, 2, 224), 22_213_776, "ir-CSN ResNet-101"),
        ("mvit_base_16x4", rgb("rgb", 16, 4, 224), 36_610_672, "MViT-B 16x4 (transformer)"),
    ]
    register(
        ModelSpec(
            "resnet50",
            (rgb("rgb", 1, 1, 224),),
            zoo._torchvision_builder("resnet50"),
            25_557_032,
            1000,
            "torchvision:resnet50",
            "image",
            "single-frame ResNet-50 (logits averaged over a clip's frames)",
        )
    )
    for name, stream, params, text in video:
        register(
            ModelSpec(
                name,
                (stream,),
                zoo._pytorchvideo_builder(name),
                params,
                400,
                f"pytorchvideo:{name}",
                "video",
                text,
            )
        )
    # SlowFast reads one 32×2 clip; the slow pathway is every alpha=4th frame (8×8).
    register(
        ModelSpec(
            "slowfast_r50",
            (rgb("rgb", 32, 2, 224),),
            zoo._pytorchvideo_builder("slowfast_r50"),
            34_566_488,
            400,
            "pytorchvideo:slowfast_r50",
            "video",
            "SlowFast ResNet-50 (slow 8×8 = every 4th frame of the fast 32×2 clip)",
        )
    )
    # Fast alone (Table 4.1): parameters = SlowFast-R50's fast pathway (514,152) + a
    # 256 -> 400 classifier (102,800); no model zoo publishes it on its own.
    register(
        ModelSpec(
            "fast_r50",
            (rgb("rgb", 32, 2, 224),),
            zoo._fast_builder,
            616_952,
            400,
            None,
            "video",
            "Fast: SlowFast-R50's fast pathway alone (β = 1/8 channels, 32×2)",
        )
    )
    register(
        ModelSpec(
            "two_stream_r50",
            (rgb("rgb", 1, 1, 224), rgb("flow", 10, 1, 224)),
            zoo._two_stream_builder,
            None,
            400,
            None,
            "two-stream",
            "classic two-stream: ResNet-50 on 1 frame + ResNet-50 on 10 stacked flows",
        )
    )
    register(
        ModelSpec(
            "i3d_r50_flow",
            (rgb("flow", 8, 8, 224),),
            zoo._pytorchvideo_builder("i3d_r50"),
            None,
            400,
            None,
            "video",
            "I3D ResNet-50 on optical flow (2 input channels)",
        )
    )
    register_e2s(register)
    # CPU stand-ins for the synthetic benchmark (not thesis models; see nets.Tiny3D).
    for name, streams, builder, text in [
        ("tiny3d", (rgb("rgb", 8, 2, 64),), zoo._tiny3d_builder, "small 3D CNN on RGB (CPU)"),
        (
            "tiny3d_flow",
            (rgb("flow", 8, 2, 64),),
            zoo._tiny3d_builder,
            "small 3D CNN on flow (CPU)",
        ),
        (
            "tiny2d",
            (rgb("rgb", 8, 2, 64),),
            zoo._tiny2d_builder,
            "small per-frame 2D CNN, frame features averaged (no temporal order; CPU)",
        ),
        (
            "e2s_tiny",
            (rgb("rgb", 8, 2, 64), rgb("flow", 8, 2, 64)),
            zoo._e2s_tiny_builder,
            "E2S structure with two small 3D CNNs: RGB + flow (CPU)",
        ),
        (
            "e2s_tiny_rgb2",
            (rgb("rgb", 8, 2, 64), rgb("rgb", 8, 2, 64)),
            zoo._e2s_tiny_builder,
            "ablation of e2s_tiny: RGB in both streams (CPU)",
        ),
    ]:
        register(ModelSpec(name, streams, builder, None, 400, None, "cpu-small", text))
    for name, params in [
        ("resnet18", 11_689_512),
        ("resnet101", 44_549_160),
        ("vit_b_16", 86_567_656),
        ("vit_b_32", 88_224_232),
    ]:
        register(
            ModelSpec(
                name,
                (rgb("rgb", 1, 1, 224),),
                zoo._torchvision_builder(name),
                params,
                1000,
                f"torchvision:{name}",
                "image",
                f"privacy classifier {name} (torchvision; per frame)",
            )
        )
    for spec in zoo._REGISTRY.values():
        if spec.family == "image":
            zoo._WRAPPERS.setdefault(spec.name, zoo._frames_wrap)
        else:
            zoo._WRAPPERS.setdefault(spec.name, zoo._identity_wrap)


register_builtin()
