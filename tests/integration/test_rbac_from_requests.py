"""The operator's permissions, checked against what it really sends: one journey through both controllers against
the embedded API server, whose request log is compared with ``manifests/rbac`` and ``tests/rbac_usage.py``.

The journey: an unlabelled Service already holds the serve Service's name (the operator adopts it after a live
read); the sample RayService becomes Ready; its Serve config changes in place (Ray rejects it twice first,
so one event is counted twice); its cluster spec changes, so a new cluster takes the traffic and the old one is
deleted after a 1 s delay; its workers scale up in place; a deleted worker pod is made again; the workers scale
back down; an autoscaling RayCluster gets its autoscaler's ServiceAccount, Role and RoleBinding, which are put
back after a user edits them, and a worker the (simulated) autoscaler names in workersToDelete is deleted and
the list cleared; a GCS fault tolerant RayCluster is deleted through its Redis cleanup Job; a RayCluster with Ray
token authentication gets its Secret; the RayService is deleted. Leader election is on throughout, with a Lease
renewed every 0.2 s.

The operator's requests are the ones with its user agent; the manager is stopped before the log is read, since
a watch is logged only when its stream ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from structlog.testing import capture_logs

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import LocalApiServer, RequestInfo
from rayservice.cli import _preflight
from rayservice.clock import SYSTEM_CLOCK
from rayservice.controller.caches import ROLE_BINDINGS, ROLES
from rayservice.kube import PODS, RAY_CLUSTERS, RAY_SERVICES, SERVICES, KubeClient, PatchType, Resource
from rayservice.runtime import LeaderElectionConfig, LeaderElector, Manager
from tests.integration.rayservice_harness import (
    CLUSTERS_GR,
    DEADLINE_S,
    NAMESPACE,
    OPERATOR,
    RAYSERVICES_GR,
    Operator,
    clusters_of,
    condition,
    events_of,
    install_crds,
    new_client,
    puts,
    sample_rayservice,
    selector_of,
    status_of,
    stored,
)
from tests.rbac_usage import DELEGATED_API_USES, Scope, uses_in

ROOT = Path(__file__).resolve().parents[2]
RBAC_DIR = ROOT / "manifests" / "rbac"
NAME = "rayservice-sample"
SERVE_SVC = f"{NAME}-serve-svc"
CLUSTER_LABEL = "ray.io/cluster"
PODS_GR = ("", "pods")
LEASE = "rayservice-operator"
WATCHED = frozenset(
    {"rayservices", "rayclusters", "pods", "services", "endpointslices", "serviceaccounts", "roles", "rolebindings"}
)
AUTOSCALED = "autoscaled"
GCS_FT = "gcs-ft"
TOKEN_AUTH = "token-auth"
INCREMENTAL = "incremental"
RBAC_GROUP = "rbac.authorization.k8s.io"
DELEGATED = {use.key for use in DELEGATED_API_USES}

Key = tuple[str, str, str, str]  # (verb, group, resource, subresource)


# ---- the roles ----------------------------------------------------------------------------------------------


def role(kind: str, name: str) -> dict[str, Any]:
    for path in sorted(RBAC_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return dict(doc)
    raise AssertionError(f"no {kind} {name} in {RBAC_DIR}")


def entries(rules: Sequence[Mapping[str, Any]]) -> Iterator[Key]:
    """Every (verb, group, resource, subresource) a role's rules name, one per verb, group and resource."""
    for rule in rules:
        assert not rule.get("resourceNames"), rule
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                plural, _, subresource = resource.partition("/")
                for verb in rule.get("verbs", []):
                    yield (verb, group, plural, subresource)


def show(key: Key) -> str:
    verb, group, resource, subresource = key
    return f"{verb} {resource}{'/' + subresource if subresource else ''}.{group or 'core'}"


# ---- the journey --------------------------------------------------------------------------------------------


class ElectedOperator(Operator):
    """The harness's operator with ``--leader-elect``: a Lease renewed every 0.2 s by its own client."""

    def __init__(
        self, kube: KubeClient, lease_kube: KubeClient, session: aiohttp.ClientSession, dashboard: FakeRayDashboard
    ) -> None:
        super().__init__(kube, session, dashboard)
        election = LeaderElectionConfig(
            namespace=NAMESPACE,
            identity="rbac-journey",
            name=LEASE,
            lease_duration_s=2.0,
            renew_deadline_s=1.0,
            retry_period_s=0.2,
        )
        self.manager = Manager(
            elector=LeaderElector(lease_kube, election, clock=SYSTEM_CLOCK), shutdown_timeout_s=DEADLINE_S
        )
        for informer in self.caches.informers:
            self.manager.add_informer(informer)
        self.manager.add(self.clusters)
        self.manager.add(self.services)


