"""The two writes both reconcilers make the same way: a Service brought to its desired fields, and a status.

Guarantees:
1. ``ensure_service`` creates the Service when ``observed`` is ``None``; on AlreadyExists (the cache lags,
   or cannot show a Service created without our labels) it reads it live once and goes on with it. A
   Service ``is_foreign`` says another object controls is left alone (``foreign``). Otherwise it patches
   only the fields that differ (``service_patch``), or writes nothing. It reports what it did and the
   Service as it now is.
2. ``write_status_if_changed`` writes ``/status`` only when ``status`` differs from the stored one (the
   order of conditions aside: it carries no meaning), with the cached ``resourceVersion`` as precondition,
   so a decision made on a stale cache is never committed (409, and the pass is retried). It returns the
   object as stored after the write, or ``None`` when nothing was written, and records in ``written`` the
   version it replaced (``wake_on_echo`` as the caller says).
3. Neither catches an API error other than AlreadyExists on create: the worker retries with backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from rayservice.controller.objects.access import mapping, metadata, name_of, namespace_of, sequence, status_of
from rayservice.controller.objects.seams import KubeWriter, WriteLog
from rayservice.controller.objects.service_diff import service_patch
from rayservice.keys import ObjectKey
from rayservice.kube import SERVICES, AlreadyExists, Resource
from rayservice.raw import RawObject

ServiceAction = Literal["created", "patched", "unchanged", "foreign"]

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceWrite:
    """What ``ensure_service`` did; ``service`` is the Service as it now is (``None`` when foreign)."""

    action: ServiceAction
    service: RawObject | None
    patch: Mapping[str, Any] | None = None


async def ensure_service(
    kube: KubeWriter, observed: RawObject | None, desired: RawObject, *, is_foreign: Callable[[RawObject], bool]
) -> ServiceWrite:
    """Guarantee 1."""
    name, namespace = name_of(desired), namespace_of(desired)
    if observed is None:
        try:
            created = await kube.create(SERVICES, desired, namespace=namespace)
        except AlreadyExists:
            observed = await kube.get(SERVICES, name, namespace=namespace)
        else:
            _log.info("service_created", service=name)
            return ServiceWrite("created", created)
    if is_foreign(observed):
        return ServiceWrite("foreign", None)
    patch = service_patch(observed, desired)
    if patch is None:
        return ServiceWrite("unchanged", observed)
    updated = await kube.patch(SERVICES, name, patch, namespace=namespace)
    _log.info("service_updated", service=name, fields=sorted(mapping(patch.get("spec"))))
    return ServiceWrite("patched", updated if isinstance(updated, Mapping) else observed, patch)


async def write_status_if_changed(
    kube: KubeWriter,
    resource: Resource,
    obj: RawObject,
    status: Mapping[str, Any],
    written: WriteLog,
    *,
    wake_on_echo: bool = False,
) -> RawObject | None:
    """Guarantee 2."""
    if _comparable(status_of(obj)) == _comparable(status):
        return None
    meta = metadata(obj)
    name, namespace = name_of(obj), namespace_of(obj)
    body = {
        "apiVersion": obj.get("apiVersion", resource.api_version),
        "kind": obj.get("kind", resource.kind),
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": meta.get("resourceVersion")},
        "status": dict(status),
    }
    stored = await kube.replace_status(resource, name, body, namespace=namespace)
    new_version = metadata(stored).get("resourceVersion")
    written.replaced(ObjectKey(namespace, name), meta.get("resourceVersion"), new_version, wake_on_echo=wake_on_echo)
    _log.debug("status_written", resource_version=new_version)
    return stored


def _comparable(status: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` with its conditions sorted by type."""
    if "conditions" not in status:
        return dict(status)
    conditions = sorted(sequence(status.get("conditions")), key=lambda item: str(mapping(item).get("type")))
    return {**status, "conditions": conditions}
