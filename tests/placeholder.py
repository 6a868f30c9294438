"""A ConfigMap stamping controller: the smallest real controller, for exercising the runtime on its own.

It runs the whole runtime (informers, queue, workers, leader election, metrics, a real write and the
no-write-when-converged rule) without any Ray object, which is what the runtime's own integration tests
need. It watches only ConfigMaps labelled ``app.kubernetes.io/managed-by=rayservice`` and stamps each with
the annotation ``rayservice.io/data-hash``: the SHA-256 of its ``data`` and ``binaryData``. ``rayservice
run`` does not wire it: it runs the RayCluster controller.

Guarantees:
1. A ConfigMap whose stamp matches its data gets no write at all (converged: zero API writes).
2. Otherwise one merge patch sets the stamp, conditional on the resourceVersion the cache holds: with a
   stale cache the server answers 409 and the worker requeues (quietly) instead of stamping old data.
3. Reads come from the informer cache only; a key missing from it (a deleted ConfigMap) needs nothing.
4. ``stamp_of`` is pure, and independent of key order in the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import structlog

from rayservice.api import ObjectKey
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.informers import Informer, ListerWatcher
from rayservice.kube import CONFIG_MAPS, Patch, PatchType, Resource
from rayservice.runtime.result import DONE, Result

MANAGED_BY_SELECTOR: Final = "app.kubernetes.io/managed-by=rayservice"
STAMP_ANNOTATION: Final = "rayservice.io/data-hash"

RawObject = Mapping[str, Any]
CacheLookup = Callable[[ObjectKey], RawObject | None]

_log = structlog.get_logger(__name__)


class Patcher(Protocol):
    """The one write this controller makes; ``rayservice.kube.KubeClient`` is one."""

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Patch,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class StampDeps:
    """What ``reconcile_stamp`` reads from (the cache) and writes with (the client)."""

    lookup: CacheLookup
    client: Patcher


async def reconcile_stamp(key: ObjectKey, deps: StampDeps) -> Result:
    """Stamp one ConfigMap with the hash of its data, unless it already carries the right stamp."""
    configmap = deps.lookup(key)
    if configmap is None:
        return DONE
    metadata = configmap.get("metadata") or {}
    stamp = stamp_of(configmap)
    if (metadata.get("annotations") or {}).get(STAMP_ANNOTATION) == stamp:
        return DONE
    patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion"), "annotations": {STAMP_ANNOTATION: stamp}}}
    await deps.client.patch(CONFIG_MAPS, key.name, patch, namespace=key.namespace)
    _log.info("configmap_stamped", stamp=stamp)
    return DONE


def stamp_of(configmap: RawObject) -> str:
    """The stamp a ConfigMap should carry: SHA-256 over its ``data`` and ``binaryData``."""
    content = {"data": configmap.get("data") or {}, "binaryData": configmap.get("binaryData") or {}}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def stamp_informers(
    source: ListerWatcher, namespaces: Sequence[str] = (), *, clock: Clock = SYSTEM_CLOCK
) -> list[Informer]:
    """One informer per namespace (one for all namespaces when none is given), label-filtered."""
    scopes: Sequence[str | None] = list(dict.fromkeys(namespaces)) or [None]
    return [
        Informer(source, CONFIG_MAPS, namespace=ns, label_selector=MANAGED_BY_SELECTOR, clock=clock) for ns in scopes
    ]


def cache_lookup(informers: Sequence[Informer], namespaces: Sequence[str] = ()) -> CacheLookup:
    """Read a key from the informer of its namespace (``informers`` as ``stamp_informers`` built them)."""
    scopes = list(dict.fromkeys(namespaces))
    if not scopes:
        (everywhere,) = informers
        return everywhere.get
    by_namespace = dict(zip(scopes, informers, strict=True))

    def lookup(key: ObjectKey) -> RawObject | None:
        informer = by_namespace.get(key.namespace)
        return informer.get(key) if informer is not None else None

    return lookup
