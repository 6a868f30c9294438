"""Checks of a package's public surface and of its decision modules, shared by the per-package export tests."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Final

IO_MODULES: Final = frozenset({"asyncio", "aiohttp", "kubernetes", "socket", "subprocess", "time"})


def ruff_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order for ``__all__``: CONSTANTS, then Classes, then functions and variables."""
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def assert_all_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=ruff_order)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(module, name), name


def assert_pure(module_name: str) -> None:
    """The module imports nothing that does I/O and defines no coroutine."""
    source = Path(inspect.getfile(importlib.import_module(module_name))).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        assert not isinstance(node, ast.AsyncFunctionDef), node.name
    assert not imported & IO_MODULES, (module_name, imported & IO_MODULES)
