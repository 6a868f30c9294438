"""Acceptance of the RayService controller, with the RayCluster controller, against the embedded API server (simulated
node) and the fake Ray dashboard: upgrade strategy None, operator restarts at each step of an upgrade, an unreachable
dashboard, the unhealthy thresholds and their backoff, and the v1alpha1 form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import yaml

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.api import DELETE_AFTER_ANNOTATION, ObjectKey
from rayservice.controller.rayservice import REPLACEMENTS_ANNOTATION
from rayservice.kube import RAY_SERVICES, KubeClient, Resource
from tests.integration.rayservice.conftest import Operators
from tests.integration.rayservice_harness import (
    CLUSTERS_GR,
    NAMESPACE,
    ROOT,
    Operator,
    ShiftedClock,
    cluster_creates,
    clusters_of,
    condition,
    events_of,
    lift_failures,
    puts,
    sample_rayservice,
    selector_of,
    status_of,
    stored,
)

NAME = "rayservice-sample"
KEY = ObjectKey(NAMESPACE, NAME)
SERVE_SVC = f"{NAME}-serve-svc"
CLUSTER_LABEL = "ray.io/cluster"
FRUIT = "fruit.deployment_graph"
ALPHA_SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1alpha1_rayservice.yaml"
ALPHA_RAY_SERVICES = Resource("ray.io", "v1alpha1", "rayservices", kind="RayService")
NEW_VERSION = {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}


# ---- what a user sees --------------------------------------------------------------------------------


def active_cluster(server: LocalApiServer, name: str = NAME) -> str:
    return str((status_of(server, name).get("activeServiceStatus") or {}).get("rayClusterName") or "")


def pending_cluster(server: LocalApiServer, name: str = NAME) -> str:
    return str((status_of(server, name).get("pendingServiceStatus") or {}).get("rayClusterName") or "")


def head_ip(server: LocalApiServer, cluster: str) -> str:
    obj = stored(server, CLUSTERS_GR, cluster) or {}
    return str(((obj.get("status") or {}).get("head") or {}).get("podIP") or "")


def app_status(server: LocalApiServer, side: str = "activeServiceStatus", app: str = "fruit_app") -> str:
    apps = (status_of(server, NAME).get(side) or {}).get("applicationStatuses") or {}
    return str((apps.get(app) or {}).get("status") or "")


def is_ready(server: LocalApiServer, name: str = NAME) -> bool:
    return (
        condition(server, name, "Ready").get("status") == "True"
        and status_of(server, name).get("serviceStatus") == "Running"
    )


def ray_apps(dashboard: FakeRayDashboard, address: str) -> dict[str, Any]:
    return dict(dashboard.cluster(address).answer(dashboard.now())["applications"])


def user_config(dashboard: FakeRayDashboard, address: str, deployment: str, app: str = "fruit_app") -> Any:
    config = ray_apps(dashboard, address)[app]["deployed_app_config"]
    return {dep["name"]: dep for dep in config["deployments"]}[deployment].get("user_config")


def annotation(server: LocalApiServer, cluster: str, key: str) -> str | None:
    obj = stored(server, CLUSTERS_GR, cluster) or {}
    return (obj.get("metadata", {}).get("annotations") or {}).get(key)


def rayservice_named(name: str, **spec: Any) -> dict[str, Any]:
    body = sample_rayservice(**spec)
    body["metadata"]["name"] = name
    return body


async def reconciled(operator: Operator, times: int = 1) -> None:
    """Wake the RayService ``times`` and wait for each pass to end."""
    for _ in range(times):
        done = operator.metrics.reconciles["rayservice"]
        operator.services.enqueue(KEY)
        await operator.until(lambda done=done: operator.metrics.reconciles["rayservice"] > done)  # type: ignore[misc]


async def ready_sample(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator, **spec: Any
) -> str:
    await user.create(RAY_SERVICES, sample_rayservice(**spec), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) >= 1)
    dashboard.advance(10)
    # the fake runs a Serve proxy on the head only, so the worker is no serve endpoint
    await operator.until(lambda: is_ready(server) and status_of(server, NAME).get("numServeEndpoints") == 1)
    return active_cluster(server)


def new_serve_config(price: int) -> dict[str, Any]:
    serve = sample_rayservice()["spec"]["serveConfigV2"].replace("price: 3", f"price: {price}")
    return {"spec": {"serveConfigV2": serve}}


# ---- 1. upgradeStrategy None ------------------------------------------------------------------------


async def test_strategy_none_keeps_the_cluster_on_a_cluster_spec_change_and_still_applies_serve_changes(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator, upgradeStrategy={"type": "None"})
    address = head_ip(server, active)

    await user.patch(RAY_SERVICES, NAME, NEW_VERSION, namespace=NAMESPACE)
    await operator.until(
        lambda: (
            "upgradeStrategy.type is None" in condition(server, NAME, "UpgradeInProgress").get("message", "")
            and operator.caught_up(server, KEY)
        )
    )
    await reconciled(operator, 2)
    assert clusters_of(server, NAME) == [active] == [active_cluster(server)]
    assert len(cluster_creates(server)) == 1
    assert "pendingServiceStatus" not in status_of(server, NAME)
    assert (stored(server, CLUSTERS_GR, active) or {})["spec"]["rayVersion"] == "2.60.0"
    assert condition(server, NAME, "UpgradeInProgress")["status"] == "False"
    assert is_ready(server)

    before = puts(dashboard, address)
    await user.patch(RAY_SERVICES, NAME, new_serve_config(4), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard, address) == before + 1)
    assert user_config(dashboard, address, "MangoStand") == {"price": 4}
    dashboard.advance(1)
    await operator.until(lambda: app_status(server) == "RUNNING" and operator.caught_up(server, KEY))
    assert clusters_of(server, NAME) == [active]
    assert len(cluster_creates(server)) == 1
    assert puts(dashboard, address) == before + 1


# ---- 2. an operator restarted at each step of an upgrade -------------------------------------------


StopAt = Callable[[LocalApiServer, FakeRayDashboard, Operator, str], Awaitable[None]]


async def _until_pending_recorded_but_not_created(
    server: LocalApiServer, dashboard: FakeRayDashboard, operator: Operator, old: str
) -> None:
    refused = server.faults.add(FaultRule(code=500, count=None, resource="rayclusters", verb="create"))
    await operator.until(lambda: pending_cluster(server) not in ("", old) and refused.hits >= 1)
    await operator.stop()
    server.faults.rules.remove(refused)
    assert stored(server, CLUSTERS_GR, pending_cluster(server)) is None


async def _until_pending_exists_but_not_running(
    server: LocalApiServer, dashboard: FakeRayDashboard, operator: Operator, old: str
) -> None:
    await operator.until(
        lambda: pending_cluster(server) not in ("", old) and bool(head_ip(server, pending_cluster(server)))
    )
    await operator.until(lambda: app_status(server, "pendingServiceStatus") in ("NOT_STARTED", "DEPLOYING"))
    await operator.stop()
    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == old


async def _until_switched_but_old_not_due(
    server: LocalApiServer, dashboard: FakeRayDashboard, operator: Operator, old: str
) -> None:
    await operator.until(
        lambda: pending_cluster(server) not in ("", old) and bool(head_ip(server, pending_cluster(server)))
    )
    new = pending_cluster(server)
    await operator.until(lambda: puts(dashboard, head_ip(server, new)) == 1)
    dashboard.advance(10)
    await operator.until(
        lambda: active_cluster(server) == new and annotation(server, old, DELETE_AFTER_ANNOTATION) is not None
    )
    await operator.stop()
    assert clusters_of(server, NAME) == sorted([old, new])


@pytest.mark.parametrize(
    ("stop_at", "deletion_delay_s"),
    [
        pytest.param(_until_pending_recorded_but_not_created, 0, id="pending-recorded-not-created"),
        pytest.param(_until_pending_exists_but_not_running, 0, id="pending-exists-not-running"),
        pytest.param(_until_switched_but_old_not_due, 3, id="switched-before-old-deadline"),
    ],
)
async def test_an_operator_restarted_at_any_step_of_an_upgrade_converges_with_no_extra_cluster_or_put(
    server: LocalApiServer,
    dashboard: FakeRayDashboard,
    user: KubeClient,
    operators: Operators,
    stop_at: StopAt,
    deletion_delay_s: int,
) -> None:
    first = await operators.start()
    old = await ready_sample(server, dashboard, user, first, rayClusterDeletionDelaySeconds=deletion_delay_s)
    old_address = head_ip(server, old)
    await user.patch(RAY_SERVICES, NAME, NEW_VERSION, namespace=NAMESPACE)
    await stop_at(server, dashboard, first, old)
    new = pending_cluster(server) or active_cluster(server)
    assert new != old

    second = await operators.start()
    await second.until(lambda: bool(head_ip(server, new)) and puts(dashboard, head_ip(server, new)) >= 1)
    dashboard.advance(10)
    await second.until(
        lambda: active_cluster(server) == new and clusters_of(server, NAME) == [new] and second.caught_up(server, KEY)
    )

    assert selector_of(server, SERVE_SVC)[CLUSTER_LABEL] == new
    assert pending_cluster(server) == "" and is_ready(server)
    assert len(cluster_creates(server)) == 2
    assert puts(dashboard, head_ip(server, new)) == 1
    assert puts(dashboard, old_address) == 1
    assert len(events_of(server, NAME, "SwitchedTraffic")) == 2
    assert len(events_of(server, NAME, "DeletedCluster")) == 1


# ---- 3. an unreachable dashboard --------------------------------------------------------------------


def _outage_by_delay(dashboard: FakeRayDashboard, address: str) -> Callable[[], None]:
    dashboard.delay(3.0, address=address)  # beyond the operator's 2 s dashboard timeout
    return lambda: dashboard.delay(0.0, address=address)


def _outage_by_errors(dashboard: FakeRayDashboard, address: str) -> Callable[[], None]:
    dashboard.fail_next(10**6, 503, address=address, body="injected: dashboard down")
    return lambda: lift_failures(dashboard, address)


@pytest.mark.parametrize("outage", [_outage_by_delay, _outage_by_errors], ids=["delayed", "failing"])
async def test_an_unreachable_dashboard_blocks_no_other_rayservice_and_its_service_recovers(
    server: LocalApiServer,
    dashboard: FakeRayDashboard,
    user: KubeClient,
    operator: Operator,
    outage: Callable[[FakeRayDashboard, str], Callable[[], None]],
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    address = head_ip(server, active)
    recover = outage(dashboard, address)
    reads = dashboard.request_count(address, method="GET")
    await user.patch(RAY_SERVICES, NAME, new_serve_config(4), namespace=NAMESPACE)
    await operator.until(lambda: dashboard.request_count(address, method="GET") >= reads + 2)

    await user.create(RAY_SERVICES, rayservice_named("second"), namespace=NAMESPACE)
    await operator.until(lambda: len(clusters_of(server, "second")) == 1)
    (other,) = clusters_of(server, "second")
    await operator.until(lambda: bool(head_ip(server, other)) and puts(dashboard, head_ip(server, other)) == 1)
    dashboard.advance(10)
    await operator.until(lambda: is_ready(server, "second"))
    assert user_config(dashboard, address, "MangoStand") == {"price": 3}  # the outage held the change back
    assert puts(dashboard, address) == 1
    assert clusters_of(server, NAME) == [active]  # no threshold set: nothing replaced

    recover()
    operator.services.enqueue(KEY)
    await operator.until(lambda: puts(dashboard, address) == 2)
    assert user_config(dashboard, address, "MangoStand") == {"price": 4}
    dashboard.advance(1)
    await operator.until(lambda: app_status(server) == "RUNNING" and is_ready(server) and operator.idle)
    assert clusters_of(server, NAME) == [active]


async def test_an_unreachable_dashboard_shows_in_the_rayservice_conditions(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    address = head_ip(server, active)
    dashboard.delay(3.0, address=address)
    try:
        await reconciled(operator)
        await operator.until(lambda: "dashboard" in _ready_message(server))
        assert status_of(server, NAME).get("serviceStatus") == "Running"  # the proxies still serve
    finally:
        dashboard.delay(0.0, address=address)
    await reconciled(operator)
    await operator.until(lambda: "dashboard" not in _ready_message(server))


def _ready_message(server: LocalApiServer) -> str:
    conditions = status_of(server, NAME).get("conditions") or []
    return next((str(c.get("message", "")).lower() for c in conditions if c.get("type") == "Ready"), "")


# ---- 4. unhealthy thresholds and the backoff between replacements -----------------------------------


async def test_an_app_unhealthy_past_the_threshold_gets_one_replacement_and_the_next_only_after_the_backoff(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    clock = ShiftedClock()
    operator = await operators.start(clock)
    first = await ready_sample(
        server, dashboard, user, operator, serviceUnhealthySecondThreshold=10, rayClusterDeletionDelaySeconds=0
    )

    dashboard.fail_deploy(FRUIT)
    await reconciled(operator)
    await operator.until(lambda: app_status(server) == "DEPLOY_FAILED" and operator.caught_up(server, KEY))
    await reconciled(operator)
    assert clusters_of(server, NAME) == [first]  # below the threshold

    clock.shift(11)
    await reconciled(operator)
    await operator.until(lambda: pending_cluster(server) not in ("", first))
    second = pending_cluster(server)
    await operator.until(lambda: bool(head_ip(server, second)) and puts(dashboard, head_ip(server, second)) == 1)
    await reconciled(operator, 3)  # still past the threshold, but a replacement is pending
    assert clusters_of(server, NAME) == sorted([first, second])
    assert len(cluster_creates(server)) == 2
    assert annotation(server, second, REPLACEMENTS_ANNOTATION) == "1"

    dashboard.heal_deploy(FRUIT)
    dashboard.advance(10)
    await operator.until(lambda: active_cluster(server) == second and clusters_of(server, NAME) == [second])

    dashboard.fail_deploy(FRUIT)
    await reconciled(operator)
    await operator.until(lambda: app_status(server) == "DEPLOY_FAILED" and operator.caught_up(server, KEY))
    clock.shift(11)  # past the threshold, within 60 s of the replacement's creation
    await reconciled(operator, 3)
    assert clusters_of(server, NAME) == [second]
    assert len(cluster_creates(server)) == 2

    clock.shift(60)  # past the backoff
    await reconciled(operator)
    await operator.until(lambda: pending_cluster(server) not in ("", second))
    third = pending_cluster(server)
    assert clusters_of(server, NAME) == sorted([second, third])
    assert len(cluster_creates(server)) == 3
    assert annotation(server, third, REPLACEMENTS_ANNOTATION) == "2"


# ---- 5. the v1alpha1 form ---------------------------------------------------------------------------


async def test_the_v1alpha1_sample_deploys_one_translated_application_and_becomes_running(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    body: dict[str, Any] = yaml.safe_load(ALPHA_SAMPLE.read_text())
    body["metadata"]["namespace"] = NAMESPACE
    await user.create(ALPHA_RAY_SERVICES, body, namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) == 1)
    dashboard.advance(10)
    await operator.until(lambda: is_ready(server) and operator.caught_up(server, KEY))

    active = active_cluster(server)
    address = head_ip(server, active)
    assert puts(dashboard) == puts(dashboard, address) == 1
    apps = ray_apps(dashboard, address)
    assert list(apps) == ["default"]
    config = apps["default"]["deployed_app_config"]
    assert config["import_path"] == FRUIT
    assert config["route_prefix"] == "/"
    assert config["runtime_env"] == {
        "working_dir": "https://github.com/ray-project/test_dag/archive/78b4a5da38796123d9f9ffff59bab2792a043e95.zip"
    }
    assert [dep["name"] for dep in config["deployments"]] == ["MangoStand", "OrangeStand", "PearStand", "FruitMarket"]
    assert user_config(dashboard, address, "MangoStand", "default") == {"price": 3}
    assert user_config(dashboard, address, "PearStand", "default") == {"price": 1}
    assert apps["default"]["status"] == "RUNNING"
    assert app_status(server, app="default") == "RUNNING"
    assert status_of(server, NAME)["serviceStatus"] == "Running"
    assert clusters_of(server, NAME) == [active]


# ---- 6. the ray.io/serve pod label ------------------------------------------------------------------

PODS_GR = ("", "pods")


def serve_labels(server: LocalApiServer, cluster: str) -> dict[str, str]:
    """Node type -> ``ray.io/serve`` label of the cluster's pods (one pod per type in the sample)."""
    return {
        labels["ray.io/node-type"]: labels.get("ray.io/serve", "")
        for labels in (p["metadata"].get("labels") or {} for p in server.store.list(PODS_GR, NAMESPACE))
        if labels.get(CLUSTER_LABEL) == cluster
    }


