"""Sub-commands of action recognition: models, train, evaluate, diagnose, synth-actions.

Thin wrappers over :mod:`motionlab.recognition`; torch and pytorchvideo are imported inside
the handlers so that ``motionlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from motionlab.cli.options import add_deprecated_alias, int_type, number_type, triple_type
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT such as 112x112, got {text!r}"
        ) from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return w, h


def _split(text: str) -> int | str:
    """``--split``: a UCF101 split number, or ``kth`` (KTH's published person split)."""
    if text.strip().lower() == "kth":
        return "kth"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a split number (1, 2, 3) or kth, got {text!r}"
        ) from None


def _add_models(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``models``."""
    p = sub.add_parser("models", help="list the model zoo (sampling f×r, input size, parameters)")
    p.add_argument(
        "--count", action="store_true", help="build each model to count parameters (slow)"
    )
    p.set_defaults(func=_cmd_models)


def _add_train(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``train``."""
    p = sub.add_parser("train", help="train a zoo model on a class-folder dataset")
    p.add_argument("--arch", required=True, help="model name (see `motionlab models`)")
    _add_data_args(p)
    _add_condition_args(p)
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument(
        "-o", "--output", dest="out", type=Path, help="run folder (checkpoints, log.csv)"
    )
    add_deprecated_alias(out, "--out", "-o/--output", dest="out", type=Path)
    p.add_argument(
        "--recipe", default="thesis",
        help="training recipe: thesis (default; §4.4: Adam 3e-4, early stopping, augmentation "
        "relaxing every 20 epochs, at most 80 epochs) or adamw (AdamW, weight decay 0.05, 60 "
        "epochs); the options below override single settings",
    )  # fmt: skip
    p.add_argument("--epochs", type=int_type(1), help="at most this many epochs (thesis: 80)")
    p.add_argument("--batch-size", type=int_type(1), help="clips per batch (default 8)")
    p.add_argument("--lr", type=number_type(0, low_open=True), help="learning rate (thesis: 3e-4)")
    p.add_argument("--optimizer", choices=("adamw", "adam"), help="thesis: adam")
    p.add_argument("--weight-decay", type=number_type(0), help="thesis: 0")
    p.add_argument("--patience", type=int_type(1), help="early-stopping patience in epochs (10)")
    p.add_argument(
        "--val-fraction", type=number_type(0, 1, low_open=True),
        help="share of each class's groups of the TRAINING list held out for early stopping "
        "and the choice of best.pt (default 0.1); the test list is never used in training",
    )  # fmt: skip
    p.add_argument("--steps-per-epoch", type=int_type(1), help="cap batches per epoch (quick runs)")
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--pretrained", action="store_true", help="hub weights (downloads)")
    w.add_argument("--weights", type=Path, help="local weights file to start from")
    p.set_defaults(func=_cmd_train)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``evaluate``."""
    p = sub.add_parser("evaluate", help="evaluate a checkpoint: top-1/5, per-class, confusion")
    p.add_argument(
        "checkpoint", type=Path, nargs="+",
        help="best.pt or last.pt of `motionlab train`; with --splits, one per split in order",
    )  # fmt: skip
    p.add_argument(
        "--splits",
        help="comma-separated UCF101 splits such as 1,2,3: the i-th checkpoint is scored on "
        "the i-th split's test list; prints per-split and mean top-1 (Table 4.1 reports the "
        "mean over the three splits)",
    )  # fmt: skip
    _add_data_args(p, arch_streams=False)
    _add_condition_args(p)
    p.add_argument("--json", type=Path, help="write the results (confusion matrix...) here")
    p.set_defaults(func=_cmd_evaluate)


def _add_diagnose(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``diagnose``."""
    p = sub.add_parser(
        "diagnose",
        help="does a model use motion? top-1 on rgb / afd / static / shuffled video, Δ, "
        "bootstrap intervals (any model)",
        description="Score a video classifier on a dataset's test videos under conditions "
        "computed on the fly from the RGB videos: rgb; afd (appearance-free video, our "
        "default mode) and afd-first-frame (the published mode); static (one frame "
        "repeated: appearance only); shuffled (the clip's frames permuted: appearance "
        "without temporal order). Prints top-1 per condition and class with percentile "
        "bootstrap intervals over videos and Δ vs rgb; --out writes CSV, JSON and a PNG.",
    )  # fmt: skip
    _add_model_args(p)
    p.add_argument(
        "--data", "--rgb", dest="data", type=Path, required=True,
        help="RGB dataset root (class folders; the test list of --split when split files "
        "exist, else every video)",
    )  # fmt: skip
    p.add_argument(
        "--afd", type=Path,
        help="a stored AFD tree of the dataset (afd-dataset) to read the afd condition from "
        "instead of computing it on the fly",
    )  # fmt: skip
    p.add_argument("--split", type=int_type(1), default=1, help="split whose test list is used")
    p.add_argument(
        "--conditions", default=",".join(_diagnose_conditions()),
        help="comma-separated, of: " + ", ".join(_diagnose_conditions()) + " (default all)",
    )  # fmt: skip
    p.add_argument("--bootstrap", type=int_type(1), default=1000, help="bootstrap resamples (1000)")
    # checked (NaN included) with the other settings before any work: see _cmd_diagnose
    p.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    p.add_argument(
        "-o", "--output", dest="out", type=Path,
        help="folder for diagnose.csv, diagnose.json and diagnose.png",
    )  # fmt: skip
    add_deprecated_alias(p, "--out", "-o/--output", dest="out", type=Path)
    p.add_argument(
        "-k", type=int_type(1), default=5,
        help="classes to pick by inter-class entropy (the AFD5 criterion, §4.2; default 5)",
    )  # fmt: skip
    p.add_argument("--min-accuracy", type=number_type(0, 1), default=0.5)
    _add_runtime_args(p)
    p.set_defaults(func=_cmd_diagnose)


def _add_predict(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``predict``."""
    p = sub.add_parser("predict", help="top-k classes of one video (any model)")
    p.add_argument("video", type=Path, help="a video file or frame folder")
    _add_model_args(p)
    p.add_argument("--top", "-k", dest="top", type=int_type(1), default=5, help="classes shown (5)")
    p.add_argument(
        "--condition", default="rgb", choices=_diagnose_conditions(),
        help="what the model is shown (default rgb)",
    )  # fmt: skip
    _add_runtime_args(p)
    p.set_defaults(func=_cmd_predict)


def _add_synth_actions(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``synth-actions``."""
    p = sub.add_parser("synth-actions", help="generate the synthetic motion-only action dataset")
    p.add_argument("out", type=Path, help="output folder (class folders, metadata.csv, splits)")
    p.add_argument("--videos-per-class", type=int, default=20)
    p.add_argument("--actors", type=int, default=10, help="identities (default 10)")
    p.add_argument("--test-actors", type=int, default=3, help="actors held out for testing")
    p.add_argument("--frames", type=int, default=48, help="frames per video (default 48)")
    p.add_argument("--size", type=_size, default=(112, 112), metavar="WxH")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--davis", type=Path, default=Path("../shared/data/davis2016"),
        help="DAVIS 2016 root for backgrounds (plain textures when absent)",
    )  # fmt: skip
    p.add_argument("--no-davis", action="store_true", help="plain texture backgrounds")
    p.set_defaults(func=_cmd_synth)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the recognition sub-commands to the ``motionlab`` parser."""
    _add_models(sub)
    _add_train(sub)
    _add_evaluate(sub)
    _add_diagnose(sub)
    _add_predict(sub)
    _add_synth_actions(sub)


def _add_runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")
    p.add_argument("--workers", type=int_type(0), default=0, help="decoding worker processes")
    p.add_argument(
        "--threads", type=int_type(1), help="torch CPU threads (1 is fastest on a busy CPU)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flow-cache", type=Path, help="flow cache of `afd-dataset --save-flow`")
    p.add_argument(
        "--flow", dest="flow_method", default="dis", metavar="METHOD",
        help="flow method when no cache (default dis)",
    )  # fmt: skip
    add_deprecated_alias(p, "--flow-method", "--flow", dest="flow_method")
    p.add_argument("--eval-batch-size", type=int_type(1), default=8)
    p.add_argument(
        "--allow-flow-mismatch", action="store_true",
        help="run a flow model on flow made another way than in training (method, options) "
        "with a warning instead of an error",
    )  # fmt: skip


def _diagnose_conditions() -> tuple[str, ...]:
    return ("rgb", "afd", "afd-first-frame", "static", "shuffled")


# NaN or inf as a mean or std would make every input NaN: refused like the noise statistics
_floats3 = triple_type("r,g,b (0..1 units)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (any video classifier; docs/recognition.md)")
    g.add_argument(
        "--model", required=True,
        help="a checkpoint of `motionlab train`; a zoo name with --weights; a TorchScript file "
        "(runs the code it holds); hub:owner/repo:entry (downloads and runs the repository's "
        "hubconf.py); or module:function returning an nn.Module",
    )  # fmt: skip
    g.add_argument("--weights", type=Path, help="state dict of a zoo model (strict)")
    g.add_argument("--classes", type=Path, help="names of the model's outputs, one per line")
    g.add_argument("--frames", type=int_type(1), help="input frames T (default 8; zoo: its own)")
    g.add_argument("--rate", type=int_type(1), help="frame stride r (default 2; zoo: its own)")
    g.add_argument(
        "--size", type=int_type(8), help="input crop side S in px (default 112; zoo: its own)"
    )
    g.add_argument("--mean", type=_floats3, help="input mean r,g,b in 0..1 (default 0.45)")
    g.add_argument("--std", type=_floats3, help="input std r,g,b in 0..1 (default 0.225)")
    g.add_argument("--channel-order", choices=("rgb", "bgr"), default="rgb")
    g.add_argument(
        "--afd-seed", type=int, default=0,
        help="AFD dataset seed (afd-dataset --seed); each video's noise seed is a hash of it "
        "and the video's path relative to the dataset root",
    )  # fmt: skip
    _add_afd_flow_args(g)


def _add_afd_flow_args(g: argparse._ArgumentGroup) -> None:
    """Where the flow that animates on-the-fly AFD comes from (diagnose, train, evaluate)."""
    g.add_argument(
        "--afd-flow-cache", type=Path,
        help="read the AFD's forward flow from this afd-dataset --save-flow cache",
    )  # fmt: skip
    g.add_argument(
        "--afd-flow-method", default="dis",
        help="flow method that animates the AFD noise (afd-dataset --method; default dis, "
        "preset fast)",
    )  # fmt: skip


def _add_condition_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("condition")
    g.add_argument(
        "--condition", choices=("rgb", "afd"), default="rgb",
        help="rgb (default) or afd: appearance-free clips made on the fly from the RGB "
        "videos (no AFD copy on disk; same frames as `afd-dataset --seed AFD_SEED`)",
    )  # fmt: skip
    g.add_argument("--afd-mode", default="advect", help="AFD mode with --condition afd")
    g.add_argument("--afd-seed", type=int, default=0, help="AFD dataset seed (default 0)")
    _add_afd_flow_args(g)


def _add_data_args(p: argparse.ArgumentParser, *, arch_streams: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", type=Path, required=True, help="dataset root (UCF101 layout)")
    g.add_argument(
        "--split", type=_split, default=1, metavar="1|2|3|kth",
        help="UCF101 split 1..3 (default 1), or kth: KTH's published person split (training "
        "persons 11-18, validation 19-21, 23-25, 1, 4, test 2, 3, 5-10, 22), persons read "
        "from the file names personXX_action_dY_uncomp.avi or from --csv",
    )  # fmt: skip
    g.add_argument(
        "--split-csv", type=Path, metavar="FILE",
        help="person-disjoint split: a CSV whose rows give a person (--person-column) and "
        "a part (--part-column: train, val or test), one row per person or per video; every "
        "video of a person goes to that person's part, and no person may be in two parts",
    )  # fmt: skip
    g.add_argument(
        "--person-column", default="person", metavar="NAME",
        help="column of the person ids in --split-csv and --csv (default person)",
    )  # fmt: skip
    g.add_argument(
        "--part-column", default="split", metavar="NAME",
        help="column of the parts in --split-csv (default split)",
    )  # fmt: skip
    g.add_argument(
        "--csv", type=Path,
        help="KTH-style metadata CSV (path,action,person) instead of split files; "
        "--test-persons, --split kth or --split-csv picks the held-out persons",
    )  # fmt: skip
    g.add_argument("--label-column", default="action", help="CSV column to classify")
    g.add_argument("--test-persons", default="", help="comma-separated person ids (CSV)")
    if arch_streams:
        g.add_argument("--frames", type=int_type(1), help="frames of the first stream (small runs)")
        g.add_argument(
            "--size", type=int_type(1), help="crop size of the first stream (small runs)"
        )
    _add_runtime_args(p)


def _person_table(args: argparse.Namespace, split: int | str) -> dict[str, str] | None:
    """The person -> part table of ``--split kth`` or ``--split-csv``; None for neither."""
    from motionlab import datasets

    if args.split_csv is None and split != "kth":
        return None
    if args.split_csv is not None and split == "kth":
        raise MotionlabError("--split kth and --split-csv are two splits: give one of them")
    if args.test_persons:
        raise MotionlabError("--test-persons and a person split (--split kth, --split-csv) "
                             "both choose the test persons: give one of them")  # fmt: skip
    if args.csv is not None and args.label_column == args.person_column:
        raise MotionlabError(
            f"--label-column {args.label_column} with a person-disjoint split: the test "
            "persons are never seen in training, so persons cannot be classes"
        )
    if split == "kth":
        return datasets.kth_person_split()
    return datasets.read_person_split(
        args.split_csv, person_column=args.person_column, part_column=args.part_column
    )


def _datasets(
    args: argparse.Namespace, split: int | str | None = None
) -> tuple[list[Any], list[Any] | None, list[Any], list[str]]:
    """(train, val, test, classes) of the data options; ``val`` is None where the split
    has no validation part (training then holds one out of ``train``)."""
    from motionlab.recognition import data

    split = args.split if split is None else split
    table = _person_table(args, split)
    if table is not None:
        if args.csv is not None:
            samples, classes = data.csv_samples(
                args.csv, root=args.data, label_column=args.label_column,
                person_column=args.person_column,
            )  # fmt: skip
        else:
            samples, classes = data.folder_samples(args.data)
        train, val, test = data.split_by_person(samples, table)
        return train, val or None, test, classes
    if args.csv is not None:
        samples, classes = data.csv_samples(
            args.csv, root=args.data, label_column=args.label_column,
            person_column=args.person_column,
        )  # fmt: skip
        test_persons = [p for p in args.test_persons.split(",") if p]
        if not test_persons:
            raise MotionlabError("--csv needs --test-persons (e.g. --test-persons 7,8,9)")
        test = data.subset_by_person(samples, test_persons)
        train = [s for s in samples if s not in set(test)]
        if not test or not train:
            raise MotionlabError(f"--test-persons {args.test_persons} leaves an empty split")
        return train, None, test, classes
    train, classes = data.ucf101_samples(args.data, split=int(split), subset="train")
    test, _ = data.ucf101_samples(args.data, split=int(split), subset="test")
    return train, None, test, classes


def _flow_source(args: argparse.Namespace, root: Path) -> Any:
    from motionlab.recognition.data import FlowSource

    return FlowSource(
        cache=args.flow_cache, root=root, method=args.flow_method,
        options=_flow_options(args.flow_method),
    )  # fmt: skip


def _afd_source(args: argparse.Namespace, root: Path, mode: str) -> Any:
    """The on-the-fly AFD source of ``--condition afd`` (None for rgb): AFD settings as
    ``afd-dataset`` defaults them, dataset seed ``--afd-seed``, per-video seeds."""
    if getattr(args, "condition", "afd") == "rgb":
        return None
    from motionlab.afd import AFDConfig
    from motionlab.afd.stream import AFDSource

    if args.flow_cache is not None:
        raise MotionlabError(
            "--flow-cache holds the RGB videos' flow; with --condition afd a flow stream "
            "estimates flow from the AFD frames (use --afd-flow-cache for the AFD's own flow)"
        )
    config = AFDConfig(mode=mode, seed=args.afd_seed, flow_method=args.afd_flow_method)
    return AFDSource(root, config, flow_cache=args.afd_flow_cache)


def _flow_options(method: str) -> tuple[tuple[str, Any], ...]:
    return (("preset", "fast"),) if method == "dis" else ()


def _threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def _cmd_models(args: argparse.Namespace) -> int:
    from motionlab.recognition.zoo import get_spec, list_models

    print(
        f"{'name':<16} {'family':<10} {'streams (kind f×r @size)':<34} {'params':>11}  description"
    )
    for name in list_models():
        spec = get_spec(name)
        params = spec.params
        if args.count or params is None:
            params = _count(spec)
        text = f"{params / 1e6:.2f}M" if params else "-"
        streams = " + ".join(s.describe() for s in spec.streams)
        print(f"{name:<16} {spec.family:<10} {streams:<34} {text:>11}  {spec.description}")
    return 0


def _count(spec: Any) -> int:
    """Parameters of ``spec`` at its published class count, built on the meta device
    (no memory, no init) where the builder allows."""
    import torch

    from motionlab.recognition.zoo import build_model, count_parameters

    try:
        with torch.device("meta"):
            return count_parameters(build_model(spec, spec.published_classes))
    except RuntimeError:  # MViT calls .item() while building
        return count_parameters(build_model(spec, spec.published_classes))


def _cmd_train(args: argparse.Namespace) -> int:
    from motionlab.atomic import (
        check_output_target,
        refuse_overwrite_input,
        removing_new_empty_folders,
    )

    refuse_overwrite_input(
        args.out, args.data, args.csv, args.split_csv, args.weights, args.flow_cache,
        writes=("*.pt", "log.csv", "config.json"),
    )  # fmt: skip
    check_output_target(args.out, directory=True)
    with removing_new_empty_folders(args.out):  # a run that fails at once leaves no folder
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    _threads(args)
    from motionlab.recognition.data import ClipDataset, hold_out_validation
    from motionlab.recognition.train import get_recipe, train
    from motionlab.recognition.zoo import get_spec

    spec = get_spec(args.arch)
    if args.frames or args.size:
        spec = spec.with_input(frames=args.frames, size=args.size)
    config = get_recipe(
        args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, weight_decay=args.weight_decay, patience=args.patience,
        workers=args.workers, seed=args.seed, device=args.device,
        amp=False if args.no_amp else None, steps_per_epoch=args.steps_per_epoch,
        val_fraction=args.val_fraction,
    )  # fmt: skip
    # The test list is not even handed to training: early stopping and best.pt are
    # decided on the split's validation persons or on a part held out of the training list.
    train_s, val_s, _test_s, classes = _datasets(args)
    held_out = val_s is None
    if held_out:
        fit_s, val_s = hold_out_validation(
            train_s, fraction=config.val_fraction, seed=config.seed
        )  # fmt: skip
        log.info("validation: %d of the %d training videos held out", len(val_s), len(train_s))
    else:
        fit_s = train_s
        log.info("validation: the %d videos of the split's validation persons", len(val_s))
    flow = _flow_source(args, args.data)
    afd = _afd_source(args, args.data, args.afd_mode)
    tr = ClipDataset(
        fit_s, spec.streams, train=True, flow=flow, seed=config.seed,
        augment_step=config.augment_step, condition=args.condition, afd=afd,
    )  # fmt: skip
    va = ClipDataset(
        val_s, spec.streams, train=False, flow=flow, seed=config.seed,
        condition=args.condition, afd=afd,
    )  # fmt: skip
    from motionlab.provenance import hash_input, record

    prov = record(
        inputs=(args.csv, args.weights), seeds={"seed": config.seed},
        data=hash_input(args.data, contents=False),
    )  # fmt: skip
    result = train(
        spec, tr, va, args.out, classes=classes, config=config, pretrained=args.pretrained,
        weights=args.weights, resume=not args.no_resume, progress=args.show_progress,
        provenance=prov,
    )  # fmt: skip
    if result.history:
        last = result.history[-1]
        print(
            f"{result.stopped}; best epoch {result.best_epoch} (val loss "
            f"{result.best_val_loss:.4f}); last val top-1 {100 * last['val_top1']:.1f} % "
            f"(validation {'held out of the training list' if held_out else 'persons'}; "
            "test: `motionlab evaluate`)"
        )
    return 0


def _parse_splits(text: str) -> list[int]:
    try:
        splits = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise MotionlabError(
            f"--splits takes comma-separated split numbers, got {text!r}"
        ) from None
    if not splits or any(x not in (1, 2, 3) for x in splits) or len(set(splits)) != len(splits):
        raise MotionlabError(f"--splits takes distinct splits of 1, 2, 3, got {text!r}")
    return splits


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from motionlab.atomic import atomic_file, refuse_overwrite_input

    refuse_overwrite_input(
        args.json, *args.checkpoint, args.data, args.csv, args.split_csv, args.flow_cache
    )  # fmt: skip
    _threads(args)
    from motionlab.recognition.data import ClipDataset
    from motionlab.recognition.train import check_flow_source, evaluate, load_checkpoint

    if args.splits is not None and (
        args.csv is not None or args.split_csv is not None or args.split == "kth"
    ):
        raise MotionlabError(
            "--splits applies to UCF101-style split files, not to --csv, --split-csv or --split kth"
        )
    splits = _parse_splits(args.splits) if args.splits is not None else [args.split]
    if len(args.checkpoint) != len(splits):
        raise MotionlabError(
            f"give one checkpoint per split: {len(args.checkpoint)} checkpoint(s) for "
            f"split(s) {','.join(map(str, splits))}"
        )
    records = []
    for path, split in zip(args.checkpoint, splits, strict=True):
        model, spec, ckpt = load_checkpoint(path, device=args.device)
        _, _, test_s, classes = _datasets(args, split)
        if list(classes) != list(ckpt["classes"]):
            raise MotionlabError(f"{args.data} has classes {classes}, {path} {ckpt['classes']}")
        flow = _flow_source(args, args.data)
        check_flow_source(ckpt, spec, flow, allow=args.allow_flow_mismatch, where=str(path))
        ds = ClipDataset(
            test_s, spec.streams, train=False, flow=flow, condition=args.condition,
            afd=_afd_source(args, args.data, args.afd_mode),
        )  # fmt: skip
        res = evaluate(
            model, ds, num_classes=len(classes), batch_size=args.eval_batch_size,
            workers=args.workers, device=args.device, progress=args.show_progress,
        )  # fmt: skip
        where = f" split {split}" if len(splits) > 1 else ""
        print(f"{spec.name}{where}: top-1 {100 * res.top1:.1f} %  top-5 {100 * res.top5:.1f} %  "
              f"loss {res.loss:.4f}  ({len(res.labels)} clips)")  # fmt: skip
        for name, acc in zip(classes, res.per_class, strict=True):
            print(f"  {name:<24} {100 * acc:5.1f} %")
        # the split a score is on: a UCF101 split number, "kth", or the split CSV
        split_name = str(args.split_csv) if args.split_csv is not None else split
        records.append({
            "checkpoint": str(path), "split": split_name, "top1": res.top1, "top5": res.top5,
            "loss": res.loss, "clips": len(res.labels),
            "per_class": [None if a != a else a for a in res.per_class.tolist()],
            "confusion": res.confusion.tolist(),
        })  # fmt: skip
    if len(records) > 1:
        mean1 = sum(r["top1"] for r in records) / len(records)
        mean5 = sum(r["top5"] for r in records) / len(records)
        per = "  ".join(f"split {r['split']} {100 * r['top1']:.1f}" for r in records)
        print(f"top-1 per split: {per};  mean over splits {100 * mean1:.1f} % "
              f"(top-5 {100 * mean5:.1f} %)")  # fmt: skip
    if args.json:
        if len(records) == 1:
            record: dict[str, Any] = {"data": str(args.data), "classes": classes, **records[0]}
        else:
            record = {
                "data": str(args.data), "classes": classes, "splits": records,
                "mean_top1": mean1, "mean_top5": mean5,
            }  # fmt: skip
        with atomic_file(args.json) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
    return 0


def _input_spec(args: argparse.Namespace) -> Any:
    from motionlab.recognition.anymodel import InputSpec

    base = InputSpec()
    return InputSpec(
        frames=args.frames or base.frames, rate=args.rate or base.rate,
        size=args.size or base.size, mean=args.mean or base.mean, std=args.std or base.std,
        channel_order=args.channel_order,
    )  # fmt: skip


def _load_model(args: argparse.Namespace, classes: list[str] | None = None) -> Any:
    from motionlab.recognition.anymodel import load_any_model, parse_model_ref, read_class_names

    ref = parse_model_ref(args.model)
    names = read_class_names(args.classes) if args.classes is not None else None
    spec_given = any(x is not None for x in (args.frames, args.rate, args.size))
    if ref.kind in ("checkpoint",) and (spec_given or args.mean or args.std):
        raise MotionlabError(
            "--frames/--rate/--size/--mean/--std describe a foreign model's input; a "
            "motionlab checkpoint records its own"
        )
    spec = _input_spec(args) if ref.kind != "zoo" or spec_given else None
    if ref.kind == "zoo" and spec_given:  # unset values keep the zoo model's own
        from motionlab.recognition.anymodel import InputSpec
        from motionlab.recognition.zoo import get_spec

        own = get_spec(ref.target).streams[0]
        spec = InputSpec(frames=args.frames or own.frames, rate=args.rate or own.rate,
                         size=args.size or own.size)  # fmt: skip
    return load_any_model(
        ref, weights=args.weights, classes=names,
        num_classes=len(classes) if classes is not None and names is None else None,
        input_spec=spec, device=args.device,
    )  # fmt: skip


def _test_samples(root: Path, split: int) -> tuple[list[Any], list[str]]:
    """The test list of ``split`` when the dataset has split files, else every video."""
    from motionlab.recognition import data

    if not root.is_dir():
        raise MotionlabError(f"{root}: no such dataset folder")
    name = f"testlist0{split}.txt"
    if (root / name).is_file() or (root / data.SPLIT_FOLDER / name).is_file():
        return data.ucf101_samples(root, split=split, subset="test")
    return data.folder_samples(root)


def _condition_dataset(
    args: argparse.Namespace, loaded: Any, samples: list[Any], condition: str
) -> Any:
    """The clips of ``condition`` (a diagnose condition) for ``loaded``'s streams."""
    from motionlab.recognition.data import ClipDataset, FlowSource, ucf101_samples

    plain_flow = FlowSource(method=args.flow_method, options=_flow_options(args.flow_method))
    if condition == "rgb":
        return ClipDataset(samples, loaded.streams, train=False, flow=_flow_source(args, args.data),
                           seed=args.seed)  # fmt: skip
    if condition == "afd" and getattr(args, "afd", None) is not None:
        stored, _ = ucf101_samples(args.afd, split=args.split, subset="test")
        if [s.path.relative_to(args.afd).with_suffix("") for s in stored] != [
            s.path.relative_to(args.data).with_suffix("") for s in samples
        ]:
            raise MotionlabError(f"{args.afd} does not hold the test videos of {args.data}")
        return ClipDataset(stored, loaded.streams, train=False, flow=plain_flow, seed=args.seed)
    if condition in ("afd", "afd-first-frame"):
        mode = "advect" if condition == "afd" else "first-frame"
        from motionlab.afd import AFDConfig
        from motionlab.afd.stream import AFDSource

        afd = AFDSource(
            args.data, AFDConfig(mode=mode, seed=args.afd_seed, flow_method=args.afd_flow_method),
            flow_cache=args.afd_flow_cache if mode == "advect" else None,
        )  # fmt: skip
        return ClipDataset(samples, loaded.streams, train=False, flow=plain_flow,
                           seed=args.seed, condition="afd", afd=afd)  # fmt: skip
    return ClipDataset(samples, loaded.streams, train=False, flow=plain_flow, seed=args.seed,
                       condition=condition)  # fmt: skip


def _checked_conditions(args: argparse.Namespace) -> list[str]:
    """diagnose's ``--conditions`` (distinct known names), ``--bootstrap``, ``--level``."""
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    bad = [c for c in conditions if c not in _diagnose_conditions()]
    if bad or not conditions or len(set(conditions)) != len(conditions):
        raise MotionlabError(
            f"--conditions takes distinct names of {', '.join(_diagnose_conditions())}, "
            f"got {args.conditions!r}"
        )
    if args.bootstrap < 1:
        raise MotionlabError(f"--bootstrap must be >= 1, got {args.bootstrap}")
    if not 0.0 < args.level < 1.0:
        raise MotionlabError(f"--level must be in (0, 1), got {args.level}")
    return conditions


def _print_class_order(
    args: argparse.Namespace, classes: list[str], labels: Any, rgb_predictions: Any
) -> None:
    """Print the class order of the RGB confusion (Thoma 2017) and the k classes of highest
    inter-class entropy (§4.2)."""
    from motionlab.recognition.diagnose import (
        inter_class_entropy,
        reorder_confusion,
        select_by_entropy,
    )
    from motionlab.recognition.metrics import confusion_matrix

    inside = rgb_predictions < len(classes)
    cm = confusion_matrix(labels[inside], rgb_predictions[inside], len(classes))
    order = reorder_confusion(cm, seed=args.seed)
    print("class order (Thoma 2017):", " ".join(classes[i] for i in order))
    k = min(args.k, len(classes))
    try:
        picked = select_by_entropy(cm, k, min_accuracy=args.min_accuracy)
        entropy = inter_class_entropy(cm)
        print(f"{k} classes of highest inter-class entropy (accuracy >= "
              f"{args.min_accuracy:.0%}; §4.2):",
              " ".join(f"{classes[i]} ({entropy[i]:.2f} bit)" for i in picked))  # fmt: skip
    except MotionlabError as exc:
        print(f"no most-confused set: {exc}", file=sys.stderr)


def _write_diagnosis(
    args: argparse.Namespace, loaded: Any, classes: list[str], conditions: list[str],
    rows: list[dict[str, Any]], samples: list[Any], predictions: dict[str, Any], chance: float,
) -> None:  # fmt: skip
    """Write ``diagnose.csv``, ``diagnose.json`` (settings, rows, every video's predictions)
    and ``diagnose.png`` into ``--output``."""
    from motionlab.atomic import atomic_file
    from motionlab.recognition.diagnose import plot_diagnosis, write_diagnosis_csv

    args.out.mkdir(parents=True, exist_ok=True)
    write_diagnosis_csv(rows, args.out / "diagnose.csv")
    record = {
        "model": args.model, "name": loaded.name, "kind": loaded.kind,
        "data": str(args.data), "classes": classes, "conditions": conditions,
        "bootstrap": args.bootstrap, "level": args.level, "seed": args.seed,
        "afd_seed": args.afd_seed, "chance": chance, "rows": rows,
        "videos": [
            {"path": str(s.path.relative_to(args.data)), "label": classes[s.label],
             **{c: int(predictions[c][i]) for c in conditions}}
            for i, s in enumerate(samples)
        ],
    }  # fmt: skip
    with atomic_file(args.out / "diagnose.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    plot_diagnosis(rows, args.out / "diagnose.png", chance=chance,
                   title=f"{loaded.name}: top-1 by condition")  # fmt: skip
    print(f"wrote {args.out / 'diagnose.csv'}, diagnose.json, diagnose.png")


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from motionlab.atomic import refuse_overwrite_input

    refuse_overwrite_input(
        args.out, args.data, args.afd, args.weights, args.classes, args.flow_cache,
        writes=("diagnose.csv", "diagnose.json", "diagnose.png"),
    )  # fmt: skip
    if Path(args.model).exists():
        refuse_overwrite_input(args.out, Path(args.model), writes=("diagnose.*",))
    conditions = _checked_conditions(args)
    _threads(args)
    import numpy as np

    from motionlab.recognition.anymodel import label_map, parse_model_ref, score_dataset
    from motionlab.recognition.diagnose import (
        diagnosis_rows,
        format_diagnosis,
        format_reliance_table,
        reliance_row,
    )
    from motionlab.recognition.train import check_flow_source

    # the model first (a crafted checkpoint is refused before anything else is read); a
    # zoo architecture takes its class count from the dataset
    if parse_model_ref(args.model).kind == "zoo":
        samples, classes = _test_samples(args.data, args.split)
        loaded = _load_model(args, classes)
    else:
        loaded = _load_model(args)
        samples, classes = _test_samples(args.data, args.split)
    lmap = label_map(classes, loaded.classes, loaded.outputs)
    labels = np.array([s.label for s in samples])
    targets = lmap[labels]
    predictions: dict[str, np.ndarray] = {}
    for condition in conditions:
        ds = _condition_dataset(args, loaded, samples, condition)
        if loaded.checkpoint is not None and loaded.spec is not None:
            check_flow_source(loaded.checkpoint, loaded.spec, ds.flow,
                              allow=args.allow_flow_mismatch,
                              where=f"{args.model} ({condition})")  # fmt: skip
        scores = score_dataset(
            loaded.model, ds, batch_size=args.eval_batch_size, workers=args.workers,
            device=args.device, progress=args.show_progress, desc=condition,
        )  # fmt: skip
        predictions[condition] = scores.argmax(axis=1)
    correct = {c: p == targets for c, p in predictions.items()}
    reference = "rgb" if "rgb" in correct else None
    rows = diagnosis_rows(correct, labels, classes, reference=reference,
                          n_boot=args.bootstrap, level=args.level, seed=args.seed)  # fmt: skip
    chance = 1.0 / len(classes)
    print(f"{loaded.name} on {args.data} ({len(samples)} test videos, {len(classes)} classes; "
          f"{args.bootstrap} bootstrap resamples over videos)")  # fmt: skip
    print(format_diagnosis(rows, chance=chance, level=args.level))
    if "rgb" in correct and "afd" in correct:
        print()
        print(format_reliance_table([reliance_row(
            loaded.name, float(correct["rgb"].mean()), float(correct["afd"].mean())
        )]))  # fmt: skip
    if "rgb" in predictions and np.array_equal(lmap, np.arange(len(classes))):
        _print_class_order(args, classes, labels, predictions["rgb"])
    if args.out is not None:
        _write_diagnosis(args, loaded, classes, conditions, rows, samples, predictions, chance)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    _threads(args)
    import numpy as np
    import torch

    from motionlab.recognition.data import Sample

    if not args.video.exists():
        raise MotionlabError(f"{args.video}: no such video")
    if args.top < 1:
        raise MotionlabError(f"--top must be >= 1, got {args.top}")
    loaded = _load_model(args)
    args.data = args.video.parent
    args.afd = None
    args.split = 1
    ds = _condition_dataset(args, loaded, [Sample(args.video, 0)], args.condition)
    inputs, _ = ds[0]
    with torch.no_grad():
        scores = loaded.model(*(x[None].to(args.device) for x in inputs)).float()[0]
    probs = torch.softmax(scores, 0).cpu().numpy()
    order = np.argsort(-scores.cpu().numpy(), kind="stable")[: args.top]
    names = loaded.classes
    print(f"{args.video} ({loaded.name}, {args.condition}):")
    for rank, j in enumerate(order, 1):
        name = names[j] if names is not None else f"class {j}"
        print(f"{rank:>3}. {name:<28} score {float(scores[j]):+9.3f}  softmax {probs[j]:.3f}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from motionlab.atomic import (
        check_output_target,
        refuse_overwrite_input,
        removing_new_empty_folders,
    )
    from motionlab.progress import Progress
    from motionlab.recognition.synth_actions import SynthConfig, make_synth_actions

    refuse_overwrite_input(args.out, None if args.no_davis else args.davis)
    check_output_target(args.out, directory=True)
    config = SynthConfig(
        videos_per_class=args.videos_per_class, actors=args.actors,
        test_actors=args.test_actors, num_frames=args.frames, size=args.size,
        seed=args.seed, davis=not args.no_davis,
    )  # fmt: skip
    if args.videos_per_class < 1 or args.frames < 1:
        raise MotionlabError("--videos-per-class and --frames must be >= 1")
    with Progress(None, "synth-actions", "video", enabled=args.show_progress) as bar:

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.set_total(total)
            bar.update(done - bar.done)

        with removing_new_empty_folders(args.out):
            meta = make_synth_actions(args.out, config, davis_root=args.davis, progress=progress)
    print(f"wrote {meta}")
    return 0
