"""One whole RayService pass decided without I/O: each path of the upgrade state machine, from ``Observed`` values
to the ``PassPlan`` (clusters, Serve PUT, switch, Services, status, requeue)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from rayservice.controller.names import cluster_config_hash
from rayservice.controller.rayservice import Observed, ServeState, check_service, plan
from rayservice.ray import compute_application_statuses
from tests.unit.controller.rayservice.samples import (
    NOW,
    cluster_config,
    raw_cluster,
    ray_app,
    rayservice,
    recorded,
)

OLD_CONFIG = cluster_config(image="rayproject/ray:2.59.0")


def answer(service: dict[str, Any], *, deployed: bool, status: str = "RUNNING") -> dict[str, Any]:
    """Ray's answer: every desired application in ``status``, running the desired config when ``deployed``."""
    config = check_service(service).config or {}
    apps = {app["name"]: ray_app(status, config=app if deployed else None) for app in config.get("applications", [])}
    return {"applications": apps}


def observed(
    service: dict[str, Any],
    clusters: list[dict[str, Any]],
    *,
    selected: tuple[str, ...] = (),
    ray: dict[str, dict[str, Any]] | None = None,
    active: str | None = None,
    pending: str | None = None,
) -> Observed:
    check = check_service(service)
    states = {
        name: ServeState(f"http://10.0.0.{i}:8265", body, compute_application_statuses(body, now=NOW))
        for i, (name, body) in enumerate((ray or {}).items())
    }
    return Observed(
        service,
        check,
        cluster_config_hash(service["spec"]["rayClusterConfig"]),
        {c["metadata"]["name"]: c for c in clusters},
        None,
        None,
        selected,
        1,
        active=active,
        pending=pending,
        ray=states,
    )


@dataclass(frozen=True)
class Row:
    """One state of the upgrade and what the pass must decide in it."""

    id: str
    observed: Any
    creates: bool = False
    put_to: str | None = None
    switch: tuple[str | None, str] | None = None
    points_at: str | None = None
    drop: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    marked: tuple[str, ...] = ()
    kept_outdated: bool = False
    pending_after: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _rows() -> list[Row]:
    fresh = rayservice()
    steady = rayservice(status=recorded(active="a"))
    upgrading = rayservice(status=recorded(active="a", pending="p"))
    old_a = raw_cluster("a", config=OLD_CONFIG)
    return [
        Row("a new RayService records and creates its first cluster", observed(fresh, []), creates=True),
        Row(
            "the first cluster's head is not ready yet: nothing but waiting",
            observed(rayservice(status=recorded(pending="p")), [raw_cluster("p")], pending="p"),
            pending_after="p",
        ),
        Row(
            "the first cluster has no Serve apps: the config is PUT to it",
            observed(
                rayservice(status=recorded(pending="p")),
                [raw_cluster("p")],
                pending="p",
                ray={"p": {"applications": {}}},
            ),
            put_to="p",
            pending_after="p",
        ),
        Row(
            "the first cluster serves the config: traffic switches to it",
            observed(
                rayservice(status=recorded(pending="p")),
                [raw_cluster("p")],
                pending="p",
                ray={"p": answer(fresh, deployed=True)},
            ),
            switch=(None, "p"),
            points_at="p",
            pending_after="p",  # the cluster plan's pending cluster is the one traffic switches to
        ),
        Row(
            "a converged RayService keeps its cluster and PUTs nothing",
            observed(steady, [raw_cluster("a")], selected=("a",), active="a", ray={"a": answer(steady, deployed=True)}),
            points_at="a",
        ),
        Row(
            "a rayClusterConfig change starts a pending cluster",
            observed(steady, [old_a], selected=("a",), active="a", ray={"a": answer(steady, deployed=True)}),
            creates=True,
        ),
        Row(
            "with upgradeStrategy None a changed rayClusterConfig is kept outdated",
            observed(
                rayservice(status=recorded(active="a"), upgradeStrategy={"type": "None"}),
                [old_a],
                selected=("a",),
                active="a",
                ray={"a": answer(steady, deployed=True)},
            ),
            points_at="a",
            kept_outdated=True,
        ),
        Row(
            "the pending cluster is still deploying: no switch, the Services stay on the active one",
            observed(
                upgrading,
                [old_a, raw_cluster("p")],
                selected=("a",),
                active="a",
                pending="p",
                ray={"a": answer(upgrading, deployed=True), "p": answer(upgrading, deployed=True, status="DEPLOYING")},
            ),
            points_at="a",
            pending_after="p",
        ),
        Row(
            "the pending cluster serves the config: traffic switches and the old one gets its deadline",
            observed(
                upgrading,
                [old_a, raw_cluster("p")],
                selected=("a",),
                active="a",
                pending="p",
                ray={"a": answer(upgrading, deployed=True), "p": answer(upgrading, deployed=True)},
            ),
            switch=("a", "p"),
            points_at="p",
            pending_after="p",
        ),
        Row(
            "a spec reverted mid-upgrade drops the pending cluster",
            observed(
                upgrading,
                [raw_cluster("a"), raw_cluster("p", config=OLD_CONFIG)],
                selected=("a",),
                active="a",
                pending="p",
                ray={"a": answer(upgrading, deployed=True)},
            ),
            points_at="a",
            drop=("p",),
        ),
        Row(
            "a newer spec mid-upgrade replaces the outdated pending cluster",
            observed(
                upgrading,
                [old_a, raw_cluster("p", config=cluster_config(image="rayproject/ray:2.58.0"))],
                selected=("a",),
                active="a",
                pending="p",
            ),
            creates=True,
            drop=("p",),
        ),
        Row(
            "an old cluster without a deadline gets one",
            observed(
                steady,
                [raw_cluster("a"), raw_cluster("old")],
                selected=("a",),
                active="a",
                ray={"a": answer(steady, deployed=True)},
            ),
            points_at="a",
            marked=("old",),
        ),
        Row(
            "an old cluster whose deadline passed is deleted",
            observed(
                steady,
                [raw_cluster("a"), raw_cluster("old", delete_after=NOW - timedelta(seconds=1))],
                selected=("a",),
                active="a",
                ray={"a": answer(steady, deployed=True)},
            ),
            points_at="a",
            delete=("old",),
        ),
        Row(
            "an old cluster past its deadline that is already being deleted (a finalizer holds it, e.g. while its "
            "Redis cleanup Job runs) is neither deleted nor marked again",
            observed(
                steady,
                [raw_cluster("a"), deleting(raw_cluster("old", delete_after=NOW - timedelta(seconds=1)))],
                selected=("a",),
                active="a",
                ray={"a": answer(steady, deployed=True)},
            ),
            points_at="a",
        ),
        Row(
            "an old cluster without a deadline that is already being deleted gets none",
            observed(
                steady,
                [raw_cluster("a"), deleting(raw_cluster("old"))],
                selected=("a",),
                active="a",
                ray={"a": answer(steady, deployed=True)},
            ),
            points_at="a",
        ),
        Row(
            "a pending cluster given up while already being deleted is not dropped again",
            observed(
                upgrading,
                [raw_cluster("a"), deleting(raw_cluster("p", config=OLD_CONFIG))],
                selected=("a",),
                active="a",
                pending="p",
                ray={"a": answer(upgrading, deployed=True)},
            ),
            points_at="a",
        ),
    ]


