"""Every outcome of a rollout under ``spec.rolloutPolicy``, decided by ``plan`` without I/O: a cluster upgrade or an
in-place Serve update that serves in time, times out, stays DEPLOY_FAILED past the grace period, is rolled back,
waited for, retried, or tried again after a spec change; and a RayService without the policy that is left as it
was."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from rayservice.api import format_kube_time
from rayservice.controller.names import cluster_config_hash
from rayservice.controller.rayservice import (
    DEPLOY_FAILED_GRACE_S,
    LAST_GOOD_ANNOTATION,
    MAX_LAST_GOOD_BYTES,
    RETRY_ANNOTATION,
    Observed,
    PassPlan,
    ServeState,
    check_service,
    decode_last_good,
    encode_last_good,
    plan,
    rollout_ended,
    serve_config_hash,
    status_events,
)
from rayservice.metrics import OperatorMetrics
from rayservice.ray import compute_application_statuses
from tests.fruit_market import fruit_v2_yaml
from tests.unit.controller.rayservice.samples import NOW, cluster_config, raw_cluster, ray_app, rayservice, recorded

OLD_CONFIG = cluster_config(image="rayproject/ray:2.59.0")
POLICY = {"timeoutSeconds": 600}
GOOD_YAML = fruit_v2_yaml(mango_price=3)
NEW_YAML = fruit_v2_yaml(mango_price=5)
GOOD = check_service(rayservice(serveConfigV2=GOOD_YAML)).config
NEW = check_service(rayservice(serveConfigV2=NEW_YAML)).config
assert GOOD is not None and NEW is not None


def service(*, status: dict[str, Any], policy: dict[str, Any] | None = POLICY, **spec: Any) -> dict[str, Any]:
    body = rayservice(status=copy.deepcopy(status), serveConfigV2=spec.pop("serve", NEW_YAML), **spec)
    if policy is not None:
        body["spec"]["rolloutPolicy"] = policy
    return body


def answer(config: dict[str, Any] | None, status: str = "RUNNING", message: str = "") -> dict[str, Any]:
    """Ray's answer: the applications of ``config`` deployed, each in ``status``."""
    assert config is not None
    apps = {app["name"]: ray_app(status, config=app, message=message) for app in config["applications"]}
    return {"applications": apps}


def state(body: dict[str, Any], *, since: datetime = NOW) -> ServeState:
    """A dashboard read whose applications hold their status since ``since`` (the stored healthLastUpdateTime)."""
    previous = {
        name: {"status": app["status"], "message": app["message"], "healthLastUpdateTime": format_kube_time(since)}
        for name, app in body["applications"].items()
    }
    return ServeState("http://10.0.0.1:8265", body, compute_application_statuses(body, now=NOW, previous=previous))


def observed(
    svc: dict[str, Any],
    clusters: list[dict[str, Any]],
    *,
    active: str | None = "a",
    pending: str | None = None,
    ray: dict[str, ServeState] | None = None,
) -> Observed:
    return Observed(
        svc,
        check_service(svc),
        cluster_config_hash(svc["spec"]["rayClusterConfig"]),
        {c["metadata"]["name"]: c for c in clusters},
        None,
        None,
        (active,) if active else (),
        1,
        active=active,
        pending=pending,
        ray=ray or {},
    )


