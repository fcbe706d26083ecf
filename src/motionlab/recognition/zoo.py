"""The model zoo: every action-recognition architecture of thesis ch. 4 behind one registry.

This module is the registry (:func:`register`, :func:`list_models`, :func:`get_spec`);
the built-in entries are registered by :mod:`motionlab.recognition._builtin` when the
package loads (E2S-X3D from :mod:`motionlab.recognition.e2s`, which imports this module,
never the other way round). Each entry is a :class:`ModelSpec`: its input streams
(what each stream reads, clip sampling f×r, crop size), a builder, and the parameter
count published for it.
:func:`build_model` builds any of them, randomly initialised (the default here: no
downloads), from hub weights (``pretrained=True``, downloads on a user's machine) or
from a local weights file.

Calling convention of every built model: ``model(*inputs) -> (B, num_classes)``
unnormalised logits in training and evaluation mode (no softmax module anywhere: the loss
applies the log-softmax; :func:`check_logits_model`), one input per stream in
:attr:`ModelSpec.streams` order:

- an ``"rgb"`` stream is a float tensor ``(B, 3, T, H, W)``, normalised RGB;
- a ``"flow"`` stream is a float tensor ``(B, 2, T, H, W)``, flow (u, v) scaled to
  about [-1, 1] (see :mod:`motionlab.recognition.data`).

Deliberate differences from the published models (named where they happen):

- every 3D CNN's final average pool is adaptive (global), so one model runs on any clip
  length and crop size; at the published input size it is the same operation;
- image models (single-frame ResNet, ViT) run on each of the T frames of a clip and
  average the logits (T = 1 in training, as published).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from motionlab.errors import MotionlabError

if TYPE_CHECKING:  # torch is imported lazily so that the CLI starts fast
    from torch import nn

log = logging.getLogger(__name__)

StreamKind = Literal["rgb", "flow"]


@dataclass(frozen=True)
class StreamSpec:
    """One input stream of a model.

    Attributes
    ----------
    kind : "rgb" or "flow"
        RGB frames (3 channels) or optical flow (2 channels, u and v).
    frames : int
        f: frames (or flow fields) per clip.
    rate : int
        r: temporal stride between sampled frames, in source frames.
    size : int
        Side of the square crop fed to the model, in pixels.
    """

    kind: StreamKind
    frames: int
    rate: int
    size: int

    @property
    def channels(self) -> int:
        """3 for RGB, 2 for flow."""
        return 3 if self.kind == "rgb" else 2

    @property
    def span(self) -> int:
        """Source frames a clip covers: ``(frames - 1) * rate + 1`` (+1 for flow pairs)."""
        return (self.frames - 1) * self.rate + 1 + (1 if self.kind == "flow" else 0)

    def describe(self) -> str:
        """``"rgb 16×5 @224"``."""
        return f"{self.kind} {self.frames}×{self.rate} @{self.size}"


Builder = Callable[[int, tuple[StreamSpec, ...]], "nn.Module"]


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture.

    Attributes
    ----------
    name : str
        Registry name (``motionlab models`` lists them).
    streams : tuple of StreamSpec
        Input streams, in the order ``model(*inputs)`` takes them.
    builder : callable ``(num_classes, streams) -> nn.Module``
        Builds the randomly initialised model.
    params : int or None
        Parameter count published for the model at ``published_classes`` classes
        (pytorchvideo / torchvision model zoos), None where nothing was published.
    published_classes : int
        400 (Kinetics) for video models, 1000 (ImageNet) for image models.
    hub : str or None
        ``"pytorchvideo:NAME"`` or ``"torchvision:NAME"``: where ``pretrained=True`` loads
        weights from; None where no public weights exist.
    family : str
        ``"video"``, ``"image"`` (per-frame), ``"two-stream"``.
    description : str
        One line for the listing.
    pretrained_builder : callable ``(spec, num_classes) -> nn.Module``, optional
        Builds the model from public weights that are not one hub checkpoint (E2S-X3D:
        one Kinetics X3D per stream); ``pretrained=True`` uses it instead of ``hub``.
    """

    name: str
    streams: tuple[StreamSpec, ...]
    builder: Builder
    params: int | None
    published_classes: int
    hub: str | None
    family: str
    description: str
    pretrained_builder: Callable[[ModelSpec, int], nn.Module] | None = None

    def with_input(self, *, frames: int | None = None, size: int | None = None) -> ModelSpec:
        """A copy whose streams read ``frames`` frames (scaled per stream) and ``size`` px.

        For small CPU runs: the first stream gets ``frames``; other streams keep their
        published frame ratio to it (rounded, at least 1); every stream gets ``size``
        scaled by its published size ratio to the first stream.
        """
        first = self.streams[0]
        streams = []
        for s in self.streams:
            f = s.frames if frames is None else max(1, round(frames * s.frames / first.frames))
            z = s.size if size is None else max(8, round(size * s.size / first.size))
            streams.append(replace(s, frames=f, size=z))
        return replace(self, streams=tuple(streams))


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[str]:
    """Registered model names, in registration order."""
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; a clear error naming the choices otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MotionlabError(
            f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}"
        ) from None


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``model``."""
    return sum(p.numel() for p in model.parameters())


def build_model(
    name: str | ModelSpec,
    num_classes: int,
    *,
    pretrained: bool = False,
    weights: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """Build a registered architecture.

    Parameters
    ----------
    name : str or ModelSpec
        A registry name, or a spec (e.g. ``get_spec("x3d_xs").with_input(size=64)``).
    num_classes : int
        Number of output classes (>= 1).
    pretrained : bool
        Load the hub weights named by :attr:`ModelSpec.hub` (downloads; needs the network)
        and replace the classifier when ``num_classes`` differs from the hub's.
    weights : path, optional
        A local weights file (a state dict, or a dict with a ``"model"`` /
        ``"state_dict"`` / ``"model_state"`` entry). Tensors whose shapes differ (the
        classifier, when fine-tuning to other classes) are skipped with a log message.

    Returns
    -------
    nn.Module
        ``model(*inputs) -> (B, num_classes)`` logits (see the module docstring).

    Raises
    ------
    MotionlabError
        Unknown name, bad ``num_classes``, both ``pretrained`` and ``weights``, an
        unreadable weights file, or one that matches none of the model's tensors.
    """
    spec = name if isinstance(name, ModelSpec) else get_spec(name)
    if num_classes < 1:
        raise MotionlabError(f"num_classes must be >= 1, got {num_classes}")
    if pretrained and weights is not None:
        raise MotionlabError("give either pretrained=True or a weights file, not both")
    if pretrained:
        return check_logits_model(_build_pretrained(spec, num_classes), spec.name)
    model = check_logits_model(spec.builder(num_classes, spec.streams), spec.name)
    if weights is not None:
        load_weights(model, weights)
    return model


NORMALISING = ("Softmax", "LogSoftmax", "Softmin", "Softmax2d")
"""Module classes that turn logits into (log-)probabilities: never part of a zoo model."""


def check_logits_model(model: nn.Module, name: str = "model") -> nn.Module:
    """Return ``model`` after checking that it holds no softmax-like module.

    Every zoo model returns unnormalised logits: the loss (cross-entropy) and E2S's fusion
    (thesis §4.5) work on logits. pytorchvideo's X3D and R(2+1)D builders default to a
    softmax head activation, which the builders here turn off; this check keeps any
    builder from bringing one back.
    """
    found = [n for n, m in model.named_modules() if type(m).__name__ in NORMALISING]
    if found:
        raise MotionlabError(
            f"{name}: built with softmax modules ({', '.join(found)}); zoo models must "
            "return logits (this is a bug in its builder)"
        )
    return model


def _one_line(exc: BaseException) -> str:
    """A short reason from a torch.load error (whose text spans many lines of advice)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    noise = ("Weights only load failed", "(1)", "(2)", "Check the documentation", "Please file")
    useful = [ln for ln in lines if not ln.startswith(noise)]
    return (useful or lines or [type(exc).__name__])[0][:200]


