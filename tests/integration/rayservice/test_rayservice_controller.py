"""The RayService controller, with the RayCluster controller, in a Manager against the embedded API server (simulated
node) and the fake Ray dashboard: what a user sees of a RayService, and what the API server and Ray see of us."""

from __future__ import annotations

from typing import Any

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.api import DELETE_AFTER_ANNOTATION, ObjectKey
from rayservice.kube import RAY_SERVICES, KubeClient
from tests.integration.rayservice.conftest import Operators
from tests.integration.rayservice_harness import (
    CLUSTERS_GR,
    NAMESPACE,
    OPERATOR,
    Operator,
    clusters_of,
    condition,
    events_of,
    puts,
    sample_rayservice,
    selector_of,
    status_of,
    stored,
    writes_by,
)

NAME = "rayservice-sample"
KEY = ObjectKey(NAMESPACE, NAME)
HEAD_SVC = f"{NAME}-head-svc"
SERVE_SVC = f"{NAME}-serve-svc"
CLUSTER_LABEL = "ray.io/cluster"


def active_cluster(server: LocalApiServer) -> str:
    return str((status_of(server, NAME).get("activeServiceStatus") or {}).get("rayClusterName") or "")


def pending_cluster(server: LocalApiServer) -> str:
    return str((status_of(server, NAME).get("pendingServiceStatus") or {}).get("rayClusterName") or "")


def head_ip(server: LocalApiServer, cluster: str) -> str:
    obj = stored(server, CLUSTERS_GR, cluster) or {}
    return str(((obj.get("status") or {}).get("head") or {}).get("podIP") or "")


def app_status(server: LocalApiServer, side: str, app: str = "fruit_app") -> str:
    apps = (status_of(server, NAME).get(side) or {}).get("applicationStatuses") or {}
    return str((apps.get(app) or {}).get("status") or "")


def is_ready(server: LocalApiServer) -> bool:
    return (
        condition(server, NAME, "Ready").get("status") == "True"
        and status_of(server, NAME).get("serviceStatus") == "Running"
    )


def mango_price(dashboard: FakeRayDashboard, address: str) -> Any:
    app = dashboard.cluster(address).answer(dashboard.now())["applications"]["fruit_app"]
    deployments = {dep["name"]: dep for dep in app["deployed_app_config"]["deployments"]}
    return deployments["MangoStand"]["user_config"]["price"]


async def ready_sample(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator, **spec: Any
) -> str:
    """Create the sample RayService, let Ray run its app, and return the active cluster once it is Ready."""
    await user.create(RAY_SERVICES, sample_rayservice(**spec), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) >= 1)
    dashboard.advance(10)
    await operator.until(lambda: is_ready(server) and status_of(server, NAME).get("numServeEndpoints") == 1)
    return active_cluster(server)


async def test_the_sample_becomes_ready_with_the_fruit_app_running_and_both_services_on_its_cluster(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)

    assert clusters_of(server, NAME) == [active]
    assert app_status(server, "activeServiceStatus") == "RUNNING"
    assert "pendingServiceStatus" not in status_of(server, NAME)
    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "NoPendingCluster"
    assert selector_of(server, HEAD_SVC) == {CLUSTER_LABEL: active, "ray.io/node-type": "head"}
    assert selector_of(server, SERVE_SVC) == {CLUSTER_LABEL: active, "ray.io/serve": "true"}
    assert dashboard.addresses == [head_ip(server, active)]
    assert mango_price(dashboard, head_ip(server, active)) == 3
    assert [e["reason"] for e in events_of(server, NAME, "CreatedCluster")] == ["CreatedCluster"]
    assert len(events_of(server, NAME, "SwitchedTraffic")) == 1
    assert operator.metrics.services[(NAME, NAMESPACE)] == (True, False)
    first_writes = [(r.verb, r.resource, r.subresource) for r in writes_by(server, OPERATOR) if r.resource != "events"]
    assert first_writes[:2] == [("update", "rayservices", "status"), ("create", "rayclusters", "")]


