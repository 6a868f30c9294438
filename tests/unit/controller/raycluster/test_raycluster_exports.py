"""The package surface: complete, sorted ``__all__``; decision modules stay pure (no I/O imports, no async)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.unit.surfaces import assert_all_sorted_and_importable, assert_pure

PACKAGES = ["rayservice.controller.raycluster", "rayservice.controller.names"]
PURE_MODULES = [
    "rayservice.controller.names",
    "rayservice.controller.objects.access",
    "rayservice.controller.objects.conditions",
    "rayservice.controller.objects.service_diff",
    "rayservice.controller.raycluster._podspec",
    "rayservice.controller.raycluster._quantity",
    "rayservice.controller.raycluster._raystart",
    "rayservice.controller.raycluster.desired",
    "rayservice.controller.raycluster.plan",
    "rayservice.controller.raycluster.status",
    "rayservice.controller.raycluster.validate",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_in_it_exists(package: str) -> None:
    assert_all_sorted_and_importable(package)


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
    assert_pure(module_name)
