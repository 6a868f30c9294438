"""When a cluster may take its first Serve config, and when a failed PUT is worth a Warning (pure).

A new cluster's dashboard answers its first GET soon after the head pod turns Ready, but the first Serve PUT
starts Serve's controller and may take longer than the dashboard timeout for a while; a normal upgrade must not
read as a failure, so such a failure is Normal until the head has been Ready for a grace period.

Guarantees:
1. ``head_readiness(cluster, pods)``: with head pods of the cluster in the cache, ready only if one of them is
   Running with ``Ready=True``, since the latest such pod's ``Ready`` transition; without any, the RayCluster's
   ``HeadPodReady`` condition decides when it is there (``False``: not ready; ``True``: since its transition);
   without pods or that condition nothing speaks against it: ready, since an unknown time.
2. ``is_serve_starting(readiness, now)``: true while the head has been ready for less than
   ``SERVE_START_GRACE_S`` (a known time); false when it is not ready or its ready time is unknown.
3. ``is_transient(error)``: no answer (``DashboardUnavailable``, a timeout) or a 5xx; a 4xx (the config
   refused) is never transient. A failed PUT is a Warning unless Serve is starting and the failure transient.

Pure: values in, values out; ``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from rayservice.api.labels import NODE_TYPE_HEAD, NODE_TYPE_LABEL
from rayservice.api.raycluster import CONDITION_HEAD_POD_READY
from rayservice.controller.objects import (
    RawObject,
    find_condition,
    is_deleting,
    labels_of,
    parse_time,
    pod_status,
    raycluster_status,
)
from rayservice.ray import DashboardRejected, DashboardUnavailable

SERVE_START_GRACE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class HeadReadiness:
    """Whether a cluster's head is ready and, when known, since when."""

    ready: bool
    since: datetime | None = None


def head_readiness(cluster: RawObject, pods: Sequence[RawObject]) -> HeadReadiness:
    """Guarantee 1."""
    heads = [p for p in pods if labels_of(p).get(NODE_TYPE_LABEL) == NODE_TYPE_HEAD and not is_deleting(p)]
    if heads:
        ready = [c for c in (_ready_condition(p) for p in heads) if c is not None]
        if not ready:
            return HeadReadiness(False)
        times = [parse_time(c.get("lastTransitionTime")) for c in ready]
        known = [t for t in times if t is not None]
        return HeadReadiness(True, max(known) if len(known) == len(times) else None)
    condition = find_condition(raycluster_status(cluster).get("conditions"), CONDITION_HEAD_POD_READY)
    if condition is None:
        return HeadReadiness(True)
    if condition.get("status") != "True":
        return HeadReadiness(False)
    return HeadReadiness(True, parse_time(condition.get("lastTransitionTime")))


def is_serve_starting(readiness: HeadReadiness, now: datetime, *, grace_s: float = SERVE_START_GRACE_S) -> bool:
    """Guarantee 2."""
    if not readiness.ready or readiness.since is None:
        return False
    return now - readiness.since < timedelta(seconds=grace_s)


def is_transient(error: BaseException) -> bool:
    """Guarantee 3."""
    if isinstance(error, DashboardRejected):
        return error.status >= 500
    return isinstance(error, DashboardUnavailable | TimeoutError)


def _ready_condition(pod: RawObject) -> Mapping[str, object] | None:
    """The pod's ``Ready`` condition when it is Running and Ready, else ``None``."""
    status = pod_status(pod)
    condition = find_condition(status.get("conditions"), "Ready")
    if status.get("phase") != "Running" or condition is None or condition.get("status") != "True":
        return None
    return condition
