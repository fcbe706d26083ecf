"""Single frames of the synthetic actions carry the actor's identity (the privacy side).

Trains the small 3D CNN on *single frames* (1×1 clips) to name the actor, for a CPU time
budget, on half of each actor's videos, and prints top-1 on the other half next to
chance. Counterpart of ``recognition_synth.py``, where the *action* is not in one frame.

    PYTHONPATH=src python benchmarks/recognition_identity.py --data DIR --seconds 40

DIR is a dataset of ``motionlab synth-actions`` (made here with the benchmark's settings
when absent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from motionlab.recognition.data import ClipDataset, Sample, csv_samples
from motionlab.recognition.synth_actions import SynthConfig, make_synth_actions
from motionlab.recognition.zoo import build_model, get_spec

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016"


def _tensors(samples: list[Sample], spec) -> tuple[torch.Tensor, torch.Tensor]:
    ds = ClipDataset(samples, spec.streams, train=False, cache_videos=True)
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([x[0][0] for x in items]), torch.tensor([x[1] for x in items])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (args.data / "metadata.csv").exists():
        config = SynthConfig(videos_per_class=16, actors=8, test_actors=2, num_frames=32,
                             size=(64, 64), seed=args.seed)  # fmt: skip
        make_synth_actions(args.data, config, davis_root=SHARED)
    samples, persons = csv_samples(args.data / "metadata.csv", label_column="person")
    # video i of every class uses actor i % actors: even/odd rounds split each actor's videos
    rounds = [int(s.path.stem.split("_v")[1]) // len(persons) for s in samples]
    train = [s for s, r in zip(samples, rounds, strict=True) if r % 2 == 0]
    test = [s for s, r in zip(samples, rounds, strict=True) if r % 2 == 1]
    spec = get_spec("tiny3d").with_input(frames=1, size=48)
    x, y = _tensors(train, spec)
    xv, yv = _tensors(test, spec)
    torch.manual_seed(args.seed)
    model = build_model(spec, len(persons))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    tic, steps = time.time(), 0
    while time.time() - tic < args.seconds:
        i = torch.randint(0, len(x), (16,))
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    model.eval()
    with torch.no_grad():
        acc = float((model(xv).argmax(1) == yv).float().mean())
    print(f"identity from one frame: top-1 {100 * acc:.1f} % on {len(test)} unseen videos "
          f"(chance {100 / len(persons):.1f} %), {steps} steps in {args.seconds:g} s")  # fmt: skip


if __name__ == "__main__":
    main()
