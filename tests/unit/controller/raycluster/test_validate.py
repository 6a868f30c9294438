"""validate_cluster: every problem a user can make that the schema lets through, named by field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rayservice.controller.raycluster import Problem, validate_cluster
from tests.unit.controller.raycluster.samples import cluster, container, group, template


def fields(problems: list[Problem]) -> list[str]:
    return [problem.field for problem in problems]


def test_a_sample_cluster_is_valid() -> None:
    assert validate_cluster(cluster(groups=[group("small", 1), group("large", 0, max_replicas=2)])) == []


def test_problems_print_as_field_and_message() -> None:
    assert str(Problem("spec.x", "is wrong")) == "spec.x: is wrong"


@pytest.mark.parametrize("name", ["a" * 64, "1abc", "Demo", "with.dot", "trailing-", ""])
def test_a_cluster_name_that_cannot_name_services_and_labels_is_a_problem(name: str) -> None:
    assert fields(validate_cluster(cluster(name))) == ["metadata.name"]


def test_a_63_character_cluster_name_is_fine() -> None:
    assert validate_cluster(cluster("a" * 63)) == []


def test_a_missing_head_group_is_a_problem() -> None:
    spec = cluster()
    del spec["spec"]["headGroupSpec"]

    assert fields(validate_cluster(spec)) == ["spec.headGroupSpec"]


def test_templates_without_containers_are_problems() -> None:
    spec = cluster(head={"template": {"spec": {}}}, groups=[group(template={"spec": {"containers": []}})])

    assert fields(validate_cluster(spec)) == [
        "spec.headGroupSpec.template.spec.containers",
        "spec.workerGroupSpecs[0].template.spec.containers",
    ]


def test_missing_duplicate_and_unsafe_group_names_are_problems() -> None:
    groups = [group("small"), group("small"), group("Big_Group"), group("x" * 64), group(None)]
    problems = validate_cluster(cluster(groups=groups))

    assert fields(problems) == [f"spec.workerGroupSpecs[{index}].groupName" for index in range(1, 5)]
    assert "earlier worker group" in problems[0].message


@pytest.mark.parametrize(
    ("replicas", "low", "high", "field"),
    [
        (1, 3, 2, "minReplicas"),
        (6, 0, 5, "replicas"),
        (0, 1, 5, "replicas"),
        (-1, 0, 5, "replicas"),
        (1, 0, "5", "maxReplicas"),
        (True, 0, 5, "replicas"),
    ],
)
def test_replica_counts_outside_their_bounds_are_problems(replicas: Any, low: Any, high: Any, field: str) -> None:
    problems = validate_cluster(cluster(groups=[group("g", replicas, min_replicas=low, max_replicas=high)]))

    assert fields(problems) == [f"spec.workerGroupSpecs[0].{field}"]


def test_unset_bounds_mean_zero_and_unbounded() -> None:
    assert validate_cluster(cluster(groups=[group("g", 1000, min_replicas=None, max_replicas=None)])) == []


def test_ray_start_params_need_flag_names_and_string_values() -> None:
    head = {"rayStartParams": {"num-cpus": 1, "bad key": "x", "--dash": "y", "ok_key": "z"}, "template": template()}
    workers = [group(rayStartParams=["not", "a", "map"])]
    problems = validate_cluster(cluster(head=head, groups=workers))

    assert fields(problems) == [
        "spec.headGroupSpec.rayStartParams.num-cpus",
        "spec.headGroupSpec.rayStartParams",
        "spec.headGroupSpec.rayStartParams",
        "spec.workerGroupSpecs[0].rayStartParams",
    ]


def test_an_unparsable_cpu_quantity_of_the_ray_container_is_a_problem() -> None:
    head = {"template": template(container("side"), container("ray-head", resources={"limits": {"cpu": "two"}}))}

    assert fields(validate_cluster(cluster(head=head))) == [
        "spec.headGroupSpec.template.spec.containers[1].resources.limits.cpu"
    ]


@settings(max_examples=200, deadline=None)
@given(
    spec=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=20,
    )
)
def test_validation_never_raises_whatever_the_shape(spec: Any) -> None:
    obj = {"metadata": {"name": "demo"}, "spec": spec}
    validate_cluster(obj)
    validate_cluster({"metadata": {"name": "demo"}, "spec": {"headGroupSpec": spec, "workerGroupSpecs": [spec]}})
