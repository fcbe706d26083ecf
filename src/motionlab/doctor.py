"""``motionlab doctor``: what is installed, which optional features work, how to add one.

Each optional feature is probed by importing what it needs (in this process, with the
libraries' own console chatter silenced) and, where it matters, by a small check of its
own (MediaPipe must still have the legacy ``solutions`` API; the study's browser test needs
Debian's ``chromium`` executable). A feature that is missing gets the exact command that adds
it: ``python -m pip install -e 'SOURCE[extra]'`` when motionlab runs from a source checkout
(editable install or ``PYTHONPATH``), else ``python -m pip install 'motionlab[extra]'``, with
this interpreter's path so it lands in the right environment.

Library use::

    from motionlab.doctor import diagnose, format_report
    print(format_report(diagnose()))
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from motionlab import __version__

# Tests replace this to simulate a missing package.
import_module: Callable[[str], Any] = importlib.import_module


@dataclass(frozen=True)
class Feature:
    """One optional capability and what it takes.

    ``modules`` are imported in order; ``check`` (optional) gets the imported modules and
    returns a problem (``str``) or ``None``; ``extra`` is motionlab's pip extra that adds
    it (``None``: not a pip matter, ``fix`` says what to do).
    """

    name: str
    modules: tuple[str, ...]
    extra: str | None
    used_by: str
    check: Callable[[list[Any]], str | None] | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Status:
    """The probe's verdict on one feature: ``usable``, a ``detail`` (versions or the
    problem) and the ``fix`` command when it is not usable."""

    feature: Feature
    usable: bool
    detail: str
    fix: str | None


def _has_solutions(mods: list[Any]) -> str | None:
    mp = mods[0]
    if not hasattr(mp, "solutions"):
        return f"mediapipe {getattr(mp, '__version__', '?')} has no legacy 'solutions' API"
    return None


def _raft(mods: list[Any]) -> str | None:
    import_module("torchvision.models.optical_flow")  # torchvision >= 0.12
    return None


def _chromium(mods: list[Any]) -> str | None:
    found = next((c for c in ("chromium", "chromium-browser") if shutil.which(c)), None)
    return None if found else "no chromium executable on PATH"


FEATURES: tuple[Feature, ...] = (
    Feature("flow RAFT", ("torch", "torchvision"), None, "flow/afd --flow raft", check=_raft),
    Feature("privacy DINO matcher", ("timm",), "privacy", "obfuscate --matcher dino"),
    Feature(
        "privacy landmarks (MediaPipe)",
        ("mediapipe",),
        "privacy",
        "obfuscate (default matcher)",
        check=_has_solutions,
    ),
    Feature("recognition zoo (pytorchvideo)", ("pytorchvideo",), "recognition", "train/evaluate"),
    Feature(
        "study web app (FastAPI)",
        ("fastapi", "sqlalchemy", "uvicorn", "matplotlib"),
        "study",
        "study serve/simulate/report",
    ),
    Feature("ray", ("ray",), "ray", "afd-dataset --executor ray"),
    Feature(
        "study browser test (chromium)",
        ("playwright",),
        "dev",
        "tests/test_study_browser.py",
        check=_chromium,
        fix="apt-get install chromium",
    ),
)


def _source_checkout() -> Path | None:
    """The source folder when motionlab runs from a checkout (editable or PYTHONPATH)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root
    local = _installed_from()
    return local if local is not None and _editable() else None


def _direct_url() -> dict[str, Any]:
    try:
        text = metadata.distribution("motionlab").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        text = None
    return json.loads(text) if text else {}


def _installed_from() -> Path | None:
    """The local folder motionlab was pip-installed from (``pip install PATH``), if any."""
    url = _direct_url().get("url", "")
    return Path(url[len("file://") :]) if url.startswith("file://") else None


def _editable() -> bool:
    return bool(_direct_url().get("dir_info", {}).get("editable"))


