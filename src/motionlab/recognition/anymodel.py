"""Any video classifier as a motionlab model: for ``diagnose`` and ``predict``.

``--model`` names one of (:func:`parse_model_ref`):

- a checkpoint of ``motionlab train`` (its classes, streams and flow source come with it);
- a zoo name (``motionlab models``) with ``--weights PATH`` (a state dict; loaded
  strictly: every tensor must fit the architecture and class count);
- a TorchScript file (``torch.jit.save``): **loading one runs the code it holds**, so use
  only files you would run as a program;
- ``hub:owner/repo:entry`` (``owner/repo[:ref]`` as ``torch.hub`` takes it): downloads the
  repository and runs its ``hubconf.py`` (code from the network) on first use;
- ``module:function``: a Python function (importable, e.g. from your own package or a
  file on ``PYTHONPATH``) that returns an ``nn.Module``; it runs as any import does.

Everything but a motionlab checkpoint is a single RGB stream taking one float tensor
``(B, 3, T, S, S)`` (C, T, H, W per clip), described by :class:`InputSpec`: frames T,
stride r, crop S, the mean and std (in 0..1 units) it was trained with, and its channel
order. :class:`InputAdapter` converts the dataset's normalisation
(``(x / 255 - 0.45) / 0.225``, RGB) to that spec inside the model, so the same clips feed
every model. The model must return ``(B, K)`` scores (logits or probabilities: only their
order matters here).
"""

from __future__ import annotations

import importlib
import os
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from motionlab.errors import MotionlabError
from motionlab.recognition.data import RGB_MEAN, RGB_STD
from motionlab.recognition.zoo import ModelSpec, StreamSpec, _one_line

_HUB = re.compile(r"^hub:(?P<repo>[\w.-]+/[\w.-]+(?::[\w./-]+)?):(?P<entry>[A-Za-z_]\w*)$")
_ENTRY = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<function>[A-Za-z_]\w*)$")


@dataclass(frozen=True)
class ModelRef:
    """What ``--model`` names: ``kind`` is ``checkpoint``, ``torchscript``, ``zoo``,
    ``hub`` or ``entry``; ``target`` the path, zoo name, ``owner/repo[:ref]`` or module;
    ``entry`` the hub entry or function name."""

    kind: str
    target: str
    entry: str | None = None


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (a zip with ``code/`` and ``constants.pkl``), as opposed to a
    ``torch.save`` file (a zip with ``data.pkl`` only)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any("/code/" in n for n in names) and any(n.endswith("constants.pkl") for n in names)


def parse_model_ref(text: str) -> ModelRef:
    """Tell what ``--model TEXT`` names (see the module docstring).

    Raises
    ------
    MotionlabError
        A ``hub:`` reference not of the form ``hub:owner/repo[:ref]:entry``, or text that
        is neither an existing file, a zoo name, nor ``module:function``.
    """
    from motionlab.recognition.zoo import list_models

    if text.startswith("hub:"):
        found = _HUB.match(text)
        if not found:
            raise MotionlabError(
                f"--model {text}: a torch.hub model is hub:owner/repo:entry "
                "(or hub:owner/repo:ref:entry), e.g. hub:facebookresearch/pytorchvideo:x3d_s"
            )
        return ModelRef("hub", found["repo"], found["entry"])
    path = Path(text)
    if path.is_file():
        return ModelRef("torchscript" if _is_torchscript(path) else "checkpoint", text)
    if text in list_models():
        return ModelRef("zoo", text)
    found = _ENTRY.match(text)
    if found:
        return ModelRef("entry", found["module"], found["function"])
    if path.suffix in (".pt", ".pth", ".pyth", ".ckpt") or os.sep in text:
        raise MotionlabError(f"--model {text}: no such file")
    raise MotionlabError(
        f"--model {text}: not a file, a zoo model (motionlab models), hub:owner/repo:entry "
        "or module:function"
    )