async def test_a_serve_config_change_is_put_in_place_without_a_new_cluster(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    address = head_ip(server, active)
    before = puts(dashboard, address)
    serve = sample_rayservice()["spec"]["serveConfigV2"].replace("price: 3", "price: 4")

    await user.patch(RAY_SERVICES, NAME, {"spec": {"serveConfigV2": serve}}, namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard, address) == before + 1)
    assert mango_price(dashboard, address) == 4
    dashboard.advance(1)  # an in-place user_config change takes Ray ~0.6 s
    await operator.until(lambda: app_status(server, "activeServiceStatus") == "RUNNING" and operator.idle)

    assert clusters_of(server, NAME) == [active]
    assert active_cluster(server) == active and is_ready(server)
    assert puts(dashboard, address) == before + 1
    assert "pendingServiceStatus" not in status_of(server, NAME)


async def test_a_cluster_spec_change_switches_traffic_only_once_the_new_cluster_runs_the_app(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    old = await ready_sample(server, dashboard, user, operator, rayClusterDeletionDelaySeconds=1)

    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}, namespace=NAMESPACE)
    await operator.until(lambda: pending_cluster(server) not in ("", old) and head_ip(server, pending_cluster(server)))
    new = pending_cluster(server)
    new_address = head_ip(server, new)
    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "BothActivePendingClustersExist"
    await operator.until(lambda: puts(dashboard, new_address) == 1)
    dashboard.advance(1)  # past NOT_STARTED: the new cluster's app is DEPLOYING
    await operator.until(lambda: app_status(server, "pendingServiceStatus") == "DEPLOYING")
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == old
    assert selector_of(server, HEAD_SVC)[CLUSTER_LABEL] == old
    assert is_ready(server)

    dashboard.advance(10)
    await operator.until(lambda: selector_of(server, SERVE_SVC).get(CLUSTER_LABEL) == new)
    assert selector_of(server, HEAD_SVC)[CLUSTER_LABEL] == new
    assert dashboard.cluster(new_address).answer(dashboard.now())["applications"]["fruit_app"]["status"] == "RUNNING"
    await operator.until(
        lambda: (
            active_cluster(server) == new
            and clusters_of(server, NAME) == [new]
            and bool(events_of(server, NAME, "DeletedCluster"))
        )
    )

    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "NoPendingCluster"
    assert is_ready(server) and app_status(server, "activeServiceStatus") == "RUNNING"
    (switched,) = events_of(server, NAME, "SwitchedTraffic")[-1:]
    assert old in switched["message"] and new in switched["message"]
    assert [e["message"] for e in events_of(server, NAME, "DeletedCluster")] == [
        f"Deleted RayCluster {NAMESPACE}/{old}: its deletion deadline passed"
    ]
    assert len(operator.metrics.upgrades) == 1


async def test_the_old_cluster_waits_for_its_persisted_deadline_before_it_is_deleted(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    old = await ready_sample(server, dashboard, user, operator, rayClusterDeletionDelaySeconds=600)
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}, namespace=NAMESPACE)
    await operator.until(lambda: pending_cluster(server) not in ("", old) and head_ip(server, pending_cluster(server)))
    new = pending_cluster(server)
    await operator.until(lambda: puts(dashboard, head_ip(server, new)) == 1)
    dashboard.advance(10)
    await operator.until(lambda: active_cluster(server) == new and operator.idle)

    annotations = (stored(server, CLUSTERS_GR, old) or {})["metadata"].get("annotations") or {}
    assert DELETE_AFTER_ANNOTATION in annotations
    assert clusters_of(server, NAME) == sorted([old, new])
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == new