def active_cluster(server: LocalApiServer) -> str:
    return str((status_of(server, NAME).get("activeServiceStatus") or {}).get("rayClusterName") or "")


def pending_cluster(server: LocalApiServer) -> str:
    return str((status_of(server, NAME).get("pendingServiceStatus") or {}).get("rayClusterName") or "")


def head_ip(server: LocalApiServer, cluster: str) -> str:
    obj = stored(server, CLUSTERS_GR, cluster) or {}
    return str(((obj.get("status") or {}).get("head") or {}).get("podIP") or "")


def app_status(server: LocalApiServer, side: str) -> str:
    apps = (status_of(server, NAME).get(side) or {}).get("applicationStatuses") or {}
    return str((apps.get("fruit_app") or {}).get("status") or "")


def is_ready(server: LocalApiServer) -> bool:
    return (
        condition(server, NAME, "Ready").get("status") == "True"
        and status_of(server, NAME).get("serviceStatus") == "Running"
    )


def workers_of(server: LocalApiServer, cluster: str) -> set[str]:
    return {
        pod["metadata"]["name"]
        for pod in server.store.list(PODS_GR, NAMESPACE)
        if (labels := pod["metadata"].get("labels") or {}).get(CLUSTER_LABEL) == cluster
        and labels.get("ray.io/node-type") == "worker"
        and not pod["metadata"].get("deletionTimestamp")
    }


async def journey(server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, op: Operator) -> None:
    # A Service of the serve Service's name, without the operator's labels: its cache cannot show it.
    placeholder = {
        "metadata": {"name": SERVE_SVC, "namespace": NAMESPACE},
        "spec": {"ports": [{"name": "serve", "port": 8000}], "selector": {"app": "nothing"}},
    }
    await user.create(SERVICES, placeholder, namespace=NAMESPACE)

    # Create the sample and wait until it is Ready.
    await user.create(RAY_SERVICES, sample_rayservice(rayClusterDeletionDelaySeconds=1), namespace=NAMESPACE)
    await op.until(lambda: puts(dashboard) >= 1)
    dashboard.advance(10)
    await op.until(lambda: is_ready(server) and status_of(server, NAME).get("numServeEndpoints") == 1)
    old = active_cluster(server)
    assert selector_of(server, SERVE_SVC).get(CLUSTER_LABEL) == old

    # A Serve config change, put to the running cluster; Ray rejects it twice: one Warning event, counted twice.
    address = head_ip(server, old)
    before = puts(dashboard, address)
    dashboard.fail_next(2, 400, method="PUT", body="Invalid Serve config: injected")
    serve = sample_rayservice()["spec"]["serveConfigV2"].replace("price: 3", "price: 4")
    await user.patch(RAY_SERVICES, NAME, {"spec": {"serveConfigV2": serve}}, namespace=NAMESPACE)
    await op.until(lambda: puts(dashboard, address) == before + 3)
    assert [e["count"] for e in events_of(server, NAME, "FailedToSubmitServeConfig")] == [2]
    dashboard.advance(1)
    await op.until(lambda: app_status(server, "activeServiceStatus") == "RUNNING" and op.idle)

    # A cluster spec change: a zero-downtime upgrade; the old cluster goes 1 s after the switch.
    config = sample_rayservice()["spec"]["rayClusterConfig"]
    config["rayVersion"] = "2.60.1"
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": config}}, namespace=NAMESPACE)
    await op.until(lambda: pending_cluster(server) not in ("", old) and bool(head_ip(server, pending_cluster(server))))
    new = pending_cluster(server)
    await op.until(lambda: puts(dashboard, head_ip(server, new)) >= 1)
    dashboard.advance(10)
    await op.until(lambda: active_cluster(server) == new and clusters_of(server, NAME) == [new])
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == new

    # Scale the workers in place, up and back down.
    config["workerGroupSpecs"][0]["replicas"] = 2
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": config}}, namespace=NAMESPACE)
    await op.until(lambda: len(workers_of(server, new)) == 2 and status_of(server, NAME).get("numServeEndpoints") == 1)
    assert clusters_of(server, NAME) == [new]

    # A worker pod deleted by hand is made again; then the workers scale back down.
    workers = workers_of(server, new)
    gone = sorted(workers)[0]
    await user.delete(PODS, gone, namespace=NAMESPACE)
    await op.until(lambda: len(workers_of(server, new)) == 2 and gone not in workers_of(server, new))
    config["workerGroupSpecs"][0]["replicas"] = 1
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": config}}, namespace=NAMESPACE)
    await op.until(lambda: len(workers_of(server, new)) == 1 and status_of(server, NAME).get("numServeEndpoints") == 1)

    await autoscaling(server, user, op)
    await gcs_fault_tolerance(server, user, op)
    await token_auth(server, user, op)
    await incremental_upgrade(server, dashboard, user, op)

    # Delete the RayService.
    await user.delete(RAY_SERVICES, NAME, namespace=NAMESPACE)
    await op.until(lambda: stored(server, RAYSERVICES_GR, NAME) is None and op.idle)


