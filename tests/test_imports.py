"""No import cycles in ``edgeapp/``: a module graph from the source, walked for strongly connected components.

Every import counts, at module level, inside functions and under ``TYPE_CHECKING``: an import deferred into a
function still makes the two modules depend on each other, it only hides the cycle from the interpreter until
that function runs (the service drew snapshots through a function-level import of the preview, which imported
the service's types back). ``from package import name`` depends on ``package.name`` when that is a module, else
on the package; importing ``a.b.c`` does not count as depending on ``a`` and ``a.b`` (a package's ``__init__``
re-exporting its submodules is not a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import edgeapp

ROOT = Path(edgeapp.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (no module imports itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
    return found


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "edgeapp.pantilt.actuator" in graph["edgeapp.pantilt.servo"]  # module level
    assert "edgeapp.pantilt.stage" in graph["edgeapp.service.pipeline"]
    assert "edgeapp.pantilt.rig" in graph["edgeapp.service.doctor"]  # inside a function
    assert "edgeapp.pantilt.hat" in graph["edgeapp.pantilt.rigs"]  # `from package import module`


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_edgeapp():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()] - seen:
            seen.add(w)
            todo.append(w)
    return seen


def test_the_pipeline_draws_nothing_itself():
    # The service hands the pipeline a snapshot renderer; the pipeline reads only the preview's config table.
    reached = reachable(import_graph(), "edgeapp.service.pipeline")
    assert sorted(m for m in reached if m.startswith("edgeapp.preview")) == ["edgeapp.preview.config"]
