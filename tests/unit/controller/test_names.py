"""Names and the config hash: KubeRay's names when they fit, safe 63-character names when they do not."""

from __future__ import annotations

import copy
import random
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rayservice.controller import names

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

cluster_names = st.from_regex(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
group_names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)


def test_short_names_are_exactly_kuberays_names() -> None:
    rng = random.Random(7)
    head = names.head_pod_name("demo", rng)
    worker = names.worker_pod_name("demo", "small", rng)

    assert re.fullmatch(r"demo-head-[a-z0-9]{5}", head)
    assert re.fullmatch(r"demo-worker-small-[a-z0-9]{5}", worker)
    assert names.head_service_name("demo") == "demo-head-svc"
    assert names.dashboard_service_name("demo") == "demo-dashboard-svc"
    assert names.node_identifier("demo", "head") == "demo-head"
    assert names.node_identifier("demo", "worker") == "demo-worker"
    assert re.fullmatch(r"fruit-raycluster-[a-z0-9]{5}", names.rayservice_cluster_name("fruit", rng))
    assert names.rayservice_head_service_name("fruit") == "fruit-head-svc"
    assert names.serve_service_name("fruit") == "fruit-serve-svc"
    assert names.head_service_fqdn("demo", "ns") == "demo-head-svc.ns.svc.cluster.local"


def test_pod_names_start_with_the_prefix_plan_pods_matches() -> None:
    rng = random.Random(1)
    long = "c" * 63
    for cluster in ("demo", long):
        assert names.head_pod_name(cluster, rng).startswith(names.head_pod_prefix(cluster) + "-")
        assert names.worker_pod_name(cluster, "g" * 63, rng).startswith(
            names.worker_pod_prefix(cluster, "g" * 63) + "-"
        )


def test_random_suffixes_follow_the_seed_and_use_lowercase_letters_and_digits() -> None:
    first = [names.random_suffix(random.Random(42)) for _ in range(3)]
    assert len(set(first)) == 1
    suffixes = {names.random_suffix(random.Random(seed)) for seed in range(200)}
    assert len(suffixes) > 190
    assert all(re.fullmatch(r"[a-z0-9]{5}", suffix) for suffix in suffixes)


def test_a_long_cluster_name_is_shortened_to_63_characters_keeping_the_suffix() -> None:
    cluster = "a" * 63
    service = names.head_service_name(cluster)

    assert len(service) == 63
    assert service.endswith("-head-svc")
    assert service.startswith("a" * 45 + "-")
    assert len(names.dashboard_service_name(cluster)) == 63
    assert names.dashboard_service_name(cluster).endswith("-dashboard-svc")


@settings(max_examples=200, deadline=None)
@given(cluster=cluster_names, group=group_names, seed=st.integers(0, 2**32))
def test_every_derived_name_is_a_dns_label_of_at_most_63_characters(cluster: str, group: str, seed: int) -> None:
    rng = random.Random(seed)
    derived = [
        names.head_pod_name(cluster, rng),
        names.worker_pod_name(cluster, group, rng),
        names.head_service_name(cluster),
        names.dashboard_service_name(cluster),
        names.node_identifier(cluster, "head"),
        names.node_identifier(cluster, "worker"),
        names.rayservice_cluster_name(cluster, rng),
        names.serve_service_name(cluster),
    ]
    for name in derived:
        assert len(name) <= 63, name
        assert DNS_LABEL.match(name), name
    assert DNS1035.match(names.head_service_name(cluster))
    assert DNS1035.match(names.rayservice_cluster_name(cluster, rng))


@settings(max_examples=300, deadline=None)
@given(a=cluster_names, b=cluster_names)
def test_two_different_clusters_never_share_a_service_name(a: str, b: str) -> None:
    if a != b:
        assert names.head_service_name(a) != names.head_service_name(b)
        assert names.dashboard_service_name(a) != names.dashboard_service_name(b)


