"""The package's shape: no import cycle (function-level imports included) and no module
over 600 lines in ``dashboard/``.

A cycle (the app importing the snapshot that imports the app) makes the import order
matter and the modules impossible to read one at a time; a module over 600 lines holds
more than one concern. The import graph is read from the source with :mod:`ast`, so an
import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dashboard"
MAX_LINES = 600
#: Modules still over the limit while they are being split in parallel; the check turns
#: strict (no xfail) once they are.
BEING_SPLIT = {"cli.py", "enrollment.py", "geocode.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (anywhere in its source)."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(name, is_package, node.level, node.module)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in known else base)
            for target in targets:
                # ``import dashboard.x.y`` runs dashboard.x.y: the deepest known module.
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("dashboard"):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "dashboard.app" in graph["dashboard.serving"]  # imported inside serve_app
    assert "dashboard.snapshot" in graph["dashboard.page.downloads"]  # inside make()


def test_no_import_cycle_in_the_package():
    assert find_cycle(import_graph()) is None


def _sizes() -> list[tuple[str, int]]:
    return [
        (str(p.relative_to(PACKAGE)), len(p.read_text(encoding="utf-8").splitlines()))
        for p in sorted(PACKAGE.rglob("*.py"))
    ]


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(reason="being split", strict=False)
            if name in BEING_SPLIT
            else (),
        )
        for name, _ in _sizes()
    ],
)
def test_no_module_over_600_lines(module: str):
    lines = len((PACKAGE / module).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"dashboard/{module}: {lines} lines"
