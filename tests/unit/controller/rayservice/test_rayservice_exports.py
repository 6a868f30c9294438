"""The package surface: complete, sorted ``__all__``; decision modules stay pure (no I/O imports, no async)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from tests.unit.surfaces import assert_all_sorted_and_importable, assert_pure

PACKAGE = "rayservice.controller.rayservice"
PURE_MODULES = [
    "desired",
    "gateway_objects",
    "incremental",
    "incremental_pass",
    "serve_health",
    "last_good",
    "pace",
    "phase",
    "pass_values",
    "patches",
    "plan",
    "rollout",
    "serve_diff",
    "serve_labels",
    "status",
    "status_events",
    "upgrade",
    "validate",
]
PUBLIC_MODULES = [*PURE_MODULES, "deps", "memory", "setup"]
MAX_LINES = 300


def test_all_is_sorted_and_every_name_in_it_exists() -> None:
    assert_all_sorted_and_importable(PACKAGE)


def test_every_public_function_and_class_of_the_decision_modules_is_exported() -> None:
    package = importlib.import_module(PACKAGE)
    public: set[str] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"{PACKAGE}.{module_name}")
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
    assert_pure(f"{PACKAGE}.{module_name}")


def test_every_module_states_numbered_guarantees_and_stays_small() -> None:
    root = Path(inspect.getfile(importlib.import_module(PACKAGE))).parent
    for path in sorted(root.glob("*.py")):
        source = path.read_text()
        assert len(source.splitlines()) <= MAX_LINES, path.name
        if path.name != "__init__.py":
            doc = ast.get_docstring(ast.parse(source)) or ""
            assert "Guarantees:\n1. " in doc or "\n1. " in doc, path.name
