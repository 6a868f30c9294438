"""Public surfaces: every package's ``__all__`` is complete, importable and sorted the way ruff sorts it."""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.unit.surfaces import assert_all_sorted_and_importable

PACKAGES = ["rayservice.api", "rayservice.kube", "rayservice.informers"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_in_it_exists(package: str) -> None:
    assert_all_sorted_and_importable(package)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_class_and_function_of_the_package_is_exported(package: str) -> None:
    module = importlib.import_module(package)
    own = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith(package)
    }
    assert own <= set(module.__all__)


def test_object_key_prints_as_namespace_slash_name() -> None:
    from rayservice.api import ObjectKey

    assert str(ObjectKey("ns", "a")) == "ns/a"
    assert str(ObjectKey("", "node")) == "node"
    assert ObjectKey("a", "b") < ObjectKey("b", "a")
    assert {ObjectKey("a", "b"): 1}[ObjectKey("a", "b")] == 1
