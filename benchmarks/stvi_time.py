"""Time of `motionlab stvi` per DAVIS 2016 sequence, as a user runs it (issue 16's target:
at most 60 s per 480p sequence on 2 CPU cores).

For every sequence of ``DAVIS/JPEGImages/480p`` it runs, each in a fresh process,

* ``motionlab -q stvi FRAMES --anchors ANNOTATIONS -o OUT`` (anchors every 20 frames, the
  thesis's "⇓" setting; everything a user waits for: reading the frames, DIS flow both
  ways, STVI, writing the label PNGs, ``labels.npz`` and ``stvi.json``), and
* the reference of the same run: the two DIS ``medium-full`` flow passes alone (forward
  and backward, :func:`motionlab.stvi.tubes.compute_flows`, the frames already read),

and prints a Markdown table: wall-clock and CPU seconds (user + system, all threads) and
peak memory of each, and the ratio of the two wall times. These machines' speed drifts
(the same code took twice the CPU seconds on another day), so the ratio to the flow,
measured in the same run, is the figure to compare across days; the wall time is the
one the target is about. Exits 1 if a sequence is over ``--limit`` seconds (60).

    PYTHONPATH=src .venv/bin/python benchmarks/stvi_time.py [--davis ../shared/data/davis2016] \
        [--sequences NAME ...] [--limit 60]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DAVIS = ROOT.parent / "shared" / "data" / "davis2016"

# the reference: the flows STVI computes first, alone (frames read before the clock starts)
FLOW_ONLY = """
import sys, time
from motionlab.flow import get_estimator
from motionlab.stvi.tubes import STVI_DIS_PRESET, compute_flows
from motionlab.video import read_video
frames = read_video(sys.argv[1])
started = time.perf_counter()
estimator = get_estimator("dis", preset=STVI_DIS_PRESET)
compute_flows(frames, estimator=estimator)
compute_flows(frames, estimator=estimator, direction="backward")
print(time.perf_counter() - started)
"""


def run_timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall-clock seconds, CPU seconds (user + system, all threads), peak resident MB and
    stdout of one child process (its own rusage, from wait4); stops the benchmark with its
    stderr if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            sys.exit(f"failed ({child.returncode}): {shlex.join(cmd)}\n{err.read()[-2000:]}")
        out.seek(0)
        # ru_maxrss: KB on Linux
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--davis", type=Path, default=DEFAULT_DAVIS)
    ap.add_argument("--sequences", nargs="+")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per sequence (60)")
    args = ap.parse_args()
    frames_root = args.davis / "JPEGImages" / "480p"
    if not frames_root.is_dir():
        print(f"skipped: no DAVIS 2016 at {args.davis}", file=sys.stderr)
        return 0
    seqs = args.sequences or sorted(p.name for p in frames_root.iterdir())
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seq in seqs:
            frames = frames_root / seq
            anchors = args.davis / "Annotations" / "480p" / seq
            out = Path(tmp) / seq
            cmd = [sys.executable, "-m", "motionlab", "-q", "stvi", str(frames),
                   "--anchors", str(anchors), "-o", str(out)]  # fmt: skip
            wall, cpu, peak, _ = run_timed(cmd, env)
            _, _, _, flow_out = run_timed([sys.executable, "-c", FLOW_ONLY, str(frames)], env)
            flow = float(flow_out.strip().splitlines()[-1])
            n = sum(1 for p in frames.iterdir() if p.suffix.lower() in (".jpg", ".png"))
            rows.append((seq, n, wall, cpu, peak, flow))
            print(f"{seq:20s} {wall:6.1f} s  (flow alone {flow:5.1f} s)", file=sys.stderr)
    print(
        f"`motionlab stvi` per DAVIS 2016 sequence (480p, anchors every 20 frames), "
        f"{os.cpu_count()} cores; the reference: DIS medium-full flow both ways alone, same run\n"
    )
    print("| sequence | frames | wall s | CPU s | peak MB | flow alone s | wall / flow |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for seq, n, wall, cpu, peak, flow in rows:
        print(f"| {seq} | {n} | {wall:.1f} | {cpu:.1f} | {peak:.0f} | {flow:.1f} | "
              f"{wall / flow:.2f} |")  # fmt: skip
    slowest = max(rows, key=lambda r: r[2])
    print(
        f"\nslowest: {slowest[0]} {slowest[2]:.1f} s "
        f"({'within' if slowest[2] <= args.limit else 'over'} {args.limit:.0f} s)"
    )
    return 0 if slowest[2] <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
