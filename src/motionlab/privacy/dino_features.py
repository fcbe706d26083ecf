"""DINO ViT descriptors of a frame (the feature half of the thesis's DINO matcher).

:class:`DinoExtractor`, :class:`DinoSettings`, :func:`clipped_cosine` and the weight
loading; the template library (:mod:`motionlab.privacy.templates`) builds on them, and
the matcher (:class:`motionlab.privacy.dino.DinoMatcher`) on both. Every name here is
re-exported by :mod:`motionlab.privacy.dino`, where it was defined before; see that
module for the method (thesis Sec. 5.3).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_MODEL = "vit_small_patch8_224.dino"
FACETS: tuple[str, ...] = ("key", "query", "value", "token")
# Where each facet lies in timm's fused ``attn.qkv`` output, ``(B, N, 3 * C)``: timm's
# ``Attention.forward`` reshapes it to ``(B, N, 3, heads, C / heads)`` and unbinds q, k, v
# in that order (as Amir et al.'s extractor: query 0, key 1, value 2). Not FACETS' order.
QKV_INDEX: dict[str, int] = {"query": 0, "key": 1, "value": 2}
FACET_LAYOUT = "timm-qkv"
"""Provenance of how descriptors are cut from ``attn.qkv`` (stored with every template).

Templates made before this field existed took the facet at ``FACETS.index(facet)``:
their "key" descriptors are queries and their "query" descriptors are keys (value and
token were right). :mod:`motionlab.privacy.templates` refuses such key/query templates."""
RANDOM = "random"
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # ImageNet statistics, as DINO
_STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class DinoSettings:
    """Where descriptors come from (stored with every template).

    Attributes
    ----------
    model : str
        timm model name (default DINO ViT-S/8).
    layer : int
        Block index, 0-based (11 = the last of ViT-S).
    facet : {"key", "query", "value", "token"}
    stride : int
        Patch-embedding stride in pixels (4: overlapping 8x8 patches, as the thesis).
    load_size : int
        Short side the frame is resized to (224).
    """

    model: str = DEFAULT_MODEL
    layer: int = 11
    facet: str = "key"
    stride: int = 4
    load_size: int = 224

    def __post_init__(self) -> None:
        if self.facet not in FACETS:
            raise MotionlabError(f"unknown facet {self.facet!r}; choose one of {', '.join(FACETS)}")
        if self.stride < 1 or self.load_size < 16:
            raise MotionlabError(
                f"stride must be >= 1 and load_size >= 16, got {self.stride}, {self.load_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resized_size(height: int, width: int, load_size: int) -> tuple[int, int]:
    """(height, width) with the short side scaled to ``load_size`` (aspect kept)."""
    scale = load_size / min(height, width)
    return max(round(height * scale), 1), max(round(width * scale), 1)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unwrap_state_dict(obj: Any) -> dict[str, Any]:
    """A ViT state dict from a timm file or an original DINO checkpoint."""
    if isinstance(obj, dict):
        for key in ("teacher", "state_dict", "model", "student"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise MotionlabError("the weights file holds no state dict")
    out = {}
    for k, v in obj.items():
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix) :]
        if not k.startswith("head"):  # the DINO projection head is not part of the ViT
            out[k] = v
    return out


HUB_TIMEOUT_S = 3.0
"""How long :func:`_hub_model` waits to reach the weights' server before giving up."""
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm asks the hub for
_LOCAL_HINT = (
    "give a local checkpoint with --weights PATH (Python: weights=PATH), e.g. "
    "dino_deitsmall8_pretrain.pth from the DINO repository"
)


