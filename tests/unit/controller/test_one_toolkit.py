"""Both reconcilers share one object toolkit: ``RawObject`` has one definition, and neither reconciler keeps its
own accessors, Service patch or status write."""

from __future__ import annotations

import ast
from pathlib import Path

import rayservice
from rayservice.controller import objects
from rayservice.raw import RawObject

ROOT = Path(rayservice.__file__).parent


def _assigned_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_raw_object_is_defined_once_in_the_package() -> None:
    defining = sorted(
        str(path.relative_to(ROOT)) for path in ROOT.rglob("*.py") if "RawObject" in _assigned_names(path)
    )
    assert defining == ["raw.py"]
    assert objects.RawObject is RawObject


def test_neither_reconciler_defines_its_own_copy_of_the_shared_toolkit() -> None:
    shared = {"service_patch", "ensure_service", "write_status_if_changed", "merge_conditions", "mapping", "metadata"}
    for package in ("raycluster", "rayservice"):
        for path in sorted((ROOT / "controller" / package).glob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
            assert not defined & shared, path.name
