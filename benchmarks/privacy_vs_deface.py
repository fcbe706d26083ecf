"""Selective face obfuscation against deface 1.5.0 on the same videos, in the same run.

For each input (``../shared/data``: the 101 IPN frames, carphone, the pedestrians video)
both tools run as a user runs them, one whole process each, on the same input file (frame
folders and long videos are first copied into a lossless FFV1 ``.mkv`` of the frames used,
which both then decode), and write lossless FFV1 (``bgr0``) ``.mkv`` outputs:

* ours: ``python -m motionlab obfuscate IN -o OUT --templates face`` (plus ``--ours-args``);
* deface: ``deface IN -o OUT --ffmpeg-config '{"codec": "ffv1", "pixelformat": "bgr0"}'``
  (its defaults otherwise: CenterFace, threshold 0.2, ellipse masks x1.3, blur).

Both run as installed: motionlab's modules are byte-compiled first (``compileall``, as
``pip install`` does and as deface's are; with ``PYTHONDONTWRITEBYTECODE`` set no ``.pyc``
is ever written, and every run would compile motionlab's sources again, about 70 ms of
CPU), and each tool runs once untimed per input (numba's and motionlab's caches, the
operating system's file cache).

The runs are interleaved and paired (ours, deface, then deface, ours on the next repeat),
so a busy machine slows both alike; each time is the wall clock of the whole process
(start-up, model loading, decoding, encoding) and the table gives the median over repeats
and the ratio ours / deface of the medians, and of each pair (min-max).

Then, from the last repeat's outputs (lossless, so unchanged pixels are bit-identical):

* hiding: faces that independent detectors still find. Judges: OpenCV's Haar frontal-face
  cascade (as ``privacy_evidence.py``) and MTCNN (facenet-pytorch 2.6.0, whose package
  ships its weights), neither used by our matcher nor by deface (deface's own CenterFace
  model would judge itself). Each judge runs on the original frames and on both outputs;
  a face "still found" is a detection in the output whose centre lies inside a detection
  of the same frame of the original (so false detections on the background, untouched by
  both tools, are not counted; a face the judge misses in the original is not counted
  either). Frames are enlarged by the input's ``upscale`` first, so small faces reach the
  judges' minimum sizes (MTCNN ``min_face_size`` 20 px, Haar 24 px, at the enlarged size);
* pixels replaced: fraction of pixels that differ from the input frame (any channel);
* flow EPE: mean endpoint error (px) between DIS-medium optical flow of consecutive output
  frames and that of the input frames, over the whole frame and over the pixels that
  either tool changed (the same region for both).

Environment: deface and the MTCNN package are never motionlab dependencies. Unless
``--deface-python`` names an interpreter that has deface, the script makes its own venv
under ``--cache`` (default ``~/.cache/motionlab/bench``) with ``pip install deface==1.5.0
onnxruntime``; facenet-pytorch is installed there with ``pip install --no-deps --target``
(it uses the torch and torchvision of the interpreter running this script) and put on
``sys.path`` by this script only.

Usage::

    python benchmarks/privacy_vs_deface.py [--repeats 2] [--inputs ipn,carphone,pedestrians]
        [--max-frames 200] [--judge-frames 24] [--deface-python PATH] [--ours-args "..."]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from motionlab.flow import get_estimator
from motionlab.video import VideoReader, VideoWriter, probe

SHARED = Path(os.environ.get("MOTIONLAB_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATA = SHARED / "data"
DEFACE = "deface==1.5.0"
MTCNN_PKG = "facenet-pytorch==2.6.0"
FFV1 = json.dumps({"codec": "ffv1", "pixelformat": "bgr0"})


@dataclass(frozen=True)
class Input:
    """One benchmark input: its source and how the judges look at it (``upscale``: frames
    are enlarged by this factor before the face detectors, for small faces)."""

    path: Path
    upscale: float


INPUTS = {
    "ipn": Input(DATA / "ipn_face_gesture" / "frames", 1.0),
    "carphone": Input(DATA / "videos" / "carphone.mp4", 2.0),
    "pedestrians": Input(DATA / "videos" / "pedestrians_vtest.avi", 3.0),
}


# -- environment -----------------------------------------------------------------------
def deface_python(cache: Path) -> Path:
    """The interpreter of the benchmark's own deface venv, made on first use."""
    venv = cache / "deface-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"making {venv} ({DEFACE}, onnxruntime) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", DEFACE, "onnxruntime"], check=True
        )
    return py


