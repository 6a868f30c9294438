"""Whether a RayService's cluster moves Serve replicas on its own, so its proxies come and go without any
Kubernetes event: a pure test.

Guarantees:
1. ``is_self_scaling`` is true exactly when the cluster has ``enableInTreeAutoscaling`` (the Ray autoscaler adds
   and removes worker nodes) or the Serve config has a deployment that Serve scales itself (an
   ``autoscaling_config``, or ``num_replicas: auto``).
2. A missing cluster or config counts as not scaling; malformed parts are skipped, never an error.

Why it matters: with proxies on worker nodes (Serve's default, ``EveryNode``) Serve runs a proxy only where
replicas are, and drains a proxy when its node loses its last replica; the draining proxy keeps answering for at
least ``RAY_SERVE_PROXY_MIN_DRAINING_PERIOD_S`` (30 s in Ray 2.60), then stops. Only Ray's answer shows the drain,
so such a RayService is read at the ``scaling`` pace, often enough to take a draining proxy's pod out of the serve
Service well within that period.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rayservice.controller.objects import RawObject, flag, mapping, raycluster_spec, sequence


def is_self_scaling(cluster: RawObject | None, config: Mapping[str, Any] | None) -> bool:
    """Guarantees 1-2."""
    if cluster is not None and flag(raycluster_spec(cluster).get("enableInTreeAutoscaling")):
        return True
    for app in sequence(mapping(config).get("applications")):
        for deployment in sequence(mapping(app).get("deployments")):
            spec = mapping(deployment)
            if spec.get("autoscaling_config") or spec.get("num_replicas") == "auto":
                return True
    return False