def _cached_hub_file(model_name: str) -> Path | None:
    """timm's hub weights of ``model_name`` if already in the Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from timm.models import get_pretrained_cfg
    except ImportError:
        return None
    cfg = get_pretrained_cfg(model_name)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        return None
    for name in _HUB_FILES:
        found = try_to_load_from_cache(repo, name)
        if isinstance(found, str):
            return Path(found)
    return None


def _hub_unreachable(timeout: float) -> str | None:
    """Why the Hugging Face hub cannot be reached now (None if it can), in <= ``timeout`` s.

    ``HF_HUB_OFFLINE`` set: at once. Otherwise one TCP connection to the hub (or to the
    HTTPS proxy, if one is set), name lookup included, bounded by ``timeout``: timm's own
    download retries for about a minute before it fails offline."""
    import socket
    import threading
    from urllib.parse import urlsplit

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlsplit(proxy or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if not proxy else 3128)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{host}:{port} cannot be reached ({exc.strerror or exc})")

    thread = threading.Thread(target=probe, daemon=True)  # name lookup has no timeout
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"{host}:{port} did not answer in {timeout:g} s"


def _hub_model(model_name: str) -> Any:
    """timm's pretrained ``model_name``: from the local Hugging Face cache if there, else
    downloaded; fails within ~:data:`HUB_TIMEOUT_S` s, naming ``--weights``, when offline."""
    import timm

    cached = _cached_hub_file(model_name)
    if cached is not None:
        return timm.create_model(
            model_name, pretrained=True, pretrained_cfg_overlay={"file": str(cached)}
        )
    reason = _hub_unreachable(HUB_TIMEOUT_S)
    if reason is not None:
        raise MotionlabError(
            f"cannot download the pretrained {model_name}: {reason}; {_LOCAL_HINT}"
        )
    try:
        return timm.create_model(model_name, pretrained=True)
    except Exception as exc:  # network errors of several libraries
        raise MotionlabError(
            f"could not load the pretrained {model_name} ({type(exc).__name__}); {_LOCAL_HINT}"
        ) from exc


class DinoExtractor:
    """Dense ViT descriptors of a frame: ``(gh, gw, C)`` float32 on a stride grid.

    Parameters
    ----------
    settings : DinoSettings
    weights : path, "random" or None
        None: timm's pretrained weights (downloads on first use); a path: a local file;
        "random": random initialisation (tests).
    device : str
        torch device ("cpu", "cuda", ...).
    seed : int
        Seed of the random initialisation.
    """

    def __init__(
        self,
        *,
        settings: DinoSettings = DinoSettings(),
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        import timm
        import torch

        self.settings = settings
        self.device = torch.device(device)
        if weights == RANDOM:
            torch.manual_seed(seed)
            model = timm.create_model(settings.model, pretrained=False)
            self.weights_id = f"random(seed={seed})"
        elif weights is None:
            model = _hub_model(settings.model)
            self.weights_id = f"timm:{settings.model}"
        else:
            path = Path(weights)
            if not path.is_file():
                raise MotionlabError(f"{path}: no such weights file")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise MotionlabError(f"{path}: not a torch checkpoint ({exc})") from exc
            # built without initialising (7x faster); every tensor comes from the file
            with torch.device("meta"):
                model = timm.create_model(settings.model, pretrained=False)
            try:
                missing, unexpected = model.load_state_dict(
                    _unwrap_state_dict(state), strict=False, assign=True
                )
            except RuntimeError as exc:  # shape mismatches
                raise MotionlabError(
                    f"{path}: does not fit {settings.model}: {str(exc).splitlines()[-1].strip()}"
                ) from None
            if missing or unexpected:
                raise MotionlabError(
                    f"{path}: does not fit {settings.model}: missing {missing[:3]}, "
                    f"unexpected {list(unexpected)[:3]}"
                )
            self.weights_id = f"sha256:{sha256_file(path)}"
        if not 0 <= settings.layer < len(model.blocks):
            raise MotionlabError(
                f"layer must be in 0..{len(model.blocks) - 1} for {settings.model}, "
                f"got {settings.layer}"
            )
        self.model = model.eval().to(self.device)
        self.patch = int(model.patch_embed.proj.kernel_size[0])

    def grid_shape(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid ``(gh, gw)`` for a frame of that size."""
        rh, rw = resized_size(height, width, self.settings.load_size)
        s = self.settings.stride
        return (rh - self.patch) // s + 1, (rw - self.patch) // s + 1

    def point_to_patch(self, x: float, y: float, height: int, width: int) -> tuple[int, int]:
        """Grid cell ``(row, col)`` whose patch centre is nearest to pixel (x, y) of a frame."""
        rh, rw = resized_size(height, width, self.settings.load_size)
        gh, gw = self.grid_shape(height, width)
        s, half = self.settings.stride, self.patch / 2
        col = round(((x + 0.5) * rw / width - half) / s)
        row = round(((y + 0.5) * rh / height - half) / s)
        return int(np.clip(row, 0, gh - 1)), int(np.clip(col, 0, gw - 1))

    def _tensor(self, frame: np.ndarray) -> torch.Tensor:
        import torch

        h, w = frame.shape[:2]
        rh, rw = resized_size(h, w, self.settings.load_size)
        img = cv2.resize(
            frame, (rw, rh), interpolation=cv2.INTER_AREA if rh < h else cv2.INTER_LINEAR
        )
        x = (img.astype(np.float32) / 255.0 - _MEAN) / _STD
        return torch.from_numpy(x.transpose(2, 0, 1)).unsqueeze(0).to(self.device)

    def descriptors(self, frame: np.ndarray) -> np.ndarray:
        """``(gh, gw, C)`` float32 descriptors of ``frame`` ``(H, W, 3)`` uint8."""
        import torch
        import torch.nn.functional as F
        from timm.layers import resample_abs_pos_embed

        frame = check_frame(frame)
        m, st = self.model, self.settings
        with torch.inference_mode():
            x = self._tensor(frame)
            proj = m.patch_embed.proj
            x = F.conv2d(x, proj.weight, proj.bias, stride=st.stride)  # overlapping patches
            _, c, gh, gw = x.shape
            x = x.flatten(2).transpose(1, 2)
            grid = m.patch_embed.grid_size
            pos = resample_abs_pos_embed(
                m.pos_embed, new_size=[gh, gw], old_size=list(grid), num_prefix_tokens=1
            )
            cls = m.cls_token.expand(x.shape[0], -1, -1) + pos[:, :1]
            x = torch.cat([cls, x + pos[:, 1:]], dim=1)
            x = m.norm_pre(x)
            captured: list[torch.Tensor] = []
            block = m.blocks[st.layer]
            hook = block.attn.qkv.register_forward_hook(lambda _m, _i, out: captured.append(out))
            try:
                for blk in m.blocks[: st.layer + 1]:
                    x = blk(x)
            finally:
                hook.remove()
            if st.facet == "token":
                d = x
            else:
                qkv = captured[0].reshape(1, x.shape[1], 3, c)  # q, k, v (QKV_INDEX)
                d = qkv[:, :, QKV_INDEX[st.facet]]
            d = d[0, 1:].reshape(gh, gw, c)
        return d.float().cpu().numpy()

    def upsample(self, grid: np.ndarray, height: int, width: int) -> np.ndarray:
        """Eq. 5.2: a ``(gh, gw)`` patch map to ``(height, width)`` float32, each value at
        its patch centre, bilinear in between, edges held."""
        rh, rw = resized_size(height, width, self.settings.load_size)
        gh, gw = grid.shape
        s, p = self.settings.stride, self.patch
        # patch (i, j) is centred at ((j*s + p/2), (i*s + p/2)) of the resized frame
        ys = ((np.arange(height) + 0.5) * rh / height - p / 2) / s
        xs = ((np.arange(width) + 0.5) * rw / width - p / 2) / s
        map_x, map_y = np.meshgrid(np.clip(xs, 0, gw - 1), np.clip(ys, 0, gh - 1))
        return cv2.remap(
            grid.astype(np.float32), map_x.astype(np.float32), map_y.astype(np.float32),
            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip


def clipped_cosine(descriptors: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Eq. 5.1 per template: ``max(0, cos(d_p, d_t))``.

    Parameters
    ----------
    descriptors : (..., C) float ndarray
    templates : (K, C) float ndarray

    Returns
    -------
    (K, ...) float32 ndarray in [0, 1].
    """
    d = np.asarray(descriptors, np.float32)
    t = np.asarray(templates, np.float32)
    d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    t = t / np.maximum(np.linalg.norm(t, axis=-1, keepdims=True), 1e-12)
    sim = np.tensordot(t, d, axes=([1], [d.ndim - 1]))
    return np.clip(sim, 0.0, 1.0).astype(np.float32)