@settings(max_examples=300, deadline=None)
@given(
    stem=cluster_names,
    tail_a=st.text(string.ascii_lowercase, min_size=1, max_size=8),
    tail_b=st.text(string.ascii_lowercase, min_size=1, max_size=8),
)
def test_long_names_that_differ_only_at_the_end_get_different_names(stem: str, tail_a: str, tail_b: str) -> None:
    a, b = (stem + "x" * 63)[:55] + tail_a, (stem + "x" * 63)[:55] + tail_b
    if a != b:
        assert names.head_service_name(a) != names.head_service_name(b)
        assert names.worker_pod_prefix("demo", a) != names.worker_pod_prefix("demo", b)


def test_a_shortened_name_never_equals_a_name_that_fit() -> None:
    longest_fitting = "b" * 53  # 53 + len("-head-svc") = 62
    assert names.head_service_name(longest_fitting) == longest_fitting + "-head-svc"
    shortened = names.head_service_name("b" * 54)
    assert len(shortened) == 63
    # A name that fits is at most 62 characters long, so no fitting name can equal the shortened one.
    assert len(names.head_service_name("b" * 53)) == 62


def _spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rayVersion": "2.60.0",
        "headGroupSpec": {"rayStartParams": {"num-cpus": "0"}, "template": {"spec": {"containers": [{"name": "ray"}]}}},
        "workerGroupSpecs": [
            {
                "groupName": "small",
                "replicas": 1,
                "minReplicas": 0,
                "maxReplicas": 5,
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray", "image": "img:1"}]}},
            }
        ],
    }
    spec.update(overrides)
    return spec


def _reordered(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _reordered(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_reordered(item, rng) for item in value]
    return value


def test_the_hash_is_52_characters_of_lowercase_base32() -> None:
    digest = names.cluster_config_hash(_spec())
    assert re.fullmatch(r"[a-z2-7]{52}", digest)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_the_hash_does_not_depend_on_key_order(seed: int) -> None:
    spec = _spec()
    assert names.cluster_config_hash(_reordered(spec, random.Random(seed))) == names.cluster_config_hash(spec)


@settings(max_examples=100, deadline=None)
@given(
    replicas=st.none() | st.integers(0, 100),
    low=st.none() | st.integers(0, 100),
    high=st.none() | st.integers(0, 100),
    to_delete=st.none() | st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=10), max_size=3),
)
def test_the_hash_ignores_worker_replicas_bounds_and_workers_to_delete(
    replicas: int | None, low: int | None, high: int | None, to_delete: list[str] | None
) -> None:
    scaled = _spec()
    group = scaled["workerGroupSpecs"][0]
    for key, value in (("replicas", replicas), ("minReplicas", low), ("maxReplicas", high)):
        if value is None:
            group.pop(key)
        else:
            group[key] = value
    if to_delete is not None:
        group["scaleStrategy"] = {"workersToDelete": to_delete}
    assert names.cluster_config_hash(scaled) == names.cluster_config_hash(_spec())


def test_the_hash_treats_null_fields_as_absent() -> None:
    assert names.cluster_config_hash(_spec(suspend=None)) == names.cluster_config_hash(_spec())


@pytest.mark.parametrize(
    "change",
    [
        lambda spec: spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0].update(image="img:2"),
        lambda spec: spec["workerGroupSpecs"][0].update(groupName="large"),
        lambda spec: spec["headGroupSpec"]["rayStartParams"].update({"num-cpus": "1"}),
        lambda spec: spec.update(rayVersion="2.61.0"),
        lambda spec: spec["workerGroupSpecs"][0].update(scaleStrategy={"other": True}),
        lambda spec: spec["workerGroupSpecs"].append(copy.deepcopy(spec["workerGroupSpecs"][0])),
    ],
    ids=["image", "group-name", "ray-start-params", "ray-version", "other-scale-strategy", "new-group"],
)
def test_the_hash_changes_when_anything_but_scaling_changes(change: Any) -> None:
    spec = _spec()
    change(spec)
    assert names.cluster_config_hash(spec) != names.cluster_config_hash(_spec())


def test_the_hash_does_not_modify_the_spec() -> None:
    spec = _spec()
    spec["workerGroupSpecs"][0]["scaleStrategy"] = {"workersToDelete": ["a"]}
    before = copy.deepcopy(spec)
    names.cluster_config_hash(spec)
    assert spec == before
