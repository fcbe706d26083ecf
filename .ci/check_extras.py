#!/usr/bin/env python3
"""Install each optional extra ALONE into a fresh venv and run its main command.

Usage (from the repository root; stdlib only, runs with any Python >= 3.11)::

    python3 .ci/check_extras.py                      # none, ray, study, recognition, privacy
    python3 .ci/check_extras.py privacy study        # some of them
    python3 .ci/check_extras.py --keep /tmp/extras   # keep the venvs and outputs there

For every extra a new virtual environment is made in a temporary folder, ``pip install
'REPO[extra]'`` (not editable, as a user would) is timed, then that extra's commands run on
tiny generated inputs. A Markdown table (extra, install time, downloaded MB, command,
seconds, result) is printed at the end; the exit status is 1 if any install or command
failed. This is the slow job of CI (`.ci/extras`), not part of ``pytest``: each venv holds
torch (pinned in the core dependencies, about 5.5 GB installed from the local wheel on the
project's machines, see /etc/xdg/pip), so an extra takes minutes and several GB of disk
while it runs; each venv is deleted after its row unless ``--keep`` is given.

``downloaded MB`` sums what pip reported downloading from the network (local wheels from
``find-links`` are not counted); it guards against a multi-GB CUDA torch being fetched.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXTRAS = ("none", "ray", "study", "recognition", "privacy")

# A clip with a real face (scikit-image's astronaut, a public-domain NASA photograph),
# panned by 3 px per frame: the landmarks matcher must find it.
_FACE_CLIP = (
    "import numpy as np; from skimage import data, transform; "
    "from motionlab.video import write_video; "
    "img = (transform.resize(data.astronaut(), (256, 256)) * 255).astype(np.uint8); "
    "write_video('face.mkv', [np.roll(img, 3 * t, axis=1) for t in range(6)], fps=10)"
)
_SALIENCY_CHECK = (
    "from motionlab.video import read_video; s = read_video('sal'); "
    "assert s.max() > 0, 'no face found'; print(f'face hidden in {(s > 127).mean():.1%} of px')"
)
_DATASET = (
    "import pathlib, subprocess, sys; "
    "[subprocess.run([sys.argv[1], '-q', 'sample-video', f'src/{c}/{c}{i}.mp4', '--frames', '8', "
    "'--size', '96x72', '--seed', str(i)], check=True) for c in ('A', 'B') for i in (0, 1)]"
)

# extra -> commands run in order in the work folder; "ml" is the venv's motionlab,
# "py" its python
COMMANDS: dict[str, list[list[str]]] = {
    "none": [
        ["ml", "doctor"],
        ["ml", "-q", "sample-video", "sample.mp4"],
        ["ml", "-q", "afd", "sample.mp4", "-o", "sample_afd.avi", "--gif"],
        ["ml", "info", "sample_afd.avi"],
    ],
    "ray": [
        ["py", "-c", "import ray; print('ray', ray.__version__)"],
        ["py", "-c", _DATASET, "{ml}"],
        ["ml", "-q", "afd-dataset", "src", "dst", "--executor", "ray", "--workers", "2"],
    ],
    "study": [
        ["ml", "-q", "study", "demo", "demo", "--frames", "8"],  # 8 clips per class
        ["ml", "-q", "study", "simulate", "--config", "demo/study.toml", "--participants", "3"],
        ["ml", "-q", "study", "report", "--config", "demo/study.toml", "-o", "report"],
    ],
    "recognition": [
        ["ml", "models"],
        [
            "ml",
            "-q",
            "synth-actions",
            "data",
            "--videos-per-class",
            "3",
            "--actors",
            "3",
            "--test-actors",
            "1",
            "--frames",
            "12",
            "--size",
            "32x32",
            "--no-davis",
        ],
        [
            "ml",
            "-q",
            "train",
            "--arch",
            "x3d_xs",
            "--data",
            "data",
            "-o",
            "run",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "1",
            "--batch-size",
            "4",
            "--frames",
            "2",
            "--size",
            "24",
            "--threads",
            "1",
        ],
        ["ml", "info", "run/best.pt"],
    ],
    "privacy": [
        ["py", "-c", _FACE_CLIP],
        [
            "ml",
            "-q",
            "obfuscate",
            "face.mkv",
            "-o",
            "hidden.mkv",
            "--templates",
            "face",
            "--matcher",
            "landmarks",
            "--save-saliency",
            "sal",
        ],
        ["py", "-c", _SALIENCY_CHECK],
        ["ml", "info", "hidden.mkv"],
    ],
}


@dataclass
class Row:
    """One line of the report table."""

    extra: str
    install_s: float = 0.0
    download_mb: float = 0.0
    install_ok: bool = False
    commands: list[tuple[str, float, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.install_ok and all(r == "ok" for _, _, r in self.commands)


def _mb(size: str) -> float:
    number, unit = float(size.split()[0]), size.split()[1].lower()
    return number * {"kb": 1e-3, "mb": 1.0, "gb": 1e3, "b": 1e-6}.get(unit, 1.0)


def downloaded_mb(pip_log: str) -> float:
    """MB pip fetched over the network, from its ``Downloading NAME (SIZE)`` lines."""
    total = 0.0
    for m in re.finditer(r"Downloading \S+ \(([\d.]+ [kMG]?B)\)", pip_log):
        total += _mb(m.group(1))
    return total


def _short(cmd: list[str]) -> str:
    text = " ".join(cmd[1:] if cmd[0] == "ml" else cmd)
    text = ("motionlab " if cmd[0] == "ml" else "python ") + text.removeprefix("py ")
    return text if len(text) <= 70 else text[:67] + "..."


def check(extra: str, root: Path, python: str) -> Row:
    """Make ``root/venv``, install motionlab[extra] and run the extra's commands in root."""
    row = Row(extra)
    venv = root / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip, py, ml = venv / "bin" / "pip", venv / "bin" / "python", venv / "bin" / "motionlab"
    spec = str(REPO) if extra == "none" else f"{REPO}[{extra}]"
    t0 = time.perf_counter()
    res = subprocess.run(
        [str(pip), "install", "--progress-bar", "off", spec],
        capture_output=True,
        text=True,
        cwd=root,
    )
    row.install_s = time.perf_counter() - t0
    row.install_ok = res.returncode == 0
    row.download_mb = downloaded_mb(res.stdout)
    (root / "pip.log").write_text(res.stdout + res.stderr)
    if not row.install_ok:
        row.commands.append(("pip install", 0.0, "FAIL: " + _last_line(res.stderr)))
        return row
    env = {**os.environ, "PYTHONPATH": "", "MPLBACKEND": "Agg"}
    for cmd in COMMANDS[extra]:
        argv = [str(ml) if a == "ml" else str(py) if a == "py" else a for a in cmd]
        argv = [a.replace("{ml}", str(ml)) for a in argv]
        t0 = time.perf_counter()
        res = subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env)
        took = time.perf_counter() - t0
        (root / f"cmd{len(row.commands)}.log").write_text(res.stdout + res.stderr)
        result = (
            "ok"
            if res.returncode == 0
            else f"FAIL ({res.returncode}): " + _last_line(res.stderr or res.stdout)
        )
        row.commands.append((_short(cmd), took, result))
        if res.returncode != 0:
            break
    return row


