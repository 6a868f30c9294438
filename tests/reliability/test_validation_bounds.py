"""Replica counts past the CRD's int32 are a validation problem, for a RayCluster and for a RayService's
``rayClusterConfig``: an API server that does not enforce ``format: int32`` (the embedded one) would
otherwise let the operator try to create billions of pods (found by test_hostile_input)."""

from __future__ import annotations

import pytest

from rayservice.controller.raycluster.validate import validate_cluster
from rayservice.controller.rayservice.validate import check_service
from tests.integration.raycluster_harness import raycluster
from tests.reliability.harness import rayservice

INT32_MAX = 2**31 - 1


@pytest.mark.parametrize("key", ["replicas", "minReplicas", "maxReplicas"])
def test_a_replica_count_past_int32_is_a_problem_naming_the_field(key: str) -> None:
    body = raycluster("c")
    group = body["spec"]["workerGroupSpecs"][0]
    group.update(replicas=1, minReplicas=0, maxReplicas=INT32_MAX)
    group[key] = INT32_MAX + 1
    problems = validate_cluster(body)
    assert [p.field for p in problems if "whole number" in p.message] == [f"spec.workerGroupSpecs[0].{key}"]


def test_int32_max_itself_is_accepted() -> None:
    body = raycluster("c")
    body["spec"]["workerGroupSpecs"][0].update(replicas=1, minReplicas=0, maxReplicas=INT32_MAX)
    assert validate_cluster(body) == []


def test_a_rayservice_with_such_a_count_fails_validation_under_its_rayclusterconfig() -> None:
    body = rayservice("s")
    body["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = 37732191515
    check = check_service(body)
    assert [p.field for p in check.problems] == ["spec.rayClusterConfig.workerGroupSpecs[0].maxReplicas"]
