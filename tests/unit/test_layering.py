"""The package's layers, read from its import statements: no import circle between modules, and each
layer keeps to its side (``protocol/`` imports no web framework, ``http/`` no LLM client, ``agents/`` no
Litestar, ``runs/`` no HTTP, ``observability/`` neither a web framework nor a client)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "agui_server"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> set[str]:
    """Every module an import statement anywhere in ``tree`` names (``from a import b`` gives ``a`` and
    ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _top_level_imports(tree: ast.Module) -> set[str]:
    """The imports that run when the module is imported (not those under ``if TYPE_CHECKING`` or inside
    functions)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _imports(node)
    return found


MODULES = {_module(path): ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")}
PACKAGES = {_module(path) for path in PACKAGE.rglob("__init__.py")}


def _cycles() -> list[list[str]]:
    graph = {
        name: sorted(t for t in _top_level_imports(tree) if t in MODULES and t not in PACKAGES)
        for name, tree in MODULES.items()
        if name not in PACKAGES  # a package's __init__ only re-exports
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in graph.get(name, ()):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name)
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles() == []


FORBIDDEN = [
    ("agui_server.protocol", ("litestar", "starlette", "uvicorn", "httpx", "redis", "agui_server.http")),
    ("agui_server.agents", ("litestar", "agui_server.http")),
    ("agui_server.http", ("openai", "anthropic", "agui_server.agents.openai", "agui_server.agents.anthropic")),
    ("agui_server.runs", ("litestar", "agui_server.http")),
    ("agui_server.dialects", ("litestar", "agui_server.http")),
    (
        "agui_server.observability",
        ("litestar", "starlette", "uvicorn", "httpx", "redis", "openai", "anthropic", "agui_server.http"),
    ),
]


@pytest.mark.parametrize(("layer", "forbidden"), FORBIDDEN, ids=[layer for layer, _ in FORBIDDEN])
def test_each_layer_keeps_to_its_side(layer: str, forbidden: tuple[str, ...]) -> None:
    crossings = sorted(
        f"{name} imports {target}"
        for name, tree in MODULES.items()
        if name == layer or name.startswith(f"{layer}.")
        for target in _imports(tree)
        if any(target == f or target.startswith(f"{f}.") for f in forbidden)
    )
    assert crossings == []
