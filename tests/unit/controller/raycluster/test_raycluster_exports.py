"""The package surface: complete, sorted ``__all__``; decision modules stay pure (no I/O imports, no async)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

PACKAGES = ["rayservice.controller.raycluster", "rayservice.controller.names"]
PURE_MODULES = [
    "rayservice.controller.names",
    "rayservice.controller.raycluster._objects",
    "rayservice.controller.raycluster._podspec",
    "rayservice.controller.raycluster._quantity",
    "rayservice.controller.raycluster._raystart",
    "rayservice.controller.raycluster.desired",
    "rayservice.controller.raycluster.plan",
    "rayservice.controller.raycluster.status",
    "rayservice.controller.raycluster.validate",
]
IO_MODULES = {"asyncio", "aiohttp", "kubernetes", "socket", "subprocess", "time"}


def _ruff_order(name: str) -> tuple[int, str]:
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_in_it_exists(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)

    assert exported == sorted(exported, key=_ruff_order)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(module, name), name


def test_every_public_function_and_class_of_the_package_is_exported() -> None:
    package = importlib.import_module("rayservice.controller.raycluster")
    public: set[str] = set()
    for module_name in ("desired", "plan", "status", "validate"):
        module = importlib.import_module(f"rayservice.controller.raycluster.{module_name}")
        public |= {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ == module.__name__
        }
    assert public <= set(package.__all__)


@pytest.mark.parametrize("module_name", PURE_MODULES)
def test_decision_modules_import_nothing_that_does_io_and_define_no_coroutines(module_name: str) -> None:
    source = Path(inspect.getfile(importlib.import_module(module_name))).read_text()
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        assert not isinstance(node, ast.AsyncFunctionDef), node.name

    assert not imported & IO_MODULES
