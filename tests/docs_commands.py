"""The ``motionlab`` command lines documented in README.md and docs/*.md, as data.

How lines are found (:func:`documented_commands`):

* Only fenced code blocks whose info string is empty, ``bash``, ``sh``, ``shell`` or
  ``console`` (indented fences too) are read. ``text`` blocks are synopses with metavars
  and sample output (README's "Command line" block, the error shown in
  docs/guarantees.md), ``python``/``toml`` blocks are not shell: both are left out.
* A line ending in ``\\`` continues on the next one; the joined line is one command line.
* A line whose first character is ``#`` is a comment; ``# ...`` after a command is cut off
  (shell rules: :mod:`shlex` with ``#`` as comment character).
* A line is split at ``&&``, ``||``, ``;`` and ``|``; every part whose program is
  ``motionlab`` (also ``.venv/bin/motionlab``) or that runs ``-m motionlab`` (``python -m
  motionlab``, ``torchrun ... -m motionlab``) is one documented command, with the words
  after it as its argv. Parts running other programs (``pip``, ``pytest``) are not ours.
* ``[ ... ]`` groups are optional parts (the docs' synopsis convention): every command is
  checked without them, and once with each group that holds no placeholder (``...`` or
  ``a|b`` alternatives) put in.

This module only extracts; ``tests/test_docs_commands.py`` parses and runs the commands.
``python tests/docs_commands.py`` prints every command with how the test treats it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL_FENCES = frozenset({"", "bash", "sh", "shell", "console"})
SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})


def documents() -> list[Path]:
    """README.md and every docs/*.md, in a fixed order."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Command:
    """One documented ``motionlab`` command.

    Attributes
    ----------
    doc : str
        The document, relative to the repository (``docs/afd.md``).
    line : int
        1-based line of the command line's first physical line.
    text : str
        The logical line as written (continuations joined).
    argv : tuple of str
        The words after ``motionlab``, optional ``[...]`` groups left out.
    groups : tuple of (int, tuple of str)
        The optional groups: where they go in ``argv`` and their words.
    """

    doc: str
    line: int
    text: str
    argv: tuple[str, ...]
    groups: tuple[tuple[int, tuple[str, ...]], ...] = field(default=())

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    def variants(self) -> list[tuple[str, ...]]:
        """argv without the optional groups, then with each usable group put in."""
        out = [self.argv]
        for i, _ in enumerate(self.groups):
            if usable(self.groups[i][1]):
                out.append(self.with_groups([i]))
        return out

    def full(self) -> tuple[str, ...]:
        """argv with every usable optional group put in (what a run uses)."""
        return self.with_groups([i for i, (_, g) in enumerate(self.groups) if usable(g)])

    def with_groups(self, which: list[int]) -> tuple[str, ...]:
        words = list(self.argv)
        for i in sorted(which, reverse=True):  # later positions first: indices stay valid
            pos, group = self.groups[i]
            words[pos:pos] = group
        return tuple(words)


def usable(group: tuple[str, ...]) -> bool:
    """Whether an optional group is a literal example (no ``...``, no ``a|b``)."""
    return not any("..." in w or "|" in w for w in group)


def _words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&")  # a pipe is written " | "
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def _motionlab_argv(words: list[str]) -> list[str] | None:
    """The words after ``motionlab`` in one simple command, or None if it is not ours."""
    i = 0
    while i < len(words) and "=" in words[i] and not words[i].startswith("-"):
        i += 1  # VAR=value prefixes
    if i < len(words) and Path(words[i]).name == "motionlab":
        return words[i + 1 :]
    for j in range(i, len(words) - 1):
        if words[j] == "-m" and words[j + 1] == "motionlab":
            return words[j + 2 :]
    return None


Groups = tuple[tuple[int, tuple[str, ...]], ...]


def _split_groups(argv: list[str]) -> tuple[tuple[str, ...], Groups]:
    plain: list[str] = []
    groups: list[tuple[int, tuple[str, ...]]] = []
    current: list[str] | None = None
    for word in argv:
        if current is None and word.startswith("["):
            current = []
            word = word[1:]
        if current is not None:
            closes = word.endswith("]")
            word = word[:-1] if closes else word
            if word:
                current.append(word)
            if closes:
                groups.append((len(plain), tuple(current)))
                current = None
        else:
            plain.append(word)
    if current is not None:
        raise ValueError(f"unclosed [ in {' '.join(argv)!r}")
    return tuple(plain), tuple(groups)


def logical_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines in shell blocks of a Markdown file, continuation
    lines joined, comment-only lines dropped."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            fence = stripped[3:].strip().lower() if fence is None else None
            pending = None
            continue
        if fence is None or fence not in SHELL_FENCES:
            continue
        start, text = pending if pending is not None else (number, "")
        if stripped.endswith("\\") and not stripped.startswith("#"):
            pending = (start, text + stripped[:-1] + " ")
            continue
        pending = None
        text += stripped
        if text and not text.startswith("#"):
            out.append((start, text.removeprefix("$ ")))
    return out


def documented_commands(path: Path) -> list[Command]:
    """Every ``motionlab`` command in the shell blocks of one Markdown file."""
    doc = path.relative_to(REPO).as_posix()
    found: list[Command] = []
    for number, text in logical_lines(path):
        simple: list[str] = []
        for word in [*_words(text), ";"]:
            if word not in SEPARATORS:
                simple.append(word)
                continue
            argv = _motionlab_argv(simple)
            if argv is not None:
                plain, groups = _split_groups(argv)
                found.append(Command(doc, number, text, plain, groups))
            simple = []
    return found


def all_commands() -> list[Command]:
    """The documented commands of README.md and docs/*.md, in document order."""
    return [c for path in documents() for c in documented_commands(path)]


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from test_docs_commands import plan, run_argv

    commands = all_commands()
    for c in commands:
        kind, reason = plan(c)
        argv = c.full() if kind == "skip" else run_argv(c)[1:]  # what a run executes
        print(f"{c.where:24} {kind:5} motionlab {shlex.join(argv)}  {reason}")
    kinds = [plan(c)[0] for c in commands]
    print(
        f"{len(commands)} documented command lines "
        f"({sum(len(c.variants()) for c in commands)} argv variants parsed); "
        + ", ".join(f"{k}: {kinds.count(k)}" for k in ("run", "slow", "skip"))
    )
