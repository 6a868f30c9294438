"""A new cluster's head readiness and whether a failed Serve PUT is worth a Warning (serve_start.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rayservice.controller.rayservice.serve_start import (
    SERVE_START_GRACE_S,
    HeadReadiness,
    head_readiness,
    is_serve_starting,
    is_transient,
)
from rayservice.ray import DashboardRejected, DashboardUnavailable
from tests.unit.controller.rayservice.samples import NOW, raw_cluster


def stamp(ago_s: float) -> str:
    return (NOW - timedelta(seconds=ago_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(node_type: str = "head", *, phase: str = "Running", ready: str = "True", ready_ago_s: float | None = 5,
        deleting: bool = False) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "Ready", "status": ready}
    if ready_ago_s is not None:
        condition["lastTransitionTime"] = stamp(ready_ago_s)
    meta: dict[str, Any] = {"name": f"p-{node_type}", "labels": {"ray.io/node-type": node_type}}
    if deleting:
        meta["deletionTimestamp"] = stamp(1)
    return {"metadata": meta, "status": {"phase": phase, "conditions": [condition]}}


def cluster(head_pod_ready: str | None = None, ago_s: float = 5) -> dict[str, Any]:
    c = raw_cluster("p")
    if head_pod_ready is not None:
        c["status"] = {"conditions": [{"type": "HeadPodReady", "status": head_pod_ready,
                                       "lastTransitionTime": stamp(ago_s)}]}
    return c


def test_a_running_ready_head_pod_is_ready_since_its_ready_transition() -> None:
    assert head_readiness(cluster(), [pod(ready_ago_s=7), pod("worker", ready="False")]) == HeadReadiness(
        True, NOW - timedelta(seconds=7))


def test_a_head_pod_that_is_not_running_and_ready_is_not_ready_whatever_the_cluster_says() -> None:
    for head in (pod(ready="False"), pod(phase="Pending")):
        assert head_readiness(cluster("True"), [head]) == HeadReadiness(False), head


def test_a_head_pod_being_deleted_does_not_count() -> None:
    assert head_readiness(cluster("True", ago_s=40), [pod(deleting=True)]) == HeadReadiness(
        True, NOW - timedelta(seconds=40))
    assert head_readiness(cluster("False"), [pod(deleting=True)]) == HeadReadiness(False)


def test_without_head_pods_the_clusters_head_pod_ready_condition_decides() -> None:
    assert head_readiness(cluster("True", ago_s=30), []) == HeadReadiness(True, NOW - timedelta(seconds=30))
    assert head_readiness(cluster("False"), []) == HeadReadiness(False)
    assert head_readiness(cluster(), []) == HeadReadiness(True)  # nothing known but the dashboard's answer


def test_a_ready_head_without_a_transition_time_is_ready_since_an_unknown_time() -> None:
    assert head_readiness(cluster(), [pod(ready_ago_s=None)]) == HeadReadiness(True, None)


def test_serve_is_starting_while_the_head_has_been_ready_for_less_than_the_grace_period() -> None:
    assert is_serve_starting(HeadReadiness(True, NOW - timedelta(seconds=3)), NOW)
    assert is_serve_starting(HeadReadiness(True, NOW - timedelta(seconds=SERVE_START_GRACE_S - 1)), NOW)


def test_serve_is_not_starting_once_the_grace_period_passed_or_when_the_start_is_unknown() -> None:
    assert not is_serve_starting(HeadReadiness(True, NOW - timedelta(seconds=SERVE_START_GRACE_S)), NOW)
    assert not is_serve_starting(HeadReadiness(True, None), NOW)
    assert not is_serve_starting(HeadReadiness(False), NOW)
    assert not is_serve_starting(HeadReadiness(True, NOW - timedelta(seconds=10)), NOW, grace_s=5)


def test_no_answer_and_server_errors_are_transient_a_refused_config_is_not() -> None:
    assert is_transient(DashboardUnavailable("connection refused"))
    assert is_transient(TimeoutError())
    assert is_transient(DashboardRejected(503, "Serve is starting"))
    assert not is_transient(DashboardRejected(400, "Invalid Serve config"))
    assert not is_transient(ValueError("anything else"))
