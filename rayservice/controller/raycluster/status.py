"""The status of a RayCluster, computed from its spec and the observed pods and head Service; when to look again.

Guarantees:
1. ``compute_status`` is a function of its arguments: observing the same state twice gives equal dicts, so
   a converged cluster's status equals the stored one and causes no write. Every key is always present
   (``state`` is ``""`` while starting, ``endpoints`` ``{}``, ``head`` has its four keys, ``""`` when
   unknown), so replacing the stored status never leaves stale values behind.
2. ``state`` is ``suspended`` when ``spec.suspend``, ``ready`` when the head pod is Ready and at least
   ``desiredWorkerReplicas`` workers are Ready, else ``""``.
3. ``readyWorkerReplicas`` counts live worker pods of the spec's groups that are Running and Ready,
   ``availableWorkerReplicas`` those Running, ``desiredWorkerReplicas`` is the sum of
   ``desired_worker_counts``; ``minWorkerReplicas``/``maxWorkerReplicas`` sum ``minReplicas``/``maxReplicas``
   times ``numOfHosts`` over groups that are not suspended, capped at 2147483647.
4. ``endpoints`` maps each head Service port name to its port as text (the nodePort on a NodePort Service).
   ``head`` holds the head pod's ``podIP`` and ``podName`` and the head Service's ``serviceName`` and
   ``serviceIP`` (its clusterIP; a LoadBalancer's ingress IP or hostname once it has one; the pod IP behind a
   headless Service).
5. Conditions: ``HeadPodReady`` (True ``HeadPodRunningAndReady``; False ``HeadPodNotFound``, or the head
   pod's own Ready reason), ``RayClusterProvisioned`` (False ``RayClusterPodsProvisioning`` until the state is
   ready for the first time, then True ``AllPodRunningAndReadyFirstTime`` for good; False
   ``RayClusterSuspended`` while suspended), as KubeRay reports them. ``lastTransitionTime`` is kept while a
   condition's status stays the same; reason and message follow the current state (metav1's
   ``SetStatusCondition`` rule). Conditions of other types are kept, except ``ReplicaFailure``, which only
   reports validation problems and is removed once the spec is valid.
6. With ``problems``, the previous status is returned unchanged except for one condition ``ReplicaFailure``
   (KubeRay's type for "the pods cannot be made"), status True, reason ``ValidationFailed``, every problem in
   its message.
7. ``observedGeneration`` (of the status and of each condition set here) is ``metadata.generation``.
8. ``requeue_after_s`` is ``None`` when the cluster is ready, suspended or invalid (pod and spec events wake
   the controller then) and ``STARTING_REQUEUE_S`` while pods start, as a safety net for a missed event.

Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from rayservice.api.labels import NODE_TYPE_HEAD, NODE_TYPE_WORKER
from rayservice.api.raycluster import (
    CONDITION_HEAD_POD_READY,
    CONDITION_RAY_CLUSTER_PROVISIONED,
    STATE_READY,
    STATE_SUSPENDED,
)
from rayservice.api.views import RayClusterStatusView, as_service
from rayservice.controller.objects import (
    RawObject,
    belongs_to,
    find_condition,
    flag,
    group_of,
    is_deleting,
    is_ready,
    is_running,
    is_suspended,
    items,
    merge_conditions,
    metadata,
    name_of,
    node_type_of,
    part,
    pick_head,
    pod_status,
    raycluster_status,
    ready_condition,
    sequence,
    service_spec,
    text,
    worker_groups,
)
from rayservice.controller.raycluster.desired import desired_worker_counts
from rayservice.controller.raycluster.validate import Problem

CONDITION_REPLICA_FAILURE: Final = "ReplicaFailure"
REASON_VALIDATION_FAILED: Final = "ValidationFailed"
STARTING_REQUEUE_S: Final = 5.0
_INT32_MAX: Final = 2**31 - 1


def compute_status(
    cluster: RawObject,
    pods: Iterable[RawObject],
    head_service: RawObject | None,
    *,
    now: datetime,
    problems: Sequence[Problem],
) -> dict[str, Any]:
    """The RayCluster status for this observation (see the guarantees)."""
    previous = raycluster_status(cluster)
    generation = metadata(cluster).get("generation")
    if problems:
        unchanged = copy.deepcopy(dict(previous))
        failure = _condition(CONDITION_REPLICA_FAILURE, True, REASON_VALIDATION_FAILED, _summary(problems))
        unchanged["conditions"] = merge_conditions(
            previous.get("conditions"), [failure], now=now, generation=generation
        )
        return unchanged
    live = [pod for pod in pods if belongs_to(pod, cluster) and not is_deleting(pod)]
    head = pick_head(pod for pod in live if node_type_of(pod) == NODE_TYPE_HEAD)
    counts = desired_worker_counts(cluster)
    workers = [pod for pod in live if node_type_of(pod) == NODE_TYPE_WORKER and group_of(pod) in counts]
    ready_workers = sum(1 for pod in workers if is_ready(pod))
    desired = sum(counts.values())
    suspended = is_suspended(cluster)
    if suspended:
        state = STATE_SUSPENDED
    elif head is not None and is_ready(head) and ready_workers >= desired:
        state = STATE_READY
    else:
        state = ""
    low, high = _bounds(cluster)
    conditions = [_head_condition(head), _provisioned_condition(previous, state)]
    status: dict[str, Any] = {
        "state": state,
        "readyWorkerReplicas": ready_workers,
        "availableWorkerReplicas": sum(1 for pod in workers if is_running(pod)),
        "desiredWorkerReplicas": desired,
        "minWorkerReplicas": low,
        "maxWorkerReplicas": high,
        "endpoints": _endpoints(head_service),
        "head": _head_info(head, head_service),
        "conditions": merge_conditions(
            previous.get("conditions"), conditions, now=now, generation=generation, drop=CONDITION_REPLICA_FAILURE
        ),
    }
    if isinstance(generation, int):
        status["observedGeneration"] = generation
    return status


def requeue_after_s(status: Mapping[str, Any]) -> float | None:
    """When to reconcile again without an event (guarantee 8)."""
    if status.get("state") in (STATE_READY, STATE_SUSPENDED):
        return None
    for condition in sequence(status.get("conditions")):
        if (
            isinstance(condition, Mapping)
            and condition.get("type") == CONDITION_REPLICA_FAILURE
            and condition.get("reason") == REASON_VALIDATION_FAILED
            and condition.get("status") == "True"
        ):
            return None
    return STARTING_REQUEUE_S


def _summary(problems: Sequence[Problem]) -> str:
    return "invalid spec: " + "; ".join(str(problem) for problem in problems)


def _condition(kind: str, value: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": "True" if value else "False", "reason": reason, "message": message}


def _head_condition(head: RawObject | None) -> dict[str, Any]:
    if head is None:
        return _condition(CONDITION_HEAD_POD_READY, False, "HeadPodNotFound", "Head Pod not found")
    if is_ready(head):
        return _condition(CONDITION_HEAD_POD_READY, True, "HeadPodRunningAndReady", "Head Pod ready")
    ready = ready_condition(head)
    phase = text(pod_status(head).get("phase"), "Pending")
    reason = str(ready.get("reason") or "HeadPodNotReady")
    message = str(ready.get("message") or f"Head Pod {name_of(head)} is {phase} and not ready")
    return _condition(CONDITION_HEAD_POD_READY, False, reason, message)


def _provisioned_condition(previous: RayClusterStatusView, state: str) -> dict[str, Any]:
    if state == STATE_SUSPENDED:
        return _condition(CONDITION_RAY_CLUSTER_PROVISIONED, False, "RayClusterSuspended", "RayCluster is suspended")
    before = find_condition(previous.get("conditions"), CONDITION_RAY_CLUSTER_PROVISIONED)
    if state == STATE_READY or (before is not None and before.get("status") == "True"):
        message = "All Ray Pods are ready for the first time"
        return _condition(CONDITION_RAY_CLUSTER_PROVISIONED, True, "AllPodRunningAndReadyFirstTime", message)
    message = "RayCluster Pods are being provisioned for the first time"
    return _condition(CONDITION_RAY_CLUSTER_PROVISIONED, False, "RayClusterPodsProvisioning", message)


def _bounds(cluster: RawObject) -> tuple[int, int]:
    low = high = 0
    if not is_suspended(cluster):
        for group in worker_groups(cluster):
            if flag(group.get("suspend")):
                continue
            hosts = max(_whole(group.get("numOfHosts"), 1), 1)
            low += _whole(group.get("minReplicas"), 0) * hosts
            high += _whole(group.get("maxReplicas"), _INT32_MAX) * hosts
    return min(low, _INT32_MAX), min(high, _INT32_MAX)


def _whole(value: object, default: int) -> int:
    return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else default


def _endpoints(service: RawObject | None) -> dict[str, str]:
    if service is None:
        return {}
    spec = service_spec(service)
    node_port = spec.get("type") == "NodePort"
    endpoints: dict[str, str] = {}
    for listed in items(spec.get("ports")):
        port = part(listed)
        number = port.get("nodePort") if node_port and port.get("nodePort") else port.get("port")
        if number is not None:
            endpoints[str(port.get("name") or number)] = str(number)
    return endpoints


def _head_info(head: RawObject | None, service: RawObject | None) -> dict[str, str]:
    pod_ip = text(pod_status(head).get("podIP")) if head is not None else ""
    service_ip = ""
    if service is not None:
        spec = service_spec(service)
        ingress = items(part(part(as_service(service).get("status")).get("loadBalancer")).get("ingress"))
        first = part(ingress[0]) if ingress else {}
        cluster_ip = text(spec.get("clusterIP"))
        if spec.get("type") == "LoadBalancer" and (first.get("ip") or first.get("hostname")):
            service_ip = str(first.get("ip") or first.get("hostname"))
        elif cluster_ip == "None":
            service_ip = pod_ip
        else:
            service_ip = cluster_ip
    return {
        "podIP": pod_ip,
        "podName": name_of(head) if head is not None else "",
        "serviceIP": service_ip,
        "serviceName": name_of(service) if service is not None else "",
    }
