"""Privacy/utility of obfuscations on the synthetic actions (thesis Table 5.2 at small scale).

Runs after ``recognition_synth.py --work WORK`` and reuses its data (``WORK/synth``,
``WORK/synth_afd``) and action models (``WORK/runs/<model>/last.pt``). On the test
videos of the held-out actors whose round (``video index // actors``) is odd, it
compares the original videos with the pixelation and blur baselines of
``motionlab baseline`` and with whole-frame motion noise (the AFD video: selective
obfuscation with every pixel selected). For each video it records the action predicted
by an action model and the identity predicted by an attacker: ``tiny3d`` on single
frames, trained for ``--seconds`` on *original* frames of every other video (all videos of
the training actors, even rounds of the held-out actors; 10 identities, chance 10 %),
predicting from the mean logits of 8 frames. It writes one predictions CSV per action
model in ``motionlab privacy-eval``'s format and prints its table:

    PYTHONPATH=src python benchmarks/recognition_privacy.py --work WORK --seconds 120
    motionlab privacy-eval WORK/privacy/predictions_tiny3d.csv

Selective obfuscation (``motionlab obfuscate``) is not in the table: its landmark matcher
(MediaPipe) finds no face or body landmark on the stylised figures (all maps 0 at 96 px
and at 384 px), so it would return the videos unchanged.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from motionlab.atomic import atomic_file
from motionlab.privacy import get_baseline
from motionlab.privacy.metrics import COLUMNS, format_table, score_methods
from motionlab.recognition.data import (
    ClipDataset,
    FlowSource,
    Sample,
    csv_samples,
    rgb_to_tensor_layout,
    ucf101_samples,
)
from motionlab.recognition.train import evaluate, load_checkpoint
from motionlab.recognition.zoo import build_model, get_spec
from motionlab.video import read_video, write_video

BASELINE_METHODS = ("pixelate4", "pixelate16", "blur-weak", "blur-strong")
FRAMES_PER_VIDEO = 8
"""Frames an identity prediction averages (evenly spaced)."""


def _round(path: Path, actors: int) -> int:
    return int(path.stem.split("_v")[1]) // actors


def _frames(video: np.ndarray, size: int) -> torch.Tensor:
    """``FRAMES_PER_VIDEO`` evenly spaced frames as ``(N, 3, 1, size, size)`` tensors."""
    import cv2

    idx = np.linspace(0, len(video) - 1, FRAMES_PER_VIDEO).round().astype(int)
    small = np.stack(
        [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in video[idx]]
    )
    return torch.from_numpy(rgb_to_tensor_layout(small)).permute(1, 0, 2, 3).unsqueeze(2)


def train_attacker(
    videos: list[np.ndarray], labels: list[int], classes: int, seconds: float, seed: int
) -> torch.nn.Module:
    """tiny3d on single frames (1×1 @48) naming the actor; AdamW, batch 32, ``seconds``."""
    spec = get_spec("tiny3d").with_input(frames=1, size=48)
    x = torch.cat([_frames(v, 48) for v in videos])
    y = torch.tensor(labels).repeat_interleave(FRAMES_PER_VIDEO)
    torch.manual_seed(seed)
    model = build_model(spec, classes)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tic = time.time()
    while time.time() - tic < seconds:
        i = torch.randint(0, len(x), (32,))
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="recognition_synth.py --work")
    parser.add_argument("--seconds", type=float, default=120.0, help="attacker training budget")
    parser.add_argument("--models", default="tiny3d,e2s_tiny")
    parser.add_argument("--flow-method", default="farneback")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rgb_root, afd_root = args.work / "synth", args.work / "synth_afd"
    all_s, persons = csv_samples(rgb_root / "metadata.csv", label_column="person")
    test_rgb, classes = ucf101_samples(rgb_root, subset="test")
    test_afd, _ = ucf101_samples(afd_root, subset="test")
    actors = len(persons)
    chosen = [i for i, s in enumerate(test_rgb) if _round(s.path, actors) % 2 == 1]
    held = {test_rgb[i].path for i in chosen}
    person_of = {s.path: s.label for s in all_s}
    attack_train = [s for s in all_s if s.path not in held]
    tic = time.time()
    attacker = train_attacker(
        [read_video(s.path) for s in attack_train], [s.label for s in attack_train],
        len(persons), args.seconds, args.seed,
    )  # fmt: skip
    print(f"attacker: {len(attack_train)} videos, {time.time() - tic:.0f} s; "
          f"{len(chosen)} evaluation videos")  # fmt: skip
    # the obfuscated test videos, one folder tree per method (class folders kept)
    out = args.work / "privacy"
    methods: dict[str, list[Sample]] = {"original": [test_rgb[i] for i in chosen]}
    for name in BASELINE_METHODS:
        fn = get_baseline(name)
        methods[name] = []
        for i in chosen:
            s = test_rgb[i]
            dst = out / name / s.path.parent.name / f"{s.path.stem}.avi"
            if not dst.exists():
                write_video(dst, np.stack([fn(f) for f in read_video(s.path)]), fps=25.0)
            methods[name].append(Sample(dst, s.label))
    methods["motion noise (whole frame)"] = [test_afd[i] for i in chosen]
    # identity predictions per method
    privacy: dict[str, list[int]] = {}
    with torch.no_grad():
        for name, samples in methods.items():
            privacy[name] = [
                int(attacker(_frames(read_video(s.path), 48)).mean(0).argmax()) for s in samples
            ]
    flow = FlowSource(method=args.flow_method, options=())
    for model_name in args.models.split(","):
        model, spec, _ = load_checkpoint(args.work / "runs" / model_name / "last.pt")
        rows = []
        for name, samples in methods.items():
            ds = ClipDataset(samples, spec.streams, train=False, flow=flow, cache_videos=True)
            pred = evaluate(model, ds, num_classes=len(classes)).scores.argmax(1)
            for s, orig_i, a, p in zip(samples, chosen, pred, privacy[name], strict=True):
                orig = test_rgb[orig_i]
                rows.append({
                    "method": name, "video": orig.path.stem,
                    "action_true": classes[s.label], "action_pred": classes[int(a)],
                    "privacy_true": persons[person_of[orig.path]], "privacy_pred": persons[p],
                })  # fmt: skip
        path = out / f"predictions_{model_name}.csv"
        with atomic_file(path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        print(f"\naction model {model_name} ({path}):")
        print(format_table(score_methods(rows)))


if __name__ == "__main__":
    main()