async def autoscaling(server: LocalApiServer, user: KubeClient, op: Operator) -> None:
    """An autoscaling RayCluster: its autoscaler's RBAC is made and kept; the autoscaler's scale-down is followed."""
    spec = sample_rayservice()["spec"]["rayClusterConfig"]
    spec["enableInTreeAutoscaling"] = True
    spec["workerGroupSpecs"][0]["minReplicas"] = 0
    body = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": AUTOSCALED}, "spec": spec}
    await user.create(RAY_CLUSTERS, body, namespace=NAMESPACE)
    kinds = (("", "serviceaccounts"), (RBAC_GROUP, "roles"), (RBAC_GROUP, "rolebindings"))
    await op.until(
        lambda: all(stored(server, kind, AUTOSCALED) for kind in kinds) and bool(workers_of(server, AUTOSCALED))
    )
    role_rules = stored(server, (RBAC_GROUP, "roles"), AUTOSCALED)["rules"]  # type: ignore[index]

    # A user edits the Role and the RoleBinding: both are put back.
    await user.patch(ROLES, AUTOSCALED, {"rules": role_rules[:1]}, namespace=NAMESPACE)
    await user.patch(ROLE_BINDINGS, AUTOSCALED, {"subjects": []}, namespace=NAMESPACE)
    def put_back() -> bool:
        role = stored(server, (RBAC_GROUP, "roles"), AUTOSCALED) or {}
        binding = stored(server, (RBAC_GROUP, "rolebindings"), AUTOSCALED) or {}
        return role.get("rules") == role_rules and bool(binding.get("subjects"))

    await op.until(put_back)

    # The autoscaler scales the group down as Ray's node provider does: one JSON patch of replicas and the list.
    (worker,) = workers_of(server, AUTOSCALED)
    patch: list[dict[str, Any]] = [
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 0},
        {"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": [worker]}},
    ]
    await user.patch(RAY_CLUSTERS, AUTOSCALED, patch, namespace=NAMESPACE, patch_type=PatchType.JSON)

    def cleared() -> bool:
        group = stored(server, CLUSTERS_GR, AUTOSCALED)["spec"]["workerGroupSpecs"][0]  # type: ignore[index]
        return not workers_of(server, AUTOSCALED) and not (group.get("scaleStrategy") or {}).get("workersToDelete")

    await op.until(cleared)
    await user.delete(RAY_CLUSTERS, AUTOSCALED, namespace=NAMESPACE)
    await op.until(lambda: stored(server, CLUSTERS_GR, AUTOSCALED) is None and op.idle)


async def gcs_fault_tolerance(server: LocalApiServer, user: KubeClient, op: Operator) -> None:
    """A GCS fault tolerant RayCluster deleted: its finalizer, then its Redis cleanup Job (the pod's exit played)."""
    spec = sample_rayservice()["spec"]["rayClusterConfig"]
    spec["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    body = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": GCS_FT}, "spec": spec}
    await user.create(RAY_CLUSTERS, body, namespace=NAMESPACE)
    await op.until(lambda: bool(workers_of(server, GCS_FT)))
    await user.delete(RAY_CLUSTERS, GCS_FT, namespace=NAMESPACE)

    def cleanup_pod() -> str:
        return next(
            (
                pod["metadata"]["name"]
                for pod in server.store.list(("", "pods"), NAMESPACE)
                if (pod["metadata"].get("labels") or {}).get("ray.io/node-type") == "redis-cleanup"
            ),
            "",
        )

    await op.until(lambda: bool(cleanup_pod()))
    await user.patch_status(PODS, cleanup_pod(), {"status": {"phase": "Succeeded"}}, namespace=NAMESPACE)
    await op.until(lambda: stored(server, CLUSTERS_GR, GCS_FT) is None and op.idle)


