"""Atomic outputs: write under a temporary name, rename when complete; never onto an input.

An interrupted or failed job never leaves a file (or frame folder) that looks finished.

What the final step does depends on what the output name already is (``os.stat``, which
follows symbolic links):

* nothing (a new name), a regular file, or a symbolic link to a regular file or to nothing:
  the finished temporary file is renamed onto the name (``os.replace``). A symbolic link is
  *replaced by the new file*; the file it pointed to is left as it was. We chose this over
  writing through the link because datasets are often trees of links to originals: an
  output written through a link would silently replace the original recording.
* a character device (``/dev/null``, a terminal) or a FIFO (named pipe), directly or through
  a link: the finished temporary file's bytes are streamed into it and the temporary file
  (kept in the system's temporary folder, never in ``/dev``) is removed. Renaming would
  replace the device node itself with a regular file (as root, ``-o /dev/null`` used to
  turn ``/dev/null`` into a file); streaming is what a shell redirection does, and keeps
  ``-o /dev/null`` (a dry run) and ``-o some.fifo`` (pipe into another program) useful.
  A FIFO receives the complete file only after the job has finished.
* a block device (a disk), a socket, or a folder where a file is expected (or a file, device
  or FIFO where a folder is expected): refused with :class:`MotionlabError`, before any work
  where the output is opened at the start (:func:`temp_sibling` checks). Writing a video
  onto a disk device would destroy its file system; no one means that.

:func:`refuse_overwrite_input` is the one check every command runs at its start so that an
output never resolves (through symbolic links, hard links or ``..``) to one of its inputs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from motionlab.errors import MotionlabError

PathLike = str | os.PathLike[str]


def _stat(path: PathLike) -> os.stat_result | None:
    """``os.stat`` (following links), or None where nothing (or a dangling link) is."""
    try:
        return os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in the name
        return None


def _kind(mode: int) -> str:
    if stat.S_ISBLK(mode):
        return "a block device (a disk)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a regular file"


def check_output_target(path: PathLike, *, directory: bool) -> str:
    """How an output at ``path`` will be committed, or raise if it cannot be.

    Parameters
    ----------
    path : path
        The output name the user gave.
    directory : bool
        True for a folder output (PNG frames, a result folder).

    Returns
    -------
    str
        ``"new"`` (nothing there), ``"replace"`` (a regular file, or a folder for a folder
        output: renamed onto / merged into) or ``"stream"`` (a character device or FIFO of a
        file output: bytes written into it).

    Raises
    ------
    MotionlabError
        A block device, a socket, a folder for a file output, or a non-folder for a folder
        output.
    """
    st = _stat(path)
    if st is None:
        return "new"
    mode = st.st_mode
    if directory:
        if stat.S_ISDIR(mode):
            return "replace"
        raise MotionlabError(
            f"{path}: the output is a folder, but {path} is {_kind(mode)}; choose a folder name"
        )
    if stat.S_ISREG(mode):
        return "replace"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream"
    raise MotionlabError(
        f"{path} is {_kind(mode)}; motionlab writes files only onto a file name, a character "
        "device such as /dev/null, or a FIFO"
    )


def temp_sibling(path: Path, *, directory: bool) -> Path:
    """A fresh hidden temporary path in ``path``'s folder, keeping its suffix.

    Keeping the suffix matters: container formats (mp4, mkv) are chosen from it. The
    output target is checked first (:func:`check_output_target`); for a character device
    or FIFO the temporary file goes to the system's temporary folder instead (no files are
    made in ``/dev``).
    """
    path = Path(path)
    parent = path.parent
    if check_output_target(path, directory=directory) == "stream":
        parent = Path(tempfile.gettempdir())
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


def commit_file(tmp: PathLike, path: PathLike) -> None:
    """Move the finished temporary file ``tmp`` onto ``path`` (see the module notes).

    A regular file, a new name or a symbolic link is replaced by one ``os.replace``; a
    character device or FIFO receives ``tmp``'s bytes (the node is never replaced).
    ``tmp`` is gone afterwards, also when this raises.
    """
    tmp, path = Path(tmp), Path(path)
    try:
        if check_output_target(path, directory=False) == "stream":
            # No O_CREAT: if the node vanished meanwhile this fails instead of making a file.
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
            with os.fdopen(fd, "wb") as dst:
                if stat.S_ISREG(os.fstat(dst.fileno()).st_mode):  # swapped for a file since
                    dst.close()
                    os.replace(tmp, path)
                    return
                with tmp.open("rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            tmp.unlink()
            return
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_file(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. See
    :func:`commit_file` for devices, FIFOs and links.
    """
    path = Path(path)
    tmp = temp_sibling(path, directory=False)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit_file(tmp, path)


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
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


