"""Which pods of a cluster the serve Service may select: the ``ray.io/serve`` label from Ray's proxy health.

Guarantees:
1. ``serve_label_changes`` returns, for each pod of the cluster (this incarnation: controlled by its uid, or by
   nobody) that is not being deleted, the ``ray.io/serve`` value it must get, and only when its label differs.
2. With ``exclude_head`` (``excludeHeadPodFromServeSvc``) the head pod gets ``false`` whatever Ray says.
3. Otherwise a pod whose IP has a proxy in Ray's answer (``proxies``, keyed by node, each with ``node_ip`` and
   ``status``) gets ``true`` when every proxy on that IP is HEALTHY, else ``false`` (STARTING, UNHEALTHY,
   DRAINING, ...). When Ray reports proxies but none on a pod's IP, the pod gets ``false``: Ray starts a proxy
   only on nodes that hold replicas, and a node without one refuses the serve port, so it must not be a serve
   endpoint. A pod without an IP, every pod when Ray reports no proxy at all (Serve not running yet), and every
   pod when Ray's answer is unknown (``None``: the dashboard did not answer) keep their labels: an outage never
   flips labels.

Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from rayservice.api.labels import (
    NODE_TYPE_HEAD,
    NODE_TYPE_LABEL,
    RAY_CLUSTER_LABEL,
    SERVE_LABEL,
    SERVE_VALUE_FALSE,
    SERVE_VALUE_TRUE,
)
from rayservice.controller.objects import (
    RawObject,
    controller_uid,
    is_deleting,
    labels_of,
    mapping,
    name_of,
    namespace_of,
    pod_status,
    text,
    uid_of,
)

PROXY_HEALTHY: Final = "HEALTHY"


def proxy_health_by_ip(answer: Mapping[str, Any]) -> dict[str, bool]:
    """Node IP -> whether every proxy Ray reports on it is HEALTHY."""
    health: dict[str, bool] = {}
    for proxy in mapping(answer.get("proxies")).values():
        proxy = mapping(proxy)
        ip = proxy.get("node_ip")
        if isinstance(ip, str) and ip:
            health[ip] = health.get(ip, True) and proxy.get("status") == PROXY_HEALTHY
    return health


def serve_label_changes(
    cluster: RawObject, pods: Iterable[RawObject], answer: Mapping[str, Any] | None, *, exclude_head: bool
) -> dict[str, str]:
    """Pod name -> the ``ray.io/serve`` value it must get (guarantees 1-3)."""
    health = proxy_health_by_ip(answer) if answer is not None else {}
    uid = uid_of(cluster)
    changes: dict[str, str] = {}
    for pod in pods:
        labels = labels_of(pod)
        if (
            namespace_of(pod) != namespace_of(cluster)
            or labels.get(RAY_CLUSTER_LABEL) != name_of(cluster)
            or controller_uid(pod) not in (None, uid)
            or is_deleting(pod)
        ):
            continue
        want: str | None = None
        if exclude_head and labels.get(NODE_TYPE_LABEL) == NODE_TYPE_HEAD:
            want = SERVE_VALUE_FALSE
        else:
            ip = text(pod_status(pod).get("podIP"))
            healthy = health.get(ip)
            if healthy is not None:
                want = SERVE_VALUE_TRUE if healthy else SERVE_VALUE_FALSE
            elif ip and health:
                want = SERVE_VALUE_FALSE  # Ray runs proxies, none on this node
        if want is not None and labels.get(SERVE_LABEL) != want:
            changes[name_of(pod)] = want
    return changes
