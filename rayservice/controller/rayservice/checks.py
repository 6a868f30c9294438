"""What each RayService generation's spec asks for, worked out once: the Serve YAML parsed and checked, and the
hash of its cluster spec (parsing the YAML was most of a steady pass, hashing the cluster spec a tenth).

Guarantees:
1. ``check(service)`` returns what ``validate.check_service(service)`` returns, and ``cluster_hash(service)``
   what ``names.cluster_config_hash`` of its ``spec.rayClusterConfig`` returns. For an object with a uid and a
   ``metadata.generation`` each is computed once per (uid, name, generation), since the API server bumps
   the generation on every spec change; an object without them is worked out afresh every time.
2. A kept check's Serve config has its strings shared (``rayservice.informers.share_strings``); it equals
   the one ``check_service`` returns.
3. At most ``limit`` results are kept (the least recently used go first), so deleted RayServices never grow
   the memory without bound; ``forget(uid)`` drops one at once.

Caller must: treat the returned ``ServiceCheck`` (its ``config`` included) as read-only: it is shared between
passes. Call from one event loop.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from rayservice.controller.names import cluster_config_hash
from rayservice.controller.objects import RawObject, generation_of, name_of, part, rayservice_spec, uid_of
from rayservice.controller.rayservice.validate import ServiceCheck, check_service
from rayservice.informers import share_strings

DEFAULT_LIMIT: Final = 20_000


def _compact(check: ServiceCheck) -> ServiceCheck:
    """The kept check's Serve config with its strings shared (it lives as long as the RayService)."""
    return dataclasses.replace(check, config=share_strings(check.config)) if check.config is not None else check


@dataclass(slots=True)
class _Entry:
    name: str
    generation: int
    check: ServiceCheck | None = None
    cluster_hash: str | None = None


class SpecChecks:
    """``check_service`` and the cluster spec hash, memoized per RayService generation (see the module docstring)."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self._limit = limit
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def check(self, service: RawObject) -> ServiceCheck:
        """Guarantee 1."""
        entry = self._entry(service)
        if entry is None:
            return check_service(service)
        if entry.check is None:
            entry.check = _compact(check_service(service))
        return entry.check

    def cluster_hash(self, service: RawObject) -> str:
        """Guarantee 1."""
        entry = self._entry(service)
        if entry is not None and entry.cluster_hash is not None:
            return entry.cluster_hash
        value = cluster_config_hash(part(rayservice_spec(service).get("rayClusterConfig")))
        if entry is not None:
            entry.cluster_hash = value
        return value

    def forget(self, uid: str) -> None:
        self._entries.pop(uid, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, service: RawObject) -> _Entry | None:
        uid, generation, name = uid_of(service), generation_of(service), name_of(service)
        if not uid or generation is None:
            return None
        entry = self._entries.get(uid)
        if entry is None or entry.name != name or entry.generation != generation:
            entry = _Entry(name, generation)
            self._entries[uid] = entry
        self._entries.move_to_end(uid)
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return entry
