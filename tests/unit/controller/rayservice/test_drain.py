"""The graceful drain of a replaced cluster, decided without I/O: ``drain.decide_drain`` and the pass ``plan`` that
uses it (drained -> deleted; in flight before the bound -> kept with a requeue; past the bound -> deleted with
the reason for a Warning event; nothing observable -> deleted at the deadline, as without a drain)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from rayservice.controller.names import cluster_config_hash
from rayservice.controller.rayservice import Observed, ServeState, check_service, plan
from rayservice.controller.rayservice.drain import METRICS_LAG_S, POLL_S, decide_drain, drain_budget_s
from rayservice.ray import compute_application_statuses
from tests.unit.controller.rayservice.samples import NOW, raw_cluster, ray_app, rayservice, recorded

DELAY_S = 2
BUDGET_S = 20 + METRICS_LAG_S  # Ray's default graceful_shutdown_timeout_s, plus the metrics lag


def _service(**spec: Any) -> dict[str, Any]:
    service = rayservice(status=recorded(active="a"))
    service["spec"]["rayClusterDeletionDelaySeconds"] = DELAY_S
    service["spec"].update(spec)
    return service


def _observed(service: dict[str, Any], deadline: datetime, in_flight: dict[str, int | None]) -> Observed:
    check = check_service(service)
    config = check.config or {}
    body = {"applications": {app["name"]: ray_app("RUNNING", config=app) for app in config.get("applications", [])}}
    clusters = [raw_cluster("a"), raw_cluster("old", delete_after=deadline)]
    return Observed(
        service, check, cluster_config_hash(service["spec"]["rayClusterConfig"]),
        {c["metadata"]["name"]: c for c in clusters}, None, None, ("a",), 1, active="a",
        ray={"a": ServeState("http://10.0.0.1:8265", body, compute_application_statuses(body, now=NOW))},
        in_flight=in_flight,
    )


def _decide(count: int | None, *, deadline_ago_s: float, observable: bool = True) -> Any:
    deadline = NOW - timedelta(seconds=deadline_ago_s)
    in_flight = {"old": count} if observable else {}
    return decide_drain(_service(), None, ["old"], {"old": deadline}, in_flight, NOW)


class TestDecideDrain:
    def test_a_drained_cluster_is_deleted_once_its_zero_reading_is_trusted(self) -> None:
        # the switch was DELAY_S before the deadline; a reading METRICS_LAG_S after the switch covers every request
        verdict = _decide(0, deadline_ago_s=METRICS_LAG_S - DELAY_S)
        assert verdict.delete == ("old",) and verdict.forced == () and verdict.waiting == ()

    def test_a_zero_reading_too_soon_after_the_switch_waits_until_it_is_trusted(self) -> None:
        verdict = _decide(0, deadline_ago_s=1)
        assert verdict.delete == () and verdict.waiting == (("old", 0),)
        switch = NOW - timedelta(seconds=1 + DELAY_S)
        assert verdict.wake_at == switch + timedelta(seconds=METRICS_LAG_S)

    def test_requests_in_flight_before_the_bound_keep_the_cluster_and_poll_again(self) -> None:
        verdict = _decide(3, deadline_ago_s=10)
        assert verdict.delete == () and verdict.forced == () and verdict.waiting == (("old", 3),)
        assert verdict.wake_at == NOW + timedelta(seconds=POLL_S)

    def test_the_poll_never_wakes_later_than_the_bound(self) -> None:
        verdict = _decide(3, deadline_ago_s=BUDGET_S - 0.5)
        assert verdict.wake_at == NOW + timedelta(seconds=0.5)

    def test_past_the_bound_the_cluster_is_deleted_anyway_and_the_reason_names_the_requests(self) -> None:
        verdict = _decide(2, deadline_ago_s=BUDGET_S)
        assert verdict.delete == ("old",)
        ((name, why),) = verdict.forced
        assert name == "old" and "2 requests still in flight" in why and f"{BUDGET_S:g} s" in why

    def test_an_unreadable_cluster_waits_like_one_with_requests_in_flight_until_the_bound(self) -> None:
        assert _decide(None, deadline_ago_s=5).waiting == (("old", -1),)
        forced = _decide(None, deadline_ago_s=BUDGET_S + 1)
        assert forced.delete == ("old",) and "could not be read" in forced.forced[0][1]

    def test_a_cluster_with_nothing_observable_is_deleted_at_its_deadline_as_without_a_drain(self) -> None:
        verdict = _decide(None, deadline_ago_s=0, observable=False)
        assert verdict.delete == ("old",) and verdict.forced == () and verdict.wake_at is None


@pytest.mark.parametrize(
    ("timeouts", "budget"),
    [((), 20 + METRICS_LAG_S), ((5,), 20 + METRICS_LAG_S), ((5, 90), 90 + METRICS_LAG_S),
     ((True,), 20 + METRICS_LAG_S)],
)
def test_the_drain_bound_is_the_longest_graceful_shutdown_timeout_at_least_rays_default(
    timeouts: tuple[Any, ...], budget: float
) -> None:
    config = {"applications": [{"name": "x", "deployments": [{"name": f"d{i}", "graceful_shutdown_timeout_s": t}
                                                             for i, t in enumerate(timeouts)]}]}
    assert drain_budget_s(config) == budget


class TestPlan:
    def test_drained_the_old_cluster_is_deleted(self) -> None:
        deadline = NOW - timedelta(seconds=METRICS_LAG_S)
        decided = plan(_observed(_service(), deadline, {"old": 0}), NOW, random.Random(1))
        assert decided.clusters.delete == ("old",) and decided.drain_forced == ()

    def test_not_drained_before_the_bound_the_old_cluster_waits_with_a_requeue(self) -> None:
        decided = plan(_observed(_service(), NOW - timedelta(seconds=5), {"old": 4}), NOW, random.Random(1))
        assert decided.clusters.delete == ()
        assert decided.requeue_after_s is not None and decided.requeue_after_s <= POLL_S

    def test_past_the_bound_the_old_cluster_is_deleted_anyway_with_the_reason_for_an_event(self) -> None:
        decided = plan(_observed(_service(), NOW - timedelta(seconds=BUDGET_S), {"old": 1}), NOW, random.Random(1))
        assert decided.clusters.delete == ("old",)
        assert [name for name, _ in decided.drain_forced] == ["old"]
        assert "1 request still in flight" in decided.drain_forced[0][1]

    def test_without_a_reading_the_pass_is_the_one_without_a_drain(self) -> None:
        decided = plan(_observed(_service(), NOW - timedelta(seconds=1), {}), NOW, random.Random(1))
        assert decided.clusters.delete == ("old",) and decided.drain_forced == ()
