"""The key every controller, cache and queue uses to name one object.

Guarantees:
1. ``ObjectKey`` is immutable, hashable and ordered by (namespace, name), so it can key dicts, sets and
   heaps.
2. ``str(key)`` is ``namespace/name``, or just ``name`` for a cluster-scoped object (empty namespace),
   which is how kubectl and client-go print keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """The namespace and name of one object; ``namespace`` is empty for cluster-scoped kinds."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name
