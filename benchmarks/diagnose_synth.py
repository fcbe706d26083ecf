"""`motionlab diagnose` on the synthetic motion-only actions: a model that uses motion and
one that cannot.

Generates the synthetic actions (``motionlab synth-actions``; the action shows only in
motion, single frames carry the actor's identity but not the action), trains two small
models from scratch for a CPU time budget each, then runs ``motionlab diagnose`` on both
with every condition computed on the fly from the RGB test videos (no AFD copy on disk):

- ``tiny3d_flow``: a 3D CNN on optical flow (uses motion only);
- ``tiny2d``: a per-frame 2D CNN whose frame features are averaged over time (cannot use
  temporal order); on these actions it has nothing to learn (single frames do not show the
  action), so it is also trained on the *identity* of the actor in the same videos
  (``identity/<actor>/...``, every fourth video in name order held out), where appearance
  is all there is: the appearance model of the diagnostic.

    PYTHONPATH=src python benchmarks/diagnose_synth.py --seconds 90

Settings as ``benchmarks/recognition_synth.py`` (docs/recognition.md): videos at 96 px,
models read 48 px crops, Farnebäck flow for the flow stream and for the AFD noise.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from motionlab.cli import main as motionlab
from motionlab.recognition.data import AugmentStrength, ClipDataset, FlowSource, ucf101_samples
from motionlab.recognition.synth_actions import SynthConfig, make_synth_actions
from motionlab.recognition.train import get_recipe, train
from motionlab.recognition.zoo import get_spec

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016"
FLIP_ONLY = AugmentStrength(min_scale=1.0, brightness=0.0, contrast=0.0, hue=0.0, flip=0.5)
MODELS = (("tiny3d_flow", "synth"), ("tiny2d", "synth"), ("tiny2d", "identity"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="training budget per model")
    parser.add_argument("--videos-per-class", type=int, default=32)
    parser.add_argument("--actors", type=int, default=8, help="identities (2 held out)")
    parser.add_argument("--frames", type=int, default=24, help="frames per video")
    parser.add_argument("--video-size", type=int, default=96)
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep data and runs here (default: temp)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run(args.work or Path(tmp), args)


def run(work: Path, args: argparse.Namespace) -> None:
    root = work / "synth"
    if not (root / "metadata.csv").exists():
        config = SynthConfig(
            videos_per_class=args.videos_per_class, actors=args.actors, test_actors=2,
            num_frames=args.frames, size=(args.video_size, args.video_size), seed=args.seed,
        )  # fmt: skip
        make_synth_actions(root, config, davis_root=SHARED)
    identity_view(root, work / "identity")
    flow = FlowSource(method="farneback", options=())
    for name, task in MODELS:
        data = work / task
        train_s, classes = ucf101_samples(data, subset="train")
        test_s, _ = ucf101_samples(data, subset="test")
        print(f"\n{name} on {task}: {len(train_s)} training videos, {len(test_s)} test videos, "
              f"{len(classes)} classes")  # fmt: skip
        spec = get_spec(name).with_input(frames=8, size=args.input_size)
        out = work / "runs" / f"{name}_{task}"
        if not (out / "last.pt").exists():
            tr = ClipDataset(train_s, spec.streams, train=True, seed=args.seed,
                             schedule=(FLIP_ONLY,), flow=flow, cache_videos=True)  # fmt: skip
            va = ClipDataset(test_s[:5], spec.streams, train=False, flow=flow, cache_videos=True)
            load = tr.preload()
            cfg = get_recipe("adamw", epochs=100000, batch_size=16, lr=1e-3, patience=100000,
                             seed=args.seed, max_seconds=args.seconds)  # fmt: skip
            result = train(spec, tr, va, out, classes=classes, config=cfg, progress=False)
            print(f"trained {name}: {result.seconds:.0f} s, {len(result.history)} epochs "
                  f"(data {load:.0f} s)", flush=True)  # fmt: skip
        argv = [
            "-q", "diagnose", "--model", str(out / "last.pt"), "--data", str(data),
            "--flow", "farneback", "--afd-flow-method", "farneback",
            "--bootstrap", str(args.bootstrap), "--threads", "1",
            "-o", str(work / "diagnose" / f"{name}_{task}"),
        ]  # fmt: skip
        tic = time.time()
        print(f"\n$ motionlab {' '.join(argv)}", flush=True)
        motionlab(argv)
        print(f"(diagnose took {time.time() - tic:.0f} s)", flush=True)


def identity_view(root: Path, view: Path) -> None:
    """The same videos classified by actor: ``view/<actor>/<video>`` (symbolic links),
    every fourth video of an actor in the test list."""
    if view.exists():
        return
    train, test = [], []
    for k, video in enumerate(sorted(root.glob("*/*.avi"), key=lambda p: p.name)):
        actor = video.stem.split("_")[-2]  # Class_a03_v012 -> a03
        (view / actor).mkdir(parents=True, exist_ok=True)
        (view / actor / video.name).symlink_to(video.resolve())
        (test if k % 4 == 0 else train).append(f"{actor}/{video.name}")
    (view / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (view / "testlist01.txt").write_text("\n".join(test) + "\n")


if __name__ == "__main__":
    main()
