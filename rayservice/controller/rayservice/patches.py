"""The merge patch that scales an existing RayCluster to what its RayService wants, or None.

Guarantees:
1. ``scale_patch`` is ``None`` exactly when every worker group of the cluster already has the desired
   ``replicas``, ``minReplicas``, ``maxReplicas`` and ``scaleStrategy.workersToDelete`` (unset fields read as
   KubeRay's defaults: 0, 0, 2147483647, none). Otherwise it replaces ``spec.workerGroupSpecs`` by the
   cluster's own groups with the desired scaling values, so nothing but scaling ever changes in place. With
   ``enableInTreeAutoscaling`` the autoscaler owns ``replicas`` and ``scaleStrategy.workersToDelete``: the
   cluster's values are kept (the RayService's own are where a new cluster starts).
2. The caller applies ``scale_patch`` only to a cluster whose config hash equals the desired one: the groups
   then differ in scaling alone, and are matched by ``groupName``.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from rayservice.controller.objects import RawObject, flag, mapping, raycluster_spec, sequence, spec_of, whole_number

_INT32_MAX: Final = 2**31 - 1
_IMMUTABLE: Final = frozenset({"clusterIP", "clusterIPs"})
_NODE_PORT_TYPES: Final = frozenset({"NodePort", "LoadBalancer"})


def scale_patch(cluster: RawObject, desired_spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """Guarantees 1-2."""
    autoscaled = flag(raycluster_spec(cluster).get("enableInTreeAutoscaling"))
    wanted = {str(group.get("groupName")): group for group in _groups(desired_spec)}
    changed = False
    groups: list[dict[str, Any]] = []
    for group in _groups(spec_of(cluster)):
        patched = dict(group)
        want = wanted.get(str(group.get("groupName")))
        if want is not None:
            for key, default in (("replicas", 0), ("minReplicas", 0), ("maxReplicas", _INT32_MAX)):
                if key == "replicas" and autoscaled:
                    continue
                value = whole_number(want.get(key), default)
                if whole_number(group.get(key), default) != value:
                    patched[key] = value
                    changed = True
            to_delete = [str(pod) for pod in sequence(mapping(want.get("scaleStrategy")).get("workersToDelete"))]
            have = [str(pod) for pod in sequence(mapping(group.get("scaleStrategy")).get("workersToDelete"))]
            if not autoscaled and have != to_delete:
                patched["scaleStrategy"] = {**mapping(group.get("scaleStrategy")), "workersToDelete": to_delete}
                changed = True
        groups.append(patched)
    return {"spec": {"workerGroupSpecs": groups}} if changed else None


def _groups(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [mapping(group) for group in sequence(spec.get("workerGroupSpecs")) if isinstance(group, Mapping)]
