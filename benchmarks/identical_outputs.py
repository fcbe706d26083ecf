"""Do two versions of motionlab make the same outputs? (issue 18: restructuring, same bits)

Runs one fixed list of ``motionlab`` commands with the ``src/`` of a base commit (taken
with ``git archive`` into a temporary folder) and with the working tree's ``src/``, on the
same inputs, and compares a hash of every output:

* videos (``.avi``, ``.mkv``, ``.mp4``): the SHA-256 of the decoded RGB frames, so the
  provenance tag (which holds the time and the command line) does not count;
* provenance sidecars (``*.motionlab.json``) and other JSON files: skipped (they hold
  times); ``stvi.json`` is compared without its provenance keys;
* every other file (``.flo``, ``.png``, ``.npz``, split files): its bytes.

Commands: ``sample-video``, ``afd`` in its three modes (plus ``--noise-range video
--triptych`` into .mkv), ``flow`` into a .flo folder, ``afd-dataset`` on two videos (1 and
2 workers, and with ``--save-flow``), and, when ``$MOTIONLAB_SHARED/data`` (default
``../shared/data``) is present,
``obfuscate`` (face templates, the landmarks matcher, with its saliency maps),
``baseline`` on carphone and ``stvi`` on DAVIS car-shadow.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/identical_outputs.py --base fbee4fb

Prints one row per output (same / DIFFERENT / missing) and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOTIONLAB_SHARED", ROOT.parent / "shared")) / "data"
VIDEO_SUFFIXES = {".avi", ".mkv", ".mp4"}
STVI_VOLATILE = {"provenance", "motionlab", "time", "command", "seconds", "created"}


def commands(inputs: Path, shared: Path | None) -> list[tuple[str, list[str], str]]:
    """(name, motionlab arguments, output path relative to the run folder)."""
    clip = inputs / "clip.mp4"
    ds = inputs / "ds"
    rows = [
        ("sample-video", "sample-video {out}/sample.mkv --frames 12", "sample.mkv"),
        *[
            (f"afd {m}", f"afd {clip} -o {{out}}/afd_{m}.avi --mode {m} --seed 3", f"afd_{m}.avi")
            for m in ("advect", "first-frame", "iid")
        ],
        (
            "afd video-range triptych",
            f"afd {clip} -o {{out}}/afd_tri.mkv --noise-range video --triptych --seed 5",
            "afd_tri.mkv",
        ),
        ("flow", f"flow {clip} -o {{out}}/flow/", "flow"),
        ("flow colour video", f"flow {clip} -o {{out}}/flow.mkv --max-flow 5", "flow.mkv"),
        ("afd-dataset", f"afd-dataset {ds} {{out}}/afd_ds", "afd_ds"),
        (
            "afd-dataset 2 workers",
            f"afd-dataset {ds} {{out}}/afd_ds2 --workers 2 --seed 7",
            "afd_ds2",
        ),
        (
            "afd-dataset --save-flow",
            f"afd-dataset {ds} {{out}}/afd_ds3 --save-flow --mode first-frame",
            "afd_ds3",
        ),
    ]
    if shared is not None:
        carphone = shared / "videos" / "carphone.mp4"
        seq = shared / "davis2016"
        rows += [
            (
                "obfuscate face (landmarks)",
                f"obfuscate {carphone} -o {{out}}/obf.avi --templates face --matcher landmarks "
                "--stop 12 --seed 1 --save-saliency {out}/obf_saliency.mkv",
                "obf.avi",
            ),
            ("obfuscate saliency maps", "", "obf_saliency.mkv"),
            (
                "baseline blur-strong",
                f"baseline {carphone} -o {{out}}/blur.avi --method blur-strong --stop 12",
                "blur.avi",
            ),
            (
                "stvi car-shadow",
                f"stvi {seq}/JPEGImages/480p/car-shadow --anchors "
                f"{seq}/Annotations/480p/car-shadow -o {{out}}/stvi/",
                "stvi",
            ),
        ]
    return [(name, shlex.split(line), rel) for name, line, rel in rows]


def make_inputs(folder: Path, src: Path) -> None:
    """The synthetic inputs: one clip and a two-class dataset of two clips."""
    run = [sys.executable, "-m", "motionlab", "-q", "sample-video"]
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([*run, str(folder / "clip.mp4"), "--frames", "16"], check=True, env=env)
    for cls, seed in (("ClassA", 1), ("ClassB", 2)):
        (folder / "ds" / cls).mkdir(parents=True)
        out = str(folder / "ds" / cls / f"v_{cls}_g01_c01.mp4")
        subprocess.run([*run, out, "--frames", "10", "--seed", str(seed)], check=True, env=env)


def _video_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            digest.update(np.ascontiguousarray(frame.to_ndarray(format="rgb24")).tobytes())
    return digest.hexdigest()


def _json_hash(path: Path) -> str | None:
    if path.name.endswith(".motionlab.json") or path.name != "stvi.json":
        return None
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in STVI_VOLATILE}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def output_hashes(path: Path) -> dict[str, str]:
    """``{relative file: hash}`` of an output file or folder (see the module docstring)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = {}
    for f in files:
        rel = f.name if f == path else str(f.relative_to(path))
        if f.suffix.lower() in VIDEO_SUFFIXES:
            out[rel] = _video_hash(f)
        elif f.suffix == ".json":
            h = _json_hash(f)
            if h is not None:
                out[rel] = h
        else:
            out[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def run_all(src: Path, inputs: Path, out: Path, shared: Path | None) -> dict[str, dict]:
    """Run every command with ``src`` on ``PYTHONPATH``; ``{name: {file: hash}}``."""
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_NUM_THREADS": "1"}
    result: dict[str, dict] = {}
    for name, argv, rel in commands(inputs, shared):
        if not argv:  # a second output of the command before
            result[name] = output_hashes(out / rel) if (out / rel).exists() else {"<exit>": "-"}
            continue
        argv = [a.replace("{out}", str(out)) for a in argv]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "motionlab", "-q", *argv], env=env, capture_output=True,
            text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            result[name] = {"<exit>": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
        else:
            result[name] = output_hashes(out / rel)
        print(f"  {src.parent.name}: {name} ({seconds:.1f} s)", file=sys.stderr)
    return result


def base_tree(ref: str, folder: Path) -> Path:
    """``src/`` of commit ``ref`` extracted under ``folder``."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    tar_path = folder / "src.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="commit to compare against (HEAD)")
    parser.add_argument("--no-shared", action="store_true", help="skip the ../shared commands")
    args = parser.parse_args(argv)
    shared = None if args.no_shared or not SHARED.is_dir() else SHARED
    if shared is None:
        print("note: ../shared/data absent or skipped: obfuscate, baseline, stvi not compared")
    with tempfile.TemporaryDirectory(prefix="motionlab-identical-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "base").mkdir()
        base_src = base_tree(args.base, tmp_path / "base")
        head_src = ROOT / "src"
        inputs = tmp_path / "inputs"
        inputs.mkdir()
        make_inputs(inputs, base_src)
        results = {}
        for label, src in (("base", base_src), ("head", head_src)):
            out = tmp_path / f"out_{label}"
            out.mkdir()
            results[label] = run_all(src, inputs, out, shared)
    differ = 0
    print(f"\n| command | files | base {args.base} vs working tree |")
    print("|---|---:|---|")
    for name in results["base"]:
        a, b = results["base"][name], results["head"].get(name, {})
        if "<exit>" in a or "<exit>" in b:
            differ += 1
            verdict = f"FAILED: {a.get('<exit>', 'base ok')} / {b.get('<exit>', 'head ok')}"
        elif a == b:
            verdict = "same"
        else:
            differ += 1
            bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            verdict = "DIFFERENT: " + ", ".join(bad[:5])
        print(f"| {name} | {len(a)} | {verdict} |")
    print(f"\n{len(results['base']) - differ} of {len(results['base'])} commands identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
