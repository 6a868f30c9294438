"""Pointing the RayService's Services at a cluster, and switching traffic from one cluster to another.

Guarantees:
1. ``point_services`` makes ``<name>-head-svc`` and the serve Service select the given cluster, writing only
   what differs (``writes.ensure_service``).
2. ``switch_traffic`` points both Services at the new cluster first, then sets the old cluster's deletion
   deadline (now + ``rayClusterDeletionDelaySeconds``), then emits one ``SwitchedTraffic`` event naming both
   clusters, and reports the upgrade's duration (from the new cluster's creation) when there was an old one.
   The caller records the new active cluster in status afterwards.

Caller must: switch only to a cluster that serves the desired config with every application RUNNING.
"""

from __future__ import annotations

from typing import Final

import structlog

from rayservice.controller.events import NORMAL
from rayservice.controller.objects import RawObject, metadata, name_of, namespace_of, parse_time
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.desired import desired_head_service, desired_serve_service
from rayservice.controller.rayservice.observe import Observed
from rayservice.controller.rayservice.upgrade import deletion_deadline
from rayservice.controller.rayservice.writes import ensure_service, set_deadline

REASON_SWITCHED: Final = "SwitchedTraffic"

_log = structlog.get_logger(__name__)


async def point_services(service: RawObject, observed: Observed, cluster_name: str, deps: Deps) -> None:
    """Guarantee 1."""
    cluster = observed.clusters[cluster_name]
    await ensure_service(service, observed.head_service, desired_head_service(service, cluster), deps)
    await ensure_service(service, observed.serve_service, desired_serve_service(service, cluster), deps)


async def switch_traffic(service: RawObject, observed: Observed, *, old: str | None, new: str, deps: Deps) -> None:
    """Guarantee 2."""
    await point_services(service, observed, new, deps)
    now = deps.clock.now()
    namespace = namespace_of(service)
    if old is not None and old != new:
        await set_deadline(service, old, deletion_deadline(service, now), deps)
        message = f"Switched traffic from RayCluster {namespace}/{old} to {namespace}/{new}"
        created = parse_time(metadata(observed.clusters[new]).get("creationTimestamp"))
        if created is not None:
            deps.metrics.service_upgraded(name_of(service), namespace, max((now - created).total_seconds(), 0.0))
    else:
        message = f"Switched traffic to RayCluster {namespace}/{new}"
    _log.info("traffic_switched", old=old, new=new)
    await deps.events.emit(service, NORMAL, REASON_SWITCHED, message)
