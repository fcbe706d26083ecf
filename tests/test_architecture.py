"""The import structure of ``src/motionlab`` (issue 18): no circles, no capability above the CLI.

The imports are read from the source with :mod:`ast` (nothing is imported), counting every
``import`` / ``from ... import`` statement between motionlab modules wherever it stands:
at module level, inside a function (a lazy import that only dodges a circle at run time is
still a circle in the design), or under ``if TYPE_CHECKING:``. ``from package import name``
is an edge to the submodule ``package.name`` when there is one, else to the package.
Importing a submodule also runs its package's ``__init__``, but that implicit edge is not
counted (it would make every package that imports its own submodules a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT_CLI = "motionlab.cli"


def is_command_line(module: str) -> bool:
    """The command line, above the capabilities: the ``motionlab.cli`` package (root
    parser, option groups, one module per command family), the entry point
    ``motionlab.__main__`` and the bare package. Every other module (flow, afd, privacy,
    recognition, stvi, study, video, pipeline, atomic, datasets, ..., new ones included)
    is capability code and may not import any of them."""
    return module in ("motionlab", "motionlab.__main__", ROOT_CLI) or module.startswith(
        ROOT_CLI + "."
    )


def module_files(src: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` of every module under ``src/motionlab``."""
    out = {}
    for path in sorted((src / "motionlab").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _known(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The longest prefix of ``name`` that is a motionlab module, if any."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool, modules: dict
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (t := _known(alias.name, modules)) is not None:
                yield t
        return
    if node.level:  # relative: resolve against this module's package
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        pkg = ".".join(base + ([node.module] if node.module else []))
    else:
        pkg = node.module or ""
    for alias in node.names:
        sub = f"{pkg}.{alias.name}"
        t = sub if sub in modules else _known(pkg, modules)
        if t is not None:
            yield t


def import_graph(src: Path) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """``{importer: {imported: [(where, line), ...]}}`` between motionlab modules.

    ``where`` is ``"module"`` for a top-level import (``if TYPE_CHECKING:`` included) and
    ``"function"`` for one inside a function or method body.
    """
    modules = module_files(src)
    graph: dict[str, dict[str, list[tuple[str, int]]]] = {m: {} for m in modules}

    def walk(node: ast.AST, module: str, is_pkg: bool, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in set(_targets(child, module, is_pkg, modules)):
                    if target != module:
                        where = "function" if inner else "module"
                        graph[module].setdefault(target, []).append((where, child.lineno))
            walk(child, module, is_pkg, inner)

    for module, (path, is_pkg) in modules.items():
        walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), module, is_pkg, False)
    return graph


def import_circles(graph: dict[str, dict[str, list]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _describe(circle: list[str], graph: dict[str, dict[str, list]]) -> str:
    edges = [
        f"{a} -> {b} ({', '.join(f'{w} l.{n}' for w, n in graph[a][b])})"
        for a in circle
        for b in sorted(graph[a])
        if b in circle
    ]
    return "; ".join(edges)


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, list[tuple[str, int]]]]:
    if not (SRC / "motionlab").is_dir():
        pytest.skip(f"no source tree at {SRC}")
    return import_graph(SRC)


def test_the_graph_sees_module_level_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The walker on a hand-made package: every kind of import it must count."""
    pkg = tmp_path / "motionlab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from motionlab.b import x\n")
    (pkg / "b.py").write_text("def f():\n    import motionlab.a\n")
    (pkg / "sub" / "__init__.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("from ..a import y\nfrom motionlab.sub import d\n")
    (pkg / "sub" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from motionlab import sub\n"
    )
    g = import_graph(tmp_path)
    assert g["motionlab.a"] == {"motionlab.b": [("module", 1)]}
    assert g["motionlab.b"] == {"motionlab.a": [("function", 2)]}
    assert g["motionlab.sub"] == {"motionlab.sub.c": [("module", 1)]}
    assert g["motionlab.sub.c"] == {
        "motionlab.a": [("module", 1)],
        "motionlab.sub.d": [("module", 2)],
    }
    assert g["motionlab.sub.d"] == {"motionlab.sub": [("module", 3)]}
    assert import_circles(g) == [
        ["motionlab.a", "motionlab.b"],
        ["motionlab.sub", "motionlab.sub.c", "motionlab.sub.d"],
    ]


def test_no_import_circle_between_motionlab_modules(graph: dict) -> None:
    circles = import_circles(graph)
    assert not circles, "import circles: " + " | ".join(_describe(c, graph) for c in circles)


def test_no_capability_imports_the_command_line(graph: dict) -> None:
    """No capability module imports ``motionlab.cli`` or any module of it (once four
    ``*/cli.py`` modules did; they now live in ``motionlab/cli/``)."""
    bad = sorted(
        (m, t, lines[0][1])
        for m, targets in graph.items()
        if not is_command_line(m)
        for t, lines in targets.items()
        if is_command_line(t) and t != "motionlab"
    )
    assert not bad, "capability modules importing the command line (it sits above them): " + (
        ", ".join(f"{m} -> {t} (l. {line})" for m, t, line in bad)
    )


def test_the_command_line_check_sees_a_capability_importing_cli(tmp_path: Path) -> None:
    """The rule on a hand-made tree: a capability importing a cli module is caught."""
    pkg = tmp_path / "motionlab"
    (pkg / "cli").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli" / "__init__.py").write_text("")
    (pkg / "cli" / "options.py").write_text("import motionlab.flow\n")
    (pkg / "flow.py").write_text("def f():\n    from motionlab.cli.options import x\n")
    g = import_graph(tmp_path)
    caught = [m for m in g if not is_command_line(m) and any(map(is_command_line, g[m]))]
    assert caught == ["motionlab.flow"]


# Functions allowed to be long, and why: a numba kernel (one loop over particles; helpers
# would cost calls inside the hot loop) and the model table (one register() per model).
LONG_ALLOWED = {"motionlab.afd._kernels.advect", "motionlab.recognition._builtin.register_builtin"}
MAX_BODY_LINES = 110


def function_lengths(src: Path) -> dict[str, int]:
    """``{module.function: lines of its body without the docstring}``, nested ones too."""
    out = {}
    for module, (path, _) in module_files(src).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                first = body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    first = body[1] if len(body) > 1 else first
                out[f"{module}.{node.name}"] = node.end_lineno - first.lineno + 1
    return out


def test_no_function_grows_past_the_limit() -> None:
    """Long functions were split into named steps (issue 18); keep them so."""
    if not (SRC / "motionlab").is_dir():
        pytest.skip(f"no source tree at {SRC}")
    long = {k: n for k, n in function_lengths(SRC).items() if n > MAX_BODY_LINES}
    assert set(long) <= LONG_ALLOWED, f"functions over {MAX_BODY_LINES} lines: {long}"
