"""The local cluster's modules import each other without a cycle, type-only imports included.

An edge A -> B is an import A runs when it is loaded: any import outside a function body (so `if
TYPE_CHECKING:` blocks count), plus the package `__init__` modules that importing B runs first, except A's own
enclosing packages (they are already being loaded when A is). A cycle is named module by module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "e2e.localcluster"


def module_names(root: Path, package: str) -> dict[str, Path]:
    base = root.joinpath(*package.split("."))
    names: dict[str, Path] = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _load_time_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _with_packages(target: str, importer: str, known: Mapping[str, Path]) -> set[str]:
    """`target` and the packages loading it runs, less the importer's own enclosing packages."""
    parts = target.split(".")
    own = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 1)}
    loaded = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in loaded if m in known and m not in own and m != importer}


def import_graph(known: Mapping[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _load_time_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _resolve(module, is_package, node)
                targets = [source] + [f"{source}.{alias.name}" for alias in node.names
                                      if f"{source}.{alias.name}" in known]
            for target in targets:
                edges |= _with_packages(target, module, known)
        graph[module] = edges
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None; deterministic (modules visited in sorted order)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_the_local_cluster_has_no_import_cycle() -> None:
    graph = import_graph(module_names(ROOT, PACKAGE))
    assert "e2e.localcluster.apiserver.server" in graph  # the walk found the sources
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_operator_package_has_no_import_cycle() -> None:
    graph = import_graph(module_names(ROOT, "rayservice"))
    assert "rayservice.controller.rayservice.reconcile" in graph  # the walk found the sources
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(("files", "cycle"), [
    pytest.param({"p/__init__.py": "", "p/a.py": "from . import b\n", "p/b.py": "from .a import x\n"},
                 ["p.a", "p.b", "p.a"], id="relative imports"),
    pytest.param({"p/__init__.py": "", "p/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                  "    from p.b import B\n", "p/b.py": "import p.a\n"},
                 ["p.a", "p.b", "p.a"], id="a type-only import counts"),
    pytest.param({"p/__init__.py": "from .s import S\n", "p/s.py": "from q.n import N\n",
                  "p/t.py": "", "q/__init__.py": "", "q/n.py": "from p.t import T\n"},
                 ["p", "p.s", "q.n", "p"], id="importing a submodule runs its package first"),
])
def test_a_cycle_is_found_and_named(tmp_path: Path, files: Mapping[str, str], cycle: list[str]) -> None:
    _write(tmp_path, files)
    known = module_names(tmp_path, "p") | module_names(tmp_path, "q")
    assert find_cycle(import_graph(known)) == cycle


def test_imports_inside_functions_and_of_enclosing_packages_are_no_cycle(tmp_path: Path) -> None:
    _write(tmp_path, {"p/__init__.py": "from .a import A\n", "p/a.py": "from p import b\nA = 1\n",
                      "p/b.py": "def f():\n    from p.a import A\n    return A\n"})
    assert find_cycle(import_graph(module_names(tmp_path, "p"))) is None
