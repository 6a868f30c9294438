"""``decide``: which clusters a RayService keeps, makes, scales and deletes, including the states a crash leaves."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rayservice.controller.rayservice import ClusterFacts, ClusterPlan, Health, NewCluster, cluster_facts, decide
from tests.unit.controller.rayservice.samples import (
    DESIRED,
    NAME,
    NOW,
    OLD,
    cluster_config,
    facts,
    raw_cluster,
    rayservice,
    recorded,
)

OTHER = "another-hash"


def plan_for(
    clusters: list[ClusterFacts],
    *,
    selected: tuple[str, ...] = (),
    status: dict[str, Any] | None = None,
    health: Health | None = None,
    seed: int = 0,
    **spec: Any,
) -> ClusterPlan:
    service = rayservice(status=status, **spec)
    return decide(
        service,
        clusters,
        selected=selected,
        desired_hash=DESIRED,
        health=health or Health(),
        now=NOW,
        rng=random.Random(seed),
    )


class TestFirstCluster:
    def test_a_new_rayservice_gets_a_pending_cluster_with_a_fresh_name_to_record_before_creating_it(self) -> None:
        plan = plan_for([])
        assert plan.active is None
        assert plan.create == NewCluster(plan.pending or "")
        assert plan.pending is not None and plan.pending.startswith(f"{NAME}-raycluster-")

    def test_the_same_seed_gives_the_same_name(self) -> None:
        assert plan_for([], seed=3).pending == plan_for([], seed=3).pending

    def test_a_recorded_pending_cluster_that_was_never_created_is_created_under_its_recorded_name(self) -> None:
        plan = plan_for([], status=recorded(pending="fruit-raycluster-aaaaa"))
        assert plan.pending == "fruit-raycluster-aaaaa"
        assert plan.create == NewCluster("fruit-raycluster-aaaaa")

    def test_a_recorded_pending_cluster_that_exists_is_waited_for(self) -> None:
        plan = plan_for([facts("p")], status=recorded(pending="p"))
        assert (plan.active, plan.pending, plan.create, plan.drop) == (None, "p", None, ())

    def test_a_recorded_pending_cluster_of_an_older_spec_is_replaced(self) -> None:
        plan = plan_for([facts("p", OLD)], status=recorded(pending="p"))
        assert plan.drop == ("p",)
        assert plan.create is not None and plan.pending == plan.create.name != "p"

    def test_an_unrecorded_cluster_with_the_desired_hash_is_adopted_instead_of_making_a_second_one(self) -> None:
        plan = plan_for([facts("lost")])
        assert (plan.pending, plan.create, plan.mark) == ("lost", None, ())

    def test_an_unrecorded_cluster_waiting_for_its_deadline_is_not_adopted(self) -> None:
        later = NOW + timedelta(seconds=30)
        plan = plan_for([facts("leaving", delete_after=later)])
        assert plan.create is not None and plan.pending != "leaving"
        assert plan.delete == () and plan.wake_at == later

    def test_a_recorded_pending_cluster_being_deleted_is_replaced_by_a_new_name(self) -> None:
        plan = plan_for([facts("p", deleting=True)], status=recorded(pending="p"))
        assert plan.create is not None and plan.pending != "p"
        assert plan.drop == ()


class TestActiveCluster:
    def test_a_converged_rayservice_keeps_its_cluster_and_only_checks_its_scale(self) -> None:
        plan = plan_for([facts("a")], selected=("a",), status=recorded(active="a"))
        assert plan == ClusterPlan(active="a", pending=None, scale=("a",))

    def test_the_services_selection_wins_over_the_recorded_active_cluster(self) -> None:
        # A crash after the Services switched, before the status said so: the switch is complete.
        plan = plan_for([facts("a"), facts("p")], selected=("p",), status=recorded(active="a", pending="p"))
        assert (plan.active, plan.pending, plan.create) == ("p", None, None)
        assert plan.mark == () and plan.delete == ()  # "a" is still recorded: a later pass marks it

    def test_without_a_selection_the_recorded_active_cluster_is_active(self) -> None:
        plan = plan_for([facts("a")], status=recorded(active="a"))
        assert plan.active == "a" and plan.create is None

    def test_a_cluster_spec_change_makes_a_pending_cluster(self) -> None:
        plan = plan_for([facts("a", OLD)], selected=("a",), status=recorded(active="a"))
        assert plan.active == "a"
        assert plan.create is not None and plan.pending == plan.create.name
        assert plan.scale == ()  # the active cluster's spec is another one: nothing to scale in place

    def test_a_scaling_only_change_keeps_the_hash_and_scales_the_active_cluster_in_place(self) -> None:
        service = rayservice(config=cluster_config(replicas=3), status=recorded(active="a"))
        cluster = cluster_facts(raw_cluster("a", config=cluster_config(replicas=1)))
        plan = decide(
            service, [cluster], selected=("a",), desired_hash=DESIRED, health=Health(), now=NOW, rng=random.Random(0)
        )
        assert plan.create is None and plan.scale == ("a",)

    def test_an_upgrade_waits_for_its_pending_cluster(self) -> None:
        plan = plan_for([facts("a", OLD), facts("p")], selected=("a",), status=recorded(active="a", pending="p"))
        assert (plan.active, plan.pending, plan.create, plan.drop) == ("a", "p", None, ())
        assert plan.scale == ("p",)

    def test_a_newer_spec_mid_upgrade_replaces_the_pending_cluster(self) -> None:
        plan = plan_for([facts("a", OLD), facts("p", OTHER)], selected=("a",), status=recorded(active="a", pending="p"))
        assert plan.drop == ("p",)
        assert plan.create is not None and plan.pending == plan.create.name not in ("a", "p")

    def test_a_spec_reverted_mid_upgrade_drops_the_pending_cluster(self) -> None:
        plan = plan_for([facts("a"), facts("p", OTHER)], selected=("a",), status=recorded(active="a", pending="p"))
        assert (plan.active, plan.pending, plan.create, plan.drop) == ("a", None, None, ("p",))

    def test_a_recorded_pending_cluster_never_made_is_forgotten_once_the_spec_is_reverted(self) -> None:
        plan = plan_for([facts("a")], selected=("a",), status=recorded(active="a", pending="p"))
        assert (plan.pending, plan.create, plan.drop) == (None, None, ())

    def test_a_lost_active_cluster_is_replaced_like_a_first_one(self) -> None:
        plan = plan_for([facts("a", deleting=True)], selected=("a",), status=recorded(active="a"))
        assert plan.active is None and plan.create is not None

    @pytest.mark.parametrize("kind", ["NewCluster", "NewClusterWithIncrementalUpgrade"])
    def test_both_new_cluster_strategies_upgrade_through_a_pending_cluster(self, kind: str) -> None:
        plan = plan_for([facts("a", OLD)], selected=("a",), status=recorded(active="a"), upgradeStrategy={"type": kind})
        assert plan.create is not None and not plan.kept_outdated

    def test_strategy_none_keeps_the_outdated_active_cluster_and_drops_a_pending_one(self) -> None:
        plan = plan_for(
            [facts("a", OLD), facts("p")],
            selected=("a",),
            status=recorded(active="a", pending="p"),
            upgradeStrategy={"type": "None"},
        )
        assert (plan.active, plan.pending, plan.create, plan.drop, plan.scale) == ("a", None, None, ("p",), ())
        assert plan.kept_outdated

    def test_strategy_none_still_makes_the_first_cluster(self) -> None:
        assert plan_for([], upgradeStrategy={"type": "None"}).create is not None


class TestDeadlines:
    def test_a_cluster_traffic_left_gets_a_deadline_of_the_deletion_delay(self) -> None:
        plan = plan_for(
            [facts("a"), facts("old")], selected=("a",), status=recorded(active="a"), rayClusterDeletionDelaySeconds=90
        )
        assert plan.mark == (("old", NOW + timedelta(seconds=90)),)
        assert plan.delete == () and plan.wake_at == NOW + timedelta(seconds=90)

    def test_the_default_deletion_delay_is_60_seconds(self) -> None:
        plan = plan_for([facts("a"), facts("old")], selected=("a",), status=recorded(active="a"))
        assert plan.mark == (("old", NOW + timedelta(seconds=60)),)

    def test_a_cluster_is_kept_until_its_persisted_deadline_and_the_pass_wakes_then(self) -> None:
        deadline = NOW + timedelta(seconds=12)
        plan = plan_for([facts("a"), facts("old", delete_after=deadline)], selected=("a",), status=recorded(active="a"))
        assert (plan.mark, plan.delete, plan.wake_at) == ((), (), deadline)

    def test_a_cluster_whose_deadline_passed_is_deleted(self) -> None:
        plan = plan_for([facts("a"), facts("old", delete_after=NOW)], selected=("a",), status=recorded(active="a"))
        assert plan.delete == ("old",)

    def test_an_active_cluster_never_keeps_a_deadline(self) -> None:
        plan = plan_for([facts("a", delete_after=NOW)], selected=("a",), status=recorded(active="a"))
        assert plan.unmark == ("a",) and plan.delete == ()

    def test_clusters_a_stale_cache_still_shows_as_selected_or_recorded_are_left_alone(self) -> None:
        plan = plan_for(
            [facts("a"), facts("b"), facts("c", delete_after=NOW)],
            selected=("a", "b"),
            status=recorded(active="c"),
        )
        assert plan.active == "a"
        assert (plan.mark, plan.delete, plan.unmark) == ((), (), ())

    def test_clusters_being_deleted_are_neither_marked_nor_deleted_again(self) -> None:
        plan = plan_for([facts("a"), facts("gone", deleting=True)], selected=("a",), status=recorded(active="a"))
        assert (plan.mark, plan.delete) == ((), ())


class TestUnhealthyReplacement:
    def unhealthy(self, since_s: float) -> Health:
        return Health(apps_unhealthy_since=NOW - timedelta(seconds=since_s))

    def test_an_active_cluster_unhealthy_past_the_threshold_gets_a_replacement(self) -> None:
        plan = plan_for(
            [facts("a")],
            selected=("a",),
            status=recorded(active="a"),
            health=self.unhealthy(120),
            serviceUnhealthySecondThreshold=60,
        )
        assert plan.create is not None and plan.create.replacements == 1
        assert plan.pending == plan.create.name
        assert plan.replacing is not None and "serviceUnhealthySecondThreshold" in plan.replacing

    def test_before_the_threshold_nothing_happens_and_the_pass_wakes_when_it_is_reached(self) -> None:
        plan = plan_for(
            [facts("a")],
            selected=("a",),
            status=recorded(active="a"),
            health=self.unhealthy(20),
            serviceUnhealthySecondThreshold=60,
        )
        assert plan.create is None and plan.wake_at == NOW + timedelta(seconds=40)

    def test_without_a_threshold_an_unhealthy_cluster_is_kept(self) -> None:
        plan = plan_for([facts("a")], selected=("a",), status=recorded(active="a"), health=self.unhealthy(10_000))
        assert plan.create is None and plan.wake_at is None

    def test_an_unreachable_dashboard_counts_against_the_deployment_threshold(self) -> None:
        health = Health(unreachable_since=NOW - timedelta(seconds=31))
        plan = plan_for(
            [facts("a")],
            selected=("a",),
            status=recorded(active="a"),
            health=health,
            deploymentUnhealthySecondThreshold=30,
        )
        assert plan.create is not None
        assert plan.replacing is not None and "deploymentUnhealthySecondThreshold" in plan.replacing

    def test_never_while_an_upgrade_is_pending(self) -> None:
        plan = plan_for(
            [facts("a", OLD), facts("p")],
            selected=("a",),
            status=recorded(active="a", pending="p"),
            health=self.unhealthy(1000),
            serviceUnhealthySecondThreshold=1,
        )
        assert plan.create is None and plan.pending == "p"

    def test_never_under_strategy_none(self) -> None:
        plan = plan_for(
            [facts("a")],
            selected=("a",),
            status=recorded(active="a"),
            health=self.unhealthy(1000),
            serviceUnhealthySecondThreshold=1,
            upgradeStrategy={"type": "None"},
        )
        assert plan.create is None and plan.wake_at is None

    def test_a_replacement_under_way_is_kept_although_its_hash_is_the_active_one(self) -> None:
        plan = plan_for(
            [facts("a"), facts("r", replacements=1)],
            selected=("a",),
            status=recorded(active="a", pending="r"),
            health=self.unhealthy(1000),
            serviceUnhealthySecondThreshold=1,
        )
        assert (plan.pending, plan.create, plan.drop) == ("r", None, ())

    def test_a_recorded_replacement_never_made_is_made_while_the_cluster_stays_unhealthy(self) -> None:
        plan = plan_for(
            [facts("a", replacements=1)],
            selected=("a",),
            status=recorded(active="a", pending="r"),
            health=self.unhealthy(1000),
            serviceUnhealthySecondThreshold=1,
        )
        assert plan.create == NewCluster("r", 2)

    def test_the_next_replacement_waits_out_the_backoff_after_the_replacing_cluster_was_made(self) -> None:
        young_second_replacement = facts("a", age_s=100, replacements=2)  # may go 120 s after its creation
        plan = plan_for(
            [young_second_replacement],
            selected=("a",),
            status=recorded(active="a"),
            health=self.unhealthy(1000),
            serviceUnhealthySecondThreshold=1,
        )
        assert plan.create is None and plan.wake_at == NOW + timedelta(seconds=20)


_NAMES = ["a", "b", "c", "d"]
_HASHES = [DESIRED, OLD, OTHER]


@st.composite
def consistent_states(draw: st.DrawFn) -> tuple[list[ClusterFacts], tuple[str, ...], dict[str, Any]]:
    """Owned clusters and a status/selection as this controller leaves them between passes."""
    names = draw(st.lists(st.sampled_from(_NAMES), unique=True, max_size=4))
    clusters = [
        facts(
            name,
            draw(st.sampled_from(_HASHES)),
            delete_after=draw(st.sampled_from([None, NOW - timedelta(seconds=1), NOW + timedelta(seconds=5)])),
        )
        for name in names
    ]
    active = draw(st.sampled_from([None, *names]))
    pending = draw(st.sampled_from([None, *[n for n in names if n != active]]))
    return clusters, ((active,) if active else ()), recorded(active=active, pending=pending)


@settings(max_examples=300, deadline=None)
@given(consistent_states())
def test_never_more_than_two_clusters_besides_those_waiting_for_a_deadline(
    state: tuple[list[ClusterFacts], tuple[str, ...], dict[str, Any]],
) -> None:
    clusters, selected, status = state
    plan = plan_for(clusters, selected=selected, status=status)
    marked = {name for name, _ in plan.mark}
    remaining = {
        c.name
        for c in clusters
        if c.name not in plan.drop and c.name not in plan.delete and (c.delete_after is None or c.name in plan.unmark)
    } - marked
    if plan.create is not None:
        remaining.add(plan.create.name)
    assert len(remaining) <= 2
    assert remaining <= {plan.active, plan.pending}
    assert plan.create is None or not plan.drop or plan.create.name not in plan.drop


def test_the_deletion_deadline_is_never_earlier_than_the_delay_once_stored_in_whole_seconds() -> None:
    from datetime import UTC, datetime

    from rayservice.api import format_kube_time
    from rayservice.controller.rayservice.upgrade import deletion_deadline, parse_time

    service = {"spec": {"rayClusterDeletionDelaySeconds": 10}}
    now = datetime(2026, 11, 26, 5, 0, 0, 600_000, tzinfo=UTC)
    stored = parse_time(format_kube_time(deletion_deadline(service, now)))
    assert stored is not None
    assert stored - now >= timedelta(seconds=10)
    assert stored - now < timedelta(seconds=11)
    exact = now.replace(microsecond=0)
    assert deletion_deadline(service, exact) == exact + timedelta(seconds=10)
