"""The one shape every cache, informer and reconciler handles: a Kubernetes object as its JSON decodes.

Guarantees:
1. ``RawObject`` is defined here and nowhere else in ``rayservice``; a leaf module (it imports only
   ``typing``), so every layer may name it.
2. It is read-only (``Mapping``): code that reads a cached object cannot change what other readers see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

RawObject: TypeAlias = Mapping[str, Any]
"""An object as the API server sent it (or as a cache keeps it): nested mappings, lists and scalars."""
