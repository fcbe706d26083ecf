"""E2S-X3D: the two-stream X3D of thesis ch. 4 §4.5 (appearance stream + motion stream).

::

    rgb  (B, 3, 16, 224, 224) -> X3D-M -> linear -> (B, K) --+
                                                            cat -> (B, 2K) -> Linear -> (B, K)
    flow (B, 2, 13, 160, 160) -> X3D-S -> linear -> (B, K) --+

Both streams end in their own per-class linear layer (X3D's ``proj``); the two logit
vectors are concatenated and fused by one linear layer; training uses cross-entropy on the
fused logits. Variants (the issue leaves the variant's meaning open; our decision): the
suffix names the *appearance* stream's X3D size, the motion stream is X3D-S throughout,
as in the thesis's E2S-X3D (X3D-M + X3D-S). The ablation ``e2s_x3d_rgb2`` feeds RGB to both
streams (the second at the motion stream's sampling 13×6 @160), to show that the gain
comes from flow and not from a second network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from motionlab.recognition.zoo import ModelSpec, StreamSpec

if TYPE_CHECKING:
    from torch import nn

APPEARANCE = {
    "s": ("x3d_s", StreamSpec("rgb", 13, 6, 160)),
    "m": ("x3d_m", StreamSpec("rgb", 16, 5, 224)),
    "l": ("x3d_l", StreamSpec("rgb", 16, 5, 312)),
}
MOTION = ("x3d_s", StreamSpec("flow", 13, 6, 160))


def _builder(appearance: str, motion: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
        from motionlab.recognition.zoo import build_model, get_spec

        a_spec = get_spec(appearance)
        m_spec = get_spec(motion)
        a_net = build_model(replace(a_spec, streams=(streams[0],)), num_classes)
        # The motion stream is an X3D-S whose stem reads streams[1].channels channels.
        m_net = build_model(replace(m_spec, streams=(streams[1],)), num_classes)
        from motionlab.recognition.nets import E2SX3D

        return E2SX3D(a_net, m_net, num_classes)

    return build


def register_e2s(register: Callable[[ModelSpec], ModelSpec]) -> None:
    """Register e2s_x3d_s / _m / _l and the RGB-in-both-streams ablation e2s_x3d_rgb2."""
    for size, (arch, stream) in APPEARANCE.items():
        register(
            ModelSpec(
                f"e2s_x3d_{size}",
                (stream, MOTION[1]),
                _builder(arch, MOTION[0]),
                None,
                400,
                None,
                "two-stream",
                f"E2S-X3D: {arch.upper().replace('_', '-')} on RGB + X3D-S on optical flow",
            )
        )
    rgb_motion = StreamSpec("rgb", MOTION[1].frames, MOTION[1].rate, MOTION[1].size)
    register(
        ModelSpec(
            "e2s_x3d_rgb2",
            (APPEARANCE["m"][1], rgb_motion),
            _builder("x3d_m", "x3d_s"),
            None,
            400,
            None,
            "two-stream",
            "ablation: E2S-X3D with RGB in both streams (X3D-M 16×5 + X3D-S 13×6)",
        )
    )