def deleting(cluster: dict[str, Any]) -> dict[str, Any]:
    cluster["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    cluster["metadata"]["finalizers"] = ["ray.io/gcs-ft-redis-cleanup-finalizer"]
    return cluster


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_state_of_the_upgrade_gets_its_plan(row: Row) -> None:
    decided = plan(row.observed, NOW, random.Random(0))
    clusters = decided.clusters
    assert (clusters.create is not None) == row.creates
    if row.creates:
        assert decided.status["pendingServiceStatus"]["rayClusterName"] == clusters.create.name
        assert decided.status_if_create_fails is not None
        assert "pendingServiceStatus" not in decided.status_if_create_fails
        assert decided.serve_put is None and decided.switch is None and not decided.services
    assert (decided.serve_put.cluster if decided.serve_put else None) == row.put_to
    assert ((decided.switch.old, decided.switch.new) if decided.switch else None) == row.switch
    pointed = {svc["spec"]["selector"]["ray.io/cluster"] for svc in decided.services}
    assert pointed == ({row.points_at} if row.points_at else set())
    assert clusters.drop == row.drop
    assert clusters.delete == row.delete
    assert tuple(name for name, _ in clusters.mark) == row.marked
    assert clusters.kept_outdated == row.kept_outdated
    if not row.creates:
        assert clusters.pending == row.pending_after


def test_a_switch_sets_the_old_clusters_deadline_after_the_deletion_delay_and_records_the_new_active() -> None:
    row = next(row for row in ROWS if row.switch == ("a", "p"))
    decided = plan(row.observed, NOW, random.Random(0))
    assert decided.switch is not None and decided.switch.old_deadline == NOW + timedelta(seconds=60)
    assert decided.status["activeServiceStatus"]["rayClusterName"] == "p"
    assert "pendingServiceStatus" not in decided.status


def test_a_first_put_is_marked_first_and_a_failed_put_backs_off() -> None:
    row = next(row for row in ROWS if row.put_to == "p")
    decided = plan(row.observed, NOW, random.Random(0))
    assert decided.serve_put is not None and decided.serve_put.first
    assert decided.requeue_after_s == 1.0  # converging after the PUT
    assert decided.requeue_after_put_failure_s == 1.0  # the first failure: 2**0 s


def test_the_unreachable_clock_runs_while_the_active_head_is_not_ready_and_stops_once_it_serves() -> None:
    steady = rayservice(status=recorded(active="a"))
    waiting = plan(observed(steady, [raw_cluster("a")], selected=("a",), active="a"), NOW, random.Random(0))
    assert waiting.health_clock == "run"
    served = observed(steady, [raw_cluster("a")], selected=("a",), active="a", ray={"a": answer(steady, deployed=True)})
    assert plan(served, NOW, random.Random(0)).health_clock == "stop"


def test_the_same_observation_gives_the_same_plan() -> None:
    for row in ROWS:
        assert plan(row.observed, NOW, random.Random(3)) == plan(row.observed, NOW, random.Random(3))
