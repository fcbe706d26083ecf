"""Man-style help: every ``motionlab COMMAND --help`` ends with example lines that parse."""

from __future__ import annotations

import contextlib
import io
import shlex

import pytest

from motionlab.cli import build_parser, main
from motionlab.cli.examples import EXAMPLES, subparsers

PATHS = [path for path, _ in subparsers(build_parser())]


def motionlab_argvs(line: str) -> list[list[str]]:
    """The argv of every ``motionlab`` invocation in an example line (split at shell
    operators: ``&&``, ``;``, ``|``, ``>``, ``<(`` ...; ``# comments`` dropped)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    argvs: list[list[str]] = []
    words: list[str] = []
    for word in [*lexer, ";"]:
        if word and set(word) <= set("();<>|&"):
            if words and words[0] == "motionlab":
                argvs.append(words[1:])
            words = []
        else:
            words.append(word)
    return argvs


def test_every_command_and_subcommand_has_examples() -> None:
    assert len(PATHS) > 30
    missing = [p or "motionlab" for p in PATHS if not EXAMPLES.get(p)]
    assert not missing, f"no example for: {', '.join(missing)}"
    stale = sorted(set(EXAMPLES) - set(PATHS))
    assert not stale, f"examples of commands that do not exist: {stale}"


@pytest.mark.parametrize("path", PATHS, ids=[p or "motionlab" for p in PATHS])
def test_examples_parse_and_run_their_command(path: str) -> None:
    """Each example line invokes its own command and is accepted by the real parser."""
    parser = build_parser()
    for line in EXAMPLES[path]:
        argvs = motionlab_argvs(line)
        assert argvs, f"{line!r} runs no motionlab command"
        mine = [a for a in argvs if not path or a[: len(path.split())] == path.split()]
        assert mine, f"{line!r} does not run `motionlab {path}`"
        for argv in argvs:
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err):
                    parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"example {line!r} does not parse: {err.getvalue().strip()}")


@pytest.mark.parametrize("path", ["", "afd", "study report", "templates similarity"])
def test_help_ends_with_the_examples_verbatim(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*path.split(), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    tail = out[out.rindex("examples:") :].splitlines()
    assert tail[2:] == [f"  {line}" for line in EXAMPLES[path]]  # not re-wrapped


def test_descriptions_are_still_wrapped(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["afd", "--help"])
    out = capsys.readouterr().out
    assert max(len(line) for line in out[: out.index("examples:")].splitlines()) <= 100


def test_motionlab_argvs() -> None:
    assert motionlab_argvs("source <(motionlab completion bash)") == [["completion", "bash"]]
    assert motionlab_argvs("motionlab a x && motionlab b  # c") == [["a", "x"], ["b"]]
    assert motionlab_argvs("pip install x") == []
