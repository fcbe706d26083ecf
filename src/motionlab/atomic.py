"""Atomic outputs: write under a temporary name, rename when complete.

An interrupted or failed job never leaves a file (or frame folder) that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def temp_sibling(path: Path, *, directory: bool) -> Path:
    """A fresh hidden temporary path in ``path``'s folder, keeping its suffix.

    Keeping the suffix matters: container formats (mp4, mkv) are chosen from it.
    """
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-"
    # mkstemp/mkdtemp create private (0600/0700) entries; give the final output the
    # permissions an ordinary file or folder would get under the user's umask.
    umask = os.umask(0)
    os.umask(umask)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        tmp.chmod(0o777 & ~umask)
        return tmp
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=path.suffix, dir=parent)
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(0o666 & ~umask)
    return tmp


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    tmp = temp_sibling(path, directory=False)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move its contents to ``path`` on success.

    If ``path`` does not exist or is empty, the temporary folder is renamed onto it in one
    step. If ``path`` already holds files, each new file is moved in with an atomic
    ``os.replace`` (files of the same name are overwritten, other files are kept): we never
    delete a folder the user named. On any exception the temporary folder is removed.
    """
    path = Path(path)
    tmp = temp_sibling(path, directory=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    commit_dir(tmp, path)


def commit_dir(tmp: Path, path: Path) -> None:
    """Move a finished temporary folder ``tmp`` onto ``path`` (see :func:`atomic_dir`)."""
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()
    if not path.exists():
        os.replace(tmp, path)
        return
    for item in sorted(tmp.iterdir()):
        os.replace(item, path / item.name)
    tmp.rmdir()
