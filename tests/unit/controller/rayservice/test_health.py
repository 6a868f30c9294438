"""Unhealthy thresholds: opt-in, measured from persisted times, with exponential backoff between replacements."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from rayservice.controller.rayservice import (
    ClusterFacts,
    Health,
    NewCluster,
    decide,
    replacement_backoff_s,
    replacement_due,
    unhealthy_since,
)
from rayservice.ray import ServeAppStatus
from rayservice.testing import FakeClock
from tests.unit.controller.rayservice.samples import DESIRED, rayservice, recorded

THRESHOLD = {"serviceUnhealthySecondThreshold": 30}


def app(status: str, since: datetime) -> ServeAppStatus:
    return ServeAppStatus(status, "", since, {})


def test_the_backoff_doubles_from_a_minute_up_to_an_hour_and_is_zero_for_a_first_cluster() -> None:
    assert [replacement_backoff_s(n) for n in range(9)] == [0, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_unhealthy_since_is_the_earliest_time_a_desired_app_turned_unhealthy_or_failed() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    statuses = {
        "a": app("UNHEALTHY", t0 + timedelta(seconds=5)),
        "b": app("DEPLOY_FAILED", t0 + timedelta(seconds=9)),
        "c": app("RUNNING", t0),
        "other": app("UNHEALTHY", t0 - timedelta(seconds=99)),
    }
    assert unhealthy_since(statuses, ["a", "b", "c"]) == t0 + timedelta(seconds=5)
    assert unhealthy_since(statuses, ["c"]) is None


@pytest.mark.parametrize("threshold", [None, "30", True, -1])
def test_an_unset_or_malformed_threshold_never_replaces(threshold: object) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    spec = {"serviceUnhealthySecondThreshold": threshold}
    health = Health(apps_unhealthy_since=t0)
    assert replacement_due(spec, None, 0, health, t0 + timedelta(days=1)) == (None, None)


def test_a_healthy_cluster_is_never_due() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert replacement_due(THRESHOLD, t0, 5, Health(), t0 + timedelta(days=1)) == (None, None)


def test_replacements_of_a_cluster_that_never_serves_slow_down_on_a_fake_clock() -> None:
    """Each replacement becomes active, stays unhealthy, and is replaced: the gaps grow 60, 120, 240 s."""
    clock = FakeClock(start_now=datetime(2026, 1, 1, tzinfo=UTC))
    rng = random.Random(0)
    active = ClusterFacts("c0", DESIRED, created=clock.now() - timedelta(hours=1))
    unhealthy_from = clock.now()
    replaced_at: list[datetime] = []
    while len(replaced_at) < 4:
        plan = decide(
            rayservice(status=recorded(active=active.name), **THRESHOLD),
            [active],
            selected=(active.name,),
            desired_hash=DESIRED,
            health=Health(apps_unhealthy_since=unhealthy_from),
            now=clock.now(),
            rng=rng,
        )
        if plan.create is None:
            assert plan.wake_at is not None and plan.wake_at > clock.now()
            clock.step((plan.wake_at - clock.now()).total_seconds())
            continue
        assert plan.create == NewCluster(plan.create.name, active.replacements + 1)
        replaced_at.append(clock.now())
        # The replacement starts, becomes active, and its apps fail at once.
        active = ClusterFacts(plan.create.name, DESIRED, created=clock.now(), replacements=plan.create.replacements)
        unhealthy_from = clock.now()
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(replaced_at)]
    assert replaced_at[0] == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)  # the first one after the threshold
    assert gaps == [60, 120, 240]