def _last_line(text: str) -> str:
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return (lines[-1] if lines else "")[:120]


def table(rows: list[Row]) -> str:
    """The Markdown report: one line per command, the install on the extra's first line."""
    out = [
        "| extra | install (s) | downloaded (MB) | command | time (s) | result |",
        "|---|---:|---:|---|---:|---|",
    ]
    for row in rows:
        for i, (cmd, took, result) in enumerate(row.commands):
            head = (
                f"| {row.extra} | {row.install_s:.0f} | {row.download_mb:.0f} "
                if i == 0
                else "| | | "
            )
            out.append(f"{head}| `{cmd}` | {took:.1f} | {result} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="*", default=list(EXTRAS), help=f"of {EXTRAS}")
    parser.add_argument("--keep", type=Path, help="keep each venv in KEEP/<extra> (else deleted)")
    parser.add_argument("--python", default=sys.executable, help="Python that makes the venvs")
    args = parser.parse_args(argv)
    unknown = set(args.extras) - set(EXTRAS)
    if unknown:
        parser.error(f"unknown extras {sorted(unknown)}; choose from {EXTRAS}")
    rows = []
    for extra in args.extras:
        if args.keep:
            root = args.keep / extra
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
        else:
            root = Path(tempfile.mkdtemp(prefix=f"motionlab-extra-{extra}-"))
        try:
            row = check(extra, root, args.python)
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        rows.append(row)
        status = "ok" if row.ok else "FAILED"
        print(f"extras: {extra}: {status} (install {row.install_s:.0f} s)", file=sys.stderr)
    print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