def mtcnn_class(cache: Path) -> type:
    """facenet-pytorch's ``MTCNN``, from the benchmark's own folder (installed there without
    dependencies on first use; it needs torch and torchvision, which motionlab has)."""
    target = cache / "judges"
    if not (target / "facenet_pytorch").exists():
        print(f"installing {MTCNN_PKG} into {target} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
             str(target), MTCNN_PKG],
            check=True,
        )  # fmt: skip
    if str(target) not in sys.path:
        sys.path.append(str(target))
    from facenet_pytorch import MTCNN

    return MTCNN  # type: ignore[no-any-return]


# -- inputs ------------------------------------------------------------------------------
def prepare(name: str, item: Input, folder: Path, max_frames: int) -> tuple[Path, int]:
    """The file both tools read, and its frame count: the source itself when it is a video
    short enough, else its first ``max_frames`` frames copied losslessly (FFV1 .mkv)."""
    info = probe(item.path)
    count = info.num_frames if max_frames <= 0 else min(info.num_frames, max_frames)
    if item.path.is_file() and count == info.num_frames:
        return item.path, count
    out = folder / f"{name}.mkv"
    with VideoReader(item.path, stop=count) as reader, VideoWriter(
        out, fps=reader.info.fps or 25.0, codec="ffv1"
    ) as writer:  # fmt: skip
        for frame in reader:
            writer.write(frame)
    return out, count


