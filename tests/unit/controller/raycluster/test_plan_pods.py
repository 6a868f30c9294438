"""plan_pods scenarios: one head, the desired workers per group, never twice from a stale cache."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rayservice.controller.raycluster import PodPlan, desired_worker_counts, plan_pods
from tests.unit.controller.raycluster.samples import cluster, group, observed


def names_of(pods: list[dict[str, Any]]) -> list[str]:
    return [pod["metadata"]["name"] for pod in pods]


def roles(plan: PodPlan) -> list[tuple[str, str]]:
    return [
        (pod["metadata"]["labels"]["ray.io/node-type"], pod["metadata"]["labels"]["ray.io/group"])
        for pod in plan.create
    ]


class Cluster:
    """The pods of one cluster as the cache shows them after each plan is applied in full."""

    def __init__(self, spec: dict[str, Any], seed: int = 0) -> None:
        self.spec = spec
        self.pods: dict[str, dict[str, Any]] = {}
        self.rng = random.Random(seed)
        self.tick = 0

    def step(self) -> PodPlan:
        plan = plan_pods(self.spec, list(self.pods.values()), in_flight=set(), rng=self.rng)
        for name in plan.delete:
            del self.pods[name]
        for pod in plan.create:
            self.tick += 1
            self.pods[pod["metadata"]["name"]] = observed(pod, created=f"2026-01-01T00:00:{self.tick:02d}Z")
        return plan

    def workers(self, group_name: str = "small") -> list[str]:
        return sorted(
            name
            for name, pod in self.pods.items()
            if pod["metadata"]["labels"]["ray.io/node-type"] == "worker"
            and pod["metadata"]["labels"]["ray.io/group"] == group_name
        )

    def heads(self) -> list[str]:
        return sorted(
            name for name, pod in self.pods.items() if pod["metadata"]["labels"]["ray.io/node-type"] == "head"
        )


class TestWorkerCounts:
    @pytest.mark.parametrize(
        ("replicas", "low", "high", "hosts", "expected"),
        [
            (2, 0, 5, None, 2),
            (9, 0, 5, None, 5),
            (0, 1, 5, None, 1),
            (None, 2, 5, None, 2),
            (3, 4, 2, None, 2),
            (2, None, None, None, 2),
            (2, 0, 5, 2, 4),
        ],
    )
    def test_replicas_are_clamped_to_min_and_max_and_multiplied_by_hosts(
        self, replicas: int | None, low: int | None, high: int | None, hosts: int | None, expected: int
    ) -> None:
        extra = {} if hosts is None else {"numOfHosts": hosts}
        spec = cluster(groups=[group("g", replicas, min_replicas=low, max_replicas=high, **extra)])

        assert desired_worker_counts(spec) == {"g": expected}

    def test_a_suspended_cluster_or_group_wants_no_workers(self) -> None:
        groups = [group("a", 2), group("b", 3, suspend=True)]

        assert desired_worker_counts(cluster(groups=groups)) == {"a": 2, "b": 0}
        assert desired_worker_counts(cluster(groups=groups, suspend=True)) == {"a": 0, "b": 0}


class TestFromScratch:
    def test_an_empty_cluster_gets_one_head_and_its_workers(self) -> None:
        spec = cluster(groups=[group("small", 2), group("large", 1)])
        plan = plan_pods(spec, [], in_flight=set(), rng=random.Random(0))

        assert plan.delete == []
        assert sorted(roles(plan)) == [
            ("head", "headgroup"),
            ("worker", "large"),
            ("worker", "small"),
            ("worker", "small"),
        ]
        assert all(name.startswith("demo-") for name in names_of(plan.create))

    def test_a_converged_cluster_gets_an_empty_plan(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 2)]))
        sim.step()

        assert sim.step().is_empty

    def test_the_same_seed_gives_the_same_plan(self) -> None:
        spec = cluster()
        first = plan_pods(spec, [], in_flight=set(), rng=random.Random(3))
        second = plan_pods(spec, [], in_flight=set(), rng=random.Random(3))

        assert first == second


class TestScaling:
    def test_scaling_1_to_3_to_1_deletes_the_workers_named_in_workers_to_delete(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 1)]))
        sim.step()
        (original,) = sim.workers()
        sim.spec["spec"]["workerGroupSpecs"][0]["replicas"] = 3
        plan = sim.step()
        assert roles(plan) == [("worker", "small")] * 2
        assert len(sim.workers()) == 3

        doomed = sorted(set(sim.workers()) - {original})
        sim.spec["spec"]["workerGroupSpecs"][0].update(replicas=1, scaleStrategy={"workersToDelete": doomed})
        plan = sim.step()

        assert plan.delete == doomed
        assert plan.create == []
        assert sim.workers() == [original]
        assert sim.step().is_empty

    def test_a_worker_named_in_workers_to_delete_is_replaced_when_replicas_stay(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 2)]))
        sim.step()
        victim = sim.workers()[0]
        sim.spec["spec"]["workerGroupSpecs"][0]["scaleStrategy"] = {"workersToDelete": [victim, "already-gone"]}
        plan = sim.step()

        assert plan.delete == [victim]
        assert roles(plan) == [("worker", "small")]
        assert len(sim.workers()) == 2

    def test_scaling_down_without_workers_to_delete_removes_the_newest(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 1)]))
        sim.step()
        (oldest,) = sim.workers()
        sim.spec["spec"]["workerGroupSpecs"][0]["replicas"] = 3
        sim.step()
        sim.spec["spec"]["workerGroupSpecs"][0]["replicas"] = 1
        plan = sim.step()

        assert len(plan.delete) == 2
        assert sim.workers() == [oldest]

    def test_workers_of_a_group_removed_from_the_spec_are_deleted(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 1), group("old", 2)]))
        sim.step()
        old = sim.workers("old")
        sim.spec["spec"]["workerGroupSpecs"].pop()

        assert sim.step().delete == old


class TestFailures:
    def test_a_failed_worker_is_deleted_and_replaced(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 2)]))
        sim.step()
        broken = sim.workers()[0]
        sim.pods[broken]["status"]["phase"] = "Failed"
        plan = sim.step()

        assert plan.delete == [broken]
        assert roles(plan) == [("worker", "small")]
        assert len(sim.workers()) == 2

    def test_a_succeeded_or_failed_head_is_recreated(self) -> None:
        sim = Cluster(cluster())
        sim.step()
        (head,) = sim.heads()
        sim.pods[head]["status"]["phase"] = "Succeeded"
        plan = sim.step()

        assert plan.delete == [head]
        assert roles(plan) == [("head", "headgroup")]

    def test_a_missing_head_is_recreated_without_touching_the_workers(self) -> None:
        sim = Cluster(cluster())
        sim.step()
        del sim.pods[sim.heads()[0]]
        plan = sim.step()

        assert plan.delete == []
        assert roles(plan) == [("head", "headgroup")]

    def test_of_several_heads_the_ready_one_is_kept(self) -> None:
        sim = Cluster(cluster(groups=[]))
        sim.step()
        (ready,) = sim.heads()
        spare = plan_pods(sim.spec, [], in_flight=set(), rng=random.Random(99)).create[0]
        sim.pods[spare["metadata"]["name"]] = observed(spare, ready=False, created="2025-01-01T00:00:00Z")

        assert sim.step().delete == [spare["metadata"]["name"]]
        assert sim.heads() == [ready]

    def test_terminating_pods_neither_count_nor_are_deleted_again(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        first = plan_pods(spec, [], in_flight=set(), rng=random.Random(0))
        pods = [observed(pod, deleting=True) for pod in first.create]
        plan = plan_pods(spec, pods, in_flight=set(), rng=random.Random(1))

        assert plan.delete == []
        assert sorted(roles(plan)) == [("head", "headgroup"), ("worker", "small")]


class TestSuspend:
    def test_suspending_deletes_every_live_pod_and_creates_none(self) -> None:
        sim = Cluster(cluster(groups=[group("small", 2)]))
        sim.step()
        everything = sorted(sim.pods)
        sim.spec["spec"]["suspend"] = True
        plan = sim.step()

        assert plan.create == []
        assert plan.delete == everything

    def test_a_suspended_cluster_does_not_delete_terminating_pods_again(self) -> None:
        spec = cluster(suspend=True)
        pods = [
            observed(pod, deleting=True)
            for pod in plan_pods(cluster(), [], in_flight=set(), rng=random.Random(0)).create
        ]

        assert plan_pods(spec, pods, in_flight=set(), rng=random.Random(0)).is_empty


class TestStaleCache:
    def test_in_flight_creates_count_so_a_stale_cache_never_creates_twice(self) -> None:
        spec = cluster(groups=[group("small", 2)])
        first = plan_pods(spec, [], in_flight=set(), rng=random.Random(0))
        in_flight = set(names_of(first.create))

        assert plan_pods(spec, [], in_flight=in_flight, rng=random.Random(1)).is_empty

    def test_an_in_flight_name_the_cache_already_shows_counts_once(self) -> None:
        spec = cluster(groups=[group("small", 2)])
        first = plan_pods(spec, [], in_flight=set(), rng=random.Random(0))
        seen = [observed(pod) for pod in first.create]
        in_flight = set(names_of(first.create))

        assert plan_pods(spec, seen, in_flight=in_flight, rng=random.Random(1)).is_empty

    def test_scaling_down_removes_pods_still_in_flight_before_running_ones(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        first = plan_pods(spec, [], in_flight=set(), rng=random.Random(0))
        running = [observed(pod) for pod in first.create]
        spec["spec"]["workerGroupSpecs"][0]["replicas"] = 3
        grown = plan_pods(spec, running, in_flight=set(), rng=random.Random(1))
        spec["spec"]["workerGroupSpecs"][0]["replicas"] = 1
        plan = plan_pods(spec, running, in_flight=set(names_of(grown.create)), rng=random.Random(2))

        assert sorted(plan.delete) == sorted(names_of(grown.create))
        assert plan.create == []

    def test_in_flight_names_of_other_groups_do_not_count(self) -> None:
        spec = cluster(groups=[group("small", 1)])
        plan = plan_pods(spec, [], in_flight={"demo-worker-large-abcde", "other-head-abcde"}, rng=random.Random(0))

        assert sorted(roles(plan)) == [("head", "headgroup"), ("worker", "small")]

    def test_new_names_never_repeat_an_observed_or_in_flight_name(self) -> None:
        class Stuck(random.Random):
            """Yields the same suffix five times, then a fresh one."""

            calls = 0

            def choice(self, seq: Any) -> Any:
                self.calls += 1
                return seq[0] if self.calls <= 25 else seq[self.calls % len(seq)]

        spec = cluster(groups=[group("small", 3)])
        plan = plan_pods(spec, [], in_flight={"demo-worker-small-aaaaa"}, rng=Stuck())

        assert "demo-worker-small-aaaaa" not in names_of(plan.create)
        assert roles(plan).count(("worker", "small")) == 2
        assert len(set(names_of(plan.create))) == 3


class TestOwnership:
    def test_pods_of_another_cluster_or_an_earlier_incarnation_are_ignored(self) -> None:
        spec = cluster()
        other = plan_pods(cluster("other", uid="uid-9"), [], in_flight=set(), rng=random.Random(0)).create
        stale = plan_pods(cluster(uid="uid-old"), [], in_flight=set(), rng=random.Random(1)).create
        pods = [observed(pod) for pod in other + stale]
        plan = plan_pods(spec, pods, in_flight=set(), rng=random.Random(2))

        assert plan.delete == []
        assert sorted(roles(plan)) == [("head", "headgroup"), ("worker", "small")]
