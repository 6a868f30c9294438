"""Leader election on a Lease, stepped on a FakeClock against an in-memory lease API."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from rayservice.runtime import LeaderElectionConfig, LeaderElector, LeadershipLost, default_identity
from rayservice.testing import FakeClock, settle
from tests.unit.controller.fakes import FakeLeaseApi

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Replica:
    """An elector in its own task, recording its leadership callbacks."""

    def __init__(self, api: FakeLeaseApi, clock: FakeClock, identity: str) -> None:
        self.events: list[tuple[str, float]] = []
        config = LeaderElectionConfig(namespace="ops", identity=identity)
        self.elector = LeaderElector(
            api,
            config,
            clock=clock,
            rng=random.Random(7),
            on_started_leading=lambda: self.events.append(("started", clock.monotonic())),
            on_stopped_leading=lambda: self.events.append(("stopped", clock.monotonic())),
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run(), name=f"elector-{self.elector.config.identity}")

    async def crash(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.wait((self.task,))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> FakeLeaseApi:
    return FakeLeaseApi()


@pytest.fixture
async def replicas(api: FakeLeaseApi, clock: FakeClock) -> AsyncIterator[dict[str, Replica]]:
    made: dict[str, Replica] = {}
    with capture_logs():
        yield made
        for replica in made.values():
            if replica.task is not None:
                replica.task.cancel()
                await asyncio.wait((replica.task,))


async def advance(clock: FakeClock, seconds: float, step_s: float = 0.125) -> None:
    """Move time in small steps, letting every woken task run between them."""
    await settle()
    for _ in range(round(seconds / step_s)):
        clock.step(step_s)
        await settle()


def start(replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock, identity: str) -> Replica:
    replica = replicas[identity] = Replica(api, clock, identity)
    replica.start()
    return replica


class TestCampaign:
    async def test_the_first_replica_creates_the_lease_and_leads_at_once(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await settle()
        assert a.events == [("started", 0.0)]
        assert a.elector.is_leader and a.elector.state_known
        assert api.writes[0][0] == "create"
        spec = api.spec
        assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 15, 0)

    async def test_lease_times_are_micro_times_with_six_fraction_digits_and_z(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        start(replicas, api, clock, "a")
        await advance(clock, 2.0)
        for _, lease in api.writes:
            assert MICRO_TIME.match(lease["spec"]["acquireTime"]), lease["spec"]
            assert MICRO_TIME.match(lease["spec"]["renewTime"]), lease["spec"]

    async def test_simultaneous_campaigns_elect_exactly_one_leader(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        for identity in ("a", "b", "c"):
            start(replicas, api, clock, identity)
        await advance(clock, 30.0, step_s=0.5)
        leaders = [name for name, replica in replicas.items() if replica.elector.is_leader]
        assert len(leaders) == 1
        assert all(replica.elector.state_known for replica in replicas.values())

    async def test_a_follower_never_takes_a_lease_that_keeps_being_renewed(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await settle()
        b = start(replicas, api, clock, "b")
        await advance(clock, 60.0, step_s=0.5)
        assert a.elector.is_leader and not b.elector.is_leader
        assert b.elector.state_known and b.elector.holder == "a"
        assert b.events == []

    async def test_a_follower_takes_over_once_the_record_stood_still_for_the_lease_duration(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await settle()
        b = start(replicas, api, clock, "b")
        await advance(clock, 4.0)
        await a.crash()  # no release: b must wait for the lease to run out
        crashed_at = clock.monotonic()
        await advance(clock, 12.0)
        assert b.events == []  # the last renewal was at most 2 s before the crash: not expired yet
        await advance(clock, 8.0)
        ((kind, took_over_at),) = b.events
        assert kind == "started"
        assert 15.0 - 2.0 <= took_over_at - crashed_at <= 15.0 + 2.0 * 1.2
        assert api.spec["holderIdentity"] == "b" and api.spec["leaseTransitions"] == 1

    async def test_a_released_lease_is_taken_at_the_next_retry(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await settle()
        b = start(replicas, api, clock, "b")
        await advance(clock, 3.0)
        await a.crash()
        await a.elector.release()
        assert "holderIdentity" not in api.spec and api.spec["leaseDurationSeconds"] == 1
        released_at = clock.monotonic()
        await advance(clock, 2.5)
        ((_, took_over_at),) = b.events
        assert took_over_at - released_at <= 2.0 * 1.2


class TestLosingTheLease:
    async def test_a_leader_that_cannot_renew_stops_leading_exactly_at_the_renew_deadline(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await advance(clock, 5.0)
        assert api.writes[-1][1]["spec"]["renewTime"] == "2025-01-01T00:00:04.000000Z"  # renewed every 2 s
        api.failing = True
        await advance(clock, 8.875)
        assert a.elector.is_leader  # the last success started less than 10 s ago
        await advance(clock, 0.25)
        assert [kind for kind, _ in a.events] == ["started", "stopped"]
        assert a.events[1][1] == 14.0
        assert not a.elector.is_leader
        assert a.task is not None and a.task.done()
        with pytest.raises(LeadershipLost, match="no successful renewal"):
            a.task.result()

    async def test_a_hung_renewal_counts_against_the_renew_deadline(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await advance(clock, 1.0)
        api.hanging = True
        await advance(clock, 12.0)
        assert [kind for kind, _ in a.events] == ["started", "stopped"]
        assert a.events[1][1] == 10.0  # the renewal sent at 2.0 hangs: the acquisition at 0.0 was the last success

    async def test_a_leader_that_finds_another_holder_stops_at_once(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await advance(clock, 1.0)
        assert api.lease is not None
        api.lease["spec"]["holderIdentity"] = "intruder"
        await advance(clock, 1.0)
        assert [kind for kind, _ in a.events] == ["started", "stopped"]
        assert a.events[1][1] == 2.0
        with pytest.raises(LeadershipLost, match="intruder"):
            assert a.task is not None
            a.task.result()

    async def test_a_replica_that_lost_the_lease_never_writes_it_again(
        self, replicas: dict[str, Replica], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        a = start(replicas, api, clock, "a")
        await advance(clock, 1.0)
        api.failing = True
        await advance(clock, 12.0)
        assert not a.elector.is_leader
        api.failing = False
        writes = len(api.writes)
        await a.elector.release()
        await advance(clock, 30.0)
        assert len(api.writes) == writes


class TestConfiguration:
    def test_defaults_are_15_s_lease_10_s_renew_deadline_2_s_retry(self) -> None:
        config = LeaderElectionConfig(namespace="ops", identity="a")
        assert (config.lease_duration_s, config.renew_deadline_s, config.retry_period_s) == (15.0, 10.0, 2.0)
        assert config.name == "rayservice-operator"

    @pytest.mark.parametrize(
        ("lease_s", "renew_s", "retry_s"),
        [(10.0, 10.0, 2.0), (15.0, 2.0, 2.0), (15.0, 10.0, 0.0)],
    )
    def test_inconsistent_durations_are_refused(self, lease_s: float, renew_s: float, retry_s: float) -> None:
        with pytest.raises(ValueError):
            LeaderElectionConfig(
                namespace="ops",
                identity="a",
                lease_duration_s=lease_s,
                renew_deadline_s=renew_s,
                retry_period_s=retry_s,
            )

    def test_identity_is_the_pod_name_when_set_else_hostname_and_pid(self) -> None:
        assert default_identity({"POD_NAME": "op-7d9f-x2"}, "node", 1) == "op-7d9f-x2"
        assert default_identity({}, "laptop", 4242) == "laptop_4242"
