"""CPU inference time per clip of every zoo architecture (batch 1, random weights).

Each model reads its published clip (f frames per stream); ``--size`` overrides the crop
size of the first stream (other streams keep their published ratio) to keep the run short
on a small CPU. Prints one row per model: streams, parameters (at 400 classes), median ms per clip.

    PYTHONPATH=src python benchmarks/recognition_speed.py --size 112 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from motionlab.errors import MotionlabError
from motionlab.recognition.zoo import build_model, count_parameters, get_spec, list_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, help="crop size of the first stream (default: published)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", help="comma-separated names (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.models.split(",") if args.models else list_models()
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch 1")
    print(f"{'model':<16} {'streams':<34} {'params':>8} {'ms/clip':>9}")
    for name in names:
        spec = get_spec(name)
        if args.size:
            spec = spec.with_input(size=args.size)
        try:
            model = build_model(spec, 400).eval()
        except MotionlabError as exc:
            print(f"{name:<16} n/a: {exc}")
            continue
        inputs = [torch.randn(1, s.channels, s.frames, s.size, s.size) for s in spec.streams]
        runs = []
        with torch.no_grad():
            model(*inputs)  # warm-up
            for _ in range(args.repeats):
                tic = time.perf_counter()
                model(*inputs)
                runs.append(time.perf_counter() - tic)
        ms = 1000 * sorted(runs)[len(runs) // 2]
        streams = " + ".join(s.describe() for s in spec.streams)
        params = count_parameters(model) / 1e6
        print(f"{name:<16} {streams:<34} {params:7.2f}M {ms:9.1f}", flush=True)


if __name__ == "__main__":
    main()