@dataclass(frozen=True)
class InputSpec:
    """The input a single-stream RGB model expects: ``(B, 3, frames, size, size)``.

    Attributes
    ----------
    frames, rate : int
        T frames sampled every ``rate`` source frames.
    size : int
        Side of the centre crop, px.
    mean, std : 3 floats
        Per-channel normalisation in 0..1 units, in the model's channel order:
        ``(x / 255 - mean) / std``.
    channel_order : {"rgb", "bgr"}
    """

    frames: int = 8
    rate: int = 2
    size: int = 112
    mean: tuple[float, float, float] = (RGB_MEAN, RGB_MEAN, RGB_MEAN)
    std: tuple[float, float, float] = (RGB_STD, RGB_STD, RGB_STD)
    channel_order: str = "rgb"

    def __post_init__(self) -> None:
        if self.frames < 1 or self.rate < 1 or self.size < 8:
            raise MotionlabError(
                f"input spec needs frames >= 1, rate >= 1, size >= 8; got {self.frames}, "
                f"{self.rate}, {self.size}"
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise MotionlabError("mean and std take three values each, std > 0")
        if self.channel_order not in ("rgb", "bgr"):
            raise MotionlabError(f"channel order is rgb or bgr, got {self.channel_order!r}")

    @property
    def stream(self) -> StreamSpec:
        """The RGB stream that feeds it."""
        return StreamSpec("rgb", self.frames, self.rate, self.size)


class InputAdapter(nn.Module):
    """Wrap a model so that it takes motionlab's clips.

    ``forward(x)`` with ``x`` normalised as ``(v / 255 - 0.45) / 0.225`` in RGB order
    (:func:`motionlab.recognition.data.rgb_to_tensor_layout`) computes ``v / 255``,
    reorders the channels to ``spec.channel_order`` and applies ``spec``'s mean and std.
    """

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        super().__init__()
        self.model = model
        self.bgr = spec.channel_order == "bgr"
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x * RGB_STD + RGB_MEAN
        if self.bgr:
            v = v.flip(1)
        return self.model((v - self.mean) / self.std)


@dataclass
class LoadedModel:
    """A model ready for motionlab's clips.

    Attributes
    ----------
    model : nn.Module
        ``model(*inputs) -> (B, K)``, inputs as :class:`ClipDataset` makes them.
    streams : tuple of StreamSpec
    classes : list of str or None
        Names of the K outputs, when known (checkpoint or ``--classes``).
    name : str
        For tables.
    kind : str
        :attr:`ModelRef.kind`.
    spec : ModelSpec or None
        For checkpoints and zoo models.
    checkpoint : dict or None
        A motionlab checkpoint's contents (its flow source is checked).
    """

    model: nn.Module
    streams: tuple[StreamSpec, ...]
    classes: list[str] | None
    name: str
    kind: str
    spec: ModelSpec | None = None
    checkpoint: dict[str, Any] | None = None
    outputs: int = 0
    """K, measured by :func:`probe_outputs` when loaded."""


def read_class_names(path: str | os.PathLike[str]) -> list[str]:
    """Output names, one per line (blank lines skipped; ``index name`` lines as in
    UCF101's ``classInd.txt`` are accepted)."""
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionlabError(f"cannot read --classes {path}: {exc}") from None
    if not lines:
        raise MotionlabError(f"--classes {path} is empty")
    words = [ln.split(maxsplit=1) for ln in lines]
    if all(len(w) == 2 and w[0].isdigit() for w in words):
        return [w[1] for w in sorted(words, key=lambda w: int(w[0]))]
    return lines


def _strict_load(model: nn.Module, state: dict[str, Any], where: str, what: str) -> None:
    """Load ``state`` into ``model``; a one-line error on any missing, unexpected or
    misshapen tensor (another architecture or class count)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model"
        for k in own
        if k in state and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} of another shape (first: {shapes[0]})")
        if missing:
            parts.append(f"{len(missing)} missing (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
        raise MotionlabError(
            f"{where} does not fit {what}: tensors {'; '.join(parts)}; is it for this "
            "architecture and class count?"
        )
    model.load_state_dict(state)


def _classifier_outputs(model: nn.Module, state: dict[str, Any]) -> int | None:
    """Rows of the weights' tensor for the model's last ``nn.Linear`` (its class count)."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        return None
    weight = state.get(f"{names[-1]}.weight")
    return int(weight.shape[0]) if hasattr(weight, "shape") and weight.ndim == 2 else None


def load_any_model(
    ref: ModelRef | str,
    *,
    weights: str | os.PathLike[str] | None = None,
    classes: list[str] | None = None,
    num_classes: int | None = None,
    input_spec: InputSpec | None = None,
    device: str = "cpu",
) -> LoadedModel:
    """Load what ``--model`` names (see the module docstring) and check its input.

    Parameters
    ----------
    ref : ModelRef or str
    weights : path, optional
        For a zoo name: its state dict (or a checkpoint holding one); required.
    classes : list of str, optional
        Output names (``--classes``); their count is the class count of a zoo model.
    num_classes : int, optional
        Class count of a zoo model when no ``classes`` are given (default: the rows of
        the weights' classifier).
    input_spec : InputSpec, optional
        For TorchScript, hub and entry-point models (default :class:`InputSpec`); for a
        zoo model only ``frames``, ``size`` and ``rate`` apply (to its first stream; other
        streams keep their published ratios to it, ``ModelSpec.with_input``).
    device : str

    Raises
    ------
    MotionlabError
        Anything that keeps the model from running on its input, in one line: an
        unreadable file, weights of another architecture or class count, an entry point
        that does not import or returns no ``nn.Module``, a hub entry that cannot be
        fetched, a model that does not accept ``(1, 3, T, S, S)`` or returns anything
        but ``(1, K)``, or ``--classes`` of another length than K.
    """
    if isinstance(ref, str):
        ref = parse_model_ref(ref)
    if weights is not None and ref.kind != "zoo":
        raise MotionlabError(f"--weights applies to a zoo model name, not to a {ref.kind}")
    if ref.kind == "checkpoint":
        from motionlab.recognition.train import load_checkpoint

        model, spec, ckpt = load_checkpoint(ref.target, device=device)
        names = list(ckpt["classes"])
        if classes is not None and list(classes) != names:
            raise MotionlabError(
                f"--classes lists {len(classes)} names, {ref.target} was trained on {names}"
            )
        loaded = LoadedModel(model.eval(), spec.streams, names, spec.name, ref.kind, spec, ckpt)
    elif ref.kind == "zoo":
        loaded = _load_zoo(ref, weights, classes, num_classes, input_spec, device)
    else:
        spec_in = input_spec or InputSpec()
        raw = _load_foreign(ref)
        if not isinstance(raw, nn.Module):
            raise MotionlabError(
                f"--model {_ref_text(ref)} gave a {type(raw).__name__}, not a torch nn.Module"
            )
        loaded = LoadedModel(
            InputAdapter(raw, spec_in).eval(), (spec_in.stream,), classes, _ref_text(ref),
            ref.kind,
        )  # fmt: skip
    loaded.model = loaded.model.to(device).eval()
    k = probe_outputs(loaded, device=device)
    if loaded.classes is not None and len(loaded.classes) != k:
        raise MotionlabError(
            f"{loaded.name} has {k} outputs, the class names list {len(loaded.classes)}"
        )
    loaded.outputs = k
    return loaded


def _ref_text(ref: ModelRef) -> str:
    if ref.kind == "hub":
        return f"hub:{ref.target}:{ref.entry}"
    if ref.kind == "entry":
        return f"{ref.target}:{ref.entry}"
    return ref.target


def _load_zoo(
    ref: ModelRef,
    weights: str | os.PathLike[str] | None,
    classes: list[str] | None,
    num_classes: int | None,
    input_spec: InputSpec | None,
    device: str,
) -> LoadedModel:
    from motionlab.recognition.zoo import build_model, get_spec, read_state_dict

    if weights is None:
        raise MotionlabError(
            f"--model {ref.target} is a zoo architecture: give its trained weights with "
            "--weights PATH (random weights would diagnose nothing)"
        )
    spec = get_spec(ref.target)
    if input_spec is not None:
        spec = spec.with_input(frames=input_spec.frames, size=input_spec.size)
        first = replace(spec.streams[0], rate=input_spec.rate)
        spec = replace(spec, streams=(first, *spec.streams[1:]))
    state = read_state_dict(weights)
    k = len(classes) if classes is not None else num_classes
    if k is None:
        k = _classifier_outputs(build_model(spec, 1), state)
        if k is None:
            raise MotionlabError(f"cannot tell the class count of {weights}; give --classes FILE")
    model = build_model(spec, k)
    _strict_load(model, state, f"weights {weights}", f"{spec.name} with {k} classes")
    return LoadedModel(model, spec.streams, classes, spec.name, "zoo", spec)


def _load_foreign(ref: ModelRef) -> Any:
    """The object a TorchScript file, a hub entry or an entry point gives."""
    if ref.kind == "torchscript":
        try:
            return torch.jit.load(ref.target, map_location="cpu")
        except Exception as exc:
            raise MotionlabError(f"cannot load TorchScript {ref.target}: {_one_line(exc)}") from exc
    if ref.kind == "hub":
        try:
            return torch.hub.load(ref.target, ref.entry, trust_repo=True)
        except Exception as exc:
            raise MotionlabError(
                f"cannot load hub:{ref.target}:{ref.entry} from torch.hub "
                f"({type(exc).__name__}: {_one_line(exc)}); it needs the network the first "
                "time and an entry of that name in the repository's hubconf.py"
            ) from exc
    assert ref.entry is not None
    try:
        module = importlib.import_module(ref.target)
    except Exception as exc:
        raise MotionlabError(
            f"cannot import module {ref.target!r} for --model {ref.target}:{ref.entry} "
            f"({type(exc).__name__}: {_one_line(exc)}); is it installed or on PYTHONPATH?"
        ) from exc
    function = getattr(module, ref.entry, None)
    if not callable(function):
        raise MotionlabError(f"module {ref.target} has no function {ref.entry!r}")
    try:
        return function()
    except Exception as exc:
        raise MotionlabError(
            f"{ref.target}:{ref.entry}() failed: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc


def probe_outputs(loaded: LoadedModel, *, device: str = "cpu") -> int:
    """Run ``loaded.model`` once on zero clips of its streams' shapes and return K.

    Raises
    ------
    MotionlabError
        The model does not accept the input, or returns anything but one ``(1, K)``
        tensor.
    """
    shapes = [(1, s.channels, s.frames, s.size, s.size) for s in loaded.streams]
    inputs = [torch.zeros(shape, device=device) for shape in shapes]
    what = " and ".join(str(s) for s in shapes)
    try:
        with torch.no_grad():
            out = loaded.model(*inputs)
    except Exception as exc:
        hint = (
            "set --frames/--size (and --mean/--std/--channel-order) to the input it was made for"
            if loaded.kind in ("torchscript", "hub", "entry")
            else "the checkpoint and its architecture disagree"
        )
        raise MotionlabError(
            f"{loaded.name} does not take input {what} (B, C, T, H, W): "
            f"{type(exc).__name__}: {_one_line(exc)}; {hint}"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise MotionlabError(
            f"{loaded.name} returned {got} for input {what}; expected scores (1, K)"
        )
    return int(out.shape[1])


def label_map(dataset_classes: list[str], model_classes: list[str] | None, outputs: int) -> Any:
    """For each dataset class, the index of the model output that stands for it.

    With output names (a checkpoint, ``--classes``) the dataset's classes are found by
    name among them (the model may have more outputs, e.g. Kinetics' 400, and is then
    scored among all of them); without, the model must have one output per dataset class,
    in the dataset's class order (``classInd.txt`` or the sorted class folders).

    Returns
    -------
    (len(dataset_classes),) int64 ndarray

    Raises
    ------
    MotionlabError
        A dataset class the model has no output for, or a count mismatch.
    """
    import numpy as np

    if model_classes is None:
        if outputs != len(dataset_classes):
            raise MotionlabError(
                f"the model has {outputs} outputs, the dataset {len(dataset_classes)} classes; "
                "give the names of its outputs with --classes FILE"
            )
        return np.arange(outputs, dtype=np.int64)
    where = {c: i for i, c in enumerate(model_classes)}
    missing = [c for c in dataset_classes if c not in where]
    if missing:
        raise MotionlabError(
            f"the model has no output for the dataset's classes {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''} (its classes: {', '.join(model_classes[:5])}"
            f"{' ...' if len(model_classes) > 5 else ''})"
        )
    return np.array([where[c] for c in dataset_classes], dtype=np.int64)


def score_dataset(
    model: nn.Module,
    dataset: Any,
    *,
    batch_size: int = 8,
    workers: int = 0,
    device: str = "cpu",
    progress: bool = False,
    desc: str = "score",
) -> Any:
    """Scores ``(N, K)`` float32 of ``model`` on every item of ``dataset`` (in order)."""
    import numpy as np
    from torch.utils.data import DataLoader

    from motionlab.progress import track

    dev = torch.device(device)
    model = model.to(dev).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    scores = []
    with torch.no_grad():
        for inputs, _ in track(loader, desc, unit="batch", enabled=progress):
            out = model(*(x.to(dev) for x in inputs))
            scores.append(out.float().cpu().numpy())
    return np.concatenate(scores)
