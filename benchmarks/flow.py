"""Optical-flow accuracy and speed of every motionlab method, printed as a Markdown table.

Accuracy: mean endpoint error (EPE, px) on the 6 FlyingChairs pairs of
``../shared/data/flow/flyingchairs`` and on the Middlebury 2014 Motorcycle stereo pair shipped
with scikit-image (``skimage.data.stereo_motorcycle()``; left -> right flow is
u = -disparity, v = 0; pixels of unknown disparity are ignored).

Speed: median milliseconds per pair (after one warm-up) at 320x240 and 854x480 on a real
DAVIS pair (``../shared/data/davis2016``, resized), or on the synthetic scene when the shared
data is absent; and the ratio to DIS-medium measured in the same run.

Usage::

    python benchmarks/flow.py [--repeats 5] [--methods dis,raft-small] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import skimage.data

from motionlab.flow import endpoint_error, get_estimator, read_flo
from motionlab.synthetic import sample_video_frames
from motionlab.video import read_image

SHARED = Path(__file__).resolve().parents[2] / "shared"
RAFT_SMALL = SHARED / "weights" / "raft-small.pth"

# (label, method, options, has trained weights here)
CONFIGS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("dis ultrafast", "dis", {"preset": "ultrafast"}, True),
    ("dis fast", "dis", {"preset": "fast"}, True),
    ("dis medium (default)", "dis", {"preset": "medium"}, True),
    ("dis medium-full (stvi's default)", "dis", {"preset": "medium-full"}, True),
    ("farneback", "farneback", {}, True),
    ("tvl1", "tvl1", {}, True),
    ("deepflow", "deepflow", {}, True),
    ("raft-small, 12 iters", "raft-small", {"weights": RAFT_SMALL}, True),
    ("raft-small, 12 iters, batch 4", "raft-small", {"weights": RAFT_SMALL, "batch_size": 4}, True),
    ("raft-large, 12 iters (untrained)", "raft-large", {"pretrained": False}, False),
]
BASELINE = "dis medium (default)"


def chairs_pairs() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    folder = SHARED / "data" / "flow" / "flyingchairs"
    out = []
    for img0 in sorted(folder.glob("*-img0.ppm")):
        stem = img0.name.removesuffix("-img0.ppm")
        out.append(
            (
                read_image(img0),
                read_image(folder / f"{stem}-img1.ppm"),
                read_flo(folder / f"{stem}-gt.flo"),
            )
        )
    return out


def motorcycle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    left, right, disparity = skimage.data.stereo_motorcycle()
    gt = np.zeros((*disparity.shape, 2), np.float32)
    gt[..., 0] = -disparity  # a left pixel at x appears at x - d in the right image
    gt[~np.isfinite(disparity)] = np.nan
    return left, right, gt


def speed_pair(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    davis = SHARED / "data" / "davis2016" / "JPEGImages" / "480p" / "dance-twirl"
    if (davis / "00010.jpg").exists():
        a, b = read_image(davis / "00010.jpg"), read_image(davis / "00011.jpg")
    else:
        a, b = list(sample_video_frames(2, size=(854, 480)))
    return (
        cv2.resize(a, size, interpolation=cv2.INTER_AREA),
        cv2.resize(b, size, interpolation=cv2.INTER_AREA),
    )


def time_ms(est: Any, a: np.ndarray, b: np.ndarray, repeats: int, batch: int) -> float:
    firsts, seconds = [a] * batch, [b] * batch
    est.estimate_pairs(firsts, seconds)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        est.estimate_pairs(firsts, seconds)
        times.append((time.perf_counter() - t0) * 1000 / batch)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size")
    parser.add_argument("--methods", help="comma-separated labels' methods to keep")
    parser.add_argument("--threads", type=int, help="torch/OpenCV threads (default: all)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    keep = set(args.methods.split(",")) if args.methods else None
    chairs = chairs_pairs() if (SHARED / "data" / "flow" / "flyingchairs").exists() else []
    moto = motorcycle()
    sizes = [(320, 240), (854, 480)]
    pairs = {s: speed_pair(s) for s in sizes}

    rows = []
    for label, method, options, trained in CONFIGS:
        if keep and method not in keep:
            continue
        if "weights" in options and not Path(options["weights"]).exists():
            print(f"skipping {label}: {options['weights']} absent", file=sys.stderr)
            continue
        est = get_estimator(method, **options)
        batch = options.get("batch_size", 1)
        if trained and chairs and batch == 1:
            chairs_epe = np.mean([endpoint_error(est(a, b), gt) for a, b, gt in chairs])
            moto_epe = endpoint_error(est(moto[0], moto[1]), moto[2])
        else:
            chairs_epe = moto_epe = float("nan")
        repeats = max(1, args.repeats // 2) if method in ("tvl1", "deepflow") else args.repeats
        ms = [time_ms(est, *pairs[s], repeats, batch) for s in sizes]
        rows.append((label, chairs_epe, moto_epe, ms))
        print(f"done {label}", file=sys.stderr)

    base = {r[0]: r[3] for r in rows}.get(BASELINE)

    def fmt(x: float) -> str:
        return "-" if np.isnan(x) else f"{x:.2f}"

    print(
        f"motionlab flow benchmark: {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores, repeats={args.repeats}\n"
    )
    print(
        "| method | EPE FlyingChairs (6 pairs) | EPE Motorcycle (stereo) "
        "| ms/pair 320x240 | ms/pair 854x480 | time vs DIS-medium (320x240 / 854x480) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, ce, me, ms in rows:
        ratio = f"{ms[0] / base[0]:.1f}x / {ms[1] / base[1]:.1f}x" if base else "-"
        print(f"| {label} | {fmt(ce)} | {fmt(me)} | {ms[0]:.1f} | {ms[1]:.1f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