async def token_auth(server: LocalApiServer, user: KubeClient, op: Operator) -> None:
    """A RayCluster with Ray token authentication: its Secret is read (missing), then created, before its pods."""
    spec = sample_rayservice()["spec"]["rayClusterConfig"]
    spec["authOptions"] = {"mode": "token"}
    body = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": TOKEN_AUTH}, "spec": spec}
    await user.create(RAY_CLUSTERS, body, namespace=NAMESPACE)
    await op.until(
        lambda: stored(server, ("", "secrets"), TOKEN_AUTH) is not None and bool(workers_of(server, TOKEN_AUTH))
    )
    await user.delete(RAY_CLUSTERS, TOKEN_AUTH, namespace=NAMESPACE)
    await op.until(lambda: stored(server, CLUSTERS_GR, TOKEN_AUTH) is None and op.idle)


async def incremental_upgrade(server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient,
                              op: Operator) -> None:
    """A RayService with NewClusterWithIncrementalUpgrade: its Gateway and HTTPRoute are read, created, and
    patched (a new gatewayClassName; the route's weights during a cluster upgrade)."""
    body = sample_rayservice(rayClusterDeletionDelaySeconds=1, upgradeStrategy={
        "type": "NewClusterWithIncrementalUpgrade",
        "clusterUpgradeOptions": {"gatewayClassName": "localcluster", "stepSizePercent": 50, "intervalSeconds": 1}})
    body["metadata"]["name"] = INCREMENTAL
    body["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = True
    await user.create(RAY_SERVICES, body, namespace=NAMESPACE)

    def route_weights() -> list[int]:
        route = stored(server, ("gateway.networking.k8s.io", "httproutes"), f"{INCREMENTAL}-httproute") or {}
        return [int(ref.get("weight", 1)) for rule in (route.get("spec") or {}).get("rules") or []
                for ref in rule.get("backendRefs") or []]

    async def until_advancing(predicate: Callable[[], bool]) -> None:
        for _ in range(600):  # the fake Ray's clock moves 1 s per 0.05 s until the predicate holds (30 s at most)
            if predicate():
                return
            dashboard.advance(1)
            await asyncio.sleep(0.05)
        conditions = (stored(server, RAYSERVICES_GR, INCREMENTAL) or {}).get("status", {}).get("conditions")
        raise AssertionError(f"the incremental upgrade did not get there: weights {route_weights()}, {conditions}")

    await until_advancing(lambda: route_weights() == [100])
    # KubeRay's samples/gateway-api/istio-class.yaml, which the local Gateway controller answers for
    classes = Resource("gateway.networking.k8s.io", "v1", "gatewayclasses", namespaced=False, kind="GatewayClass")
    istio = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "istio"},
             "spec": {"controllerName": "istio.io/gateway-controller"}}
    await user.create(classes, istio)
    strategy = dict(body["spec"]["upgradeStrategy"])
    strategy["clusterUpgradeOptions"] = {**strategy["clusterUpgradeOptions"], "gatewayClassName": "istio"}
    config = body["spec"]["rayClusterConfig"]
    config["rayVersion"] = "2.60.1"
    await user.patch(RAY_SERVICES, INCREMENTAL, {"spec": {"upgradeStrategy": strategy, "rayClusterConfig": config}},
                     namespace=NAMESPACE)
    await until_advancing(lambda: route_weights() == [50, 50])
    await user.delete(RAY_SERVICES, INCREMENTAL, namespace=NAMESPACE)
    await op.until(lambda: stored(server, RAYSERVICES_GR, INCREMENTAL) is None and op.idle)


