"""compute_status and requeue_after_s: what kubectl shows for a RayCluster, and when to look again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from rayservice.controller.raycluster import (
    STARTING_REQUEUE_S,
    Problem,
    compute_status,
    desired_head_service,
    plan_pods,
    requeue_after_s,
)
from tests.unit.controller.raycluster.samples import cluster, group, observed

T0 = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def pods_for(spec: dict[str, Any], **state: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The head and the workers the plan creates for ``spec``, observed in ``state``."""
    plan = plan_pods(spec, [], in_flight=set(), rng=random.Random(0))
    pods = [observed(pod, **state) for pod in plan.create]
    head = next(pod for pod in pods if pod["metadata"]["labels"]["ray.io/node-type"] == "head")
    return head, [pod for pod in pods if pod is not head]


def service(spec: dict[str, Any], **spec_fields: Any) -> dict[str, Any]:
    svc = desired_head_service(spec)
    svc["spec"].update({"clusterIP": "10.96.0.20", **spec_fields})
    return svc


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {condition["type"]: condition for condition in status["conditions"]}


class TestState:
    def test_a_cluster_whose_head_and_workers_are_ready_is_ready(self) -> None:
        spec = cluster(groups=[group("small", 2)], generation=3)
        head, workers = pods_for(spec)
        status = compute_status(spec, [head, *workers], service(spec), now=T0, problems=[])

        assert status["state"] == "ready"
        assert status["readyWorkerReplicas"] == 2
        assert status["availableWorkerReplicas"] == 2
        assert status["desiredWorkerReplicas"] == 2
        assert status["minWorkerReplicas"] == 0
        assert status["maxWorkerReplicas"] == 5
        assert status["observedGeneration"] == 3
        cond = conditions(status)
        assert cond["HeadPodReady"] == {
            "type": "HeadPodReady",
            "status": "True",
            "reason": "HeadPodRunningAndReady",
            "message": "Head Pod ready",
            "lastTransitionTime": "2026-01-01T10:00:00Z",
            "observedGeneration": 3,
        }
        assert cond["RayClusterProvisioned"]["status"] == "True"
        assert cond["RayClusterProvisioned"]["reason"] == "AllPodRunningAndReadyFirstTime"

    def test_a_cluster_with_a_worker_still_starting_has_an_empty_state(self) -> None:
        spec = cluster(groups=[group("small", 2)])
        head, workers = pods_for(spec)
        workers[1]["status"] = {"phase": "Pending"}
        status = compute_status(spec, [head, *workers], service(spec), now=T0, problems=[])

        assert status["state"] == ""
        assert status["readyWorkerReplicas"] == 1
        assert status["availableWorkerReplicas"] == 1
        assert conditions(status)["RayClusterProvisioned"]["reason"] == "RayClusterPodsProvisioning"

    def test_a_running_but_unready_worker_is_available_but_not_ready(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        head, (worker,) = pods_for(spec)
        worker["status"]["conditions"][0]["status"] = "False"
        status = compute_status(spec, [head, worker], service(spec), now=T0, problems=[])

        assert (status["readyWorkerReplicas"], status["availableWorkerReplicas"]) == (0, 1)

    def test_without_a_head_pod_the_head_is_not_found(self) -> None:
        spec = cluster(groups=[])
        status = compute_status(spec, [], None, now=T0, problems=[])

        assert status["state"] == ""
        assert conditions(status)["HeadPodReady"]["reason"] == "HeadPodNotFound"
        assert status["head"] == {"podIP": "", "podName": "", "serviceIP": "", "serviceName": ""}
        assert status["endpoints"] == {}

    def test_an_unready_head_reports_the_reason_of_its_ready_condition(self) -> None:
        spec = cluster(groups=[])
        head, _ = pods_for(spec, ready=False, ready_reason="ContainersNotReady")
        cond = conditions(compute_status(spec, [head], None, now=T0, problems=[]))["HeadPodReady"]

        assert cond["status"] == "False"
        assert cond["reason"] == "ContainersNotReady"
        assert "ContainersNotReady" in cond["message"]

    def test_a_suspended_cluster_is_suspended(self) -> None:
        spec = cluster(suspend=True)
        status = compute_status(spec, [], None, now=T0, problems=[])

        assert status["state"] == "suspended"
        assert status["desiredWorkerReplicas"] == 0
        assert (status["minWorkerReplicas"], status["maxWorkerReplicas"]) == (0, 0)
        assert conditions(status)["RayClusterProvisioned"]["reason"] == "RayClusterSuspended"

    def test_terminating_pods_and_pods_of_other_clusters_do_not_count(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        head, (worker,) = pods_for(spec)
        dying = observed(worker, deleting=True)
        _, (foreign,) = pods_for(cluster("other", groups=[group("small", 1)]))
        status = compute_status(spec, [head, dying, foreign], None, now=T0, problems=[])

        assert status["readyWorkerReplicas"] == 0
        assert status["state"] == ""

    def test_worker_bounds_sum_min_and_max_times_hosts_over_active_groups(self) -> None:
        groups = [
            group("a", 1, min_replicas=1, max_replicas=3, numOfHosts=2),
            group("b", 1, min_replicas=2, max_replicas=4),
            group("c", 1, min_replicas=5, max_replicas=9, suspend=True),
            group("d", 0, min_replicas=0, max_replicas=None),
        ]
        status = compute_status(cluster(groups=groups), [], None, now=T0, problems=[])

        assert status["minWorkerReplicas"] == 4
        assert status["maxWorkerReplicas"] == 2**31 - 1


class TestHeadAndEndpoints:
    def test_endpoints_and_head_come_from_the_head_pod_and_service(self) -> None:
        spec = cluster(groups=[])
        head, _ = pods_for(spec, pod_ip="10.244.0.7")
        status = compute_status(spec, [head], service(spec), now=T0, problems=[])

        assert status["endpoints"] == {
            "client": "10001",
            "dashboard": "8265",
            "dashboard-agent": "52365",
            "gcs": "6379",
            "serve": "8000",
        }
        assert status["head"] == {
            "podIP": "10.244.0.7",
            "podName": head["metadata"]["name"],
            "serviceIP": "10.96.0.20",
            "serviceName": "demo-head-svc",
        }

    def test_a_node_port_service_publishes_its_node_ports(self) -> None:
        spec = cluster(groups=[])
        svc = service(spec, type="NodePort")
        for offset, port in enumerate(svc["spec"]["ports"]):
            port["nodePort"] = 30000 + offset
        endpoints = compute_status(spec, [], svc, now=T0, problems=[])["endpoints"]

        assert sorted(endpoints.values()) == [str(30000 + offset) for offset in range(5)]

    def test_a_load_balancer_publishes_its_ingress_and_a_headless_service_the_pod_ip(self) -> None:
        spec = cluster(groups=[])
        head, _ = pods_for(spec, pod_ip="10.244.0.9")
        balanced = service(spec, type="LoadBalancer")
        balanced["status"] = {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}
        headless = service(spec, clusterIP="None")

        assert compute_status(spec, [head], balanced, now=T0, problems=[])["head"]["serviceIP"] == "lb.example.com"
        assert compute_status(spec, [head], headless, now=T0, problems=[])["head"]["serviceIP"] == "10.244.0.9"


class TestConditionTransitions:
    def test_an_unchanged_condition_keeps_its_transition_time(self) -> None:
        spec = cluster(groups=[])
        head, _ = pods_for(spec)
        first = compute_status(spec, [head], None, now=T0, problems=[])
        spec["status"] = first
        second = compute_status(spec, [head], None, now=T1, problems=[])

        assert second == first

    def test_a_status_change_moves_the_transition_time_and_a_reason_change_does_not(self) -> None:
        spec = cluster(groups=[])
        spec["status"] = compute_status(spec, [], None, now=T0, problems=[])
        head, _ = pods_for(spec, ready=False, ready_reason="ContainersNotReady")
        starting = compute_status(spec, [head], None, now=T1, problems=[])
        assert conditions(starting)["HeadPodReady"]["reason"] == "ContainersNotReady"
        assert conditions(starting)["HeadPodReady"]["lastTransitionTime"] == "2026-01-01T10:00:00Z"

        spec["status"] = starting
        ready_head, _ = pods_for(spec)
        ready = compute_status(spec, [ready_head], None, now=T1, problems=[])
        assert conditions(ready)["HeadPodReady"]["status"] == "True"
        assert conditions(ready)["HeadPodReady"]["lastTransitionTime"] == "2026-01-01T10:05:00Z"

    def test_provisioned_stays_true_after_a_worker_fails_later(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        head, (worker,) = pods_for(spec)
        spec["status"] = compute_status(spec, [head, worker], None, now=T0, problems=[])
        worker["status"]["phase"] = "Failed"
        later = compute_status(spec, [head, worker], None, now=T1, problems=[])

        assert later["state"] == ""
        assert conditions(later)["RayClusterProvisioned"]["status"] == "True"
        assert conditions(later)["RayClusterProvisioned"]["lastTransitionTime"] == "2026-01-01T10:00:00Z"

    def test_conditions_of_other_types_are_kept(self) -> None:
        foreign = {"type": "Custom", "status": "True", "reason": "Mine", "message": "", "lastTransitionTime": "x"}
        spec = cluster(status={"conditions": [foreign]})
        status = compute_status(spec, [], None, now=T0, problems=[])

        assert status["conditions"][0] == foreign
        assert [c["type"] for c in status["conditions"]] == ["Custom", "HeadPodReady", "RayClusterProvisioned"]


class TestValidationProblems:
    def test_problems_add_a_replica_failure_condition_and_change_nothing_else(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        head, workers = pods_for(spec)
        spec["status"] = compute_status(spec, [head, *workers], None, now=T0, problems=[])
        problems = [
            Problem("spec.workerGroupSpecs[0].minReplicas", "3 is greater than maxReplicas 1"),
            Problem("a", "b"),
        ]
        status = compute_status(spec, [], None, now=T1, problems=problems)

        failure = conditions(status).pop("ReplicaFailure")
        assert failure["status"] == "True"
        assert failure["reason"] == "ValidationFailed"
        assert "spec.workerGroupSpecs[0].minReplicas: 3 is greater than maxReplicas 1" in failure["message"]
        assert "a: b" in failure["message"]
        assert failure["lastTransitionTime"] == "2026-01-01T10:05:00Z"
        unchanged = {key: value for key, value in status.items() if key != "conditions"}
        assert unchanged == {key: value for key, value in spec["status"].items() if key != "conditions"}
        assert [c for c in status["conditions"] if c["type"] != "ReplicaFailure"] == spec["status"]["conditions"]

    def test_a_cluster_without_status_gets_only_the_failure_condition(self) -> None:
        status = compute_status(cluster(), [], None, now=T0, problems=[Problem("metadata.name", "too long")])

        assert list(status) == ["conditions"]
        assert [c["type"] for c in status["conditions"]] == ["ReplicaFailure"]

    def test_the_failure_condition_goes_away_once_the_spec_is_valid(self) -> None:
        spec = cluster()
        spec["status"] = compute_status(spec, [], None, now=T0, problems=[Problem("x", "y")])
        status = compute_status(spec, [], None, now=T1, problems=[])

        assert "ReplicaFailure" not in conditions(status)


class TestRequeue:
    def test_a_ready_suspended_or_invalid_cluster_waits_for_events(self) -> None:
        spec = cluster(groups=[])
        head, _ = pods_for(spec)

        assert requeue_after_s(compute_status(spec, [head], None, now=T0, problems=[])) is None
        assert requeue_after_s(compute_status(cluster(suspend=True), [], None, now=T0, problems=[])) is None
        assert requeue_after_s(compute_status(spec, [], None, now=T0, problems=[Problem("x", "y")])) is None

    def test_a_starting_cluster_is_looked_at_again_soon(self) -> None:
        status = compute_status(cluster(), [], None, now=T0, problems=[])

        assert requeue_after_s(status) == STARTING_REQUEUE_S
        assert 0 < STARTING_REQUEUE_S <= 10
