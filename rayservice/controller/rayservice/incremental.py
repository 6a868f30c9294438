"""``NewClusterWithIncrementalUpgrade``, decided: the Gateway, the HTTPRoute's weights and each cluster's Serve
``target_capacity`` for one pass, moved the way KubeRay v1.7 moves them.

Guarantees:
1. ``enabled`` is true when ``upgradeStrategy.type`` is ``NewClusterWithIncrementalUpgrade`` (``validate``
   refuses such a spec without the autoscaler or a complete ``clusterUpgradeOptions``).
2. ``options`` reads ``clusterUpgradeOptions`` with KubeRay's defaults (``maxSurgePercent`` 100).
3. ``step`` moves an upgrade (both clusters live) at most one notch per pass:
   - a rollback is under way while the desired cluster hash is not the pending cluster's (the spec went back,
     A -> B -> A, or on to a third one, A -> B -> C); the desired hash becoming the pending one's again resumes
     the upgrade (A -> B -> A -> B);
   - capacities move only while the Gateway is Accepted and Programmed and the HTTPRoute Accepted with
     ResolvedRefs for it, and once the traffic of the side that grows equals its capacity; then one side moves
     by ``maxSurgePercent``: upgrading, the active side down while the two sum to more than 100, else the
     pending side up; rolling back, the pending side down while they sum to more than 100, else the active up;
   - traffic moves toward the growing side by ``stepSizePercent``, capped by that side's capacity, at most once
     per ``intervalSeconds`` after that side's ``lastTrafficMigratedTime``: upgrading only while the pending
     cluster serves the desired config with every application RUNNING, rolling back regardless; the two
     weights always sum to 100;
   - the upgrade is done (``promote``: the switch) when, not rolling back, the active capacity is 0 and the
     pending traffic 100; a rollback is done (``drop_pending``) when the active side is back at 100 capacity
     and 100 traffic and the pending one at 0 and 0 or its head pod is not Ready.
4. A capacity is Ray's (the ``target_capacity`` of the cluster's Serve answer, none meaning 100) once the
   cluster runs applications; before, the recorded status, else 100 for the active cluster and 0 for a
   pending one (100 for the first cluster of a RayService). A weight is the observed HTTPRoute's for that
   cluster's Service, else the recorded status, else 100 (active) and 0 (pending).
5. ``status_fields`` are the ``targetCapacity`` (Ray's, as read), ``trafficRoutedPercent`` (the weight this
   pass writes) and ``lastTrafficMigratedTime`` (now when the weight changes, else as recorded) of a side.

Pure: time comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from rayservice.api import format_kube_time
from rayservice.controller.objects import RawObject, parse_time, part, rayservice_spec, rayservice_status
from rayservice.controller.rayservice.gateway_objects import route_weight

INCREMENTAL_UPGRADE: Final = "NewClusterWithIncrementalUpgrade"
CONDITION_ROLLBACK: Final = "RollbackInProgress"
REASON_SPEC_CHANGED: Final = "DesiredClusterSpecChanged"
WAITING_FOR_ROUTING: Final = "waiting for the Gateway and HTTPRoute to be ready"


@dataclass(frozen=True, slots=True)
class Options:
    """``clusterUpgradeOptions``, defaults applied."""

    max_surge: int = 100
    step: int = 0
    interval_s: int = 0
    gateway_class: str = ""


@dataclass(frozen=True, slots=True)
class Side:
    """One cluster's share as this pass finds it."""

    name: str
    capacity: int
    weight: int
    migrated_at: datetime | None = None
    recorded_weight: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What one pass does to an incremental upgrade (guarantee 3)."""

    rollback: bool = False
    drop_pending: bool = False
    promote: bool = False
    active_capacity: int | None = None  # the goal, when it differs from the side's capacity
    pending_capacity: int | None = None
    active_weight: int = 100
    pending_weight: int | None = None
    next_step_at: datetime | None = None
    why: str = ""
    sides: tuple[Side, ...] = field(default=())


def enabled(service: RawObject) -> bool:
    """Guarantee 1."""
    return part(rayservice_spec(service).get("upgradeStrategy")).get("type") == INCREMENTAL_UPGRADE


def options(service: RawObject) -> Options:
    raw = part(part(rayservice_spec(service).get("upgradeStrategy")).get("clusterUpgradeOptions"))

    def number(key: str, default: int) -> int:
        value = raw.get(key)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else default

    return Options(number("maxSurgePercent", 100), number("stepSizePercent", 0), number("intervalSeconds", 0),
                   str(raw.get("gatewayClassName") or ""))


def recorded(service: RawObject, key: str) -> Mapping[str, Any]:
    record = rayservice_status(service).get(key)
    return record if isinstance(record, Mapping) else {}


def side(service: RawObject, cluster: str, *, key: str, answer: Mapping[str, Any] | None, runs_apps: bool,
         route: RawObject | None, default_capacity: int, default_weight: int) -> Side:
    """Guarantee 4: ``key`` is ``activeServiceStatus`` or ``pendingServiceStatus``."""
    record = recorded(service, key)
    same = record.get("rayClusterName") == cluster
    stored_capacity = record.get("targetCapacity") if same else None
    stored_weight = record.get("trafficRoutedPercent") if same else None
    if runs_apps and answer is not None:
        raw = answer.get("target_capacity")
        capacity = round(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 100
    elif isinstance(stored_capacity, int):
        capacity = stored_capacity
    else:
        capacity = default_capacity
    weight = route_weight(route, cluster)
    if weight is None:
        weight = stored_weight if isinstance(stored_weight, int) else default_weight
    migrated = parse_time(record.get("lastTrafficMigratedTime")) if same else None
    return Side(cluster, capacity, weight, migrated, stored_weight if isinstance(stored_weight, int) else None)


def step(opts: Options, active: Side, pending: Side | None, *, rollback: bool, routing_ready: bool,
         pending_serving: bool, pending_head_ready: bool, now: datetime) -> Step:
    """Guarantee 3."""
    if pending is None:
        return Step(active_weight=100, sides=(active,), why="no pending cluster")
    a, p = active, pending
    goal_a = goal_p = None
    why = WAITING_FOR_ROUTING if not routing_ready else ""
    if not rollback:
        if routing_ready and p.capacity == p.weight:
            if a.capacity + p.capacity > 100 and a.capacity > 0:
                goal_a, why = max(0, a.capacity - opts.max_surge), "scaling the active cluster down"
            elif a.capacity + p.capacity <= 100 and p.capacity < 100:
                goal_p, why = min(100, p.capacity + opts.max_surge), "scaling the pending cluster up"
        grow, moving, cap = p, pending_serving and p.weight != p.capacity, p.capacity
    else:
        if routing_ready and a.capacity == a.weight:
            if a.capacity + p.capacity > 100 and p.capacity > 0:
                goal_p, why = max(0, p.capacity - opts.max_surge), "rollback: scaling the pending cluster down"
            elif a.capacity + p.capacity <= 100 and a.capacity < 100:
                goal_a, why = min(100, a.capacity + opts.max_surge), "rollback: scaling the active cluster up"
        grow, moving, cap = a, a.weight != a.capacity, a.capacity
    weight, next_at = grow.weight, None
    if moving:
        due = grow.migrated_at + timedelta(seconds=opts.interval_s) if grow.migrated_at is not None else None
        if due is None or due <= now:
            weight = min(100, grow.weight + opts.step, cap)
            why = why or "moving traffic"
        else:
            next_at = due
    pending_weight = 100 - weight if rollback else weight
    done_rollback = rollback and a.capacity == 100 and a.weight == 100 and (
        not pending_head_ready or (p.capacity == 0 and p.weight == 0))
    promote = not rollback and a.capacity == 0 and p.weight == 100
    return Step(rollback=rollback and not done_rollback, drop_pending=done_rollback, promote=promote,
                active_capacity=goal_a, pending_capacity=goal_p, active_weight=100 - pending_weight,
                pending_weight=pending_weight, next_step_at=next_at, why=why, sides=(a, p))


def status_fields(one: Side, weight: int, now: datetime) -> dict[str, Any]:
    """Guarantee 5."""
    moved = one.recorded_weight != weight
    at = now if moved or one.migrated_at is None else one.migrated_at
    return {"targetCapacity": one.capacity, "trafficRoutedPercent": weight,
            "lastTrafficMigratedTime": format_kube_time(at)}


def serving_config(answer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Serve config a cluster runs, rebuilt from its answer (``deployed_app_config`` of each application
    not being deleted, and the cluster-wide options it reports); ``None`` when it runs none."""
    apps = part(answer).get("applications") if answer is not None else None
    configs = [dict(part(app).get("deployed_app_config")) for app in part(apps).values()
               if part(app).get("status") != "DELETING" and part(part(app).get("deployed_app_config"))]
    if not configs or answer is None:
        return None
    out: dict[str, Any] = {"applications": configs}
    for key in ("proxy_location", "http_options", "grpc_options"):
        if answer.get(key) is not None:
            out[key] = answer[key]
    return out


def with_capacity(config: Mapping[str, Any] | None, capacity: int | None) -> Mapping[str, Any] | None:
    """``config`` with ``target_capacity``; unchanged when either is ``None``."""
    return {**config, "target_capacity": capacity} if config is not None and capacity is not None else config


def rollback_condition(message: str) -> dict[str, Any]:
    return {"type": CONDITION_ROLLBACK, "status": "True", "reason": REASON_SPEC_CHANGED, "message": message}
