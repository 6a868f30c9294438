"""``spec.rolloutPolicy`` against the embedded API server and the fake Ray dashboard: the schema's refusals, a
cluster upgrade and an in-place Serve update given up and rolled back (or waited for), the retry annotation, and an
operator restarted in the middle of a rollback."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.api import ObjectKey
from rayservice.controller.rayservice import LAST_GOOD_ANNOTATION, RETRY_ANNOTATION, decode_last_good
from rayservice.kube import RAY_SERVICES, Invalid, KubeClient
from tests.integration.rayservice.conftest import Operators
from tests.integration.rayservice_harness import (
    CLUSTERS_GR,
    NAMESPACE,
    Operator,
    ShiftedClock,
    cluster_creates,
    clusters_of,
    condition,
    events_of,
    puts,
    sample_rayservice,
    selector_of,
    status_of,
    stored,
)

NAME = "rayservice-sample"
KEY = ObjectKey(NAMESPACE, NAME)
SERVE_SVC = f"{NAME}-serve-svc"
FRUIT = "fruit.deployment_graph"
BROKEN = "fruit.broken_graph"
POLICY = {"timeoutSeconds": 600}


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


def pending_up(server: LocalApiServer, old: str) -> bool:
    """A pending cluster other than ``old`` exists and its head has an IP."""
    pending = pending_cluster(server)
    return pending not in ("", old) and bool(head_ip(server, pending))


def failed_rollout(server: LocalApiServer) -> dict[str, Any]:
    return dict(status_of(server, NAME).get("failedRollout") or {})


def import_path(dashboard: FakeRayDashboard, address: str) -> str:
    app = dashboard.cluster(address).answer(dashboard.now())["applications"]["fruit_app"]
    return str(app["deployed_app_config"]["import_path"])


def broken_serve() -> str:
    serve = str(sample_rayservice()["spec"]["serveConfigV2"])
    assert FRUIT in serve
    return serve.replace(FRUIT, BROKEN)


def last_good(server: LocalApiServer, cluster: str) -> dict[str, Any] | None:
    annotations = ((stored(server, CLUSTERS_GR, cluster) or {}).get("metadata") or {}).get("annotations") or {}
    return decode_last_good(annotations.get(LAST_GOOD_ANNOTATION))


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
    await operator.until(
        lambda: condition(server, NAME, "Ready").get("status") == "True" and bool(active_cluster(server))
    )
    return active_cluster(server)


async def failing_upgrade(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator, clock: ShiftedClock
) -> tuple[str, str]:
    """A ready sample, then a cluster upgrade whose Serve config goes DEPLOY_FAILED on the pending cluster, the
    grace period passed: the (active, pending) clusters."""
    old = await ready_sample(server, dashboard, user, operator, rolloutPolicy=POLICY, rayClusterDeletionDelaySeconds=0)
    dashboard.fail_deploy(BROKEN)
    change = {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}, "serveConfigV2": broken_serve()}}
    await user.patch(RAY_SERVICES, NAME, change, namespace=NAMESPACE)
    await operator.until(
        lambda: pending_cluster(server) not in ("", old) and bool(head_ip(server, pending_cluster(server)))
    )
    new = pending_cluster(server)
    await operator.until(lambda: puts(dashboard, head_ip(server, new)) >= 1)
    dashboard.advance(10)
    await operator.until(lambda: app_status(server, "pendingServiceStatus") == "DEPLOY_FAILED")
    clock.shift(31)  # past the DEPLOY_FAILED grace period
    return old, new


# ---- the schema ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "field", "words"),
    [
        ({"timeoutSeconds": 0}, "spec.rolloutPolicy.timeoutSeconds", "should be greater than or equal to 1"),
        ({"onFailure": "Retry"}, "spec.rolloutPolicy.onFailure", 'Unsupported value: "Retry"'),
    ],
)
async def test_the_api_server_refuses_a_bad_rollout_policy_naming_the_field(
    user: KubeClient, policy: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await user.create(RAY_SERVICES, sample_rayservice(rolloutPolicy=policy), namespace=NAMESPACE)
    assert field in str(refused.value) and words in str(refused.value)


async def test_a_rollout_policy_gets_its_defaults(user: KubeClient) -> None:
    made = await user.create(RAY_SERVICES, sample_rayservice(rolloutPolicy={}), namespace=NAMESPACE)
    assert made["spec"]["rolloutPolicy"] == {"timeoutSeconds": 900, "onFailure": "Rollback"}


# ---- a cluster upgrade ----------------------------------------------------------------------------------------


async def test_a_failing_cluster_upgrade_is_rolled_back_once_and_retried_only_when_asked(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    clock = ShiftedClock()
    operator = await operators.start(clock)
    old, new = await failing_upgrade(server, dashboard, user, operator, clock)
    old_puts = puts(dashboard, head_ip(server, old))
    await reconciled(operator)
    await operator.until(lambda: clusters_of(server, NAME) == [old] and not pending_cluster(server))

    failed = failed_rollout(server)
    assert (failed["kind"], failed["rayClusterName"], failed["reason"], failed["action"]) == (
        "Cluster",
        new,
        "DeployFailed",
        "RolledBack",
    )
    assert "No module named 'fruit'" in failed["message"] and failed["clusterConfigHash"] and failed["serveConfigHash"]
    upgrade = condition(server, NAME, "UpgradeInProgress")
    assert (upgrade["status"], upgrade["reason"]) == ("False", "RolloutFailed")
    (event,) = events_of(server, NAME, "RolloutFailed")
    assert event["type"] == "Warning" and new in event["message"] and "DEPLOY_FAILED" in event["message"]
    assert selector_of(server, SERVE_SVC)["ray.io/cluster"] == old
    assert condition(server, NAME, "Ready")["status"] == "True"
    assert import_path(dashboard, head_ip(server, old)) == FRUIT  # the active cluster untouched
    assert operator.metrics.rollouts == [("rolled_back", pytest.approx(31, abs=10))]

    creates = len(cluster_creates(server))
    await reconciled(operator, 3)  # no create-delete loop for the same spec
    assert len(cluster_creates(server)) == creates and clusters_of(server, NAME) == [old]
    assert puts(dashboard, head_ip(server, old)) == old_puts

    dashboard.heal_deploy(BROKEN)
    await user.patch(RAY_SERVICES, NAME, {"metadata": {"annotations": {RETRY_ANNOTATION: "1"}}}, namespace=NAMESPACE)
    await operator.until(lambda: len(cluster_creates(server)) == creates + 1)
    await operator.until(lambda: not failed_rollout(server) and pending_cluster(server) not in ("", new))
    retried = pending_cluster(server)
    await operator.until(lambda: puts(dashboard, head_ip(server, retried)) >= 1)
    dashboard.advance(10)
    await operator.until(lambda: active_cluster(server) == retried and clusters_of(server, NAME) == [retried])
    # the pass that sees the old cluster gone ends the rollout (its record leaves the status)
    await operator.until(lambda: "rollout" not in status_of(server, NAME))
    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "NoPendingCluster"
    assert "failedRollout" not in status_of(server, NAME)


async def test_an_operator_restarted_mid_rollback_still_rolls_back_and_makes_no_second_pending_cluster(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    clock = ShiftedClock()
    operator = await operators.start(clock)
    old, new = await failing_upgrade(server, dashboard, user, operator, clock)
    refused = server.faults.add(FaultRule(code=500, count=None, resource="rayclusters", verb="delete"))
    await reconciled(operator)
    await operator.until(lambda: bool(failed_rollout(server)) and refused.hits >= 1)
    await operator.stop()  # the failure recorded, the pending cluster not deleted yet
    assert clusters_of(server, NAME) == sorted([old, new])
    refused.count = refused.hits
    creates = len(cluster_creates(server))

    restarted = await operators.start()  # a fresh process: its clock no longer shifted
    await restarted.until(lambda: clusters_of(server, NAME) == [old] and not pending_cluster(server))
    await reconciled(restarted, 3)
    assert clusters_of(server, NAME) == [old] and len(cluster_creates(server)) == creates
    assert failed_rollout(server)["rayClusterName"] == new
    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "RolloutFailed"
    assert len(events_of(server, NAME, "RolloutFailed")) == 1


async def test_with_on_failure_wait_the_pending_cluster_is_kept_and_the_failure_reported(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    clock = ShiftedClock()
    operator = await operators.start(clock)
    old = await ready_sample(server, dashboard, user, operator, rolloutPolicy={**POLICY, "onFailure": "Wait"})
    change = {"spec": {"rayClusterConfig": {"rayVersion": "2.60.1"}}}
    dashboard.stick(FRUIT)  # the pending cluster's app never leaves DEPLOYING
    await user.patch(RAY_SERVICES, NAME, change, namespace=NAMESPACE)
    await operator.until(
        lambda: pending_cluster(server) not in ("", old) and bool(head_ip(server, pending_cluster(server)))
    )
    new = pending_cluster(server)
    await operator.until(lambda: puts(dashboard, head_ip(server, new)) >= 1)
    await operator.until(lambda: status_of(server, NAME).get("rollout", {}).get("rayClusterName") == new)
    clock.shift(601)  # past the deadline
    await reconciled(operator, 3)
    await operator.until(lambda: bool(failed_rollout(server)))

    failed = failed_rollout(server)
    assert (failed["reason"], failed["action"]) == ("Timeout", "Waiting")
    assert clusters_of(server, NAME) == sorted([old, new]) and pending_cluster(server) == new
    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "RolloutFailed"
    assert len(events_of(server, NAME, "RolloutFailed")) == 1


# ---- an in-place Serve update -----------------------------------------------------------------------------


async def test_a_failing_in_place_update_is_replaced_by_the_last_good_config_and_not_sent_again(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operators: Operators
) -> None:
    clock = ShiftedClock()
    operator = await operators.start(clock)
    active = await ready_sample(server, dashboard, user, operator, rolloutPolicy=POLICY)
    address = head_ip(server, active)
    await operator.until(lambda: last_good(server, active) is not None)
    good = last_good(server, active)
    assert good is not None and good["applications"][0]["import_path"] == FRUIT

    dashboard.fail_deploy(BROKEN)
    before = puts(dashboard, address)
    await user.patch(RAY_SERVICES, NAME, {"spec": {"serveConfigV2": broken_serve()}}, namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard, address) == before + 1)
    dashboard.advance(10)
    await operator.until(lambda: app_status(server, "activeServiceStatus") == "DEPLOY_FAILED")
    assert status_of(server, NAME)["rollout"]["kind"] == "Serve"
    clock.shift(31)
    await reconciled(operator)
    await operator.until(lambda: puts(dashboard, address) == before + 2)  # the last good config, PUT back

    assert import_path(dashboard, address) == FRUIT
    failed = failed_rollout(server)
    assert (failed["kind"], failed["reason"], failed["action"]) == ("Serve", "DeployFailed", "RolledBack")
    dashboard.advance(10)
    await operator.until(lambda: app_status(server, "activeServiceStatus") == "RUNNING")
    assert condition(server, NAME, "UpgradeInProgress")["reason"] == "RolloutFailed"
    assert condition(server, NAME, "Ready")["status"] == "True"
    submitted = events_of(server, NAME, "SubmittedServeConfig")[-1]
    assert "the last good config" in submitted["message"]
    assert len(events_of(server, NAME, "RolloutFailed")) == 1
    assert operator.metrics.rollouts[-1][0] == "rolled_back"

    await reconciled(operator, 3)  # the failing config is not sent again
    assert puts(dashboard, address) == before + 2 and import_path(dashboard, address) == FRUIT
    assert clusters_of(server, NAME) == [active]


async def test_rollout_policy_with_upgrade_strategy_none_says_the_cluster_part_does_not_apply(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    await ready_sample(server, dashboard, user, operator, rolloutPolicy=POLICY, upgradeStrategy={"type": "None"})
    (event,) = events_of(server, NAME, "RolloutPolicyLimited")
    assert event["type"] == "Warning" and "upgradeStrategy.type is None" in event["message"]