def install_command(extra: str) -> str:
    """The exact pip command that adds motionlab's ``extra`` to this environment: ``-e
    'SOURCE[extra]'`` for a checkout, ``'FOLDER[extra]'`` for a copy installed from a local
    folder, ``'motionlab[extra]'`` otherwise."""
    python = shlex.quote(sys.executable)
    source = _source_checkout()
    if source is not None:
        return f"{python} -m pip install -e {shlex.quote(f'{source}[{extra}]')}"
    local = _installed_from()
    if local is not None:
        return f"{python} -m pip install {shlex.quote(f'{local}[{extra}]')}"
    return f"{python} -m pip install 'motionlab[{extra}]'"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence stdout/stderr, file descriptors included (MediaPipe, TF Lite, absl print
    from C++ on import)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with (
            open(os.devnull, "w") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _version(module: Any, name: str) -> str:
    version = getattr(module, "__version__", None)
    if version is None:
        with contextlib.suppress(metadata.PackageNotFoundError):
            version = metadata.version(name)
    return f"{name} {version or '?'}"


def probe(feature: Feature) -> Status:
    """Import what ``feature`` needs and run its check; never raises."""
    mods: list[Any] = []
    imported = False
    try:
        with _quiet():
            for name in feature.modules:
                mods.append(import_module(name))
            imported = True
            problem = feature.check(mods) if feature.check else None
    except Exception as exc:  # ImportError, or a broken install failing on import
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if problem is None:
        detail = ", ".join(_version(m, n) for m, n in zip(mods, feature.modules, strict=True))
        return Status(feature, True, detail, None)
    if imported and feature.fix:  # the packages are there; something outside pip is not
        return Status(feature, False, problem, feature.fix)
    fix = install_command(feature.extra) if feature.extra is not None else feature.fix
    return Status(feature, False, problem, fix)


def diagnose() -> dict[str, Any]:
    """The doctor's findings: versions of motionlab, Python, the core libraries, and one
    :class:`Status` per optional feature (under ``"features"``)."""
    core: dict[str, str] = {}
    torch = None
    for name in ("numpy", "av", "cv2", "torch", "torchvision"):
        try:
            with _quiet():
                mod = import_module(name)
            core[name] = str(getattr(mod, "__version__", "?"))
            torch = mod if name == "torch" else torch
        except Exception as exc:
            core[name] = f"MISSING ({type(exc).__name__})"
    cuda = "no"
    with contextlib.suppress(Exception):
        if torch is not None and torch.cuda.is_available():
            cuda = f"yes ({torch.cuda.get_device_name(0)})"
    return {
        "motionlab": __version__,
        "source": str(_source_checkout() or Path(__file__).resolve().parent),
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "core": core,
        "cuda": cuda,
        "features": [probe(f) for f in FEATURES],
    }


def format_report(found: dict[str, Any]) -> str:
    """The human-readable report printed by ``motionlab doctor``."""
    lines = [
        f"motionlab {found['motionlab']} ({found['source']})",
        f"python    {found['python']}",
        f"platform  {found['platform']}",
        "core      " + ", ".join(f"{k} {v}" for k, v in found["core"].items()),
        f"cuda      {found['cuda']}",
        "",
        "optional features:",
    ]
    for st in found["features"]:
        mark = "ok     " if st.usable else "MISSING"
        lines.append(f"  {mark} {st.feature.name}: {st.detail}  [{st.feature.used_by}]")
        if st.fix:
            lines.append(f"          fix: {st.fix}")
    missing = sum(not st.usable for st in found["features"])
    lines.append("")
    lines.append(
        "all optional features usable" if not missing else f"{missing} optional feature(s) missing"
    )
    return "\n".join(lines)


def to_json(found: dict[str, Any]) -> str:
    """The findings as JSON (``motionlab doctor --json``)."""
    out = {k: v for k, v in found.items() if k != "features"}
    out["features"] = [
        {
            "name": st.feature.name,
            "usable": st.usable,
            "detail": st.detail,
            "extra": st.feature.extra,
            "fix": st.fix,
        }
        for st in found["features"]
    ]
    return json.dumps(out, indent=2)
