"""The RayService status: conditions and reasons, cluster sides, endpoints, write-only-on-change, requeue pace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rayservice.api import format_kube_time
from rayservice.api.serve import Problem
from rayservice.controller.rayservice import (
    CONVERGING_REQUEUE_S,
    FAILING_REQUEUE_S,
    STARTING_REQUEUE_S,
    STEADY_REQUEUE_S,
    ClusterReport,
    compute_status,
    count_serve_endpoints,
    requeue_after_s,
)
from tests.unit.controller.rayservice.samples import NAMESPACE, NOW, rayservice

LATER = NOW + timedelta(seconds=30)
APPS = {"fruit_app": {"status": "RUNNING", "message": "", "healthLastUpdateTime": "2026-01-01T11:00:00Z"}}
CLUSTER_STATUS = {"state": "ready", "head": {"podIP": "127.16.0.2"}}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def active(name: str = "a", apps: dict[str, Any] | None = APPS) -> ClusterReport:
    return ClusterReport(name, CLUSTER_STATUS, apps)


def test_a_ready_service_is_running_with_its_cluster_its_apps_and_its_endpoints() -> None:
    status = compute_status(rayservice(generation=3), now=NOW, active=active(), serve_endpoints=2)
    assert status["serviceStatus"] == "Running"
    assert status["numServeEndpoints"] == 2
    assert status["observedGeneration"] == 3
    assert status["activeServiceStatus"] == {
        "rayClusterName": "a",
        "rayClusterStatus": CLUSTER_STATUS,
        "applicationStatuses": APPS,
    }
    assert "pendingServiceStatus" not in status
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "NonZeroServeEndpoints", 3)
    assert condition(status, "UpgradeInProgress")["reason"] == "NoPendingCluster"
    assert status["lastUpdateTime"] == format_kube_time(NOW)


def test_a_converged_status_computed_again_is_identical_so_nothing_is_written() -> None:
    first = compute_status(rayservice(), now=NOW, active=active(), serve_endpoints=2)
    again = compute_status(rayservice(status=first), now=LATER, active=active(), serve_endpoints=2)
    assert again == first


def test_last_update_time_moves_only_when_something_else_changed() -> None:
    first = compute_status(rayservice(), now=NOW, active=active(), serve_endpoints=2)
    changed = compute_status(rayservice(status=first), now=LATER, active=active(), serve_endpoints=1)
    assert changed["lastUpdateTime"] == format_kube_time(LATER)
    assert condition(changed, "Ready")["lastTransitionTime"] == format_kube_time(NOW)  # still True


def test_while_the_first_cluster_starts_both_conditions_say_initializing() -> None:
    status = compute_status(rayservice(), now=NOW, pending=ClusterReport("p"))
    assert condition(status, "Ready")["reason"] == "Initializing"
    assert condition(status, "UpgradeInProgress")["reason"] == "Initializing"
    assert condition(status, "UpgradeInProgress")["status"] == "False"
    assert status["serviceStatus"] == "" and status["numServeEndpoints"] == 0
    assert status["pendingServiceStatus"] == {"rayClusterName": "p", "applicationStatuses": {}}


def test_an_upgrade_in_progress_names_both_clusters() -> None:
    status = compute_status(rayservice(), now=NOW, active=active(), pending=ClusterReport("p"), serve_endpoints=1)
    upgrade = condition(status, "UpgradeInProgress")
    assert (upgrade["status"], upgrade["reason"]) == ("True", "BothActivePendingClustersExist")
    assert "p" in upgrade["message"] and "a" in upgrade["message"]
    assert status["serviceStatus"] == "Running"


def test_an_active_cluster_without_endpoints_is_not_ready() -> None:
    status = compute_status(rayservice(), now=NOW, active=active(), serve_endpoints=0)
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ZeroServeEndpoints")
    assert status["serviceStatus"] == ""


def test_losing_the_active_cluster_after_it_served_is_no_active_cluster_not_initializing() -> None:
    served = compute_status(rayservice(), now=NOW, active=active(), serve_endpoints=1)
    lost = compute_status(rayservice(status=served), now=LATER, pending=ClusterReport("p"))
    assert condition(lost, "UpgradeInProgress")["status"] == "Unknown"
    assert condition(lost, "UpgradeInProgress")["reason"] == "NoActiveCluster"
    assert condition(lost, "Ready")["reason"] == "ZeroServeEndpoints"
    assert condition(lost, "Ready")["lastTransitionTime"] == format_kube_time(LATER)


def test_a_kept_outdated_cluster_is_named_in_the_upgrade_condition() -> None:
    status = compute_status(rayservice(), now=NOW, active=active(), serve_endpoints=1, kept_outdated=True)
    assert "upgradeStrategy.type is None" in condition(status, "UpgradeInProgress")["message"]


def test_applications_not_read_this_pass_keep_what_the_status_said_of_that_cluster_on_either_side() -> None:
    upgrading = compute_status(
        rayservice(), now=NOW, active=active("a"), pending=ClusterReport("p", None, APPS), serve_endpoints=1
    )
    switched = compute_status(rayservice(status=upgrading), now=LATER, active=ClusterReport("p"), serve_endpoints=1)
    assert switched["activeServiceStatus"]["applicationStatuses"] == APPS


def test_validation_problems_keep_the_status_and_fail_ready_with_every_problem() -> None:
    served = compute_status(rayservice(), now=NOW, active=active(), serve_endpoints=2)
    problems = [Problem("serveConfigV2", "line 4, column 4: bad"), Problem("metadata.name", "too long")]
    status = compute_status(rayservice(status=served, generation=2), now=LATER, problems=problems)
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ValidationFailed")
    assert "serveConfigV2: line 4, column 4: bad" in ready["message"] and "metadata.name: too long" in ready["message"]
    assert status["activeServiceStatus"] == served["activeServiceStatus"]
    assert condition(status, "UpgradeInProgress") == condition(served, "UpgradeInProgress")
    assert status["serviceStatus"] == "" and status["observedGeneration"] == 2


def test_conditions_of_other_types_are_kept() -> None:
    foreign = {"type": "Custom", "status": "True", "reason": "Mine"}
    status = compute_status(rayservice(status={"conditions": [foreign]}), now=NOW, active=active(), serve_endpoints=1)
    assert status["conditions"][0] == foreign


def endpoint_slice(service: str, *endpoints: tuple[str, bool | None], namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
        "endpoints": [
            {
                "addresses": [f"10.0.0.{i}"],
                "targetRef": {"name": pod},
                "conditions": {} if ready is None else {"ready": ready},
            }
            for i, (pod, ready) in enumerate(endpoints)
        ],
    }


def test_serve_endpoints_count_distinct_ready_pods_of_the_service_in_its_namespace() -> None:
    slices = [
        endpoint_slice("svc", ("head", True), ("worker", None), ("starting", False)),
        endpoint_slice("svc", ("worker", True)),
        endpoint_slice("svc", ("elsewhere", True), namespace="other"),
        endpoint_slice("another", ("x", True)),
    ]
    assert count_serve_endpoints(slices, service="svc", namespace=NAMESPACE) == 2


def test_no_requeue_for_an_invalid_spec() -> None:
    assert requeue_after_s(valid=False, pace="converging") is None


@pytest.mark.parametrize(("pace", "expected"), [("starting", STARTING_REQUEUE_S), ("converging", CONVERGING_REQUEUE_S)])
def test_short_requeues_while_converging(pace: Any, expected: float) -> None:
    assert requeue_after_s(valid=True, pace=pace) == expected <= 2.0


def test_steady_requeues_keep_within_two_dashboard_reads_a_minute_with_jitter() -> None:
    delays = [requeue_after_s(valid=True, pace="steady", jitter=j / 10) for j in range(11)]
    low, high = 0.8 * STEADY_REQUEUE_S, 1.2 * STEADY_REQUEUE_S
    assert 30.0 <= low and high <= 120.0
    assert all(d is not None and low - 1e-9 <= d <= high + 1e-9 for d in delays)
    assert len(set(delays)) == 11
    assert max(d for d in delays if d is not None) - min(d for d in delays if d is not None) >= 0.3 * STEADY_REQUEUE_S


def test_dashboard_failures_back_off_exponentially_up_to_a_minute() -> None:
    delays = [requeue_after_s(valid=True, pace="steady", ray_failures=n) for n in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_deadline_ahead_shortens_the_wait() -> None:
    assert requeue_after_s(valid=True, pace="steady", wake_in_s=3.0) == 3.0
    assert requeue_after_s(valid=True, pace="steady", wake_in_s=-1.0) == 0.0


def test_a_silent_dashboard_is_named_in_ready_without_taking_ready_away() -> None:
    report = ClusterReport("a", CLUSTER_STATUS, None, dashboard_unreachable=True)
    status = compute_status(rayservice(), now=NOW, active=report, serve_endpoints=2)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and "dashboard of RayCluster a is not answering" in ready["message"]
    report = ClusterReport("a", CLUSTER_STATUS, None, dashboard_unreachable=True, dashboard_error="answered HTTP 500")
    status = compute_status(rayservice(), now=NOW, active=report, serve_endpoints=2)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["message"] == (
        "Serving on RayCluster a; the Ray dashboard of RayCluster a answered HTTP 500, so Serve status is not current"
    )
    healthy = compute_status(rayservice(), now=NOW, active=ClusterReport("a", CLUSTER_STATUS, None), serve_endpoints=2)
    assert "dashboard" not in next(c for c in healthy["conditions"] if c["type"] == "Ready")["message"]


FAILED_APP = {
    "status": "DEPLOY_FAILED",
    "message": "Deploying app 'fruit_app' failed:\n  ModuleNotFoundError: No module named 'broken'",
    "healthLastUpdateTime": "2026-01-01T11:00:00Z",
}


def test_while_initializing_ready_names_each_failed_application_and_rays_message() -> None:
    apps = {"fruit_app": FAILED_APP, "math_app": {**APPS["fruit_app"], "status": "UNHEALTHY", "message": ""},
            "ok_app": APPS["fruit_app"]}
    status = compute_status(rayservice(), now=NOW, pending=ClusterReport("p", CLUSTER_STATUS, apps))
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ServeDeployFailed")
    assert ready["message"] == (
        "RayService is initializing, but on RayCluster p application fruit_app is DEPLOY_FAILED: Deploying app "
        "'fruit_app' failed: ModuleNotFoundError: No module named 'broken'; application math_app is UNHEALTHY"
    )
    assert status["serviceStatus"] == ""
    upgrade = condition(status, "UpgradeInProgress")
    assert upgrade["reason"] == "Initializing"  # still initializing: the first cluster never became active
    again = compute_status(rayservice(status=status), now=LATER, pending=ClusterReport("p", CLUSTER_STATUS, None))
    assert condition(again, "Ready") == ready  # unobserved this pass: what the status said still holds


def test_while_initializing_a_long_ray_message_is_clipped_and_a_deploying_app_is_just_initializing() -> None:
    long = {**FAILED_APP, "message": "x" * 5000}
    status = compute_status(rayservice(), now=NOW, pending=ClusterReport("p", CLUSTER_STATUS, {"a": long}))
    assert len(condition(status, "Ready")["message"]) < 700
    deploying = {"a": {**FAILED_APP, "status": "DEPLOYING", "message": ""}}
    status = compute_status(rayservice(), now=NOW, pending=ClusterReport("p", CLUSTER_STATUS, deploying))
    ready = condition(status, "Ready")
    assert (ready["reason"], ready["message"]) == ("Initializing", "RayService is initializing")


def test_while_initializing_a_failed_dashboard_read_is_named_with_its_kind() -> None:
    pending = ClusterReport("p", CLUSTER_STATUS, None, dashboard_unreachable=True,
                            dashboard_error="did not answer within 2 s")
    ready = condition(compute_status(rayservice(), now=NOW, pending=pending), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Initializing")
    assert ready["message"] == "RayService is initializing; the Ray dashboard of RayCluster p did not answer within 2 s"


def test_a_failing_application_is_looked_at_again_within_10_to_15_s_not_at_the_steady_pace() -> None:
    delays = [requeue_after_s(valid=True, pace="failing", jitter=j / 10) for j in range(10)]
    assert 10.0 <= min(delays) and max(delays) < 15.0 and len(set(delays)) > 1
    assert FAILING_REQUEUE_S * 0.8 >= 10.0
    assert requeue_after_s(valid=True, pace="failing", ray_failures=3) == 4.0  # a silent dashboard backs off
