"""Pure index functions for the informer cache: each maps an object to the index values it is filed under.

Guarantees:
1. An index function never raises on a malformed object: missing metadata, labels or owner
   references give no values, so the object is simply not indexed.
2. Values come out in a stable order and without duplicates.
3. ``by_owner_uid`` files an object under every owner's uid; ``by_controller_uid`` only under the
   owner reference marked ``controller: true`` (there is at most one).

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from rayservice.raw import RawObject

IndexFunc = Callable[[RawObject], list[str]]

NAMESPACE_INDEX: Final = "namespace"
OWNER_UID_INDEX: Final = "owner-uid"
CONTROLLER_UID_INDEX: Final = "controller-uid"


def by_namespace(obj: RawObject) -> list[str]:
    """The object's namespace; cluster-scoped objects are not indexed."""
    namespace = _metadata(obj).get("namespace")
    return [namespace] if isinstance(namespace, str) and namespace else []


def by_owner_uid(obj: RawObject) -> list[str]:
    """The uid of every owner reference."""
    return _unique(ref.get("uid") for ref in _owner_refs(obj))


def by_controller_uid(obj: RawObject) -> list[str]:
    """The uid of the controlling owner reference, if any."""
    return _unique(ref.get("uid") for ref in _owner_refs(obj) if ref.get("controller") is True)[:1]


def by_label(label: str) -> IndexFunc:
    """An index function filing objects under their value of ``label`` (objects without it: not at all)."""

    def index(obj: RawObject) -> list[str]:
        labels = _metadata(obj).get("labels")
        value = labels.get(label) if isinstance(labels, Mapping) else None
        return [value] if isinstance(value, str) else []

    index.__name__ = f"by_label[{label}]"
    return index


def _metadata(obj: RawObject) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _owner_refs(obj: RawObject) -> list[Mapping[str, Any]]:
    refs = _metadata(obj).get("ownerReferences")
    return [ref for ref in refs if isinstance(ref, Mapping)] if isinstance(refs, list) else []


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value:
            seen.setdefault(value, None)
    return list(seen)
