"""The reconcilers stay readable: the RayService reconcile fits on a screen and no controller function runs long."""

from __future__ import annotations

import ast
from pathlib import Path

import rayservice.controller

ROOT = Path(rayservice.controller.__file__).parent
MAX_FUNCTION_LINES = 80
MAX_RAYSERVICE_RECONCILE_LINES = 60


def _functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node))
    return found


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    start = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    return (node.end_lineno or node.lineno) - start + 1


def test_no_function_in_the_controllers_is_over_80_lines() -> None:
    long = {where: _length(node) for where, node in _functions() if _length(node) > MAX_FUNCTION_LINES}
    assert long == {}


def test_the_rayservice_reconcile_is_at_most_60_lines() -> None:
    (node,) = [
        node for where, node in _functions() if where.startswith("rayservice/reconcile.py") and node.name == "reconcile"
    ]
    assert _length(node) <= MAX_RAYSERVICE_RECONCILE_LINES


def test_the_check_sees_every_reconciler() -> None:
    names = {where.split(":")[0] for where, _ in _functions()}
    assert {"raycluster/reconcile.py", "rayservice/reconcile.py", "rayservice/plan.py"} <= names