# -- runs --------------------------------------------------------------------------------
def run_timed(cmd: list[str], out: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, all its threads) of one process writing
    ``out`` (removed first); stops the benchmark with the process's stderr if it fails."""
    out.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {shlex.join(cmd)}\n{done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def commands(
    src: Path, folder: Path, py: Path, ours_args: list[str]
) -> dict[str, tuple[list[str], Path]]:
    ours, theirs = folder / f"{src.stem}_ours.mkv", folder / f"{src.stem}_deface.mkv"
    return {
        "ours": (
            [sys.executable, "-m", "motionlab", "obfuscate", str(src), "-o", str(ours),
             "--templates", "face", *ours_args],
            ours,
        ),
        "deface": (
            [str(py), "-m", "deface.deface", str(src), "-o", str(theirs),
             "--ffmpeg-config", FFV1],
            theirs,
        ),
    }  # fmt: skip


# -- measures ----------------------------------------------------------------------------
Detector = Callable[[np.ndarray], np.ndarray]


def haar_judge(upscale: float) -> Detector:
    """Haar frontal-face boxes ``(N, 4)`` x0, y0, x1, y1 in input pixels."""
    cascade = cv2.CascadeClassifier(
        cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    )

    def detect(frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if upscale != 1.0:
            gray = cv2.resize(gray, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        found = np.asarray(cascade.detectMultiScale(gray, 1.1, 5, minSize=(24, 24)), float)
        boxes = found.reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        return boxes / upscale

    return detect


def mtcnn_judge(cls: type, upscale: float) -> Detector:
    """MTCNN face boxes (probability >= 0.9) ``(N, 4)`` in input pixels."""
    model = cls(keep_all=True, min_face_size=20, device="cpu")

    def detect(frame: np.ndarray) -> np.ndarray:
        if upscale != 1.0:
            frame = cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        boxes, probs = model.detect(frame)
        if boxes is None:
            return np.zeros((0, 4))
        return np.asarray(boxes, float)[np.asarray(probs, float) >= 0.9] / upscale

    return detect


def still_found(before: np.ndarray, after: np.ndarray) -> int:
    """Faces of ``before`` ``(N, 4)`` with a detection of ``after`` centred inside them."""
    if not len(before) or not len(after):
        return 0
    cx = (after[:, 0] + after[:, 2]) / 2
    cy = (after[:, 1] + after[:, 3]) / 2
    inside = (
        (cx[None] >= before[:, :1]) & (cx[None] <= before[:, 2:3])
        & (cy[None] >= before[:, 1:2]) & (cy[None] <= before[:, 3:4])
    )  # fmt: skip
    return int(inside.any(1).sum())


def read(path: Path, stop: int) -> list[np.ndarray]:
    with VideoReader(path, stop=stop) as reader:
        return list(reader)


def measures(
    src: list[np.ndarray],
    outs: dict[str, list[np.ndarray]],
    judges: dict[str, Detector],
    judge_frames: int,
    flow_frames: int,
) -> dict[str, dict[str, float]]:
    """Per method: replaced fraction, EPE (frame, changed region), per judge faces found
    in the original and still found after."""
    est = get_estimator("dis", preset="medium")
    changed = {k: [(o != s).any(-1) for o, s in zip(v, src, strict=True)] for k, v in outs.items()}
    either = [np.logical_or.reduce(c) for c in zip(*changed.values(), strict=True)]
    n = min(flow_frames, len(src)) if flow_frames > 0 else len(src)
    ref = [est(a, b) for a, b in itertools.pairwise(src[:n])]
    result: dict[str, dict[str, float]] = {}
    for k, frames in outs.items():
        got = [est(a, b) for a, b in itertools.pairwise(frames[:n])]
        err = [np.linalg.norm(g - r, axis=-1) for g, r in zip(got, ref, strict=True)]
        region = [e[m] for e, m in zip(err, either, strict=False) if m.any()]
        result[k] = {
            "replaced": float(np.mean([c.mean() for c in changed[k]])),
            "epe_frame": float(np.mean([e.mean() for e in err])),
            "epe_region": float(np.mean([r.mean() for r in region])) if region else 0.0,
        }
    pick = np.unique(np.linspace(0, len(src) - 1, min(judge_frames, len(src))).astype(int))
    for jname, detect in judges.items():
        before = {int(t): detect(src[t]) for t in pick}
        total = sum(len(b) for b in before.values())
        for k, frames in outs.items():
            left = sum(still_found(before[int(t)], detect(frames[t])) for t in pick)
            result[k][f"{jname}_orig"] = total
            result[k][f"{jname}_left"] = left
            result[k]["judged"] = len(pick)
    return result


# -- main --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", default=",".join(INPUTS))
    p.add_argument("--repeats", type=int, default=2, help="paired runs per input")
    p.add_argument("--max-frames", type=int, default=200, help="frames per input (0: all)")
    p.add_argument("--judge-frames", type=int, default=24, help="frames the judges see")
    p.add_argument("--flow-frames", type=int, default=60, help="frames for flow EPE (0: all)")
    p.add_argument("--no-judge", action="store_true", help="time only")
    p.add_argument("--deface-python", type=Path, help="an interpreter that has deface")
    p.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "motionlab" / "bench"
    )
    p.add_argument("--ours-args", default="", help="extra options of motionlab obfuscate")
    p.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = p.parse_args(argv)
    names = args.inputs.split(",")
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        p.error(f"unknown input(s) {', '.join(unknown)}; choose from {', '.join(INPUTS)}")
    missing = [str(INPUTS[n].path) for n in names if not INPUTS[n].path.exists()]
    if missing:
        print(f"needs {', '.join(missing)} (the project's ../shared data)", file=sys.stderr)
        return 1
    py = args.deface_python or deface_python(args.cache)
    mtcnn = None if args.no_judge else mtcnn_class(args.cache)
    env = dict(os.environ)
    src_dir = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src_dir, env.get("PYTHONPATH")]))
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(src_dir) / "motionlab")], check=True
    )  # as installed (see the module notes)
    ours_args = shlex.split(args.ours_args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vs_deface_") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            item = INPUTS[name]
            src, count = prepare(name, item, folder, args.max_frames)
            cmds = commands(src, folder, py, ours_args)
            times: dict[str, list[float]] = {"ours": [], "deface": []}
            cpus: dict[str, list[float]] = {"ours": [], "deface": []}
            for tool in ("ours", "deface"):  # untimed warm-up
                run_timed(*cmds[tool], env)
            for r in range(args.repeats):
                order = ("ours", "deface") if r % 2 == 0 else ("deface", "ours")
                for tool in order:
                    wall, cpu = run_timed(*cmds[tool], env)
                    times[tool].append(wall)
                    cpus[tool].append(cpu)
            print(
                f"{name}: wall ours {', '.join(f'{t:.2f}' for t in times['ours'])} s, "
                f"deface {', '.join(f'{t:.2f}' for t in times['deface'])} s; CPU ours "
                f"{', '.join(f'{t:.2f}' for t in cpus['ours'])} s, deface "
                f"{', '.join(f'{t:.2f}' for t in cpus['deface'])} s",
                file=sys.stderr,
            )
            stats: dict[str, dict[str, float]] = {"ours": {}, "deface": {}}
            if not args.no_judge:
                frames = read(src, count)
                outs = {k: read(cmds[k][1], count) for k in ("ours", "deface")}
                judges = {
                    "haar": haar_judge(item.upscale),
                    "mtcnn": mtcnn_judge(mtcnn, item.upscale),  # type: ignore[arg-type]
                }
                stats = measures(frames, outs, judges, args.judge_frames, args.flow_frames)
            rows.append((name, count, times, cpus, stats))
    print_table(rows, args)
    return 0


def print_table(rows: list, args: argparse.Namespace) -> None:  # type: ignore[type-arg]
    print(
        f"\n{args.repeats} paired runs per input (median), outputs lossless FFV1; "
        f"judges on {args.judge_frames} frames per input, flow on {args.flow_frames}\n"
    )
    print(
        "| input | frames | tool | time s | ms/frame | ours/deface time (pairs) "
        "| CPU s | ours/deface CPU | Haar faces left | MTCNN faces left | pixels replaced "
        "| flow EPE frame | flow EPE changed px |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, count, times, cpus, stats in rows:
        med = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: statistics.median(v) for k, v in cpus.items()}
        pairs = [a / b for a, b in zip(times["ours"], times["deface"], strict=True)]
        ratio = f"{med['ours'] / med['deface']:.2f} ({min(pairs):.2f}-{max(pairs):.2f})"
        cpu_ratio = f"{cpu['ours'] / cpu['deface']:.2f}"
        for tool in ("ours", "deface"):
            s = stats.get(tool, {})
            judged = ""
            for j in ("haar", "mtcnn"):
                if f"{j}_orig" in s:
                    judged += f" | {int(s[f'{j}_left'])}/{int(s[f'{j}_orig'])}"
                else:
                    judged += " | -"
            rest = (
                f" | {100 * s['replaced']:.2f} % | {s['epe_frame']:.3f} | {s['epe_region']:.2f}"
                if s
                else " | - | - | -"
            )
            first = tool == "ours"
            print(
                f"| {name} | {count} | {tool} | {med[tool]:.2f} | {1000 * med[tool] / count:.1f} "
                f"| {ratio if first else ''} | {cpu[tool]:.2f} | {cpu_ratio if first else ''}"
                f"{judged}{rest} |"
            )


if __name__ == "__main__":
    sys.exit(main())
