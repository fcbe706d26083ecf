"""End-to-end speed and peak memory of appearance-free video making, as a Markdown table.

Each configuration runs in a fresh subprocess: decode an H.264 input, estimate flow, make
the noise, encode losslessly (the library path behind ``motionlab afd``), timed from the
first frame to the last after a warm-up (imports and the compiled noise kernels loaded).
"floor" rows only decode and encode: no job can be faster. Peak memory is the subprocess's
maximum resident set size (``ru_maxrss``); "base" is its size before the video is opened.

Inputs are made once in a temporary folder from DAVIS ``dance-twirl`` (real motion; the
synthetic scene when ../shared is absent), resized and looped to the wanted length.

Usage::

    python benchmarks/afd_speed.py [--frames 150] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

SHARED = Path(__file__).resolve().parents[2] / "shared"
DAVIS = SHARED / "data" / "davis2016" / "JPEGImages" / "480p" / "dance-twirl"


def make_input(path: Path, size: tuple[int, int], frames: int) -> None:
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import list_frame_files, read_image, write_video

    if DAVIS.exists():
        src = [read_image(p) for p in list_frame_files(DAVIS)]
        src = src + src[::-1]  # ping-pong loop: no jump at the seam
    else:
        src = list(sample_video_frames(60, size=(854, 480)))
    seq = (cv2.resize(src[i % len(src)], size, interpolation=cv2.INTER_AREA) for i in range(frames))
    write_video(path, seq, fps=25, crf=18)


def run_one(spec: dict) -> dict:
    """One job in this process; returns fps and memory."""
    from motionlab.afd import AFDConfig, afd_steps
    from motionlab.flow import get_estimator
    from motionlab.pipeline import write_in_background
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import VideoReader, VideoWriter

    out = Path(spec["out"])
    config = None
    est = None
    if spec["mode"] != "floor":
        method, opts = spec["method"], {}
        if method == "dis-medium":
            method, opts = "dis", {"preset": "medium"}
        elif method == "raft-small":
            weights = SHARED / "weights" / "raft-small.pth"
            opts = {"weights": weights} if weights.exists() else {"pretrained": False}
        elif method == "-":
            method = "dis"  # unused: i.i.d. noise needs no flow
        config = AFDConfig(
            mode=spec["mode"], flow_method=method, density=spec["density"], flow_options=opts
        )
        if config.directions != "none":
            est = get_estimator(config.flow_method, **config.resolved_flow_options)
        # warm-up: load the compiled kernels and the estimator's first-call costs
        for _ in afd_steps(sample_video_frames(3, size=(64, 64)), config=config, estimator=est):
            pass
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with VideoReader(spec["input"]) as reader:
        t0 = time.perf_counter()
        n = 0
        with VideoWriter(out, fps=reader.rate, codec=spec["codec"]) as writer:
            if config is None:
                for frame in reader:
                    writer.write(frame)
                    n += 1
            else:
                with write_in_background(writer.write) as put:  # as motionlab afd does
                    for step in afd_steps(reader, config=config, estimator=est):
                        put(step.afd)
                        n += 1
        dt = time.perf_counter() - t0
    out.unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"fps": n / dt, "frames": n, "peak_mb": peak, "base_mb": base}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames per input video")
    parser.add_argument("--quick", action="store_true", help="defaults only (a smoke run)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="afd-speed-"))
    sizes = {"320x240": (320, 240), "854x480": (854, 480)}
    inputs = {}
    for name, size in sizes.items():
        inputs[name] = tmp / f"in_{name}.mp4"
        make_input(inputs[name], size, args.frames)
    # (label, mode, method, density, codec, sizes); method "dis" = motionlab's AFD default
    # (DIS fast), "dis-medium" = DIS medium
    rows = [
        ("floor: decode + encode raw (.avi)", "floor", "-", 0, "raw", list(sizes)),
        ("floor: decode + encode FFV1 (.mkv)", "floor", "-", 0, "ffv1", list(sizes)),
        ("advect, defaults, raw (.avi)", "advect", "dis", 1, "raw", list(sizes)),
        ("advect, defaults, FFV1 (.mkv)", "advect", "dis", 1, "ffv1", list(sizes)),
        ("advect, defaults, x264rgb (.mp4)", "advect", "dis", 1, "x264rgb", list(sizes)),
        ("advect, density 2, DIS medium, raw", "advect", "dis-medium", 2, "raw", list(sizes)),
        ("first-frame, DIS fast, raw", "first-frame", "dis", 1, "raw", list(sizes)),
        ("iid, raw", "iid", "-", 1, "raw", list(sizes)),
        ("advect, farneback, raw", "advect", "farneback", 1, "raw", list(sizes)),
        ("advect, raft-small (CPU), raw", "advect", "raft-small", 1, "raw", ["320x240"]),
    ]
    if args.quick:
        rows = rows[:3]
    results: dict[tuple[str, str], dict] = {}
    for label, mode, method, density, codec, row_sizes in rows:
        for size in row_sizes:
            suffix = {"ffv1": ".mkv", "raw": ".avi"}.get(codec, ".mp4")
            spec = {
                "mode": mode,
                "method": method,
                "density": density,
                "codec": codec,
                "input": str(inputs[size]),
                "out": str(tmp / f"out{suffix}"),
            }
            if method == "raft-small":
                spec["input"] = str(tmp / "in_raft.mp4")
                if not Path(spec["input"]).exists():
                    make_input(Path(spec["input"]), sizes[size], 30)
            res = subprocess.run(
                [sys.executable, __file__, "--one", json.dumps(spec)],
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                return 1
            results[(label, size)] = json.loads(res.stdout.strip().splitlines()[-1])
            r = results[(label, size)]
            print(
                f"{label} {size}: {r['fps']:.1f} fps, peak {r['peak_mb']:.0f} MB", file=sys.stderr
            )

    # memory does not grow with length: 1080p, 40 vs 120 frames
    mem = {}
    for n in (40, 120):
        path = tmp / f"in_1080_{n}.mp4"
        make_input(path, (1920, 1080), n)
        spec = {
            "mode": "advect",
            "method": "dis",
            "density": 1,
            "codec": "raw",
            "input": str(path),
            "out": str(tmp / "out1080.avi"),
        }
        res = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=True,
        )
        mem[n] = json.loads(res.stdout.strip().splitlines()[-1])

    print(
        f"AFD speed: {os.cpu_count()} cores, {args.frames}-frame H.264 inputs (DAVIS dance-twirl)\n"
    )
    print("| pipeline | 320x240 fps | 854x480 fps | peak MB 320x240 / 854x480 |")
    print("|---|---:|---:|---:|")
    for label, *_ in rows:
        fps = [f"{results[(label, s)]['fps']:.1f}" if (label, s) in results else "-" for s in sizes]
        peak = [
            f"{results[(label, s)]['peak_mb']:.0f}" if (label, s) in results else "-" for s in sizes
        ]
        print(f"| {label} | {fps[0]} | {fps[1]} | {' / '.join(peak)} |")
    print(
        "\n1920x1080, advect with defaults, raw .avi: "
        + ", ".join(
            f"{n} frames: {m['fps']:.1f} fps, peak {m['peak_mb']:.0f} MB "
            f"(base {m['base_mb']:.0f} MB)"
            for n, m in mem.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