async def test_a_converged_rayservice_reconciled_again_makes_no_writes_and_no_puts(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    await ready_sample(server, dashboard, user, operator)
    await operator.until(lambda: operator.caught_up(server, KEY))
    mark, put_count = len(server.faults.log), puts(dashboard)
    for _ in range(3):
        done = operator.metrics.reconciles["rayservice"]
        operator.services.enqueue(KEY)
        await operator.until(lambda done=done: operator.metrics.reconciles["rayservice"] > done)  # type: ignore[misc]

    assert writes_by(server, OPERATOR, since=mark) == []
    assert puts(dashboard) == put_count


async def test_a_head_that_lost_serve_gets_the_config_again(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    address = head_ip(server, active)
    before = puts(dashboard, address)
    dashboard.restart_head(address)

    operator.services.enqueue(KEY)  # what the head pod's restart would wake
    await operator.until(lambda: puts(dashboard, address) == before + 1)
    dashboard.advance(10)
    await operator.until(lambda: app_status(server, "activeServiceStatus") == "RUNNING" and operator.idle)
    assert clusters_of(server, NAME) == [active]


async def test_invalid_serve_yaml_fails_validation_with_its_line_and_one_event_and_creates_nothing(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    broken = "applications:\n  - name: fruit_app\n    import_path: fruit.deployment_graph\n   route_prefix: /\n"
    await user.create(RAY_SERVICES, sample_rayservice(serveConfigV2=broken), namespace=NAMESPACE)
    await operator.until(lambda: condition(server, NAME, "Ready").get("reason") == "ValidationFailed")
    for _ in range(2):
        done = operator.metrics.reconciles["rayservice"]
        operator.services.enqueue(KEY)
        await operator.until(lambda done=done: operator.metrics.reconciles["rayservice"] > done)  # type: ignore[misc]

    ready = condition(server, NAME, "Ready")
    assert ready["status"] == "False"
    assert "serveConfigV2: line 4, column" in ready["message"]
    assert [(e["reason"], e["count"]) for e in events_of(server, NAME)] == [("ValidationFailed", 1)]
    assert "line 4" in events_of(server, NAME)[0]["message"]
    assert clusters_of(server, NAME) == []
    assert puts(dashboard) == 0
    assert status_of(server, NAME).get("serviceStatus") == ""


async def test_a_failed_cluster_create_is_retried_under_the_recorded_name_never_a_second_one(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    failing = server.faults.add(FaultRule(code=500, count=2, resource="rayclusters", verb="create"))
    await user.create(RAY_SERVICES, sample_rayservice(), namespace=NAMESPACE)
    await operator.until(lambda: failing.hits == 2 and len(clusters_of(server, NAME)) == 1)
    (made,) = clusters_of(server, NAME)
    creates = [r for r in writes_by(server, OPERATOR) if r.resource == "rayclusters" and r.verb == "create"]
    assert [r.code for r in creates] == [500, 500, 201]
    assert pending_cluster(server) == made

    await operator.until(lambda: puts(dashboard) == 1)
    dashboard.advance(10)
    await operator.until(lambda: is_ready(server))
    assert clusters_of(server, NAME) == [made] == [active_cluster(server)]


async def test_an_operator_restarted_mid_upgrade_finishes_it_with_the_same_pending_cluster(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    first = await operators.start()
    old = await ready_sample(server, dashboard, user, first, rayClusterDeletionDelaySeconds=0)
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}, namespace=NAMESPACE)
    await first.until(lambda: pending_cluster(server) not in ("", old) and head_ip(server, pending_cluster(server)))
    new = pending_cluster(server)
    await first.until(lambda: puts(dashboard, head_ip(server, new)) == 1)
    await first.stop()

    second = await operators.start()  # a fresh process: no memory of the PUT
    dashboard.advance(10)
    await second.until(lambda: active_cluster(server) == new and clusters_of(server, NAME) == [new])
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == new
    assert puts(dashboard, head_ip(server, new)) == 1  # Ray already ran the config: no second PUT
    created = [r for r in writes_by(server, OPERATOR) if r.resource == "rayclusters" and r.verb == "create"]
    assert len(created) == 2


async def test_a_scaling_only_change_is_applied_to_the_active_cluster_in_place(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    config = sample_rayservice()["spec"]["rayClusterConfig"]
    config["workerGroupSpecs"][0]["replicas"] = 2
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": config}}, namespace=NAMESPACE)

    def scaled() -> bool:
        cluster = stored(server, CLUSTERS_GR, active) or {}
        return cluster.get("spec", {}).get("workerGroupSpecs", [{}])[0].get("replicas") == 2

    await operator.until(lambda: scaled() and len(events_of(server, NAME, "UpdatedCluster")) == 1)
    assert clusters_of(server, NAME) == [active] == [active_cluster(server)]
    assert "pendingServiceStatus" not in status_of(server, NAME)
    assert len(events_of(server, NAME, "UpdatedCluster")) == 1


async def test_a_newer_spec_mid_upgrade_replaces_the_pending_cluster_before_it_serves(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    old = await ready_sample(server, dashboard, user, operator, rayClusterDeletionDelaySeconds=0)
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}, namespace=NAMESPACE)
    await operator.until(lambda: pending_cluster(server) not in ("", old) and head_ip(server, pending_cluster(server)))
    first = pending_cluster(server)
    await operator.until(lambda: puts(dashboard, head_ip(server, first)) == 1)

    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": {"rayVersion": "2.60.2"}}}, namespace=NAMESPACE)
    await operator.until(
        lambda: (
            pending_cluster(server) not in ("", old, first)
            and clusters_of(server, NAME) == sorted([old, pending_cluster(server)])
        )
    )
    second = pending_cluster(server)
    assert [e["message"] for e in events_of(server, NAME, "DeletedCluster")] == [
        f"Deleted RayCluster {NAMESPACE}/{first}: replaced before it served"
    ]
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == old
    await operator.until(lambda: bool(head_ip(server, second)) and puts(dashboard, head_ip(server, second)) == 1)
    dashboard.advance(10)
    await operator.until(lambda: active_cluster(server) == second and clusters_of(server, NAME) == [second])
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == second


async def test_a_rejected_serve_config_is_a_warning_event_and_is_retried(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    dashboard.fail_next(1, 400, method="PUT", body="Invalid Serve config: injected")
    await user.create(RAY_SERVICES, sample_rayservice(), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) == 2)  # the rejected one, then the retry after a 1 s backoff
    (failed,) = events_of(server, NAME, "FailedToSubmitServeConfig")
    assert failed["type"] == "Warning"
    assert "HTTP 400: Invalid Serve config: injected" in failed["message"]
    dashboard.advance(10)
    await operator.until(lambda: is_ready(server))
    assert len(events_of(server, NAME, "SubmittedServeConfig")) == 1


async def test_fields_accepted_but_not_acted_on_are_named_in_one_event(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    await ready_sample(server, dashboard, user, operator, suspend=False, managedBy="someone-else")
    await operator.until(lambda: operator.caught_up(server, KEY))
    (ignored,) = events_of(server, NAME, "IgnoredFields")
    assert ignored["type"] == "Warning" and ignored["count"] == 1
    assert ignored["message"] == "Accepted but not acted on: spec.managedBy: someone-else"


async def test_an_old_cluster_held_by_its_redis_cleanup_finalizer_is_deleted_once_however_many_passes_follow(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    # GCS fault tolerance: the old cluster keeps its finalizer until its Redis cleanup Job ends (no Job runs here)
    gcs_ft = {"gcsFaultToleranceOptions": {"redisAddress": "redis:6379"}}
    base = sample_rayservice()["spec"]["rayClusterConfig"]
    old = await ready_sample(server, dashboard, user, operator, rayClusterDeletionDelaySeconds=1,
                             rayClusterConfig={**base, **gcs_ft})
    await user.patch(RAY_SERVICES, NAME, {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}, namespace=NAMESPACE)
    await operator.until(lambda: pending_cluster(server) not in ("", old) and head_ip(server, pending_cluster(server)))
    new_address = head_ip(server, pending_cluster(server))
    await operator.until(lambda: puts(dashboard, new_address) == 1)
    dashboard.advance(10)
    await operator.until(lambda: active_cluster(server) not in ("", old) and bool(events_of(server, NAME,
                                                                                            "DeletedCluster")))
    lingering = stored(server, CLUSTERS_GR, old) or {}
    assert lingering["metadata"].get("deletionTimestamp") and lingering["metadata"].get("finalizers")
    for price in (4, 5, 6):  # three more passes, each with a Serve PUT, while the old cluster lingers
        serve = sample_rayservice()["spec"]["serveConfigV2"].replace("price: 3", f"price: {price}")
        await user.patch(RAY_SERVICES, NAME, {"spec": {"serveConfigV2": serve}}, namespace=NAMESPACE)
        await operator.until(lambda p=price: mango_price(dashboard, head_ip(server, active_cluster(server))) == p)
    dashboard.advance(1)
    await operator.until(lambda: operator.idle)

    deletes = [r for r in writes_by(server, OPERATOR) if r.resource == "rayclusters" and r.verb == "delete"]
    assert [r.name for r in deletes] == [old]
    assert len(events_of(server, NAME, "DeletedCluster")) == 1
    assert stored(server, CLUSTERS_GR, old) is not None  # still held by the finalizer
