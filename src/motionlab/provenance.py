"""Provenance: every output says which motionlab, command, settings, seeds and inputs made it.

One record (a JSON object) per output::

    {"version": "0.1.0", "created": "2026-12-06T04:10:00Z",
     "command": "motionlab afd clip.mp4 -o out.avi --seed 3",
     "python": "3.11.7", "settings": {...}, "seeds": {"seed": 3},
     "inputs": [{"path": "clip.mp4", "size": 123456, "sha256": "ab...", "hashed": "all"}],
     ...}                                   # plus what each writer already recorded

Where it is stored (:func:`where`):

* video containers with free-form tags (``.mkv``, ``.mp4``, ``.mov``, ``.m4v``, ``.webm``):
  the ``motionlab`` tag, as before (:class:`motionlab.video.VideoWriter` ``metadata``);
* frame folders: their ``metadata.json``; flow folders ``flow.json``; STVI folders
  ``stvi.json``; (the manifest each writer already had);
* study exports (a folder of CSV tables): ``OUT/motionlab.json``; study reports:
  ``OUT/report.md.motionlab.json`` (the sidecar of ``report.md``, so that a report written
  into its export's folder keeps the export's record);
* everything else (``.avi``, whose RIFF INFO keeps only a few fixed tags; ``.flo``;
  checkpoints ``.pt``; study exports): a sidecar ``<output>.motionlab.json`` beside it.

``motionlab info FILE`` prints it (:func:`read`).

Input hashes: the SHA-256 of the whole file up to :data:`FULL_HASH_LIMIT` bytes; a bigger
file is hashed over its size and first and last MiB (``"hashed": "size+first/last MiB"``),
enough to tell files apart without reading gigabytes; a folder over each file's relative
name, size and that same (full or partial) hash (``"hashed": "folder: ..."``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from motionlab import __version__

FULL_HASH_LIMIT = 256 * 2**20
"""Files up to this many bytes (256 MiB) are hashed whole."""
PART = 2**20
"""Bytes hashed at each end of a bigger file (1 MiB)."""
SIDECAR_SUFFIX = ".motionlab.json"
TAG = "motionlab"
"""Container tag (and key) under which the record is stored."""
TAGGED_SUFFIXES = frozenset({".mkv", ".mp4", ".mov", ".m4v", ".webm"})
"""Containers whose free-form metadata tags survive (ffmpeg's mov muxer with
``use_metadata_tags``; Matroska tags). AVI is not one of them."""
MANIFEST = "motionlab.json"
"""The record inside a folder output that had no manifest of its own (study exports)."""
REPORT_SIDECAR = "report.md" + SIDECAR_SUFFIX
"""A study report folder's record: the sidecar of its ``report.md`` (not ``motionlab.json``,
which a study export in the same folder keeps)."""
MANIFESTS = (
    MANIFEST,
    "metadata.json",
    "flow.json",
    "stvi.json",
    "afd_dataset.json",
    "config.json",
    REPORT_SIDECAR,
)
"""JSON manifests that folder outputs already carry; the record goes into them."""

_command: list[str] | None = None


def set_command(argv: Sequence[str] | None, prog: str = "motionlab") -> None:
    """Remember the command line of this run (``motionlab.cli.main`` calls it); ``None``
    falls back to ``sys.argv``."""
    global _command
    _command = None if argv is None else [prog, *argv]


def command_line() -> str:
    """The command line of this run, shell-quoted."""
    if _command is not None:
        return shlex.join(_command)
    argv = list(sys.argv)
    if argv and argv[0].endswith(("__main__.py", "/motionlab")):
        argv[0] = "motionlab"
    return shlex.join(argv)


def _file_digest(path: Path, size: int) -> tuple[str, str]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: f.read(4 * PART), b""):
                h.update(block)
            return h.hexdigest(), "all"
        h.update(str(size).encode())
        h.update(f.read(PART))
        f.seek(size - PART)
        h.update(f.read(PART))
    return h.hexdigest(), "size+first/last MiB"


def hash_input(path: str | os.PathLike[str], *, contents: bool = True) -> dict[str, Any]:
    """Identify an input: ``{"path", "size", "sha256", "hashed"}`` (see the module doc).

    ``contents=False`` hashes a folder's listing only (relative names and sizes: for whole
    datasets, which would take minutes to read). A path that does not exist (a URL, a
    device) gets ``{"path", "hashed": "not a file"}``.
    """
    p = Path(path)
    entry: dict[str, Any] = {"path": str(path)}
    if p.is_file():
        size = p.stat().st_size
        digest, how = _file_digest(p, size)
        entry.update(size=size, sha256=digest, hashed=how)
    elif p.is_dir():
        h = hashlib.sha256()
        total, partial = 0, False
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            size = f.stat().st_size
            digest, how = _file_digest(f, size) if contents else ("", "listing")
            partial |= how != "all"
            total += size
            h.update(f"{f.relative_to(p).as_posix()}\0{size}\0{digest}\n".encode())
        what = "size+first/last MiB" if partial else "SHA-256"
        entry.update(
            size=total,
            sha256=h.hexdigest(),
            hashed=f"folder: name, size and {what} of each file"
            if contents
            else "folder: name and size of each file (contents not read)",
        )
    else:
        entry["hashed"] = "not a file"
    return entry


def record(
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    settings: dict[str, Any] | None = None,
    seeds: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record of an output made now from ``inputs``.

    Parameters
    ----------
    inputs : paths
        Files or folders read (``None`` entries, e.g. an absent ``--weights``, are skipped).
    settings : dict, optional
        The resolved settings (JSON-serialisable; others are written with ``str``).
    seeds : dict, optional
        Every random seed used, by name.
    **extra
        Further fields (kept as given).
    """
    rec: dict[str, Any] = {
        "version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
        "python": platform.python_version(),
        "seeds": seeds or {},
        "inputs": [hash_input(p) for p in inputs if p is not None],
    }
    if settings is not None:
        rec["settings"] = settings
    return {**rec, **extra}


