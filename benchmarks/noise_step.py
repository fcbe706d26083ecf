"""Speed of the AFD noise step alone (:class:`motionlab.afd.noise.AdvectedNoise`), as a
Markdown table: this tree against an older commit (``--base``).

The flow is DIS (AFD's preset) of DAVIS ``dance-twirl`` resized to each size (a synthetic
scene when ../shared is absent), computed once before any timing. Every configuration runs
in a fresh process: a warm-up over 5 flows (the compiled kernels loaded), then ``advect`` +
``render`` over all flows twice, timed by the wall clock and by the process's CPU time
(all threads). Configurations are interleaved ``--repeat`` times; the table gives medians
and the median of the per-repeat ratios to the base, so a busy machine slows both alike.
Each run also hashes its frames: the table says whether they equal the base's.

Usage::

    python benchmarks/noise_step.py [--base a7d4782] [--repeat 5] [--frames 60]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DAVIS = SHARED / "data" / "davis2016" / "JPEGImages" / "480p" / "dance-twirl"
SIZES = ((320, 240), (854, 480))


def make_flows(folder: Path, frames: int) -> dict[str, Path]:
    """DIS flows (AFD preset) at every size, saved as .npy; {size: path}."""
    import cv2
    import numpy as np

    from motionlab.afd.make import AFDConfig
    from motionlab.flow import get_estimator
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import list_frame_files, read_image

    if DAVIS.exists():
        src = [read_image(p) for p in list_frame_files(DAVIS)[: frames + 1]]
    else:
        src = list(sample_video_frames(frames + 1, size=(854, 480)))
    out = {}
    for w, h in SIZES:
        seq = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in src]
        est = get_estimator("dis", **AFDConfig().resolved_flow_options)
        flows = np.stack([est(a, b) for a, b in itertools.pairwise(seq)])
        out[f"{w}x{h}"] = folder / f"flow_{w}x{h}.npy"
        np.save(out[f"{w}x{h}"], flows.astype(np.float32))
    return out


def child(src: str, flows_path: str) -> None:
    """One timed run in this process; prints JSON."""
    sys.path.insert(0, src)
    import numpy as np

    from motionlab.afd.noise import AdvectedNoise

    flows = np.load(flows_path)
    _, h, w, _ = flows.shape
    noise = AdvectedNoise(h, w, rng=np.random.default_rng(0))
    for flow in flows[:5]:
        noise.advect(flow)
        noise.render()
    noise = AdvectedNoise(h, w, rng=np.random.default_rng(0))
    frames = []
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(2):
        for flow in flows:
            noise.advect(flow)
            frames.append(noise.render())
    n = 2 * len(flows)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.data)
    print(json.dumps({"wall": wall / n * 1e3, "cpu": cpu / n * 1e3,
                      "hash": digest.hexdigest()[:16]}))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="a7d4782", help="commit to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60, help="flows per size")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from identical_outputs import base_tree  # same folder

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "base").mkdir()
        base_src = base_tree(args.base, folder / "base")
        flows = make_flows(folder, args.frames)
        configs = [(f"{args.base} (base)", base_src), ("this tree", ROOT / "src")]
        runs: dict[tuple[str, str], list[dict]] = {}
        for r in range(args.repeat):
            for size, path in flows.items():
                for label, src in configs:
                    cmd = [sys.executable, __file__, "--child", str(src), str(path)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    runs.setdefault((label, size), []).append(json.loads(out.stdout))
            print(f"[{r + 1}/{args.repeat}]", file=sys.stderr)
    print("| noise step | size | wall ms/frame | CPU ms/frame | wall / base (pairs) | "
          "CPU / base | frames = base's |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---|")
    for size in flows:
        base = runs[(configs[0][0], size)]
        for label, _ in configs:
            rows = runs[(label, size)]
            wall = statistics.median(x["wall"] for x in rows)
            cpu = statistics.median(x["cpu"] for x in rows)
            rw = statistics.median(a["wall"] / b["wall"] for a, b in zip(rows, base, strict=True))
            rc = statistics.median(a["cpu"] / b["cpu"] for a, b in zip(rows, base, strict=True))
            same = "yes" if all(a["hash"] == base[0]["hash"] for a in rows) else "**no**"
            print(f"| {label} | {size} | {wall:.2f} | {cpu:.2f} | {rw:.2f} | {rc:.2f} | {same} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
