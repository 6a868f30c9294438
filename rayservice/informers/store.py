"""The informer cache: raw objects by ``ObjectKey``, with secondary indexes kept in step.

Guarantees:
1. ``key_of`` and ``split_key`` agree with ``str(ObjectKey)``: ``split_key(str(key_of(obj))) ==
   key_of(obj)`` for every object with a name.
2. After ``put`` or ``delete`` returns, ``get``, ``list`` and every index reflect the change; an index
   never names a key that is not in the store.
3. ``list``, ``keys`` and ``by_index`` return fresh lists in key order; mutating them does not touch
   the store.

Caller must:
- treat the returned objects as read-only: they are the cached objects themselves, not copies.

Synchronous and single-threaded: one event loop owns a store, and every call is atomic.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping

from rayservice.informers.indexes import IndexFunc
from rayservice.keys import ObjectKey
from rayservice.raw import RawObject


def key_of(obj: RawObject) -> ObjectKey:
    """The key of a raw object: its namespace (empty when cluster-scoped) and name."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        raise ValueError("object has no metadata.name")
    namespace = metadata.get("namespace")
    return ObjectKey(namespace if isinstance(namespace, str) else "", metadata["name"])


def split_key(text: str) -> ObjectKey:
    """``ns/name`` (or ``name`` for cluster-scoped objects) back into an ``ObjectKey``."""
    parts = text.split("/")
    if len(parts) == 1 and parts[0]:
        return ObjectKey("", parts[0])
    if len(parts) == 2 and all(parts):
        return ObjectKey(parts[0], parts[1])
    raise ValueError(f"not an object key: {text!r}")


class Store:
    """Objects by key plus one inverted index per indexer."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[ObjectKey, RawObject] = {}
        self._indexers = dict(indexers or {})
        self._indices: dict[str, dict[str, set[ObjectKey]]] = {name: {} for name in self._indexers}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    @property
    def index_names(self) -> builtins.list[str]:
        return sorted(self._indexers)

    def get(self, key: ObjectKey) -> RawObject | None:
        return self._items.get(key)

    def keys(self) -> builtins.list[ObjectKey]:
        return sorted(self._items)

    def list(self) -> builtins.list[RawObject]:
        return [self._items[key] for key in sorted(self._items)]

    def by_index(self, index: str, value: str) -> builtins.list[RawObject]:
        """Objects filed under ``value`` in ``index``; an unknown index is a ``KeyError``."""
        return [self._items[key] for key in self.index_keys(index, value)]

    def index_keys(self, index: str, value: str) -> builtins.list[ObjectKey]:
        if index not in self._indices:
            raise KeyError(f"no index named {index!r}; known: {self.index_names}")
        return sorted(self._indices[index].get(value, ()))

    def put(self, obj: RawObject) -> RawObject | None:
        """Add or replace the object under its key; returns the object it replaced, if any."""
        key = key_of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def delete(self, key: ObjectKey) -> RawObject | None:
        """Remove the object; returns it, or None when it was not there."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _index(self, key: ObjectKey, obj: RawObject) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: ObjectKey, obj: RawObject) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
