"""The public surface of the runtime: complete, importable and sorted the way ruff sorts ``__all__``."""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.unit.surfaces import assert_all_sorted_and_importable

PACKAGES = ["rayservice.controller", "rayservice.runtime"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_in_it_exists(package: str) -> None:
    assert_all_sorted_and_importable(package)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_class_and_function_the_package_imports_is_exported(package: str) -> None:
    module = importlib.import_module(package)
    own = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith(package)
    }
    assert own <= set(module.__all__)


def test_the_metrics_and_logging_leaves_import_nothing_from_the_rest_of_the_operator() -> None:
    for leaf in ("rayservice.metrics", "rayservice.logging"):
        source = inspect.getsource(importlib.import_module(leaf))
        assert "from rayservice" not in source and "import rayservice" not in source, leaf
