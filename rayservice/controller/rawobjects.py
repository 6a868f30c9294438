"""Reading raw Kubernetes objects (`Mapping[str, Any]`, as the informer caches hold them).

Guarantees:
1. Every accessor tolerates missing, ``null`` or wrongly typed fields and returns an empty value instead of
   raising.
2. ``parse_time`` reads the RFC 3339 times the API server writes and returns an aware UTC datetime, or
   ``None`` for anything else.
3. ``is_controlled_by`` is true only when the object's controller ownerReference carries the owner's uid.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

RawObject = Mapping[str, Any]


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: object) -> Sequence[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def metadata(obj: RawObject) -> Mapping[str, Any]:
    return mapping(obj.get("metadata"))


def name_of(obj: RawObject) -> str:
    return str(metadata(obj).get("name") or "")


def namespace_of(obj: RawObject) -> str:
    return str(metadata(obj).get("namespace") or "")


def uid_of(obj: RawObject) -> str:
    return str(metadata(obj).get("uid") or "")


def labels_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(metadata(obj).get("labels"))


def annotations_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(metadata(obj).get("annotations"))


def spec_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(obj.get("spec"))


def status_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(obj.get("status"))


def generation_of(obj: RawObject) -> int | None:
    generation = metadata(obj).get("generation")
    return generation if isinstance(generation, int) and not isinstance(generation, bool) else None


def is_deleting(obj: RawObject) -> bool:
    """Deletion has started: the object is on its way out and must not be acted on again."""
    return bool(metadata(obj).get("deletionTimestamp"))


def is_controlled_by(obj: RawObject, owner_uid: str) -> bool:
    """Guarantee 3."""
    for ref in sequence(metadata(obj).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return bool(owner_uid) and ref.get("uid") == owner_uid
    return False


def controller_uid(obj: RawObject) -> str | None:
    """The uid of the object's controller ownerReference, if it has one."""
    for ref in sequence(metadata(obj).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def find_condition(conditions: object, kind: str) -> Mapping[str, Any] | None:
    """The condition of type ``kind`` in a conditions list, if any."""
    for condition in sequence(conditions):
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def parse_time(value: object) -> datetime | None:
    """Guarantee 2."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def whole_number(value: object, default: int) -> int:
    """``value`` if it is an int (not a bool) >= 0, else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
