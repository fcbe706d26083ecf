"""Small modules that adapt zoo networks to the ``model(*inputs)`` convention.

Every input is a 5-D clip ``(B, C, T, H, W)``; each module states what it feeds its core.
"""

from __future__ import annotations

import torch
from torch import nn


class PerFrame(nn.Module):
    """Run an image classifier on each of a clip's T frames and average the logits.

    ``(B, C, T, H, W) -> (B, K)``. With T = 1 (training, as published) it is the image
    model itself.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = clip.shape
        frames = clip.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        return self.net(frames).reshape(b, t, -1).mean(dim=1)


class StackedFlow2D(nn.Module):
    """Feed T flow fields to a 2-D network as 2T stacked channels (Simonyan & Zisserman 2014).

    ``(B, 2, T, H, W) -> (B, K)``; the stacking order is u_1, v_1, u_2, v_2, ...
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = flow.shape
        return self.net(flow.permute(0, 2, 1, 3, 4).reshape(b, t * c, h, w))


class TwoStreamAverage(nn.Module):
    """Classic two-stream late fusion: the mean of the two streams' logits.

    ``(rgb (B, 3, 1, H, W), flow (B, 2, L, H, W)) -> (B, K)``.

    Deliberate difference: Simonyan & Zisserman train the streams separately and average
    softmax scores; here both train jointly through the averaged logits, which keeps one
    training loop for every zoo model.
    """

    def __init__(self, spatial: nn.Module, temporal: nn.Module) -> None:
        super().__init__()
        self.spatial = spatial
        self.temporal = temporal

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.spatial(rgb) + self.temporal(flow))


class SlowFastFromClip(nn.Module):
    """Build SlowFast's two pathways from one clip: fast = the clip, slow = every
    ``alpha``-th frame of it.

    ``(B, 3, T, H, W) -> (B, K)`` with T divisible by ``alpha``.
    """

    def __init__(self, net: nn.Module, *, alpha: int = 4) -> None:
        super().__init__()
        self.net = net
        self.alpha = alpha

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        t = clip.shape[2]
        if t % self.alpha:
            raise ValueError(f"SlowFast needs a frame count divisible by {self.alpha}, got {t}")
        slow = clip[:, :, :: self.alpha]
        return self.net([slow, clip])


class E2SX3D(nn.Module):
    """Two streams with per-class heads, fused by a linear layer on their logits
    (see :mod:`motionlab.recognition.e2s`): ``fusion(cat(appearance(a), motion(b)))``,
    every term a logit (no softmax anywhere; thesis §4.5's softmax is the loss's).

    ``forward(a, b) -> (B, K)`` where ``a`` is the appearance clip ``(B, 3, T1, H1, W1)``
    and ``b`` the motion clip ``(B, C2, T2, H2, W2)`` (C2 = 2 for flow, 3 for the
    RGB-in-both-streams ablation).
    """

    def __init__(self, appearance: nn.Module, motion: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.appearance = appearance
        self.motion = motion
        self.fusion = nn.Linear(2 * num_classes, num_classes)

    def stream_logits(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each stream's own ``(B, K)`` logits, before fusion."""
        return self.appearance(a), self.motion(b)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.fusion(torch.cat(self.stream_logits(a, b), dim=1))


class Tiny3D(nn.Module):
    """A small plain 3D CNN for CPU budgets (not a thesis model): four blocks of
    Conv3d 3×3×3 + BatchNorm + ReLU (channels 16, 32, 64, 128; spatial stride 2 in each,
    temporal stride 2 in the last two), global average pool, dropout, linear.

    ``(B, C, T, H, W) -> (B, K)``. About 0.3 M parameters. It exists because X3D's
    depthwise 3D convolutions are very slow to train on a CPU (docs/recognition.md).
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        strides = [(2 if k >= 2 else 1, 2, 2) for k in range(4)]
        _conv_head(self, num_classes, in_channels, width, kernels=[(3, 3, 3)] * 4, strides=strides)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(self.pool(self.features(clip)).flatten(1)))


def _conv_head(
    model: nn.Module,
    num_classes: int,
    in_channels: int,
    width: int,
    *,
    kernels: list[tuple[int, int, int]],
    strides: list[tuple[int, int, int]],
) -> None:
    """Give ``model`` the layers of :class:`Tiny3D`/:class:`Tiny2D`: four blocks of Conv3d
    (``kernels[k]``, ``strides[k]``, padding k // 2, channels width × 1, 2, 4, 8) +
    BatchNorm + ReLU as ``features``, then ``pool``, ``dropout`` and the linear ``proj``."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for mult, kernel, stride in zip((1, 2, 4, 8), kernels, strides, strict=True):
        c_out = width * mult
        padding = tuple(k // 2 for k in kernel)
        layers += [
            nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm3d(c_out),
            nn.ReLU(inplace=True),
        ]
        c_in = c_out
    model.features = nn.Sequential(*layers)
    model.pool = nn.AdaptiveAvgPool3d(1)
    model.dropout = nn.Dropout(0.3)
    model.proj = nn.Linear(c_in, num_classes)


class Tiny2D(nn.Module):
    """A small per-frame 2D CNN whose frame features are averaged over time (not a thesis
    model): the same four blocks as :class:`Tiny3D` with 1×3×3 kernels and no temporal
    stride, so no layer mixes frames, then the mean over frames and space, dropout, linear.

    ``(B, C, T, H, W) -> (B, K)``. Its output does not change when the frames of a clip
    are permuted: it cannot use temporal order, only what the frames show (the
    "appearance model" of the motion-reliance diagnostic, docs/recognition.md).
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        _conv_head(
            self, num_classes, in_channels, width, kernels=[(1, 3, 3)] * 4, strides=[(1, 2, 2)] * 4
        )

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(self.pool(self.features(clip)).flatten(1)))
