"""E2S-X3D: the two-stream X3D of thesis ch. 4 §4.5 (appearance stream + motion stream).

::

    rgb  (B, 3, 16, 224, 224) -> X3D-M -> linear -> (B, K) --+
                                                            cat -> (B, 2K) -> Linear -> (B, K)
    flow (B, 2, 13, 160, 160) -> X3D-S -> linear -> (B, K) --+

What is fused (§4.5: "we fuse the outputs via simple concatenation of the outputs of the
two streams ... Finally, a fully connected layer followed by a Softmax layer yields the
classification output, which is used with a cross-entropy loss"): each stream ends in its
own per-class linear layer (X3D's ``proj``) with *no* activation, so the stream outputs
are two ``(B, K)`` logit vectors; they are concatenated to ``(B, 2K)`` and one linear layer
maps them to the fused ``(B, K)`` logits. The thesis's final Softmax is the one inside the
cross-entropy loss (``F.cross_entropy`` = log-softmax + negative log-likelihood), so the
model returns the fused logits and no softmax module exists anywhere in it.

Why logits and not per-stream probabilities: a softmax per stream would squash each
stream's evidence into a distribution that sums to 1, discarding how confident it is (a
winning logit 10 or 20 above the others both give a probability of about 1 for 101
classes), and its saturation starves the streams of gradient; the fusion layer can only
weigh the streams against each other on the logits' scale. The authors' code does the
same: it replaces pytorchvideo's softmax head activation of each X3D stream by an identity
before concatenating (``model/E2SX3D.py`` in f-ilic/AppearanceFreeActionRecognition).

Variants (the issue leaves the variant's meaning open; our decision): the
suffix names the *appearance* stream's X3D size, the motion stream is X3D-S throughout,
as in the thesis's E2S-X3D (X3D-M + X3D-S). The ablation ``e2s_x3d_rgb2`` feeds RGB to both
streams (the second at the motion stream's sampling 13×6 @160), to show that the gain
comes from flow and not from a second network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from motionlab.errors import MotionlabError
from motionlab.recognition.zoo import ModelSpec, StreamSpec, build_model, get_spec, read_state_dict

if TYPE_CHECKING:
    import torch
    from torch import nn

APPEARANCE = {
    "s": ("x3d_s", StreamSpec("rgb", 13, 6, 160)),
    "m": ("x3d_m", StreamSpec("rgb", 16, 5, 224)),
    "l": ("x3d_l", StreamSpec("rgb", 16, 5, 312)),
}
MOTION = ("x3d_s", StreamSpec("flow", 13, 6, 160))


def _builder(appearance: str, motion: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
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
                pretrained_e2s,
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
            pretrained_e2s,
        )
    )


# --------------------------------------------------------------------------------------
# Kinetics-pretrained streams


def adapt_state(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> dict:
    """The tensors of an X3D ``state`` that fit a stream whose ``own`` state dict may read
    another number of input channels.

    Same name and shape: taken as is. A convolution weight ``(O, 3, ...)`` for a stem that
    reads ``C`` channels (2 for optical flow): the RGB weights averaged over the colour
    channels and repeated ``C`` times, the cross-modality initialisation of TSN (Wang et
    al., ECCV 2016) that two-stream networks use to start a flow stream from RGB weights.
    Anything else (the classifier when the class count differs) is left out.
    """
    out = {}
    for name, mine in own.items():
        theirs = state.get(name)
        if theirs is None:
            continue
        if theirs.shape == mine.shape:
            out[name] = theirs
        elif (
            theirs.ndim == mine.ndim >= 3
            and theirs.shape[0] == mine.shape[0]
            and theirs.shape[2:] == mine.shape[2:]
        ):
            mean = theirs.float().mean(dim=1, keepdim=True)
            out[name] = mean.repeat(1, mine.shape[1], *([1] * (mine.ndim - 2))).to(mine.dtype)
    return out


def _x3d_state(arch: str, path: str | os.PathLike[str] | None) -> dict:
    """State dict of a Kinetics-400 X3D: from a local file, or from pytorchvideo's hub
    (downloads on a user's machine)."""
    if path is not None:
        return read_state_dict(path)
    from pytorchvideo.models import hub

    try:
        return getattr(hub, arch)(pretrained=True).state_dict()
    except OSError as exc:  # URLError is an OSError
        raise MotionlabError(
            f"cannot download {arch} Kinetics weights ({exc}); on a machine without network, "
            "pass local X3D weights files instead"
        ) from exc


def pretrained_e2s(
    name: str | ModelSpec,
    num_classes: int,
    *,
    appearance_weights: str | os.PathLike[str] | None = None,
    motion_weights: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """An E2S-X3D variant whose two streams start from Kinetics-400 X3D weights.

    As in the thesis, each stream is initialised from the Kinetics-pretrained X3D of its
    size (appearance: X3D-S/M/L; motion: X3D-S, its stem adapted to two flow channels by
    :func:`adapt_state`); the per-class heads and the fusion layer start at random when
    ``num_classes`` is not 400. Weights come from pytorchvideo's hub (downloads) or, per
    stream, from a local X3D checkpoint (``.pyth`` or a state dict).
    """
    spec = name if isinstance(name, ModelSpec) else get_spec(name)
    if not spec.name.startswith("e2s_x3d"):
        raise MotionlabError(f"{spec.name!r} is not an E2S-X3D variant")
    size = "m" if spec.name == "e2s_x3d_rgb2" else spec.name.rsplit("_", 1)[1]
    model = build_model(spec, num_classes)
    for stream, arch, path in (
        (model.appearance, APPEARANCE[size][0], appearance_weights),
        (model.motion, MOTION[0], motion_weights),
    ):
        own = stream.state_dict()
        usable = adapt_state(own, _x3d_state(arch, path))
        if not usable:
            raise MotionlabError(f"the {arch} weights match none of the stream's tensors")
        stream.load_state_dict(usable, strict=False)
    return model
