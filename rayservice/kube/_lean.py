"""Registers the ``kubernetes`` package without running its ``__init__``, before ``kube.client`` imports from it.

``kubernetes/__init__.py`` eagerly imports the synchronous client and all its model classes (about 25 MiB,
a sixth of the operator's memory budget), although the operator uses only ``kubernetes.aio``, a subpackage.

Guarantees:
1. When nothing imported ``kubernetes`` yet, ``sys.modules["kubernetes"]`` becomes a package module with the
   real package's path and spec but without the eager imports; every submodule (``kubernetes.aio``,
   ``kubernetes.client``, ``kubernetes.config``, ...) still loads on first use, by ``import`` or as an
   attribute of the package. When ``kubernetes`` is already imported, nothing changes.
2. Importing this module twice changes nothing the second time.

Imported for its effect, first, by ``rayservice/kube/__init__.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _register() -> None:
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType("kubernetes")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin

    def submodule(name: str) -> types.ModuleType:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"kubernetes.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'kubernetes' has no attribute {name!r}") from None

    package.__getattr__ = submodule  # type: ignore[method-assign]
    sys.modules["kubernetes"] = package


_register()
