"""A RayCluster pass decided without I/O: an invalid spec plans nothing but its problems; a valid one plans its
two Services and its pods, and waits while pods it created are not in the cache yet."""

from __future__ import annotations

import random

from rayservice.controller.raycluster import ClusterObserved, plan_pass
from tests.unit.controller.raycluster.samples import cluster


def test_an_invalid_spec_plans_no_write_but_its_problems() -> None:
    broken = cluster()
    broken["spec"]["workerGroupSpecs"][0]["groupName"] = ""
    decided = plan_pass(ClusterObserved(broken, []), rng=random.Random(0))
    assert decided.problems
    assert decided.services == () and decided.pods.is_empty and not decided.waiting


def test_a_new_cluster_plans_its_services_and_pods_and_waits_for_them() -> None:
    decided = plan_pass(ClusterObserved(cluster(), []), rng=random.Random(0))
    assert [service["metadata"]["name"] for service in decided.services] == ["demo-head-svc", "demo-dashboard-svc"]
    assert decided.pods.create and not decided.pods.delete
    assert decided.waiting


def test_pods_still_in_flight_keep_the_pass_waiting_without_a_second_create() -> None:
    first = plan_pass(ClusterObserved(cluster(), []), rng=random.Random(0))
    names = frozenset(pod["metadata"]["name"] for pod in first.pods.create)
    again = plan_pass(ClusterObserved(cluster(), [], in_flight=names), rng=random.Random(1))
    assert again.pods.is_empty and again.waiting
