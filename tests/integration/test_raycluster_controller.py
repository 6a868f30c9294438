"""The RayCluster controller in a Manager against the embedded API server with a simulated node: what a user
sees of RayClusters (pods, Services, status, events, metrics) and what the API server sees of the operator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from e2e.localcluster.apiserver import LocalApiServer
from rayservice.api import ObjectKey
from rayservice.kube import PODS, RAY_CLUSTERS, KubeClient
from tests.integration.raycluster_harness import (
    CLUSTERS_GR,
    CRDS,
    NAMESPACE,
    OPERATOR,
    SERVICES_GR,
    RayClusterOperator,
    events_of,
    is_converged,
    new_client,
    pod_names,
    pods_of,
    raycluster,
    state_of,
    stored,
    writes_by,
)

BURST = 200
BURST_DEADLINE_S = 120.0


@pytest.fixture
async def operator(user: KubeClient, tmp_path: Path) -> AsyncIterator[RayClusterOperator]:
    kube = await new_client(tmp_path / "kubeconfig", OPERATOR)
    running = RayClusterOperator(kube)
    try:
        with capture_logs():  # keep the output readable; the assertions read the server
            await running.start()
            yield running
            await running.stop()
    finally:
        await kube.close()


async def scale(user: KubeClient, name: str, replicas: int, workers_to_delete: list[str] | None = None) -> None:
    group: dict[str, Any] = raycluster(name, replicas=replicas)["spec"]["workerGroupSpecs"][0]
    if workers_to_delete is not None:
        group["scaleStrategy"] = {"workersToDelete": workers_to_delete}
    await user.patch(RAY_CLUSTERS, name, {"spec": {"workerGroupSpecs": [group]}}, namespace=NAMESPACE)


def metric(operator: RayClusterOperator, metric_name: str, **labels: str) -> float | None:
    value: float | None = operator.metrics.registry.get_sample_value(metric_name, labels)
    return value


async def test_a_new_raycluster_gets_one_head_its_workers_both_services_and_state_ready(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    await user.create(RAY_CLUSTERS, raycluster("demo", replicas=2), namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "demo", workers=2))

    cluster = stored(server, CLUSTERS_GR, "demo")
    head_svc, dashboard_svc = (
        stored(server, SERVICES_GR, "demo-head-svc"),
        stored(server, SERVICES_GR, "demo-dashboard-svc"),
    )
    assert cluster is not None and head_svc is not None and dashboard_svc is not None
    for child in (*pods_of(server, "demo"), head_svc, dashboard_svc):
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("RayCluster", cluster["metadata"]["uid"], True)
    status = cluster["status"]
    (head,) = pods_of(server, "demo", "head")
    assert status["head"] == {
        "podIP": head["status"]["podIP"],
        "podName": head["metadata"]["name"],
        "serviceIP": head_svc["spec"]["clusterIP"],
        "serviceName": "demo-head-svc",
    }
    assert (status["desiredWorkerReplicas"], status["availableWorkerReplicas"]) == (2, 2)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "HeadPodReady": "True",
        "RayClusterProvisioned": "True",
    }
    # creating the Services and pods is no news: their existence says so (events are for actions and failures)
    assert [event["reason"] for event in events_of(server, "demo")] == []
    assert metric(operator, "kuberay_cluster_info", name="demo", namespace=NAMESPACE, owner_kind="None") == 1
    provisioned = {"name": "demo", "namespace": NAMESPACE}
    assert metric(operator, "kuberay_cluster_condition_provisioned", **provisioned, condition="true") == 1
    assert metric(operator, "kuberay_cluster_condition_provisioned", **provisioned, condition="false") is None
    assert (metric(operator, "kuberay_cluster_provisioned_duration_seconds", **provisioned) or -1) >= 0


async def test_a_converged_cluster_reconciled_again_makes_zero_writes(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    await user.create(RAY_CLUSTERS, raycluster("steady", replicas=2), namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "steady", workers=2))
    key = ObjectKey(NAMESPACE, "steady")
    await operator.reconcile_now(key)
    mark = len(server.faults.log)
    for _ in range(3):
        await operator.reconcile_now(key)
    assert writes_by(server, OPERATOR, since=mark) == []


async def test_a_deleted_worker_pod_is_recreated(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    await user.create(RAY_CLUSTERS, raycluster("heal", replicas=1), namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "heal", workers=1))
    (lost,) = pod_names(server, "heal", "worker")
    await user.delete(PODS, lost, namespace=NAMESPACE)
    await operator.until(
        lambda: is_converged(server, "heal", workers=1) and lost not in pod_names(server, "heal") and operator.idle
    )
    (replacement,) = pod_names(server, "heal", "worker")
    assert replacement != lost


async def test_scaling_1_to_3_to_1_removes_exactly_the_workers_named_in_workers_to_delete(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    await user.create(RAY_CLUSTERS, raycluster("elastic", replicas=1), namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "elastic", workers=1))
    (first,) = pod_names(server, "elastic", "worker")
    await scale(user, "elastic", 3)
    await operator.until(lambda: is_converged(server, "elastic", workers=3))
    workers = pod_names(server, "elastic", "worker")
    assert first in workers
    kept = max(workers - {first})
    named = sorted(workers - {kept})  # the oldest among them: a plain scale-down would keep it
    mark = len(server.faults.log)
    await scale(user, "elastic", 1, workers_to_delete=named)
    await operator.until(
        lambda: (
            is_converged(server, "elastic", workers=1)
            and pod_names(server, "elastic", "worker") == {kept}
            and operator.idle
        )
    )
    deleted = sorted(r.name for r in writes_by(server, OPERATOR, since=mark) if r.resource == "pods")
    assert deleted == named  # deletes only, and only the named pods


async def test_suspend_removes_the_pods_and_resuming_brings_them_back(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    await user.create(RAY_CLUSTERS, raycluster("nap", replicas=2), namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "nap", workers=2))
    await user.patch(RAY_CLUSTERS, "nap", {"spec": {"suspend": True}}, namespace=NAMESPACE)
    await operator.until(lambda: state_of(server, "nap") == "suspended" and not pods_of(server, "nap"))
    assert stored(server, SERVICES_GR, "nap-head-svc") is not None
    await user.patch(RAY_CLUSTERS, "nap", {"spec": {"suspend": False}}, namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "nap", workers=2))


async def test_deleting_the_raycluster_removes_its_pods_and_services_through_garbage_collection(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    await user.create(RAY_CLUSTERS, raycluster("gone", replicas=2), namespace=NAMESPACE)
    await operator.until(lambda: is_converged(server, "gone", workers=2))
    mark = len(server.faults.log)
    await user.delete(RAY_CLUSTERS, "gone", namespace=NAMESPACE)
    info = {"name": "gone", "namespace": NAMESPACE, "owner_kind": "None"}
    await operator.until(
        lambda: (
            not pods_of(server, "gone")
            and stored(server, SERVICES_GR, "gone-head-svc") is None
            and stored(server, SERVICES_GR, "gone-dashboard-svc") is None
            and metric(operator, "kuberay_cluster_info", **info) is None  # the operator saw the deletion
        )
    )
    assert [r for r in writes_by(server, OPERATOR, since=mark) if r.verb == "delete"] == []  # the GC did it all
    quiet = len(server.faults.log)
    await operator.reconcile_now(ObjectKey(NAMESPACE, "gone"))
    assert writes_by(server, OPERATOR, since=quiet) == []


async def without_group_name_keys(user: KubeClient) -> None:
    """Serve RayClusters under a schema like KubeRay's own, whose worker group list is not keyed by groupName."""
    crd = await user.get(CRDS, "rayclusters.ray.io")
    for version in crd["spec"]["versions"]:
        groups = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["workerGroupSpecs"]
        groups.pop("x-kubernetes-list-type")
        groups.pop("x-kubernetes-list-map-keys")
    await user.replace(CRDS, "rayclusters.ray.io", crd)


