"""The resourceVersions a reconciler's own status writes replaced, until the informer cache moves past them.

A status write answers with the object's new resourceVersion before the watch delivers it; a pass that starts
in between (another event of the same object's children woke it) reads the old object from the cache, and
every write it makes is refused with 409 Conflict: a wasted pass and a wasted request. Remembering the
version each write replaced lets the reconciler recognise such a cache for certain, without ordering
resourceVersions (which Kubernetes forbids), and skip the pass: the watch event of its own write, which is
on its way, wakes the key again.

The same record recognises the write's own watch event (its echo): an update from exactly the version the
write replaced to exactly the version it produced changed nothing but the status the writing pass computed,
so it need not wake the writer's controller again (``is_echo``), unless a pass was skipped meanwhile.

Guarantees:
1. ``is_stale(key, rv)`` is True exactly when ``rv`` is the resourceVersion that the last ``replaced(key, rv,
   new)`` for ``key`` replaced. Any other version (``new`` itself, or a later one) ends the record for good.
2. ``is_echo(key, old_rv, new_rv)`` is True exactly when ``(old_rv, new_rv)`` are the versions the last
   ``replaced`` for ``key`` recorded, that write was not made ``wake_on_echo`` (the written status is itself
   an input of the next decision) and no ``is_stale`` answered True for that record; it ends the record.
3. ``forget(key)`` drops the record; at most ``limit`` records are kept (the oldest go first).

Caller must: record only versions its own successful writes replaced; call from one event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from rayservice.informers import RawObject, key_of
from rayservice.keys import ObjectKey

DEFAULT_LIMIT: Final = 20_000


@dataclass(slots=True)
class _Record:
    old: str
    new: object
    skipped: bool = False


class WrittenVersions:
    """Per object key, the resourceVersions of the last own status write (see the module docstring)."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self._limit = limit
        self._records: OrderedDict[ObjectKey, _Record] = OrderedDict()

    def replaced(self, key: ObjectKey, old: object, new: object, *, wake_on_echo: bool = False) -> None:
        """A write of ``key`` conditional on ``old`` succeeded and produced ``new``."""
        self._records.pop(key, None)
        if not isinstance(old, str) or not old or old == new:
            return
        self._records[key] = _Record(old, new, skipped=wake_on_echo)
        while len(self._records) > self._limit:
            self._records.popitem(last=False)

    def is_stale(self, key: ObjectKey, cached: object) -> bool:
        """Guarantee 1."""
        record = self._records.get(key)
        if record is None:
            return False
        if cached == record.old:
            record.skipped = True
            return True
        del self._records[key]
        return False

    def is_echo(self, key: ObjectKey, old: object, new: object) -> bool:
        """Guarantee 2."""
        record = self._records.get(key)
        if record is None or new == record.old:
            return False
        del self._records[key]
        return old == record.old and new == record.new and not record.skipped

    def forget(self, key: ObjectKey) -> None:
        self._records.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)


def _resource_version(obj: RawObject) -> object:
    meta = obj.get("metadata")
    return meta.get("resourceVersion") if isinstance(meta, Mapping) else None


def ignore_own_echo(written: WrittenVersions) -> Callable[[RawObject, RawObject], bool]:
    """An informer update predicate: true for the echo of one of ``written``'s writes (guarantee 2)."""

    def ignore(old: RawObject, new: RawObject) -> bool:
        return written.is_echo(key_of(new), _resource_version(old), _resource_version(new))

    return ignore
