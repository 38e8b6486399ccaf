"""The dependency of tracker's modules points one way: no import cycle, type-only imports
(``if TYPE_CHECKING:``) included (issue 13)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tracker"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str, modules: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (
                (f"{base}.{node.module}" if node.level and node.module else base)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports(path, name, modules) for name, path in paths.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            # A package's __init__ importing its own submodules is not a cycle of modules.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def client(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The client: the core modules and the browser adapter (the server is its own lane)."""
    keep = {m for m in edges if m.count(".") == 1 or m.startswith("tracker.browser")}
    return {m: edges[m] & keep for m in keep}


def test_the_import_graph_of_the_client_has_no_cycle() -> None:
    assert cycle(client(graph())) is None


def test_the_activity_does_not_import_the_page_tracker() -> None:
    edges = graph()
    assert "tracker.page_tracker" not in edges["tracker.activity"]
    assert "tracker.activity" in edges["tracker.page_tracker"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
