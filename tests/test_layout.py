"""The package's shape: no import cycles, and the arrows point one way (request core -> recording,
throttle, reading -> adapters -> apps). Read from the source with `ast`, every import counted:
module level, inside functions, and under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "wsgi_analytics"

# Layers, lowest first: a module imports from its own layer or lower ones, never higher.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_log", "connection", "keys", "sketch", "embedded", "request"),
    ("recording", "throttle", "reading"),
    ("adapters",),
    ("__init__", "__main__", "_native", "cli", "dashboard", "demo", "django", "flask"),
)
# Parts of one layer that must not lean on each other either.
INDEPENDENT = ("recording", "throttle", "reading")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a ``from X import name`` that names a
    submodule counts as an import of the submodule, not of the package's ``__init__``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else source)
            for target in targets:
                # `import a.b.c` without a module of that name: the longest one that exists.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _part(module: str) -> str:
    """The top-level part of the package a module belongs to (``__init__`` for the package)."""
    rest = module.split(".")[1:]
    return rest[0] if rest else "__init__"


def _layer(module: str) -> int:
    part = _part(module)
    for level, parts in enumerate(LAYERS):
        if part in parts:
            return level
    raise AssertionError(f"{module}: put {part!r} in a layer of tests/test_layout.py")


def test_the_graph_sees_the_imports() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.keys" in graph[f"{PACKAGE}.recording.writer"]
    assert f"{PACKAGE}.throttle.gates" in graph[f"{PACKAGE}.throttle"]
    assert f"{PACKAGE}.connection" in graph[f"{PACKAGE}.throttle.fastclient"]
    # A cycle planted in a copy of the graph is found.
    planted = {**graph, f"{PACKAGE}.keys": {*graph[f"{PACKAGE}.keys"], f"{PACKAGE}.throttle"}}
    assert find_cycles(planted)


def test_no_import_cycles() -> None:
    assert find_cycles(import_graph()) == []


@pytest.mark.parametrize("module", sorted(import_graph()))
def test_imports_point_down_the_layers(module: str) -> None:
    wrong = [
        target
        for target in sorted(import_graph()[module])
        if _layer(target) > _layer(module)
        or (
            _part(module) in INDEPENDENT
            and _part(target) in INDEPENDENT
            and _part(target) != _part(module)
        )
    ]
    assert wrong == [], f"{module} imports {wrong} (see LAYERS in tests/test_layout.py)"
