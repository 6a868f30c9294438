"""``NewClusterWithIncrementalUpgrade`` against the embedded API server (with its own Gateway API controller) and
the fake Ray dashboard: the Gateway and HTTPRoute the operator owns, an upgrade moving traffic step by step while
Serve's ``target_capacity`` follows, the switch at 100 %, and rollbacks A -> B -> A and A -> B -> A -> B."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import LocalApiServer
from rayservice.kube import RAY_SERVICES, KubeClient
from tests.integration.rayservice.conftest import Operators
from tests.integration.rayservice_harness import (
    CLUSTERS_GR,
    NAMESPACE,
    cluster_creates,
    clusters_of,
    condition,
    events_of,
    sample_rayservice,
    selector_of,
    status_of,
    stored,
)

NAME = "rayservice-sample"
GATEWAY_GR = ("gateway.networking.k8s.io", "gateways")
ROUTES_GR = ("gateway.networking.k8s.io", "httproutes")
DEADLINE_S = 60.0


@pytest.fixture(autouse=True)
async def ray_time(dashboard: FakeRayDashboard) -> AsyncIterator[None]:
    """The fake Ray's clock runs 20 times faster than the operator's: a deploy (8 s of Ray) takes 0.4 s."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.05)
            dashboard.advance(1.0)

    task = asyncio.create_task(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def incremental(step: int = 50, interval_s: int = 1, surge: int = 100) -> dict[str, Any]:
    body = sample_rayservice(
        rayClusterDeletionDelaySeconds=1,
        upgradeStrategy={"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": {
            "gatewayClassName": "localcluster", "stepSizePercent": step, "intervalSeconds": interval_s,
            "maxSurgePercent": surge}},
    )
    body["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = True
    return body


def with_env(body: dict[str, Any], value: str) -> dict[str, Any]:
    """``body`` with a head container env var: a cluster spec change (a new cluster hash)."""
    out = copy.deepcopy(body)
    container = out["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "UPGRADE_MARK", "value": value}]
    return out


def side(server: LocalApiServer, key: str) -> dict[str, Any]:
    return dict(status_of(server, NAME).get(key) or {})


def weights(server: LocalApiServer) -> dict[str, int]:
    route = stored(server, ROUTES_GR, f"{NAME}-httproute") or {}
    rules = (route.get("spec") or {}).get("rules") or [{}]
    return {str(ref["name"]): int(ref.get("weight", 1)) for ref in rules[0].get("backendRefs") or []}


def head_ip(server: LocalApiServer, cluster: str) -> str:
    obj = stored(server, CLUSTERS_GR, cluster) or {}
    return str(((obj.get("status") or {}).get("head") or {}).get("podIP") or "")


def capacity(dashboard: FakeRayDashboard, server: LocalApiServer, cluster: str) -> object:
    ip = head_ip(server, cluster)
    return dashboard.cluster(ip).answer(0.0).get("target_capacity") if ip else None


def ready(server: LocalApiServer) -> bool:
    return condition(server, NAME, "Ready").get("status") == "True"


async def apply(user: KubeClient, body: dict[str, Any]) -> None:
    current = await user.get(RAY_SERVICES, NAME, namespace=NAMESPACE)
    await user.patch(RAY_SERVICES, NAME, {"spec": body["spec"]}, namespace=NAMESPACE)
    assert current["metadata"]["name"] == NAME


async def started(server: LocalApiServer, user: KubeClient, operators: Operators, body: dict[str, Any]) -> str:
    operator = await operators.start()
    await user.create(RAY_SERVICES, body, namespace=NAMESPACE)
    await operator.until(lambda: ready(server) and bool(weights(server)), deadline_s=DEADLINE_S)
    (first,) = clusters_of(server, NAME)
    return first


async def test_an_incremental_upgrade_moves_traffic_in_steps_behind_the_capacity_and_switches_at_100(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    body = incremental(step=50, interval_s=1)
    first = await started(server, user, operators, body)
    operator = operators.started[0]
    gateway = stored(server, GATEWAY_GR, f"{NAME}-gateway") or {}
    assert gateway["spec"]["gatewayClassName"] == "localcluster"
    assert [(x["name"], x["protocol"], x["port"]) for x in gateway["spec"]["listeners"]] == [("http", "HTTP", 80)]
    assert gateway["metadata"]["ownerReferences"][0]["kind"] == "RayService"
    assert weights(server) == {f"{first}-serve-svc": 100}
    active = side(server, "activeServiceStatus")
    assert (active["targetCapacity"], active["trafficRoutedPercent"]) == (100, 100)
    assert active["lastTrafficMigratedTime"]
    per_cluster = stored(server, ("", "services"), f"{first}-serve-svc") or {}
    assert per_cluster["spec"]["selector"] == {"ray.io/cluster": first, "ray.io/serve": "true"}
    assert per_cluster["metadata"]["ownerReferences"][0]["kind"] == "RayCluster"

    seen: list[tuple[int, int]] = []

    def record() -> bool:
        w = weights(server)
        pair = (w.get(f"{first}-serve-svc", -1), sum(v for k, v in w.items() if k != f"{first}-serve-svc"))
        if not seen or seen[-1] != pair:
            seen.append(pair)
        return False

    await apply(user, with_env(body, "b"))
    await operator.until(lambda: len(clusters_of(server, NAME)) == 2, deadline_s=DEADLINE_S)
    (new,) = [c for c in clusters_of(server, NAME) if c != first]
    made = stored(server, CLUSTERS_GR, new) or {}
    # no replicas of its own (the CRD's default 0, clamped to minReplicas): it grows from minReplicas
    assert [group.get("replicas", 0) for group in made["spec"]["workerGroupSpecs"]] == [0]
    await operator.until(lambda: record() or selector_of(server, f"{NAME}-serve-svc").get("ray.io/cluster") == new,
                         deadline_s=DEADLINE_S)
    record()
    assert seen == [(100, 0), (50, 50), (0, 100), (-1, 100)], seen
    # the pass that switched writes the status last
    await operator.until(lambda: side(server, "activeServiceStatus").get("rayClusterName") == new)
    assert capacity(dashboard, server, new) == 100
    active = side(server, "activeServiceStatus")
    assert (active["rayClusterName"], active["targetCapacity"], active["trafficRoutedPercent"]) == (new, 100, 100)
    assert not side(server, "pendingServiceStatus").get("rayClusterName")
    assert weights(server) == {f"{new}-serve-svc": 100}
    updates = [e["message"] for e in events_of(server, NAME, "UpdatedHTTPRoute")]
    assert len(updates) >= 3 and all("weights" in m for m in updates)
    await operator.until(lambda: clusters_of(server, NAME) == [new], deadline_s=DEADLINE_S)
    assert condition(server, NAME, "UpgradeInProgress").get("status") == "False"
    assert not condition(server, NAME, "RollbackInProgress")


async def test_a_reverted_spec_rolls_traffic_back_then_drops_the_new_cluster_and_a_reapplied_one_resumes(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    body = incremental(step=25, interval_s=2)
    first = await started(server, user, operators, body)
    operator = operators.started[0]
    old_svc = f"{first}-serve-svc"
    await apply(user, with_env(body, "b"))
    await operator.until(lambda: weights(server).get(old_svc, 100) <= 50, deadline_s=DEADLINE_S)
    (new,) = [c for c in clusters_of(server, NAME) if c != first]

    await apply(user, body)  # A -> B -> A
    await operator.until(lambda: condition(server, NAME, "RollbackInProgress").get("status") == "True",
                         deadline_s=DEADLINE_S)
    assert condition(server, NAME, "RollbackInProgress")["reason"] == "DesiredClusterSpecChanged"
    low = weights(server)[old_svc]
    await operator.until(lambda: weights(server).get(old_svc) == 100 and f"{new}-serve-svc" not in weights(server),
                         deadline_s=DEADLINE_S)
    await operator.until(lambda: clusters_of(server, NAME) == [first], deadline_s=DEADLINE_S)
    assert low < 100
    assert selector_of(server, f"{NAME}-serve-svc")["ray.io/cluster"] == first  # never switched
    assert not condition(server, NAME, "RollbackInProgress")
    assert condition(server, NAME, "UpgradeInProgress").get("status") == "False"
    assert side(server, "activeServiceStatus")["targetCapacity"] == 100

    await apply(user, with_env(body, "b"))  # A -> B again: a fresh upgrade ...
    await operator.until(lambda: weights(server).get(old_svc, 100) <= 75, deadline_s=DEADLINE_S)
    (again,) = [c for c in clusters_of(server, NAME) if c != first]
    await apply(user, body)  # ... rolled back (A -> B -> A) ...
    await operator.until(lambda: condition(server, NAME, "RollbackInProgress").get("status") == "True",
                         deadline_s=DEADLINE_S)
    await apply(user, with_env(body, "b"))  # ... and resumed (A -> B -> A -> B) with the same cluster
    await operator.until(lambda: selector_of(server, f"{NAME}-serve-svc").get("ray.io/cluster") == again,
                         deadline_s=DEADLINE_S)
    assert not condition(server, NAME, "RollbackInProgress")
    assert again != new and weights(server) == {f"{again}-serve-svc": 100}


@pytest.mark.parametrize("via_a", [False, True], ids=["A->B->C", "A->B->A->C"])
async def test_a_third_spec_mid_upgrade_first_rolls_back_then_upgrades_to_it_with_a_new_cluster(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators, via_a: bool
) -> None:
    body = incremental(step=25, interval_s=2)
    first = await started(server, user, operators, body)
    operator = operators.started[0]
    old_svc = f"{first}-serve-svc"
    await apply(user, with_env(body, "b"))
    await operator.until(lambda: weights(server).get(old_svc, 100) <= 75, deadline_s=DEADLINE_S)
    (b,) = [c for c in clusters_of(server, NAME) if c != first]
    if via_a:
        await apply(user, body)  # back to A: the rollback starts ...
        await operator.until(lambda: condition(server, NAME, "RollbackInProgress").get("status") == "True",
                             deadline_s=DEADLINE_S)
    await apply(user, with_env(body, "c"))  # ... and a third spec comes before it ends
    await operator.until(lambda: condition(server, NAME, "RollbackInProgress").get("status") == "True",
                         deadline_s=DEADLINE_S)
    await operator.until(lambda: b not in clusters_of(server, NAME), deadline_s=DEADLINE_S)
    assert weights(server).get(old_svc) == 100  # B went only once traffic was back on A
    await operator.until(lambda: selector_of(server, f"{NAME}-serve-svc").get("ray.io/cluster") not in (first, b),
                         deadline_s=DEADLINE_S)
    c = selector_of(server, f"{NAME}-serve-svc")["ray.io/cluster"]
    assert weights(server) == {f"{c}-serve-svc": 100}
    assert len(cluster_creates(server)) == 3  # A, B and C: no other cluster was made on the way


async def test_the_incremental_strategy_without_the_autoscaler_is_refused_with_kuberays_message(
    server: LocalApiServer, user: KubeClient, operators: Operators
) -> None:
    operator = await operators.start()
    body = incremental()
    body["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = False
    await user.create(RAY_SERVICES, body, namespace=NAMESPACE)
    await operator.until(lambda: condition(server, NAME, "Ready").get("reason") == "ValidationFailed")
    assert "Ray Autoscaler is required for NewClusterWithIncrementalUpgrade" in condition(server, NAME, "Ready")[
        "message"]
    assert clusters_of(server, NAME) == [] and stored(server, GATEWAY_GR, f"{NAME}-gateway") is None
