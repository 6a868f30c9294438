"""``incremental.step``, the incremental upgrade's state machine, pass by pass: every step of an upgrade and of
a rollback, with KubeRay v1.7's order (capacity first, traffic after it, at most one step per interval)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from rayservice.controller.rayservice.incremental import Options, Side, Step, step

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Sim:
    """Two clusters as Ray and the HTTPRoute would carry out each pass's step."""

    a_cap: int = 100
    p_cap: int = 0
    a_w: int = 100
    p_w: int = 0
    a_at: datetime | None = None
    p_at: datetime | None = None
    now: datetime = T0

    def sides(self) -> tuple[Side, Side]:
        active = Side("a", self.a_cap, self.a_w, self.a_at, self.a_w)
        return active, Side("p", self.p_cap, self.p_w, self.p_at, self.p_w)

    def apply(self, s: Step) -> None:
        if s.active_capacity is not None:
            self.a_cap = s.active_capacity
        if s.pending_capacity is not None:
            self.p_cap = s.pending_capacity
        if s.active_weight != self.a_w:
            self.a_w, self.a_at = s.active_weight, self.now
        if s.pending_weight is not None and s.pending_weight != self.p_w:
            self.p_w, self.p_at = s.pending_weight, self.now

    def state(self) -> tuple[int, int, int, int]:
        return self.a_cap, self.p_cap, self.a_w, self.p_w


def run(sim: Sim, opts: Options, *, rollback: bool = False, serving: bool = True, head_ready: bool = True,
        pass_s: float = 1.0, limit: int = 400) -> tuple[list[tuple[int, int, int, int]], Step]:
    """Passes every ``pass_s`` until the upgrade promotes or the rollback drops the pending cluster."""
    seen = [sim.state()]
    for _ in range(limit):
        active, pending = sim.sides()
        s = step(opts, active, pending, rollback=rollback, routing_ready=True, pending_serving=serving,
                 pending_head_ready=head_ready, now=sim.now)
        if s.promote or s.drop_pending:
            return seen, s
        sim.apply(s)
        assert sim.a_w + sim.p_w == 100
        if sim.state() != seen[-1]:
            seen.append(sim.state())
        sim.now += timedelta(seconds=pass_s)
    raise AssertionError(f"no end after {limit} passes: {seen[-5:]}")


def test_full_surge_moves_the_capacity_first_then_the_traffic_a_step_per_interval_then_shrinks_the_old() -> None:
    seen, last = run(Sim(), Options(max_surge=100, step=25, interval_s=5))
    assert seen == [(100, 0, 100, 0), (100, 100, 100, 0), (100, 100, 75, 25), (100, 100, 50, 50),
                    (100, 100, 25, 75), (100, 100, 0, 100), (0, 100, 0, 100)]
    assert last.promote and not last.rollback


def test_a_small_surge_alternates_capacity_and_traffic_and_never_routes_past_the_new_capacity() -> None:
    seen, last = run(Sim(), Options(max_surge=50, step=25, interval_s=1))
    assert seen == [(100, 0, 100, 0), (100, 50, 100, 0), (100, 50, 75, 25), (100, 50, 50, 50), (50, 50, 50, 50),
                    (50, 100, 50, 50), (50, 100, 25, 75), (50, 100, 0, 100), (0, 100, 0, 100)]
    assert all(p_w <= p_cap for _, p_cap, _, p_w in seen)
    assert last.promote


def test_traffic_moves_at_most_once_per_interval_and_says_when_the_next_step_is_due() -> None:
    sim = Sim(p_cap=100, p_w=25, a_w=75, p_at=T0)
    active, pending = sim.sides()
    early = step(Options(100, 25, 30), active, pending, rollback=False, routing_ready=True, pending_serving=True,
                 pending_head_ready=True, now=T0 + timedelta(seconds=29))
    assert (early.active_weight, early.pending_weight) == (75, 25) and early.next_step_at == T0 + timedelta(seconds=30)
    due = step(Options(100, 25, 30), active, pending, rollback=False, routing_ready=True, pending_serving=True,
               pending_head_ready=True, now=T0 + timedelta(seconds=30))
    assert (due.active_weight, due.pending_weight) == (50, 50) and due.next_step_at is None


def test_no_traffic_reaches_a_pending_cluster_that_does_not_serve_the_desired_config() -> None:
    active, pending = Sim(p_cap=100).sides()
    s = step(Options(100, 25, 1), active, pending, rollback=False, routing_ready=True, pending_serving=False,
             pending_head_ready=True, now=T0)
    assert (s.active_weight, s.pending_weight, s.promote) == (100, 0, False)


