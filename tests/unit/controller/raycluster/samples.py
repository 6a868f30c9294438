"""Sample RayClusters and observed pods for the RayCluster decision tests."""

from __future__ import annotations

import copy
from typing import Any

CREATED = "2026-01-01T00:00:00Z"


def container(name: str = "ray", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "rayproject/ray:2.60.0", **fields}


def template(*containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"spec": {"containers": list(containers) or [container()], **spec}}
    if labels is not None:
        result["metadata"] = {"labels": labels}
    return result


def group(
    name: str | None = "small",
    replicas: int | None = 1,
    *,
    min_replicas: int | None = 0,
    max_replicas: int | None = 5,
    **fields: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"groupName": name, "rayStartParams": {}, "template": template()}
    for key, value in (("replicas", replicas), ("minReplicas", min_replicas), ("maxReplicas", max_replicas)):
        if value is not None:
            spec[key] = value
    spec.update(fields)
    return spec


def cluster(
    name: str = "demo",
    *,
    namespace: str = "ns",
    groups: list[dict[str, Any]] | None = None,
    head: dict[str, Any] | None = None,
    uid: str = "uid-1",
    generation: int = 1,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "generation": generation},
        "spec": {
            "headGroupSpec": head if head is not None else {"rayStartParams": {}, "template": template()},
            "workerGroupSpecs": groups if groups is not None else [group()],
            **spec,
        },
    }
    if status is not None:
        result["status"] = status
    return result


def observed(
    pod: dict[str, Any],
    *,
    phase: str = "Running",
    ready: bool = True,
    created: str = CREATED,
    pod_ip: str = "10.244.0.10",
    deleting: bool = False,
    ready_reason: str | None = None,
) -> dict[str, Any]:
    """``pod`` as the cache would show it once the API server and a kubelet have seen it."""
    result = copy.deepcopy(pod)
    result["metadata"]["creationTimestamp"] = created
    if deleting:
        result["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z"
    condition: dict[str, Any] = {"type": "Ready", "status": "True" if ready else "False"}
    if ready_reason is not None:
        condition["reason"] = ready_reason
        condition["message"] = f"containers with unready status: [{ready_reason}]"
    result["status"] = {"phase": phase, "podIP": pod_ip, "conditions": [condition]}
    return result


def ray_container(pod: dict[str, Any], index: int = 0) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod["spec"]["containers"]
    return containers[index]


def env_of(pod: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in ray_container(pod, index)["env"]}


def ports_of(pod: dict[str, Any], index: int = 0) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in ray_container(pod, index)["ports"]}
