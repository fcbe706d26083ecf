"""RAFT-small per frame pair: motionlab's estimator against the published AFD code.

f-ilic/afd (the thesis authors' code) estimates flow with the original RAFT it vendors
(``RAFT/core``), one pair at a time: ``InputPadder`` to multiples of 8, ``iters=12``,
``test_mode=True`` (its ``generate_afd.flow_from_video``, moved from CUDA to the CPU here).
This script runs that code and ``get_estimator("raft-small", weights=...)`` on the same
frames with the same weights, interleaved, and prints wall and CPU time per pair (medians)
and the largest difference between the two flows.

The published code is never part of motionlab: fetch it into a temporary folder and
point ``--published`` at the folder that holds its ``RAFT/`` package, e.g.::

    git clone --depth 1 https://github.com/f-ilic/afd /tmp/afd
    PYTHONPATH=src .venv/bin/python benchmarks/raft_vs_published.py --published /tmp/afd \\
        --weights ../shared/weights/raft-small.pth
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from motionlab.flow import get_estimator
from motionlab.synthetic import sample_video_frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--published", type=Path, required=True, help="folder holding RAFT/")
    parser.add_argument("--weights", type=Path, required=True, help="raft-small.pth")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(args.published))
    from RAFT.core.raft import RAFT  # the published code, from the folder given
    from RAFT.core.utils.utils import InputPadder

    w, h = (int(x) for x in args.size.split("x"))
    frames = list(sample_video_frames(args.pairs + 1, size=(w, h)))
    ns = argparse.Namespace(small=True, mixed_precision=False, alternate_corr=False, dropout=0)
    model = torch.nn.DataParallel(RAFT(ns))
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    model = model.module.eval()
    ours = get_estimator("raft-small", weights=args.weights)

    def published(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            i0 = torch.from_numpy(a).permute(2, 0, 1).float()[None]
            i1 = torch.from_numpy(b).permute(2, 0, 1).float()[None]
            padder = InputPadder(i0.shape)
            i0, i1 = padder.pad(i0, i1)
            _, up = model(i0, i1, iters=12, test_mode=True)
            return padder.unpad(up)[0].permute(1, 2, 0).numpy()

    times: dict[str, list[tuple[float, float]]] = {"published": [], "motionlab": []}
    flows: dict[str, list[np.ndarray]] = {}
    for _ in range(args.repeat):
        for name, fn in (("published", published), ("motionlab", ours)):
            t0, c0 = time.perf_counter(), time.process_time()
            out = [fn(a, b) for a, b in itertools.pairwise(frames)]
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))
            flows.setdefault(name, out)
    diff = max(
        float(np.abs(a - b).max())
        for a, b in zip(flows["published"], flows["motionlab"], strict=True)
    )
    med = {k: [statistics.median(x[i] for x in v) for i in (0, 1)] for k, v in times.items()}
    print(f"RAFT-small, {args.pairs} pairs at {w}x{h}, {torch.get_num_threads()} torch threads, "
          f"medians of {args.repeat} interleaved runs")  # fmt: skip
    print("| code | wall ms/pair | CPU ms/pair |\n|---|---:|---:|")
    for k in ("published", "motionlab"):
        print(
            f"| {k} | {1000 * med[k][0] / args.pairs:.0f} | {1000 * med[k][1] / args.pairs:.0f} |"
        )
    print(f"motionlab / published: wall {med['motionlab'][0] / med['published'][0]:.2f}x, "
          f"CPU {med['motionlab'][1] / med['published'][1]:.2f}x; "
          f"max |flow difference| {diff:.4f} px")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