async def operator_requests(server: LocalApiServer, tmp_path: Path) -> list[RequestInfo]:
    """Run the journey with a fresh operator, stop it, and return every request it sent."""
    user = await new_client(server.write_kubeconfig(tmp_path / "kubeconfig"), "tests")
    kube = await new_client(server.write_kubeconfig(tmp_path / "operator-kubeconfig"), OPERATOR)
    lease_kube = await new_client(server.write_kubeconfig(tmp_path / "lease-kubeconfig"), OPERATOR)
    dashboard = FakeRayDashboard(clock=lambda: 0.0)
    await dashboard.start("0.0.0.0", 0)
    try:
        await install_crds(user)
        with capture_logs():
            async with aiohttp.ClientSession() as session:
                await _preflight(kube, [])  # what `rayservice run` sends before it starts the manager
                op = ElectedOperator(kube, lease_kube, session, dashboard)
                try:
                    await op.start()
                    await op.until(lambda: op.manager.is_leader)
                    await journey(server, dashboard, user, op)
                finally:
                    await op.stop()
                    assert op.task is not None and op.task.done()
    finally:
        await dashboard.stop()
        for client in (user, kube, lease_kube):
            await client.close()
    # A watch is logged when its stream ends: the server notices a closed stream when it next writes to it
    # (a bookmark every 0.5 s). The log is a plain list, so poll it.
    for _ in range(50):
        if WATCHED <= {r.resource for r in server.faults.log if r.user_agent == OPERATOR and r.verb == "watch"}:
            break
        await asyncio.sleep(0.1)
    return [r for r in server.faults.log if r.user_agent == OPERATOR]


@pytest.fixture(scope="module")
def used(tmp_path_factory: pytest.TempPathFactory) -> set[Key]:
    """Every (verb, group, resource, subresource) the operator sent during the journey."""

    async def run() -> list[RequestInfo]:
        server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
        await server.start()
        try:
            return await operator_requests(server, tmp_path_factory.mktemp("rbac-journey"))
        finally:
            await server.stop()

    requests = asyncio.run(run())
    assert requests, "the operator sent nothing"
    return {(r.verb, r.group, r.resource, r.subresource) for r in requests}


CLUSTER_ROLE = role("ClusterRole", "ray-operator")
LEASE_ROLE = role("Role", "ray-operator-leader-election")


def test_the_journey_used_every_kind_of_request_it_should(used: set[Key]) -> None:
    for resource in sorted(WATCHED):
        assert ("list", *_group_of(resource), "") in used and ("watch", *_group_of(resource), "") in used, resource
    assert ("update", "coordination.k8s.io", "leases", "") in used
    assert ("delete", "", "pods", "") in used and ("delete", "ray.io", "rayclusters", "") in used


def _group_of(resource: str) -> tuple[str, str]:
    groups = {"rayservices": "ray.io", "rayclusters": "ray.io", "endpointslices": "discovery.k8s.io"}
    group = groups.get(resource, RBAC_GROUP if resource in ("roles", "rolebindings") else "")
    return (group, resource)


def test_every_request_the_operator_sent_is_granted(used: set[Key]) -> None:
    cluster = set(entries(CLUSTER_ROLE["rules"]))
    leases = set(entries(LEASE_ROLE["rules"]))
    denied = sorted(show(key) for key in used if key not in (leases if key[2] == "leases" else cluster))
    assert denied == [], f"sent but not granted: {denied}"


def test_every_rule_entry_of_the_cluster_role_was_used(used: set[Key]) -> None:
    # DELEGATED_API_USES are held only to be granted to the autoscaler (tests/unit/test_manifests.py checks them).
    unused = sorted(show(key) for key in set(entries(CLUSTER_ROLE["rules"])) - used - DELEGATED)
    assert unused == [], f"granted by ClusterRole ray-operator but never sent: {unused}"


def test_every_rule_entry_of_the_lease_role_was_used(used: set[Key]) -> None:
    unused = sorted(show(key) for key in set(entries(LEASE_ROLE["rules"])) - used)
    assert unused == [], f"granted by Role ray-operator-leader-election but never sent: {unused}"


def test_the_usage_table_is_what_the_operator_sent(used: set[Key]) -> None:
    scopes: tuple[tuple[Scope, set[Key]], ...] = (
        ("cluster", {k for k in used if k[2] != "leases"}),
        ("operator-namespace", {k for k in used if k[2] == "leases"}),
    )
    for scope, sent in scopes:
        listed = {use.key for use in uses_in(scope)}
        assert sorted(map(show, sent - listed)) == [], f"sent but not in tests/rbac_usage.py ({scope})"
        assert sorted(map(show, listed - sent)) == [], f"in tests/rbac_usage.py ({scope}) but never sent"