def endpoints(server: LocalApiServer) -> Any:
    return status_of(server, NAME).get("numServeEndpoints")


async def test_a_head_whose_proxy_is_unhealthy_leaves_the_serve_service_until_it_is_healthy_again(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    address = head_ip(server, active)
    assert serve_labels(server, active) == {"head": "true", "worker": "false"}  # no proxy on the worker
    ray = dashboard.cluster(address)
    healthy_answer = ray.answer
    proxy_status = {"status": "UNHEALTHY"}

    def answer(now: float) -> dict[str, Any]:
        reply = healthy_answer(now)
        for proxy in reply["proxies"].values():
            proxy.update(proxy_status)
        return reply

    ray.answer = answer  # type: ignore[method-assign]
    operator.services.enqueue(KEY)
    await operator.until(lambda: serve_labels(server, active)["head"] == "false" and endpoints(server) == 0)
    assert serve_labels(server, active)["worker"] == "false"
    assert selector_of(server, SERVE_SVC) == {CLUSTER_LABEL: active, "ray.io/serve": "true"}

    proxy_status["status"] = "HEALTHY"
    operator.services.enqueue(KEY)
    await operator.until(lambda: serve_labels(server, active)["head"] == "true" and endpoints(server) == 1)
    assert clusters_of(server, NAME) == [active]


def worker_ip(server: LocalApiServer, cluster: str) -> str:
    for pod in server.store.list(PODS_GR, NAMESPACE):
        labels = pod["metadata"].get("labels") or {}
        if labels.get(CLUSTER_LABEL) == cluster and labels.get("ray.io/node-type") == "worker":
            return str(pod["status"]["podIP"])
    raise AssertionError(f"no worker pod of {cluster}")


async def test_a_worker_that_runs_a_proxy_joins_the_serve_service(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    active = await ready_sample(server, dashboard, user, operator)
    ray = dashboard.cluster(head_ip(server, active))
    plain_answer = ray.answer
    worker = worker_ip(server, active)

    def answer(now: float) -> dict[str, Any]:
        reply = plain_answer(now)
        reply["proxies"]["worker-node"] = {"node_id": "worker-node", "node_ip": worker, "status": "HEALTHY"}
        return reply

    ray.answer = answer  # type: ignore[method-assign]
    operator.services.enqueue(KEY)
    await operator.until(lambda: serve_labels(server, active) == {"head": "true", "worker": "true"}
                         and endpoints(server) == 2)


async def test_an_excluded_head_is_labelled_out_of_the_serve_service(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    await user.create(RAY_SERVICES, sample_rayservice(excludeHeadPodFromServeSvc=True), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) >= 1 and len(clusters_of(server, NAME)) == 1)
    pending = clusters_of(server, NAME)[0]
    await operator.until(lambda: len(serve_labels(server, pending)) == 2)
    ray = dashboard.cluster(head_ip(server, pending))
    plain_answer, worker = ray.answer, worker_ip(server, pending)

    def answer(now: float) -> dict[str, Any]:  # with the head excluded, Serve runs its replicas on the worker
        reply = plain_answer(now)
        reply["proxies"]["worker-node"] = {"node_id": "worker-node", "node_ip": worker, "status": "HEALTHY"}
        return reply

    ray.answer = answer  # type: ignore[method-assign]
    dashboard.advance(10)
    await operator.until(lambda: is_ready(server) and operator.caught_up(server, KEY))
    active = active_cluster(server)
    assert serve_labels(server, active) == {"head": "false", "worker": "true"}
    assert endpoints(server) == 1
    assert selector_of(server, SERVE_SVC)["ray.io/serve"] == "true"
