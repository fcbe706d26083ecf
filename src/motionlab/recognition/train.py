"""Training and evaluation of zoo models on clip datasets.

Training (thesis §4.4; :data:`RECIPES`, ``thesis`` by default): Adam at lr 3e-4,
cross-entropy on the model's logits (:func:`train_step`), early stopping on the loss of a
validation part held out of the training list (never the test list), at most 80 epochs, a
checkpoint every epoch (``last.pt``, atomic) plus the best one (``best.pt``), resume from
``last.pt``, a CSV log (``log.csv``; TensorBoard too when installed), mixed precision on
CUDA, and DDP when started by ``torchrun`` (WORLD_SIZE > 1; rank 0 writes). Checkpoints
hold tensors and plain-typed metadata only and are read with ``weights_only=True``
(:func:`read_checkpoint`); a model with a flow stream records its flow source
(:func:`check_flow_source`). Evaluation: loss, top-1 / top-5, per-class accuracy and the
confusion matrix.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError
from motionlab.provenance import write_sidecar
from motionlab.recognition.data import ClipDataset, FlowSource, flow_source_mismatch
from motionlab.recognition.metrics import confusion_matrix, per_class_accuracy, topk_accuracy
from motionlab.recognition.zoo import ModelSpec, StreamSpec, build_model, get_spec, load_plain

log = logging.getLogger(__name__)

LAST = "last.pt"
BEST = "best.pt"
LOG = "log.csv"


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (recorded in every checkpoint and ``config.json``).

    The defaults are the thesis recipe (§4.4, :data:`RECIPES` ``"thesis"``): Adam at
    3e-4 without weight decay, early stopping, augmentation that relaxes every 20 epochs,
    at most 80 epochs; the crops (224, 160 for X3D XS/S) come with the model's streams.
    """

    epochs: int = 80
    """At most this many epochs (§4.4: "capping at 80 epochs")."""
    batch_size: int = 8
    lr: float = 3e-4
    optimizer: str = "adam"
    """``adam`` (§4.4: "We train with Adam") or ``adamw``."""
    weight_decay: float = 0.0
    """AdamW's decoupled weight decay (Adam: L2 penalty; 0 turns it off)."""
    patience: int = 10
    """Stop after this many epochs without a lower validation loss (the thesis names no
    patience; 10 is ours)."""
    workers: int = 0
    """DataLoader worker processes decoding with PyAV (0 = in the main process)."""
    seed: int = 0
    device: str = "cpu"
    amp: bool = True
    """Mixed precision (float16 autocast + grad scaling); only on CUDA."""
    steps_per_epoch: int | None = None
    """Stop an epoch after this many batches (for quick CPU runs); None = whole set."""
    augment_step: int = 20
    """Epochs per augmentation stage (aggressive -> mild)."""
    max_seconds: float | None = None
    """Stop after the first epoch that ends past this wall time (CPU budgets); None = no limit."""
    val_fraction: float = 0.1
    """Share of each class's groups of the training list held out for validation (early
    stopping and the choice of ``best.pt``; :func:`~motionlab.recognition.data.
    hold_out_validation`); the test list is never used for either."""
    recipe: str = "thesis"
    """Name of the recipe these settings started from (recorded; see :data:`RECIPES`)."""

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "adamw"):
            raise MotionlabError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise MotionlabError("epochs, batch_size and patience must be >= 1")
        if not self.lr > 0:
            raise MotionlabError(f"lr must be positive, got {self.lr}")
        if not self.weight_decay >= 0:
            raise MotionlabError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.0 < self.val_fraction < 1.0:
            raise MotionlabError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.augment_step < 1:
            raise MotionlabError(f"augment_step must be >= 1, got {self.augment_step}")


RECIPES: dict[str, TrainConfig] = {
    # §4.4: Adam, lr 3e-4, early stopping, augmentation relaxing every 20 epochs, <= 80
    # epochs; validation held out of the training list.
    "thesis": TrainConfig(),
    # this package's earlier default: AdamW with decoupled weight decay 0.05, <= 60 epochs
    "adamw": TrainConfig(epochs=60, optimizer="adamw", weight_decay=0.05, recipe="adamw"),
}
"""Named training recipes (``motionlab train --recipe NAME``; ``thesis`` is the default)."""


def get_recipe(name: str, **overrides: Any) -> TrainConfig:
    """The recipe ``name`` with ``overrides`` (fields of :class:`TrainConfig` that are not
    None) applied; a clear error naming the recipes otherwise."""
    if name not in RECIPES:
        raise MotionlabError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(RECIPES[name], **changes)