def load_plain(
    path: str | os.PathLike[str], *, what: str = "checkpoint", device: str = "cpu"
) -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors that name the file.

    The file may hold tensors and plain containers and scalars (dict, list, tuple, str,
    int, float, bool, None) only: loading never runs code from a file (a pickle can name
    any callable, which ``weights_only=False`` would call). A file that names another
    Python object (a crafted pickle, or metadata saved as a class instance or a NumPy
    scalar) is refused, with the object's name, before anything of it runs.

    Raises
    ------
    MotionlabError
        Unreadable file, or one that holds objects other than tensors and plain types.
    """
    import pickle
    import re
    import warnings

    import torch

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of old files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise MotionlabError(
                f"refused to load {what} {path}: it holds a Python object ({found[1]}) where "
                "only tensors and plain types (dict/list/str/int/float) are allowed; loading "
                "it could run code, so it is never unpickled. If it is your own file from an "
                "older version, re-save its tensors with plain-typed metadata"
            ) from exc
        raise MotionlabError(f"cannot read {what} {path}: {_one_line(exc)}") from exc
    except Exception as exc:  # torch raises many types for a corrupt file
        raise MotionlabError(
            f"cannot read {what} {path}: {_one_line(exc) if str(exc) else type(exc).__name__}"
            " (not a torch file, or truncated)"
        ) from exc


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict in a local weights file: a plain state dict, or a checkpoint holding
    one under ``"model"`` / ``"state_dict"`` / ``"model_state"`` (pytorchvideo ``.pyth``);
    DDP's ``module.`` prefixes removed."""
    path = Path(path)
    if not path.is_file():
        raise MotionlabError(f"weights file {path} does not exist")
    state = load_plain(path, what="weights file")
    for key in ("model", "state_dict", "model_state"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise MotionlabError(f"weights file {path} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> list[str]:
    """Load a local weights file into ``model``, skipping tensors of another shape.

    Returns the names of the skipped (or unknown) tensors.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise MotionlabError(
            f"weights file {path} matches none of the model's tensors; is it for this architecture?"
        )
    skipped = sorted(set(state) - set(usable))
    missing = sorted(set(own) - set(usable))
    if skipped or missing:
        log.info("weights %s: skipped %s; left initialised %s", path, skipped, missing)
    model.load_state_dict(usable, strict=False)
    return skipped


def replace_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the last ``nn.Linear`` of ``model`` by a new one with ``num_classes`` outputs.

    Every zoo network ends in one linear classifier (pytorchvideo ``proj``, torchvision
    ``fc`` / ``heads.head``), so the last Linear in module order is it.
    """
    from torch import nn

    last: tuple[nn.Module, str, nn.Linear] | None = None
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Linear):
                last = (parent, child_name, child)
    if last is None:
        raise MotionlabError("model has no linear classifier to replace")
    parent, child_name, old = last
    if old.out_features != num_classes:
        setattr(parent, child_name, nn.Linear(old.in_features, num_classes))
    return model


def _build_pretrained(spec: ModelSpec, num_classes: int) -> nn.Module:
    if spec.pretrained_builder is not None:
        return spec.pretrained_builder(spec, num_classes)
    if spec.hub is None:
        raise MotionlabError(
            f"no public pretrained weights for {spec.name!r}; train it from scratch or pass "
            "a local weights file"
        )
    source, hub_name = spec.hub.split(":")
    try:
        if source == "pytorchvideo":
            from pytorchvideo.models import hub

            # the head activation has no weights: the hub checkpoint loads without it
            core = getattr(hub, hub_name)(pretrained=True, head_activation=None)
        else:
            import torchvision

            core = torchvision.models.get_model(hub_name, weights="DEFAULT")
    except OSError as exc:  # URLError is an OSError
        raise MotionlabError(
            f"cannot download {spec.hub} weights ({exc}); on a machine without network, "
            "pass a local weights file instead"
        ) from exc
    replace_classifier(core, num_classes)
    return _WRAPPERS[spec.name](core, spec.streams)


# --------------------------------------------------------------------------------------
# wrappers and builders


def _adaptive_pools(model: nn.Module) -> nn.Module:
    """Replace every ``AvgPool3d`` of ``model`` (the heads' final pools) by a global
    ``AdaptiveAvgPool3d(1)``.

    Deliberate difference: pytorchvideo sizes the head pool for the published clip
    (e.g. 16×7×7 for X3D-M at 224 px), which fails on any other clip; a global pool is the
    same operation at the published size and runs on small CPU clips too.
    """
    from torch import nn

    for parent in list(model.modules()):
        for child_name, child in parent.named_children():
            if isinstance(child, nn.AvgPool3d):
                setattr(parent, child_name, nn.AdaptiveAvgPool3d(1))
    return model


def _identity_wrap(core: nn.Module, streams: tuple[StreamSpec, ...]) -> nn.Module:
    return _adaptive_pools(core)


def _slowfast_wrap(core: nn.Module, streams: tuple[StreamSpec, ...]) -> nn.Module:
    from motionlab.recognition.nets import SlowFastFromClip

    return SlowFastFromClip(_adaptive_pools(core), alpha=4)


def _frames_wrap(core: nn.Module, streams: tuple[StreamSpec, ...]) -> nn.Module:
    from motionlab.recognition.nets import PerFrame

    return PerFrame(core)


_WRAPPERS: dict[str, Callable[[nn.Module, tuple[StreamSpec, ...]], nn.Module]] = {}


def _pytorchvideo_builder(hub_name: str) -> Builder:
    def build(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
        from pytorchvideo.models import hub

        kwargs: dict[str, Any] = {}
        s = streams[-1]
        if hub_name.startswith("mvit"):
            kwargs |= {
                "head_num_classes": num_classes,
                "spatial_size": s.size,
                "temporal_size": s.frames,
            }
        else:
            kwargs["model_num_class"] = num_classes
        if s.kind == "flow":
            kwargs["input_channel"] = 2
        # pytorchvideo's X3D and R(2+1)D builders end in a softmax by default: logits here.
        kwargs["head_activation"] = None
        core = getattr(hub, hub_name)(pretrained=False, **kwargs)
        if hub_name == "slowfast_r50":
            return _slowfast_wrap(core, streams)
        return _identity_wrap(core, streams)

    return build


def _torchvision_builder(tv_name: str) -> Builder:
    def build(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
        import torchvision

        kwargs: dict[str, Any] = {"num_classes": num_classes}
        if tv_name.startswith("vit"):
            patch = int(tv_name.rsplit("_", 1)[1])
            if streams[0].size % patch:
                raise MotionlabError(
                    f"{tv_name} needs a crop size divisible by its patch size {patch}, "
                    f"got {streams[0].size}"
                )
            kwargs["image_size"] = streams[0].size
        core = torchvision.models.get_model(tv_name, weights=None, **kwargs)
        return _frames_wrap(core, streams)

    return build


def _fast_builder(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
    """Fast: SlowFast-R50's fast pathway alone (thesis Table 4.1, "Fast [27]", 32×2).

    The fast pathway of pytorchvideo's ``slowfast_r50`` as a single-pathway ResNet-50:
    channels β = 1/8 of the slow pathway's (stem 8, stages 32/64/128/256 out), a 5×7×7
    stem, temporal kernels (3×1×1) in the first convolution of every stage, no temporal
    striding; without the lateral fast-to-slow fusion convolutions (they belong to the
    slow side) and with its own 256 -> K classifier. Its trunk has the shapes of the
    SlowFast fast pathway tensor for tensor (tested). No public weights exist for it alone.
    """
    from pytorchvideo.models.resnet import create_resnet

    core = create_resnet(
        input_channel=streams[0].channels,
        model_depth=50,
        model_num_class=num_classes,
        stem_dim_out=8,
        stem_conv_kernel_size=(5, 7, 7),
        stage_conv_a_kernel_size=((3, 1, 1),) * 4,
        head_pool_kernel_size=(streams[0].frames, 7, 7),
        head_activation=None,
    )
    return _identity_wrap(core, streams)


def _two_stream_builder(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
    import torchvision
    from torch import nn

    from motionlab.recognition.nets import PerFrame, StackedFlow2D, TwoStreamAverage

    spatial = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    temporal = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    flows = streams[1].frames
    temporal.conv1 = nn.Conv2d(2 * flows, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return TwoStreamAverage(PerFrame(spatial), StackedFlow2D(temporal))


def _tiny3d_builder(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
    from motionlab.recognition.nets import Tiny3D

    return Tiny3D(num_classes, in_channels=streams[0].channels)


def _tiny2d_builder(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
    from motionlab.recognition.nets import Tiny2D

    return Tiny2D(num_classes, in_channels=streams[0].channels)


def _e2s_tiny_builder(num_classes: int, streams: tuple[StreamSpec, ...]) -> nn.Module:
    from motionlab.recognition.nets import E2SX3D, Tiny3D

    a = Tiny3D(num_classes, in_channels=streams[0].channels)
    b = Tiny3D(num_classes, in_channels=streams[1].channels)
    return E2SX3D(a, b, num_classes)
