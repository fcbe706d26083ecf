"""RAFT (Teed & Deng, ECCV 2020) through torchvision, with original checkpoints converted.

Two weight sources:

* no path: torchvision's ``Raft_Small_Weights.DEFAULT`` / ``Raft_Large_Weights.DEFAULT``
  (downloaded to the torch hub cache on first use);
* ``weights=PATH``: either a torchvision state dict or an original princeton-vl RAFT
  checkpoint (``raft-small.pth``, ``raft-things.pth``, ...; an ``nn.DataParallel`` state
  dict with keys ``module.fnet...``), renamed onto torchvision's modules on load
  (:func:`convert_princeton_state_dict`).

Frames are normalised as the original does inside its forward pass, ``2 * (x / 255) - 1``
(torchvision leaves this to the caller), and padded by edge replication to a multiple of
8 on each side, centred as the original ``InputPadder`` (and to at least 128 x 128, the
smallest input RAFT's correlation pyramid accepts); the flow is cropped back.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.optical_flow import (
    Raft_Large_Weights,
    Raft_Small_Weights,
    raft_large,
    raft_small,
)

from motionlab.errors import MotionlabError
from motionlab.flow.base import FlowEstimator
from motionlab.weights import read_state_dict_file

_BUILDERS = {"small": (raft_small, Raft_Small_Weights), "large": (raft_large, Raft_Large_Weights)}

# Renames from the original RAFT module names to torchvision's (applied in order to the
# key with "module." stripped). Encoders: conv1/norm1 -> convnormrelu.{0,1}, conv2 -> conv;
# residual blocks: convK/normK -> convnormreluK.{0,1} (the extra norm of a block is the
# downsample's norm, stored twice in the original, once as "downsample.1").
_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"^(\w+_encoder)\.conv1\.", r"\1.convnormrelu.0."),
    (r"^(\w+_encoder)\.norm1\.", r"\1.convnormrelu.1."),
    (r"^(\w+_encoder)\.conv2\.", r"\1.conv."),
    (r"^(\w+_encoder\.layer\d\.\d)\.conv(\d)\.", r"\1.convnormrelu\2.0."),
    (r"^(\w+_encoder\.layer\d\.\d)\.norm(\d)\.", r"\1.convnormrelu\2.1."),
    (r"^update_block\.encoder\.convc(\d)\.", r"update_block.motion_encoder.convcorr\1.0."),
    (r"^update_block\.encoder\.convf(\d)\.", r"update_block.motion_encoder.convflow\1.0."),
    (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"^update_block\.gru\.conv([zrq])\.", r"update_block.recurrent_block.convgru1.conv\1."),
    (r"^update_block\.gru\.conv([zrq])(\d)\.", r"update_block.recurrent_block.convgru\2.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
    (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
)


def is_princeton_state_dict(state: dict[str, Any]) -> bool:
    """True if ``state`` uses the original RAFT names (``fnet``/``cnet``/``update_block.gru``)."""
    return any(re.match(r"^(module\.)?(fnet|cnet)\.", k) for k in state)


def convert_princeton_state_dict(
    state: dict[str, torch.Tensor], target_keys: set[str]
) -> dict[str, torch.Tensor]:
    """Rename an original princeton-vl RAFT state dict onto torchvision's RAFT.

    Parameters
    ----------
    state : dict
        Original checkpoint (keys optionally prefixed ``module.``).
    target_keys : set of str
        ``model.state_dict().keys()`` of the torchvision model it must fit.

    Returns
    -------
    dict
        State dict with torchvision names. Original keys that have no target and are the
        duplicate of a downsample norm are dropped; any other unmatched key raises.
    """
    out: dict[str, torch.Tensor] = {}
    unmatched = []
    for key, value in state.items():
        name = key.removeprefix("module.")
        for pattern, repl in _RENAMES:
            name = re.sub(pattern, repl, name)
        if name in target_keys:
            out[name] = value
            continue
        # In a residual block the last norm (norm3 of a basic block, norm4 of a
        # bottleneck) is the same module as downsample.1: torchvision stores it once.
        m = re.match(r"^(\w+_encoder\.layer\d\.\d)\.convnormrelu(\d)\.1\.(.+)$", name)
        if m and f"{m.group(1)}.downsample.1.{m.group(3)}" in target_keys:
            continue
        unmatched.append(key)
    if unmatched:
        raise MotionlabError(
            f"RAFT checkpoint has {len(unmatched)} tensors that fit no layer of this model "
            f"(e.g. {unmatched[0]}); is it the other RAFT variant (small vs large)?"
        )
    return out


def load_raft(
    variant: str = "small",
    *,
    weights: str | os.PathLike[str] | None = None,
    pretrained: bool = True,
    progress: bool = False,
) -> torch.nn.Module:
    """Build torchvision's RAFT ``variant`` ("small" or "large") with weights, in eval mode.

    Parameters
    ----------
    weights : path, optional
        A torchvision or an original princeton-vl checkpoint. Without it, torchvision's
        default weights are downloaded (on a machine with internet).
    pretrained : bool
        ``False`` builds an untrained model (for speed measurements and mechanics tests
        only; its flow is meaningless).
    """
    if variant not in _BUILDERS:
        raise MotionlabError(f"unknown RAFT variant {variant!r}; choose small or large")
    builder, enum = _BUILDERS[variant]
    if weights is None:
        if not pretrained:
            return builder(weights=None).eval()
        try:
            return builder(weights=enum.DEFAULT, progress=progress).eval()
        except Exception as exc:  # URLError, HTTPError, OSError, hash mismatch ...
            raise MotionlabError(
                f"could not download RAFT-{variant} weights {enum.DEFAULT.url} "
                f"({type(exc).__name__}: {exc}); pass a local checkpoint with --weights PATH "
                "(a torchvision state dict or an original RAFT .pth such as raft-small.pth)"
            ) from exc
    path = Path(weights)
    state = read_state_dict_file(path, missing="no such RAFT checkpoint file")
    model = builder(weights=None)
    target = model.state_dict()
    if is_princeton_state_dict(state):
        state = convert_princeton_state_dict(state, set(target))
    else:
        state = {k.removeprefix("module."): v for k, v in state.items()}
    missing = sorted(set(target) - set(state))
    bad_shape = [k for k in state if k in target and state[k].shape != target[k].shape]
    if missing or bad_shape or set(state) - set(target):
        raise MotionlabError(
            f"{path}: checkpoint does not fit RAFT-{variant} "
            f"({len(missing)} missing, {len(bad_shape)} of other shape, "
            f"{len(set(state) - set(target))} unknown tensors); is it the other variant?"
        )
    model.load_state_dict(state)
    return model.eval()


# RAFT's 4-level correlation pyramid needs feature maps of at least 16 x 16, i.e. inputs of
# at least 128 x 128 pixels (torchvision raises below that).
MIN_SIDE = 128


def _pad8(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad (B, C, H, W) by edge replication, centred, to multiples of 8 and at least
    ``MIN_SIDE``; return it and the (left, right, top, bottom) padding."""
    h, w = x.shape[-2:]
    ph = max((-h) % 8, MIN_SIDE - h)
    pw = max((-w) % 8, MIN_SIDE - w)
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if pw == 0 and ph == 0:
        return x, pad
    return F.pad(x, pad, mode="replicate"), pad