def with_last_good(cluster: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    value = encode_last_good(config) if config is not None else None
    if value is not None:
        cluster["metadata"]["annotations"][LAST_GOOD_ANNOTATION] = value
    return cluster


def failure(kind: str, cluster: str, svc: dict[str, Any], action: str, **fields: Any) -> dict[str, Any]:
    """``status.failedRollout`` as a pass that gave up on ``svc``'s spec recorded it."""
    return {
        "kind": kind,
        "rayClusterName": cluster,
        "clusterConfigHash": cluster_config_hash(svc["spec"]["rayClusterConfig"]),
        "serveConfigHash": serve_config_hash(check_service(svc).config),
        "retryToken": svc["metadata"].get("annotations", {}).get(RETRY_ANNOTATION, ""),
        "reason": "Timeout",
        "message": "not serving within 600 s",
        "action": action,
        "time": format_kube_time(NOW - timedelta(seconds=5)),
        **fields,
    }


def failed_after(svc: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """``svc`` whose status records ``record`` as its failed rollout."""
    svc["status"]["failedRollout"] = record
    return svc


# ---- the rows -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A state of a rollout and what the pass must decide in it."""

    id: str
    observed: Observed
    gave_up: str | None = None  # the reason recorded by this pass
    action: str | None = None
    failed_kept: bool = False
    creates: bool = False
    drop: tuple[str, ...] = ()
    put: dict[str, Any] | None = None
    switch: bool = False
    pending_after: str | None = None
    remember: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _upgrade_rows() -> list[Row]:
    upgrading = recorded(active="a", pending="p")
    old_a = raw_cluster("a", config=OLD_CONFIG, created=NOW - timedelta(hours=2))
    late_p = raw_cluster("p", created=NOW - timedelta(seconds=601))
    young_p = raw_cluster("p", created=NOW - timedelta(seconds=60))
    running_a = {"a": state(answer(NEW))}
    svc = service(status=upgrading)
    wait = service(status=upgrading, policy={**POLICY, "onFailure": "Wait"})
    return [
        Row(
            "a pending cluster not serving 600 s after its creation is given up, and only that is recorded",
            observed(svc, [old_a, late_p], pending="p", ray={**running_a, "p": state(answer(NEW, "DEPLOYING"))}),
            gave_up="Timeout",
            action="RolledBack",
            pending_after="p",
        ),
        Row(
            "a pending cluster with an app DEPLOY_FAILED past the grace period is given up before its deadline",
            observed(
                svc,
                [old_a, young_p],
                pending="p",
                ray={
                    **running_a,
                    "p": state(
                        answer(NEW, "DEPLOY_FAILED", "ImportError: no module bad"), since=NOW - timedelta(seconds=31)
                    ),
                },
            ),
            gave_up="DeployFailed",
            action="RolledBack",
            pending_after="p",
        ),
        Row(
            "a pending cluster DEPLOY_FAILED for less than the grace period keeps its chance",
            observed(
                svc,
                [old_a, young_p],
                pending="p",
                ray={**running_a, "p": state(answer(NEW, "DEPLOY_FAILED"), since=NOW - timedelta(seconds=10))},
            ),
            pending_after="p",
            extra={"requeue_at_most_s": 20.0},
        ),
        Row(
            "a pending cluster whose head is not ready by its deadline is given up",
            observed(svc, [old_a, late_p], pending="p", ray=running_a),
            gave_up="Timeout",
            action="RolledBack",
            pending_after="p",
        ),
        Row(
            "a pending cluster that serves before its deadline is switched to",
            observed(svc, [old_a, young_p], pending="p", ray={**running_a, "p": state(answer(NEW))}),
            switch=True,
            pending_after="p",
        ),
        Row(
            "after the failure is recorded the pending cluster is deleted, and the active one gets no PUT",
            observed(
                failed_after(service(status=upgrading), failure("Cluster", "p", svc, "RolledBack")),
                [old_a, late_p],
                pending="p",
                ray={"a": state(answer(GOOD)), "p": state(answer(NEW, "DEPLOYING"))},
            ),
            failed_kept=True,
            drop=("p",),
        ),
        Row(
            "a rolled-back upgrade makes no new pending cluster for the same spec",
            observed(
                failed_after(service(status=recorded(active="a")), failure("Cluster", "p", svc, "RolledBack")),
                [old_a],
                ray={"a": state(answer(GOOD))},
            ),
            failed_kept=True,
        ),
        Row(
            "a rolled-back upgrade whose active head lost Serve gets its last good config again",
            observed(
                failed_after(service(status=recorded(active="a")), failure("Cluster", "p", svc, "RolledBack")),
                [with_last_good(raw_cluster("a", config=OLD_CONFIG), GOOD)],
                ray={"a": state({"applications": {}})},
            ),
            failed_kept=True,
            put=GOOD,
        ),
        Row(
            "a changed retry annotation tries the same spec once more",
            observed(
                failed_after(
                    service(status=recorded(active="a"))
                    | {"metadata": {**svc["metadata"], "annotations": {RETRY_ANNOTATION: "2"}}},
                    failure("Cluster", "p", svc, "RolledBack"),
                ),
                [old_a],
                ray={"a": state(answer(GOOD))},
            ),
            creates=True,
        ),
        Row(
            "a changed spec is a new rollout",
            observed(
                failed_after(
                    service(status=recorded(active="a"), config=cluster_config(image="rayproject/ray:2.60.1")),
                    failure("Cluster", "p", svc, "RolledBack"),
                ),
                [old_a],
                ray={"a": state(answer(GOOD))},
            ),
            creates=True,
        ),
        Row(
            "with onFailure Wait the late pending cluster is given up in the status only",
            observed(wait, [old_a, late_p], pending="p", ray={**running_a, "p": state(answer(NEW, "DEPLOYING"))}),
            gave_up="Timeout",
            action="Waiting",
            pending_after="p",
        ),
        Row(
            "with onFailure Wait the pending cluster is kept after the failure",
            observed(
                failed_after(
                    service(status=upgrading, policy={**POLICY, "onFailure": "Wait"}),
                    failure("Cluster", "p", wait, "Waiting"),
                ),
                [old_a, late_p],
                pending="p",
                ray={**running_a, "p": state(answer(NEW, "DEPLOYING"))},
            ),
            failed_kept=True,
            pending_after="p",
        ),
        Row(
            "with onFailure Wait a pending cluster that serves at last is switched to and the failure cleared",
            observed(
                failed_after(
                    service(status=upgrading, policy={**POLICY, "onFailure": "Wait"}),
                    failure("Cluster", "p", wait, "Waiting"),
                ),
                [old_a, late_p],
                pending="p",
                ray={**running_a, "p": state(answer(NEW))},
            ),
            switch=True,
            pending_after="p",
        ),
        Row(
            "without rolloutPolicy a pending cluster DEPLOY_FAILED for hours is never given up",
            observed(
                service(status=upgrading, policy=None),
                [old_a, raw_cluster("p", created=NOW - timedelta(hours=3))],
                pending="p",
                ray={**running_a, "p": state(answer(NEW, "DEPLOY_FAILED"), since=NOW - timedelta(hours=3))},
            ),
            pending_after="p",
            extra={"no_rollout_fields": True},
        ),
    ]


def _serve_rows() -> list[Row]:
    steady = recorded(active="a")
    a_good = with_last_good(raw_cluster("a"), GOOD)
    svc = service(status=steady)
    late = {
        **steady,
        "rollout": {
            "kind": "Serve",
            "rayClusterName": "a",
            "clusterConfigHash": cluster_config_hash(svc["spec"]["rayClusterConfig"]),
            "serveConfigHash": serve_config_hash(NEW),
            "retryToken": "",
            "startTime": format_kube_time(NOW - timedelta(seconds=601)),
            "deadline": format_kube_time(NOW - timedelta(seconds=1)),
        },
    }
    wait = service(status=steady, policy={**POLICY, "onFailure": "Wait"})
    return [
        Row(
            "a new Serve config is PUT in place, its rollout clock started",
            observed(svc, [a_good], ray={"a": state(answer(GOOD))}),
            put=NEW,
            extra={"record_start": NOW},
        ),
        Row(
            "an in-place update DEPLOY_FAILED past the grace period is given up, and only that is recorded",
            observed(
                svc, [a_good], ray={"a": state(answer(NEW, "DEPLOY_FAILED", "boom"), since=NOW - timedelta(seconds=31))}
            ),
            gave_up="DeployFailed",
            action="RolledBack",
        ),
        Row(
            "an in-place update not RUNNING by the deadline stored in status is given up",
            observed(service(status=late), [a_good], ray={"a": state(answer(NEW, "DEPLOYING"))}),
            gave_up="Timeout",
            action="RolledBack",
        ),
        Row(
            "after the failure is recorded the last good config is PUT back",
            observed(
                failed_after(service(status=steady), failure("Serve", "a", svc, "RolledBack")),
                [a_good],
                ray={"a": state(answer(NEW, "DEPLOY_FAILED"))},
            ),
            failed_kept=True,
            put=GOOD,
        ),
        Row(
            "a rolled-back update is not PUT again while Ray runs the last good config",
            observed(
                failed_after(service(status=steady), failure("Serve", "a", svc, "RolledBack")),
                [a_good],
                ray={"a": state(answer(GOOD))},
            ),
            failed_kept=True,
            extra={"requeue_at_least_s": 60.0},
        ),
        Row(
            "with no last good config known there is nothing to roll back to",
            observed(
                svc,
                [raw_cluster("a")],
                ray={"a": state(answer(NEW, "DEPLOY_FAILED"), since=NOW - timedelta(seconds=31))},
            ),
            gave_up="DeployFailed",
            action="NothingToRollBackTo",
        ),
        Row(
            "a config served with every application RUNNING is remembered as the last good one",
            observed(svc, [a_good], ray={"a": state(answer(NEW))}),
            remember=True,
        ),
        Row(
            "with onFailure Wait a failing update stays and the failure is reported",
            observed(wait, [a_good], ray={"a": state(answer(NEW, "DEPLOY_FAILED"), since=NOW - timedelta(seconds=31))}),
            gave_up="DeployFailed",
            action="Waiting",
        ),
        Row(
            "with onFailure Wait an update that runs at last clears the failure and is remembered",
            observed(
                failed_after(
                    service(status=steady, policy={**POLICY, "onFailure": "Wait"}),
                    failure("Serve", "a", wait, "Waiting"),
                ),
                [a_good],
                ray={"a": state(answer(NEW))},
            ),
            remember=True,
        ),
        Row(
            "without rolloutPolicy a DEPLOY_FAILED update is left alone and nothing is remembered",
            observed(
                service(status=steady, policy=None),
                [a_good],
                ray={"a": state(answer(NEW, "DEPLOY_FAILED"), since=NOW - timedelta(hours=1))},
            ),
            extra={"no_rollout_fields": True},
        ),
    ]


ROWS = [*_upgrade_rows(), *_serve_rows()]


def _upgrade_condition(decided: PassPlan) -> dict[str, Any]:
    return next(c for c in decided.status["conditions"] if c["type"] == "UpgradeInProgress")


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_rollout_outcome_gets_its_plan(row: Row) -> None:
    decided = plan(row.observed, NOW, random.Random(0))
    failed = decided.status.get("failedRollout")
    stored = row.observed.service["status"].get("failedRollout")
    if row.gave_up is not None:
        assert failed is not None and failed != stored
        assert (failed["reason"], failed["action"]) == (row.gave_up, row.action)
        assert failed["time"] == format_kube_time(NOW)
        assert _upgrade_condition(decided)["reason"] == "RolloutFailed"
        # the pass that gives up writes nothing but the status: the rollback follows from the record
        clusters = decided.clusters
        assert (clusters.create, clusters.drop, clusters.delete, clusters.mark) == (None, (), (), ())
        assert decided.serve_put is None and decided.switch is None and decided.services == ()
    elif row.failed_kept:
        assert failed == stored
        assert _upgrade_condition(decided)["reason"] == "RolloutFailed"
    else:
        assert failed is None
        assert _upgrade_condition(decided)["reason"] != "RolloutFailed"
    assert (decided.clusters.create is not None) == row.creates
    assert decided.clusters.drop == row.drop
    assert (decided.serve_put.config if decided.serve_put else None) == row.put
    assert (decided.switch is not None) == row.switch
    if not row.creates:
        assert decided.clusters.pending == row.pending_after
    assert (decided.remember_serve is not None) == row.remember
    if row.remember:
        assert decided.remember_serve is not None
        assert decode_last_good(decided.remember_serve[1]) == NEW
    if "record_start" in row.extra:
        assert decided.status["rollout"]["startTime"] == format_kube_time(row.extra["record_start"])
        assert decided.status["rollout"]["deadline"] == format_kube_time(
            row.extra["record_start"] + timedelta(seconds=600)
        )
    if row.extra.get("no_rollout_fields"):
        assert "rollout" not in decided.status and "failedRollout" not in decided.status
    if "requeue_at_most_s" in row.extra:
        assert decided.requeue_after_s is not None and decided.requeue_after_s <= row.extra["requeue_at_most_s"]
    if "requeue_at_least_s" in row.extra:
        assert decided.requeue_after_s is not None and decided.requeue_after_s >= row.extra["requeue_at_least_s"]


def test_a_cluster_rollouts_deadline_is_the_pending_clusters_creation_plus_the_timeout_and_kept_in_status() -> None:
    row = next(row for row in ROWS if row.id.startswith("a pending cluster DEPLOY_FAILED for less"))
    decided = plan(row.observed, NOW, random.Random(0))
    rollout = decided.status["rollout"]
    assert rollout["kind"] == "Cluster" and rollout["rayClusterName"] == "p"
    assert rollout["startTime"] == format_kube_time(NOW - timedelta(seconds=60))
    assert rollout["deadline"] == format_kube_time(NOW + timedelta(seconds=540))


def test_the_grace_period_is_thirty_seconds() -> None:
    assert DEPLOY_FAILED_GRACE_S == 30.0


def test_the_failure_event_is_recorded_once_with_the_cause_in_rays_words() -> None:
    row = next(row for row in ROWS if row.gave_up == "DeployFailed" and "pending" in row.id)
    decided = plan(row.observed, NOW, random.Random(0))
    events = status_events(row.observed.service, decided.status, row.observed.check)
    assert "RayCluster p" in events.rollout_failed and "ImportError: no module bad" in events.rollout_failed
    stored = {**row.observed.service, "status": decided.status}
    assert status_events(stored, decided.status, row.observed.check).rollout_failed == ""


def test_rollout_policy_with_upgrade_strategy_none_is_reported_once_per_generation() -> None:
    svc = service(status=recorded(active="a"), upgradeStrategy={"type": "None"})
    decided = plan(observed(svc, [raw_cluster("a")], ray={"a": state(answer(NEW))}), NOW, random.Random(0))
    first = status_events(svc, decided.status, check_service(svc))
    assert "upgradeStrategy.type is None" in first.rollout_policy_limited
    again = status_events({**svc, "status": decided.status}, decided.status, check_service(svc))
    assert again.rollout_policy_limited == ""


def test_the_same_observation_gives_the_same_rollout_plan() -> None:
    for row in ROWS:
        assert plan(row.observed, NOW, random.Random(3)) == plan(row.observed, NOW, random.Random(3))


# ---- the last good config annotation --------------------------------------------------------------------------


def test_a_last_good_config_round_trips_through_its_annotation() -> None:
    assert decode_last_good(encode_last_good(GOOD)) == GOOD


def test_a_large_config_is_compressed_under_the_annotation_budget() -> None:
    big = {
        "applications": [{**GOOD["applications"][0], "name": f"app{i}", "route_prefix": f"/r{i}"} for i in range(400)]
    }
    value = encode_last_good(big)
    assert value is not None and value.startswith("gzip+base64:") and len(value) <= MAX_LAST_GOOD_BYTES
    assert decode_last_good(value) == big


def test_a_config_that_does_not_fit_even_compressed_is_not_kept() -> None:
    noise = random.Random(1).randbytes(300 * 1024).hex()
    assert encode_last_good({"applications": [], "blob": noise}) is None


@pytest.mark.parametrize("value", [None, "", "not json", "gzip+base64:!!!", "[1, 2]", "gzip+base64:aGVsbG8="])
def test_an_unreadable_annotation_reads_as_no_last_good_config(value: object) -> None:
    assert decode_last_good(value) is None


# ---- the end of a rollout, as metrics count it ------------------------------------------------------------------


def _rollout_record(kind: str = "Cluster", cluster: str = "p", start_s: float = 100.0) -> dict[str, Any]:
    svc = service(status=recorded(active="a"))
    return {
        "kind": kind,
        "rayClusterName": cluster,
        "clusterConfigHash": cluster_config_hash(svc["spec"]["rayClusterConfig"]),
        "serveConfigHash": serve_config_hash(NEW),
        "retryToken": "",
        "startTime": format_kube_time(NOW - timedelta(seconds=start_s)),
        "deadline": format_kube_time(NOW + timedelta(seconds=500)),
    }


DESIRED_PAIR = (_rollout_record()["clusterConfigHash"], serve_config_hash(NEW))


def test_a_rollout_given_up_with_a_rollback_ends_once_as_rolled_back_timed_from_its_start() -> None:
    record = _rollout_record()
    failed = failure("Cluster", "p", service(status=recorded(active="a")), "RolledBack", time=format_kube_time(NOW))
    before = {"rollout": record}
    after = {"failedRollout": failed}
    assert rollout_ended(before, after, desired=DESIRED_PAIR, now=NOW) == ("Cluster", "rolled_back", 100.0)
    assert rollout_ended(after, after, desired=DESIRED_PAIR, now=NOW) is None  # already counted


def test_a_rollout_given_up_while_waiting_ends_as_failed() -> None:
    failed = failure("Serve", "a", service(status=recorded(active="a")), "Waiting", time=format_kube_time(NOW))
    ended = rollout_ended(
        {"rollout": _rollout_record("Serve", "a")}, {"failedRollout": failed}, desired=DESIRED_PAIR, now=NOW
    )
    assert ended == ("Serve", "failed", 100.0)


def test_a_rollout_succeeds_when_its_record_goes_with_its_cluster_active() -> None:
    before = {"rollout": _rollout_record(start_s=40.0)}
    after = {"activeServiceStatus": {"rayClusterName": "p"}}
    assert rollout_ended(before, after, desired=DESIRED_PAIR, now=NOW) == ("Cluster", "succeeded", 40.0)


def test_a_rollout_superseded_by_a_newer_spec_or_reverted_is_no_success() -> None:
    before = {"rollout": _rollout_record()}
    assert (
        rollout_ended(before, {"activeServiceStatus": {"rayClusterName": "p"}}, desired=("other", "x"), now=NOW) is None
    )
    assert (
        rollout_ended(before, {"activeServiceStatus": {"rayClusterName": "a"}}, desired=DESIRED_PAIR, now=NOW) is None
    )


def test_rollouts_are_counted_by_outcome_and_timed() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.rollout_ended("svc", "ns", kind="Cluster", outcome="rolled_back", duration_s=42.0)
    labels = {"namespace": "ns", "kind": "Cluster", "outcome": "rolled_back"}
    assert registry.get_sample_value("rayservice_rollouts_total", labels) == 1.0
    assert registry.get_sample_value("rayservice_rollout_duration_seconds_sum", labels) == 42.0


# ---- the phase of a cluster upgrade, as metrics show it -----------------------------------------------------------


def _phase_rows() -> list[tuple[str, Observed, str]]:
    steady = recorded(active="a")
    upgrading = recorded(active="a", pending="p")
    old_a = raw_cluster("a", config=OLD_CONFIG)
    a_running = {"a": state(answer(NEW))}
    return [
        ("a steady RayService is idle", observed(service(status=steady), [raw_cluster("a")], ray=a_running), "idle"),
        (
            "a first cluster is no upgrade",
            observed(service(status=recorded(pending="p")), [raw_cluster("p")], active=None, pending="p"),
            "idle",
        ),
        (
            "the pass that creates the pending cluster",
            observed(service(status=steady), [old_a], ray=a_running),
            "pending_created",
        ),
        (
            "a pending cluster whose head is not ready",
            observed(service(status=upgrading), [old_a, raw_cluster("p")], pending="p", ray=a_running),
            "pending_created",
        ),
        (
            "a pending cluster whose head is ready, Serve not running yet",
            observed(
                service(status=upgrading),
                [old_a, raw_cluster("p")],
                pending="p",
                ray={**a_running, "p": state(answer(NEW, "DEPLOYING"))},
            ),
            "pods_ready",
        ),
        (
            "the pass that switches",
            observed(
                service(status=upgrading),
                [old_a, raw_cluster("p")],
                pending="p",
                ray={**a_running, "p": state(answer(NEW))},
            ),
            "switched",
        ),
        (
            "the old cluster waits for its deletion",
            observed(
                service(status=recorded(active="p")),
                [old_a, raw_cluster("p")],
                active="p",
                ray={"p": state(answer(NEW))},
            ),
            "switched",
        ),
    ]


@pytest.mark.parametrize(("case", "seen", "phase"), _phase_rows(), ids=[row[0] for row in _phase_rows()])
def test_each_step_of_an_upgrade_has_its_phase(case: str, seen: Observed, phase: str) -> None:
    assert plan(seen, NOW, random.Random(0)).phase == phase, case


def test_the_time_spent_in_each_phase_is_observed_when_the_phase_changes() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    for phase, at_s in (("idle", 0.0), ("pending_created", 10.0), ("pending_created", 12.0), ("pods_ready", 25.0)):
        metrics.upgrade_phase("svc", "ns", phase, at_s)
    metrics.upgrade_phase("svc", "ns", "switched", 31.0)
    sample = registry.get_sample_value
    assert (
        sample("rayservice_upgrade_phase_duration_seconds_sum", {"namespace": "ns", "phase": "pending_created"}) == 15.0
    )
    assert sample("rayservice_upgrade_phase_duration_seconds_sum", {"namespace": "ns", "phase": "pods_ready"}) == 6.0
    assert sample("rayservice_upgrade_phase", {"name": "svc", "namespace": "ns", "phase": "switched"}) == 1.0
    assert sample("rayservice_upgrade_phase", {"name": "svc", "namespace": "ns", "phase": "pods_ready"}) is None
    metrics.forget_service("svc", "ns")
    assert sample("rayservice_upgrade_phase", {"name": "svc", "namespace": "ns", "phase": "switched"}) is None