def test_no_capacity_moves_until_the_gateway_and_route_are_ready() -> None:
    active, pending = Sim().sides()
    s = step(Options(100, 25, 1), active, pending, rollback=False, routing_ready=False, pending_serving=True,
             pending_head_ready=True, now=T0)
    assert s.active_capacity is None and s.pending_capacity is None and "Gateway" in s.why


@pytest.mark.parametrize("surge", [100, 50, 25])
def test_a_rollback_from_mid_upgrade_brings_everything_back_then_drops_the_pending_cluster(surge: int) -> None:
    sim = Sim(a_cap=50, p_cap=100, a_w=25, p_w=75)
    seen, last = run(sim, Options(max_surge=surge, step=25, interval_s=2), rollback=True)
    assert last.drop_pending and not last.rollback and not last.promote
    assert sim.state() == (100, 0, 100, 0)
    assert [a_w for _, _, a_w, _ in seen] == sorted(a_w for _, _, a_w, _ in seen)  # traffic only comes back


def test_a_rollback_of_a_pending_cluster_whose_head_is_gone_ends_once_the_active_side_is_whole() -> None:
    sim = Sim(a_cap=100, p_cap=100, a_w=50, p_w=50)
    _, last = run(sim, Options(100, 25, 1), rollback=True, head_ready=False)
    assert last.drop_pending and sim.a_cap == 100 and sim.a_w == 100
    assert sim.p_cap == 100  # never scaled down: its head cannot take the call


def test_a_rollback_before_any_traffic_moved_ends_at_once() -> None:
    active, pending = Sim().sides()
    s = step(Options(100, 25, 1), active, pending, rollback=True, routing_ready=True, pending_serving=True,
             pending_head_ready=True, now=T0)
    assert s.drop_pending and not s.rollback and (s.active_weight, s.pending_weight) == (100, 0)


def test_a_rolled_back_upgrade_resumes_from_where_it_was() -> None:
    sim = Sim(a_cap=100, p_cap=100, a_w=50, p_w=50)
    active, pending = sim.sides()
    back = step(Options(100, 25, 1), active, pending, rollback=True, routing_ready=True, pending_serving=True,
                pending_head_ready=True, now=T0)
    assert (back.active_weight, back.pending_weight) == (75, 25)
    sim.apply(back)
    sim.now += timedelta(seconds=5)
    seen, last = run(sim, Options(100, 25, 1))
    assert last.promote and seen[0] == (100, 100, 75, 25)


def test_without_a_pending_cluster_the_active_one_takes_all_traffic() -> None:
    s = step(Options(), Side("a", 100, 100), None, rollback=False, routing_ready=False, pending_serving=False,
             pending_head_ready=False, now=T0)
    assert s.active_weight == 100 and s.pending_weight is None and not s.promote and s.sides == (Side("a", 100, 100),)


def test_a_stuck_gateway_is_named_in_the_upgrade_condition_and_a_rollback_in_its_own() -> None:
    from rayservice.controller.rayservice.incremental import WAITING_FOR_ROUTING
    from rayservice.controller.rayservice.incremental_pass import with_status

    service = {"metadata": {"name": "svc", "namespace": "ns", "generation": 2}, "spec": {}, "status": {}}
    status = {
        "activeServiceStatus": {"rayClusterName": "a"},
        "pendingServiceStatus": {"rayClusterName": "p"},
        "conditions": [{"type": "UpgradeInProgress", "status": "True", "reason": "BothActivePendingClustersExist",
                        "message": "Preparing RayCluster p to replace a"}],
    }
    active, pending = Sim(p_cap=50).sides()
    stuck = Step(sides=(active, pending), active_weight=100, pending_weight=0, why=WAITING_FOR_ROUTING)
    out = with_status(status, service, stuck, promoted=False, now=T0)
    (upgrade,) = [c for c in out["conditions"] if c["type"] == "UpgradeInProgress"]
    assert "Gateway svc-gateway" in upgrade["message"] and "is the GatewayClass installed?" in upgrade["message"]
    assert (out["pendingServiceStatus"]["targetCapacity"], out["pendingServiceStatus"]["trafficRoutedPercent"]) == (
        50, 0)
    assert not [c for c in out["conditions"] if c["type"] == "RollbackInProgress"]
    back = with_status(status, service, Step(rollback=True, sides=(active, pending), active_weight=100,
                                             pending_weight=0), promoted=False, now=T0)
    (rollback,) = [c for c in back["conditions"] if c["type"] == "RollbackInProgress"]
    assert (rollback["status"], rollback["reason"]) == ("True", "DesiredClusterSpecChanged")