class RaftEstimator(FlowEstimator):
    """RAFT on RGB frames.

    Parameters
    ----------
    variant : {"small", "large"}
    weights : path, optional
        Local checkpoint (torchvision or original RAFT); default: torchvision's weights.
    iters : int
        Refinement iterations (GRU updates); 12 is torchvision's default.
    device : str or torch.device
        Where to run (``"cpu"``, ``"cuda"``, ...).
    batch_size : int
        Pairs estimated in one forward pass by :meth:`estimate_pairs`.
    pretrained : bool
        ``False``: untrained weights, for speed tests only.
    upsample : float
        See :class:`FlowEstimator`.
    """

    def __init__(
        self,
        *,
        variant: str = "small",
        weights: str | os.PathLike[str] | None = None,
        iters: int = 12,
        device: str | torch.device = "cpu",
        batch_size: int = 1,
        pretrained: bool = True,
        upsample: float = 1.0,
    ) -> None:
        super().__init__(upsample=upsample)
        if iters < 1:
            raise MotionlabError(f"iters must be >= 1, got {iters}")
        if batch_size < 1:
            raise MotionlabError(f"batch_size must be >= 1, got {batch_size}")
        self.name = f"raft-{variant}"
        self.iters, self.batch_size = int(iters), int(batch_size)
        self.device = torch.device(device)
        self.model = load_raft(variant, weights=weights, pretrained=pretrained).to(self.device)

    def _to_tensor(self, frames: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(frames)).to(self.device)
        x = x.permute(0, 3, 1, 2).float()
        return 2.0 * (x / 255.0) - 1.0

    @torch.inference_mode()
    def _estimate_batch(
        self, frames_a: list[np.ndarray], frames_b: list[np.ndarray]
    ) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for i in range(0, len(frames_a), self.batch_size):
            a, pad = _pad8(self._to_tensor(frames_a[i : i + self.batch_size]))
            b, _ = _pad8(self._to_tensor(frames_b[i : i + self.batch_size]))
            flow = self.model(a, b, num_flow_updates=self.iters)[-1]
            h, w = flow.shape[-2:]
            flow = flow[..., pad[2] : h - pad[3], pad[0] : w - pad[1]]
            out.extend(flow.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32))
        return out

    def _estimate(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return self._estimate_batch([frame_a], [frame_b])[0]