@contextlib.contextmanager
def removing_new_empty_folders(folder: PathLike) -> Iterator[None]:
    """On an exception, remove the folders the block made below ``folder`` and left empty.

    For resumable jobs that write many atomic files into a folder tree (``synth-actions``,
    ``study demo``, ``train``): finished files are kept for the next run, but a failure (a
    full disk, Ctrl-C) leaves no empty class folders behind, and no ``folder`` at all if the block
    created it and nothing in it was finished. Folders that existed before are never
    removed; a folder that holds anything is never removed.
    """
    folder = Path(folder)
    existed = os.path.lexists(folder)
    before = {p for p in folder.rglob("*") if p.is_dir()} if folder.is_dir() else set()
    try:
        yield
    except BaseException:
        if folder.is_dir() and not folder.is_symlink():
            made = [p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()]
            for p in sorted(made, key=lambda q: len(q.parts), reverse=True):
                if p not in before:
                    with contextlib.suppress(OSError):  # not empty: keep
                        p.rmdir()
            if not existed:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


def commit_dir(tmp: Path, path: Path) -> None:
    """Move a finished temporary folder ``tmp`` onto ``path`` (see :func:`atomic_dir`).

    A symbolic link to a folder is written through (files go into the folder it names).
    """
    try:
        check_output_target(path, directory=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not path.is_symlink() and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    for item in sorted(tmp.iterdir()):
        if item.is_dir():
            os.replace(item, path / item.name)
        else:
            commit_file(item, path / item.name)
    tmp.rmdir()


# --------------------------------------------------------------------------------------
# outputs that are inputs


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def refuse_overwrite_input(
    output: PathLike | None,
    *inputs: PathLike | None,
    writes: Iterable[str] = (),
) -> None:
    """Raise if writing ``output`` would overwrite one of ``inputs``; call before any work.

    The output is refused when it is the same file or folder as an input, however it is
    named: the same path, a symbolic link to it (or from it), a hard link (same
    ``st_dev``/``st_ino``), or a path through ``..``. For a folder output, ``writes`` names
    (glob patterns) what the command writes inside it: an input that is one of those
    entries, or lies inside one of them, is refused too.

    Parameters
    ----------
    output : path or None
        The output (None: no output was asked for; nothing to check).
    *inputs : path or None
        Everything the command reads (None entries, i.e. options not given, are skipped;
        inputs that do not exist are left to their readers to report).
    writes : iterable of str
        For a folder output: the names or glob patterns written directly inside it,
        e.g. ``("trials.csv", "*.png")``; ``("*",)`` protects everything inside it.

    Raises
    ------
    MotionlabError
        One line naming the output and the input.
    """
    if output is None:
        return
    given = [(Path(p), st) for p in inputs if p is not None for st in [_stat(p)] if st is not None]
    out_st = _stat(output)
    if out_st is None or not given:
        return
    for inp, in_st in given:
        if _same(out_st, in_st):
            what = "folder" if stat.S_ISDIR(out_st.st_mode) else "file"
            raise MotionlabError(
                f"the output {output} is the input {inp} (the same {what}): writing it would "
                "destroy the input; choose another output name"
            )
    if not stat.S_ISDIR(out_st.st_mode):
        return
    out = Path(output)
    for pattern in writes:
        for entry in out.glob(pattern):
            entry_st = _stat(entry)
            if entry_st is None:
                continue
            real = os.path.realpath(entry)
            for inp, in_st in given:
                if _same(entry_st, in_st) or (
                    stat.S_ISDIR(entry_st.st_mode) and _within(os.path.realpath(inp), real)
                ):
                    raise MotionlabError(
                        f"the output folder {output} would overwrite the input {inp} (it "
                        f"writes {entry.name} there); choose another output folder"
                    )