@pytest.mark.parametrize(
    ("problem", "field", "message"),
    [
        (
            "duplicate group names",
            "spec.workerGroupSpecs[1].groupName",
            "'small' is the name of an earlier worker group",
        ),
        ("minReplicas above maxReplicas", "spec.workerGroupSpecs[0].minReplicas", "4 is greater than maxReplicas 2"),
    ],
)
async def test_an_invalid_cluster_gets_the_condition_one_event_and_no_pods(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator, problem: str, field: str, message: str
) -> None:
    body = raycluster("twins")
    group = body["spec"]["workerGroupSpecs"][0]
    if problem == "duplicate group names":
        await without_group_name_keys(user)
        body["spec"]["workerGroupSpecs"] = [group, dict(group)]
    else:
        group.update(replicas=3, minReplicas=4, maxReplicas=2)
    await user.create(RAY_CLUSTERS, body, namespace=NAMESPACE)

    def failure() -> dict[str, Any] | None:
        cluster = stored(server, CLUSTERS_GR, "twins") or {}
        conditions = (cluster.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "ReplicaFailure"), None)

    await operator.until(lambda: failure() is not None)
    for _ in range(2):
        await operator.reconcile_now(ObjectKey(NAMESPACE, "twins"))
    condition = failure()
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("True", "ValidationFailed")
    assert field in condition["message"] and message in condition["message"]
    (event,) = events_of(server, "twins")
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "InvalidSpec", 1)
    assert field in event["message"] and message in event["message"]
    assert pods_of(server, "twins") == []
    assert [r for r in writes_by(server, OPERATOR) if r.resource in ("pods", "services")] == []


async def test_200_clusters_created_at_once_converge_without_duplicate_pods(
    server: LocalApiServer, user: KubeClient, operator: RayClusterOperator
) -> None:
    names = [f"burst-{index:03d}" for index in range(BURST)]
    mark = len(server.faults.log)
    started = time.perf_counter()
    await asyncio.gather(*(user.create(RAY_CLUSTERS, raycluster(name), namespace=NAMESPACE) for name in names))

    waiting = list(names)

    def all_ready() -> bool:  # cheap: stops at the first cluster not ready yet, forgets the ready ones
        while waiting and state_of(server, waiting[-1]) == "ready":
            waiting.pop()
        return not waiting

    await operator.until(all_ready, deadline_s=BURST_DEADLINE_S)
    elapsed_s = time.perf_counter() - started
    await operator.until(lambda: operator.idle)
    writes = writes_by(server, OPERATOR, since=mark)
    pod_creates = [r for r in writes if r.resource == "pods" and r.verb == "create"]
    by_kind: dict[str, int] = {}
    for r in writes:
        kind = f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}"
        by_kind[kind] = by_kind.get(kind, 0) + 1
    print(
        f"\n{BURST} RayClusters (head + 1 worker each) ready in {elapsed_s:.2f} s; operator writes per cluster: "
        f"{len(writes) / BURST:.2f} ({', '.join(f'{k}: {v / BURST:.2f}' for k, v in sorted(by_kind.items()))})"
    )
    # 400 pod creates, all accepted, and every cluster has one head and one worker: 200 heads + 200 workers,
    # none created twice (the log carries no pod names for a POST, the server's pods do).
    assert len(pod_creates) == 2 * BURST and all(r.code == 201 for r in pod_creates)
    for name in names:
        assert len(pod_names(server, name, "head")) == 1 and len(pod_names(server, name, "worker")) == 1, name
