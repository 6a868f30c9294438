"""Event handlers and the pure mappings from a changed object to the keys that must be reconciled.

Guarantees:
1. ``enqueue_self`` maps an object to its own key; ``enqueue_owner(kind)`` to the key of its
   controlling owner of that kind (same namespace), and to nothing when it has none;
   ``enqueue_by_label(label)`` to ``(object namespace, label value)``, and to nothing without the label.
2. For an update, the keys of the old and the new object are both enqueued (an object that changed
   owner or label value wakes both), each key once, old keys first.
3. The mapping functions are pure (``KeyMapper.keys``); ``KeyMapper.handlers(enqueue)`` only calls
   ``enqueue`` and never awaits, as informer handlers must.
4. An update for which the mapper's ``ignore_update(old, new)`` is true enqueues nothing (controller-runtime's
   update predicates); adds and deletes are never ignored.

Pure, apart from calling the ``enqueue`` function it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rayservice.informers.store import key_of
from rayservice.keys import ObjectKey
from rayservice.raw import RawObject

Enqueue = Callable[[ObjectKey], None]
KeyFunc = Callable[[RawObject], list[ObjectKey]]


@dataclass(frozen=True, slots=True)
class EventHandlers:
    """Callbacks an informer runs after its cache changed; each one optional, none may await."""

    on_add: Callable[[RawObject], None] | None = None
    on_update: Callable[[RawObject, RawObject], None] | None = None
    on_delete: Callable[[RawObject], None] | None = None


@dataclass(frozen=True, slots=True)
class KeyMapper:
    """A pure object -> keys function, and the handlers that enqueue those keys."""

    keys: KeyFunc
    ignore_update: Callable[[RawObject, RawObject], bool] | None = None

    def update_keys(self, old: RawObject, new: RawObject) -> list[ObjectKey]:
        if self.ignore_update is not None and self.ignore_update(old, new):
            return []
        return _unique([*self.keys(old), *self.keys(new)])

    def handlers(self, enqueue: Enqueue) -> EventHandlers:
        def on_add(obj: RawObject) -> None:
            for key in self.keys(obj):
                enqueue(key)

        def on_update(old: RawObject, new: RawObject) -> None:
            for key in self.update_keys(old, new):
                enqueue(key)

        return EventHandlers(on_add=on_add, on_update=on_update, on_delete=on_add)


def enqueue_self(*, ignore_update: Callable[[RawObject, RawObject], bool] | None = None) -> KeyMapper:
    """Reconcile the object that changed (except after updates ``ignore_update`` ignores)."""
    return KeyMapper(lambda obj: [key_of(obj)], ignore_update)


def enqueue_owner(kind: str, *, group: str | None = None) -> KeyMapper:
    """Reconcile the controlling owner of ``kind`` (and API ``group``, when given) of the changed object."""

    def keys(obj: RawObject) -> list[ObjectKey]:
        owner = controller_owner(obj)
        if owner is None or owner.get("kind") != kind or not isinstance(owner.get("name"), str):
            return []
        if group is not None and _group_of(str(owner.get("apiVersion") or "")) != group:
            return []
        return [ObjectKey(key_of(obj).namespace, owner["name"])]

    return KeyMapper(keys)


def enqueue_by_label(label: str) -> KeyMapper:
    """Reconcile the object named by the changed object's ``label`` value, in its namespace."""

    def keys(obj: RawObject) -> list[ObjectKey]:
        labels = _metadata(obj).get("labels")
        value = labels.get(label) if isinstance(labels, Mapping) else None
        return [ObjectKey(key_of(obj).namespace, value)] if isinstance(value, str) and value else []

    return KeyMapper(keys)


def controller_owner(obj: RawObject) -> Mapping[str, Any] | None:
    """The owner reference marked ``controller: true``, if any."""
    refs = _metadata(obj).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def _group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _metadata(obj: RawObject) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _unique(keys: Iterable[ObjectKey]) -> list[ObjectKey]:
    return list(dict.fromkeys(keys))