@dataclass
class EvalResult:
    """Evaluation of a model on a dataset.

    Attributes
    ----------
    loss : float
        Mean cross-entropy.
    top1, top5 : float
        Accuracies in 0..1.
    confusion : (K, K) int ndarray
        Row = true class, column = prediction.
    scores : (N, K) float ndarray
        Logits of every sample.
    labels : (N,) int ndarray
    """

    loss: float
    top1: float
    top5: float
    confusion: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @property
    def per_class(self) -> np.ndarray:
        """(K,) per-class accuracy (NaN for classes without samples)."""
        return per_class_accuracy(self.confusion)


@dataclass
class EarlyStopping:
    """Early stopping on the validation loss: stop after ``patience`` epochs in a row
    without a loss strictly lower than the best so far."""

    patience: int
    best: float = float("inf")
    best_epoch: int = -1
    bad_epochs: int = 0

    def update(self, epoch: int, loss: float) -> bool:
        """Record ``epoch``'s validation loss; True when it is a new best."""
        if loss < self.best:
            self.best, self.best_epoch, self.bad_epochs = loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def stop(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.bad_epochs >= self.patience


@dataclass
class TrainResult:
    """What :func:`train` did: the log rows, the epoch of the best model, why it stopped."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = float("inf")
    stopped: str = ""
    seconds: float = 0.0


def _forward(
    model: nn.Module, inputs: Sequence[torch.Tensor], device: torch.device
) -> torch.Tensor:
    return model(*(x.to(device, non_blocking=True) for x in inputs))


def _distributed() -> tuple[int, int]:
    """(rank, world size) under torchrun; (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world


def evaluate(
    model: nn.Module,
    dataset: ClipDataset,
    *,
    num_classes: int,
    batch_size: int = 8,
    workers: int = 0,
    device: str = "cpu",
    progress: bool = False,
) -> EvalResult:
    """Evaluate ``model`` on every clip of ``dataset`` (centre clips when ``train=False``)."""
    from motionlab.progress import track

    dev = torch.device(device)
    model = model.to(dev).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    scores, labels, losses = [], [], []
    with torch.no_grad():
        for inputs, y in track(loader, "evaluate", unit="batch", enabled=progress):
            logits = _forward(model, inputs, dev).float()
            losses.append(nn.functional.cross_entropy(logits, y.to(dev), reduction="sum").item())
            scores.append(logits.cpu().numpy())
            labels.append(y.numpy())
    s = np.concatenate(scores)
    t = np.concatenate(labels)
    return EvalResult(
        loss=float(sum(losses) / len(t)),
        top1=topk_accuracy(s, t, 1),
        top5=topk_accuracy(s, t, 5),
        confusion=confusion_matrix(t, s.argmax(1), num_classes),
        scores=s,
        labels=t,
    )


def train_step(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on one batch: ``loss = F.cross_entropy(logits, labels)``.

    ``model(*inputs)`` must return unnormalised logits ``(B, K)`` (every zoo model does):
    cross-entropy applies the log-softmax itself, so a model that returned probabilities
    would be trained on ``log_softmax(softmax(z))``, whose gradients vanish as the
    probabilities saturate.

    Returns
    -------
    loss : () tensor
        The batch's mean cross-entropy (detached).
    logits : (B, K) tensor
        The model's output for the batch (detached).
    """
    device = labels.device
    with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
        logits = _forward(model, inputs, device)
        loss = nn.functional.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return loss.detach(), logits.detach()


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """What a checkpoint records of a spec: its name and (possibly resized) streams."""
    return {"name": spec.name, "streams": [asdict(s) for s in spec.streams]}


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    """Inverse of :func:`spec_to_dict` (the builder comes from the registry)."""
    base = get_spec(data["name"])
    return replace(base, streams=tuple(StreamSpec(**s) for s in data["streams"]))


def load_checkpoint(
    path: str | os.PathLike[str], *, device: str = "cpu"
) -> tuple[nn.Module, ModelSpec, dict[str, Any]]:
    """Rebuild the model of a motionlab checkpoint.

    Returns
    -------
    model, spec, checkpoint
        ``checkpoint`` holds ``classes``, ``epoch``, ``config``, ``history``...
    """
    ckpt = read_checkpoint(path, device=device)
    spec = spec_from_dict(ckpt["spec"])
    model = build_model(spec, len(ckpt["classes"]))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:  # missing / unexpected keys, shape mismatches
        raise MotionlabError(
            f"{path}: its weights do not fit {spec.name} with {len(ckpt['classes'])} classes "
            f"({str(exc).splitlines()[0]})"
        ) from exc
    return model.to(device), spec, ckpt


def read_checkpoint(path: str | os.PathLike[str], *, device: str = "cpu") -> dict[str, Any]:
    """The dict of a motionlab checkpoint, loaded with ``weights_only=True``.

    Never runs code from the file: tensors and plain types only (see
    :func:`motionlab.recognition.zoo.load_plain`); a crafted pickle is refused with a
    one-line error naming the file and the object it tried to build. Checkpoints of
    earlier motionlab versions load as long as they hold only such types (they do: their
    metadata was already plain).
    """
    path = Path(path)
    if not path.is_file():
        raise MotionlabError(f"{path}: no such checkpoint")
    ckpt = load_plain(path, what="checkpoint", device=device)
    if not isinstance(ckpt, dict) or "spec" not in ckpt or "model" not in ckpt:
        raise MotionlabError(f"{path} is not a motionlab checkpoint (made by `motionlab train`)")
    try:
        spec_from_dict(ckpt["spec"])
        list(ckpt["classes"])
    except (KeyError, TypeError) as exc:
        raise MotionlabError(f"{path}: malformed motionlab checkpoint (spec or classes)") from exc
    return ckpt


def plain(value: Any) -> Any:
    """``value`` as plain types that ``torch.load(weights_only=True)`` accepts: dict (str
    keys), list, str, int, float, bool, None. NumPy scalars and arrays, tuples and paths
    are converted; anything else is a ``TypeError`` (a bug: checkpoints hold no objects)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    raise TypeError(f"checkpoint metadata must be plain data, got {type(value).__name__}")


def flow_source_record(spec: ModelSpec, dataset: ClipDataset) -> dict[str, Any] | None:
    """What a checkpoint records of how its flow stream's input was made
    (:meth:`FlowSource.describe`); None for a model without a flow stream."""
    if not any(s.kind == "flow" for s in spec.streams):
        return None
    return dataset.flow.describe()


def check_flow_source(
    ckpt: dict[str, Any],
    spec: ModelSpec,
    flow: FlowSource,
    *,
    allow: bool = False,
    where: str = "checkpoint",
) -> None:
    """Refuse to run a checkpoint's flow stream on flow made another way than in training.

    A flow stream learns the statistics of one estimator (its smoothness, its errors,
    its scale): fed another method's flow it scores far lower with no sign of why (an
    E2S model trained on one flow source and evaluated with another fell from 83/58 to
    50/25 % RGB/AFD top-1 on the synthetic set). So a mismatch is an error by default;
    ``allow=True`` (``--allow-flow-mismatch``) turns it into a logged warning, for
    deliberate experiments. Checkpoints from before the flow source was recorded are let
    through with a warning. Models without a flow stream are not checked.

    Raises
    ------
    MotionlabError
        The recorded and the given flow sources differ (method, options, bound), or the
        given cache has no manifest to tell how its flow was made.
    """
    if not any(s.kind == "flow" for s in spec.streams):
        return
    recorded = ckpt.get("flow_source")
    if not isinstance(recorded, dict):
        log.warning(
            "%s does not record how its flow input was made (saved by an older motionlab); "
            "make sure the flow source is the one it was trained with", where,
        )  # fmt: skip
        return
    reason = flow_source_mismatch(recorded, flow.describe())
    if reason is None:
        return
    message = (
        f"{where}: flow source differs from training: {reason}; use the same flow source "
        "(--flow-cache / --flow-method) or pass --allow-flow-mismatch to run it anyway"
    )
    if not allow:
        raise MotionlabError(message)
    log.warning("%s (allowed by --allow-flow-mismatch)", message)


def _write_log(path: Path, rows: list[dict[str, float]]) -> None:
    with atomic_file(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _join_group(config: TrainConfig, world: int) -> tuple[bool, torch.device]:
    """Start the process group of a multi-process run when the launcher has not (whether
    we did, to end it), and the device of this process (``cuda:LOCAL_RANK`` in a
    multi-GPU run)."""
    own_group = world > 1 and not torch.distributed.is_initialized()
    if own_group:
        backend = "nccl" if config.device.startswith("cuda") else "gloo"
        torch.distributed.init_process_group(backend)
    device = torch.device(
        f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        if world > 1 and config.device.startswith("cuda")
        else config.device
    )
    return own_group, device


def _log_row(
    epoch: int, total: int, correct: int, loss_sum: float, val: EvalResult,
    optimizer: torch.optim.Optimizer, tic: float,
) -> dict[str, Any]:  # fmt: skip
    """One row of ``log.csv``: the epoch's training and validation figures."""
    return {
        "epoch": epoch,
        "train_loss": round(loss_sum / max(total, 1), 5),
        "train_top1": round(correct / max(total, 1), 5),
        "val_loss": round(val.loss, 5),
        "val_top1": round(val.top1, 5),
        "val_top5": round(val.top5, 5),
        "lr": optimizer.param_groups[0]["lr"],
        "seconds": round(time.time() - tic, 2),
    }


def _resume(
    path: Path,
    spec: ModelSpec,
    classes: Sequence[str],
    train_set: ClipDataset,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    stopper: EarlyStopping,
    result: TrainResult,
    device: torch.device,
) -> int:
    """Load the run's ``last.pt`` into the model, optimizer, early stopping and history;
    return the epoch to start at. Refuses a checkpoint of another model, class list or
    flow source."""
    ckpt = read_checkpoint(path, device=str(device))
    if ckpt.get("spec") != spec_to_dict(spec) or list(ckpt["classes"]) != list(classes):
        raise MotionlabError(
            f"{path} is a run of another model or class list; use a new run folder or --no-resume"
        )
    check_flow_source(ckpt, spec, train_set.flow, where=str(path))
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    start_epoch = ckpt["epoch"] + 1
    result.history = ckpt["history"]
    stopper.best, stopper.best_epoch = ckpt["best_val_loss"], ckpt["best_epoch"]
    stopper.bad_epochs = ckpt["bad_epochs"]
    result.best_epoch, result.best_val_loss = stopper.best_epoch, stopper.best
    log.info("resuming %s at epoch %d", path.parent, start_epoch)
    return start_epoch


def _train_epoch(
    net: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    device: torch.device,
    use_amp: bool,
    steps: int | None,
    *,
    desc: str,
    progress: bool,
) -> tuple[int, int, float]:
    """One pass over ``loader`` (at most ``steps`` batches); (clips, correct, summed loss)."""
    from motionlab.progress import Progress

    net.train()
    total, correct, loss_sum = 0, 0, 0.0
    bar = Progress(len(loader), desc, "batch", enabled=progress)
    for step, (inputs, y) in enumerate(loader):
        if steps is not None and step >= steps:
            break
        y = y.to(device)
        loss, logits = train_step(net, inputs, y, optimizer, scaler=scaler, amp=use_amp)
        total += len(y)
        correct += int((logits.argmax(1) == y).sum())
        loss_sum += loss.item() * len(y)
        bar.set_note(f"loss {loss_sum / total:.3f}")
        bar.update()
    bar.close()
    return total, correct, loss_sum


def _save_epoch(
    out: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict[str, Any],
    *,
    improved: bool,
    provenance: dict[str, Any] | None,
) -> None:
    """Write ``last.pt`` (and ``best.pt`` when the validation loss improved) atomically,
    each with its provenance sidecar."""
    ckpt = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), **plain(meta)}
    with atomic_file(out / LAST) as tmp:
        torch.save(ckpt, tmp)
    if provenance is not None:
        write_sidecar(out / LAST, {**provenance, "epoch": meta["epoch"]})
    if improved:
        with atomic_file(out / BEST) as tmp:
            torch.save(ckpt, tmp)
        if provenance is not None:
            write_sidecar(out / BEST, {**provenance, "epoch": meta["epoch"]})


def train(
    spec: ModelSpec,
    train_set: ClipDataset,
    val_set: ClipDataset,
    out: str | os.PathLike[str],
    *,
    classes: Sequence[str],
    config: TrainConfig = TrainConfig(),
    pretrained: bool = False,
    weights: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    provenance: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``spec`` on ``train_set``, validating on ``val_set`` every epoch.

    ``val_set`` chooses ``best.pt`` and stops training early, so it must be held out of
    the *training* list (:func:`~motionlab.recognition.data.hold_out_validation`, as
    ``motionlab train`` does), never the test list: choosing on test data inflates the
    reported accuracy. Its videos are recorded in ``config.json`` and the checkpoints.

    Parameters
    ----------
    spec : ModelSpec
        The architecture, with the streams the datasets produce.
    out : path
        Run folder: ``last.pt`` (every epoch), ``best.pt`` (lowest validation loss),
        ``log.csv``, ``config.json``.
    classes : sequence of str
        Class names (their count sets the classifier size).
    resume : bool
        Continue from ``out/last.pt`` when it exists (same architecture required).
    provenance : dict, optional
        :func:`motionlab.provenance.record` of this run: stored in ``config.json``, in each
        checkpoint (key ``"provenance"``) and beside it (``best.pt.motionlab.json``).

    Returns
    -------
    TrainResult
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rank, world = _distributed()
    own_group, device = _join_group(config, world)
    torch.manual_seed(config.seed)
    model = build_model(spec, len(classes), pretrained=pretrained, weights=weights).to(device)
    optimizer = _make_optimizer(model, config)
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    result = TrainResult()
    stopper = EarlyStopping(config.patience)
    start_epoch = 0
    flow_record = flow_source_record(spec, train_set)
    validation = [str(x.path) for x in val_set.samples]
    if resume and (out / LAST).exists():
        start_epoch = _resume(
            out / LAST, spec, classes, train_set, model, optimizer, stopper, result, device
        )
        if stopper.stop:
            result.stopped = "early stop (already)"
            return result
    net: nn.Module = model
    sampler = None
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)
        sampler = torch.utils.data.DistributedSampler(train_set, seed=config.seed)
    if rank == 0:
        record = {
            "spec": spec_to_dict(spec), "classes": list(classes), "config": asdict(config),
            "flow_source": flow_record, "validation": validation,
            "provenance": provenance,
        }  # fmt: skip
        with atomic_file(out / "config.json") as tmp:
            tmp.write_text(json.dumps(plain(record), indent=2) + "\n")
    board = _tensorboard(out) if rank == 0 else None
    generator = torch.Generator().manual_seed(config.seed)
    started = time.time()
    for epoch in range(start_epoch, config.epochs):
        train_set.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        per_rank = len(sampler) if sampler is not None else len(train_set)
        loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            num_workers=config.workers,
            generator=generator,
            drop_last=per_rank > config.batch_size,
        )
        tic = time.time()
        total, correct, loss_sum = _train_epoch(
            net, loader, optimizer, scaler, device, use_amp, config.steps_per_epoch,
            desc=f"epoch {epoch}", progress=progress and rank == 0,
        )  # fmt: skip
        if world > 1:  # the epoch's training metrics over all ranks
            sums = torch.tensor([total, correct, loss_sum], dtype=torch.float64, device=device)
            torch.distributed.all_reduce(sums)
            total, correct, loss_sum = int(sums[0]), int(sums[1]), float(sums[2])
        val = evaluate(
            model, val_set, num_classes=len(classes), batch_size=config.batch_size,
            workers=config.workers, device=str(device),
        )  # fmt: skip
        row = _log_row(epoch, total, correct, loss_sum, val, optimizer, tic)
        result.history.append(row)
        improved = stopper.update(epoch, val.loss)
        result.best_val_loss, result.best_epoch = stopper.best, stopper.best_epoch
        log.info(
            "epoch %d: train loss %.3f, val loss %.3f, val top-1 %.3f",
            epoch, row["train_loss"], val.loss, val.top1,
        )  # fmt: skip
        if rank == 0:
            meta = {
                "spec": spec_to_dict(spec),
                "classes": list(classes),
                "config": asdict(config),
                "epoch": epoch,
                "history": result.history,
                "best_epoch": result.best_epoch,
                "best_val_loss": result.best_val_loss,
                "bad_epochs": stopper.bad_epochs,
                "flow_source": flow_record,
                "validation": validation,
                "provenance": provenance,
            }
            _save_epoch(out, model, optimizer, meta, improved=improved, provenance=provenance)
            _write_log(out / LOG, result.history)
            if board is not None:
                for key, value in row.items():
                    board.add_scalar(key, value, epoch)
        if _any_rank(config.max_seconds is not None and time.time() - started > config.max_seconds,
                     world, device):  # fmt: skip
            result.stopped = f"time budget of {config.max_seconds:g} s spent"
            break
        if stopper.stop:
            result.stopped = f"early stop: no lower validation loss for {config.patience} epochs"
            break
    else:
        result.stopped = "epochs done"
    result.seconds = time.time() - started
    if board is not None:
        board.close()
    if own_group:
        torch.distributed.destroy_process_group()
    return result


def _any_rank(flag: bool, world: int, device: torch.device) -> bool:
    """True when ``flag`` is true on any rank, so that all ranks stop at the same epoch
    (a wall-time budget can run out on one rank and not yet on another: a rank that stops
    alone leaves the others waiting in DDP's all-reduce)."""
    if world <= 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(out / "tensorboard")
