"""AFD on the fly vs a stored AFD tree: clips/s for training and evaluation, and the
crossover (epochs after which storing the tree pays off).

One run, one process, the same clips: makes an RGB dataset (the synthetic actions at
320×240, the size of UCF101), stores its AFD tree with ``afd-dataset`` (one worker, timed),
then reads one epoch of clips three ways: RGB from disk (reference), AFD from the stored
tree, AFD made on the fly from the RGB videos (:class:`motionlab.afd.stream.AFDSource`,
``ClipDataset(condition="afd")``). Clips are X3D-S-like, 13×6 at 160 px: random starts
for training, centre clips for evaluation (what ``evaluate`` and ``diagnose`` read).

Crossover: storing costs ``T_make`` once and then ``t_disk`` per epoch; on the fly costs
``t_fly`` per epoch, so storing pays off after ``T_make / (t_fly - t_disk)`` epochs (on
the same machine, one worker each; on-the-fly AFD also needs no disk: the stored tree's
size is printed).

    PYTHONPATH=src python benchmarks/afd_on_the_fly.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from motionlab.afd import AFDConfig
from motionlab.afd.dataset import make_afd_dataset
from motionlab.afd.stream import AFDSource
from motionlab.recognition.data import ClipDataset, clip_indices, folder_samples
from motionlab.recognition.synth_actions import SynthConfig, make_synth_actions
from motionlab.recognition.zoo import StreamSpec


def epoch_seconds(dataset: ClipDataset, repeats: int) -> float:
    """Seconds to read every clip of ``dataset`` once (best of ``repeats``)."""
    best = float("inf")
    for r in range(repeats):
        dataset.set_epoch(r)
        if dataset.afd is not None:
            dataset.afd._memory.clear()  # a new epoch: nothing of the last one kept
        tic = time.perf_counter()
        for i in range(len(dataset)):
            dataset[i]
        best = min(best, time.perf_counter() - tic)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos-per-class", type=int, default=3)
    parser.add_argument("--frames", type=int, default=90, help="frames per video")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed, best kept")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        run(args.work or Path(tmp), args)


def run(work: Path, args: argparse.Namespace) -> None:
    w, h = (int(x) for x in args.size.split("x"))
    rgb_root, afd_root = work / "rgb", work / "afd"
    if not rgb_root.exists():
        config = SynthConfig(videos_per_class=args.videos_per_class, actors=3, test_actors=1,
                             num_frames=args.frames, size=(w, h), davis=False)  # fmt: skip
        make_synth_actions(rgb_root, config)
    afd_config = AFDConfig(seed=0)
    tic = time.perf_counter()
    make_afd_dataset(rgb_root, afd_root, config=afd_config, workers=1)
    t_make = time.perf_counter() - tic
    samples, _ = folder_samples(rgb_root)
    stored = [type(s)(afd_root / s.path.relative_to(rgb_root), s.label) for s in samples]
    frames = len(samples) * args.frames
    size_mb = sum(p.stat().st_size for p in afd_root.rglob("*.avi")) / 1e6
    stream = (StreamSpec("rgb", 13, 6, 160),)
    print(f"{len(samples)} videos of {args.frames} frames at {w}×{h} ({frames} frames); "
          f"clips 13×6 @160; afd-dataset (1 worker): {t_make:.1f} s "
          f"({frames / t_make:.0f} frames/s), {size_mb:.0f} MB stored")  # fmt: skip
    print()
    print("| clips | source | epoch s | clips/s | vs stored | crossover (epochs) |")
    print("|---|---|---|---|---|---|")
    for train in (True, False):
        sets = {
            "RGB from disk (reference)": ClipDataset(samples, stream, train=train),
            "AFD, stored tree": ClipDataset(stored, stream, train=train),
            "AFD on the fly": ClipDataset(
                samples, stream, train=train, condition="afd", afd=AFDSource(rgb_root, afd_config)
            ),
        }
        times = {k: epoch_seconds(ds, args.repeats) for k, ds in sets.items()}
        t_disk, t_fly = times["AFD, stored tree"], times["AFD on the fly"]
        kind = "train (random)" if train else "eval (centre)"
        for name, t in times.items():
            cross = ""
            if name == "AFD on the fly":
                cross = (
                    f"{t_make / (t_fly - t_disk):.1f}" if t_fly > t_disk else "never (faster)"
                )
            ratio = f"{t_disk / t:.2f}×" if name != "RGB from disk (reference)" else ""
            print(f"| {kind} | {name} | {t:.1f} | {len(samples) / t:.2f} | {ratio} | {cross} |")
    end = int(clip_indices(args.frames, 13, 6).max()) + 1
    print(f"\na centre clip of 13×6 ends at frame {end} of {args.frames}: on the fly, AFD makes "
          f"frames 0..{end - 1} for it (a random clip: {np.mean(range(73, args.frames + 1)):.0f} "
          "on average)")  # fmt: skip


if __name__ == "__main__":
    main()