def stamp(
    manifest: dict[str, Any],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    seeds: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``manifest`` (a writer's own record of its settings, kept as is) with the
    provenance fields added: version, created, command, python, seeds, inputs."""
    return record(inputs=inputs, seeds=seeds, **manifest)


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """``<output>.motionlab.json`` (a trailing ``/`` of a folder name is dropped)."""
    return Path(str(output).rstrip("/") + SIDECAR_SUFFIX)


def has_tags(output: str | os.PathLike[str]) -> bool:
    """Whether the output's container keeps a free-form ``motionlab`` tag."""
    return Path(str(output)).suffix.lower() in TAGGED_SUFFIXES


def write_sidecar(output: str | os.PathLike[str], rec: dict[str, Any]) -> Path:
    """Write ``rec`` to ``<output>.motionlab.json`` atomically; return its path."""
    from motionlab.atomic import atomic_file

    path = sidecar_path(output)
    with atomic_file(path) as tmp:
        Path(tmp).write_text(json.dumps(rec, indent=2, default=str) + "\n")
    return path


def write_manifest(folder: str | os.PathLike[str], rec: dict[str, Any]) -> Path:
    """Write ``rec`` to ``folder/motionlab.json`` atomically; return its path."""
    from motionlab.atomic import atomic_file

    path = Path(folder) / MANIFEST
    with atomic_file(path) as tmp:
        Path(tmp).write_text(json.dumps(rec, indent=2, default=str) + "\n")
    return path


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def read(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The provenance stored with an output (sidecar, container tag or folder manifest);
    ``None`` when it carries none.

    Raises
    ------
    MotionlabError
        If ``path`` does not exist.
    """
    from motionlab.errors import MotionlabError

    p = Path(path)
    side = sidecar_path(p)
    if side.is_file():
        return _parse(side.read_text())
    if not p.exists():
        raise MotionlabError(f"{path}: no such file or folder")
    if p.is_dir():
        for name in MANIFESTS:
            if (p / name).is_file():
                found = _parse((p / name).read_text())
                if isinstance(found, dict):
                    inner = _parse(found.get(TAG))
                    return inner if isinstance(inner, dict) else found
        return None
    if p.suffix.lower() in (".flo", ".pt", ".pth", ".json", ".csv", ".png", ".jpg"):
        return None
    try:
        import av

        with av.open(str(p)) as container:
            tags = {k.lower(): v for k, v in container.metadata.items()}
    except Exception:  # not a container av can open
        return None
    return _parse(tags[TAG]) if TAG in tags else None


def sidecar_for(output: str | os.PathLike[str], metadata: dict[str, str] | None) -> None:
    """Keep ``output``'s sidecar in step with what its writer recorded (for writers of
    containers without free-form tags): write the record (the ``motionlab`` tag's JSON, or
    the whole ``metadata``) when there is one, remove a stale sidecar when there is none.
    Outputs that are not regular files (a device, a FIFO) get none."""
    path = Path(output)
    if not path.is_file() or has_tags(path):
        return
    if not metadata:
        sidecar_path(path).unlink(missing_ok=True)
        return
    rec = _parse(metadata[TAG]) if TAG in metadata else dict(metadata)
    write_sidecar(path, rec if isinstance(rec, dict) else {TAG: rec})
