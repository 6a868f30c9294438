"""The incremental upgrade's part of a RayService pass: ``incremental.step`` on what ``observe`` read, the Serve
PUT it calls for, the Gateway API objects and per-cluster serve Services to write, and the status fields.

Guarantees:
1. ``decide_incremental`` is ``None`` unless ``incremental.enabled``. It finds the rollback from the cluster
   hashes alone (the desired hash is not the pending cluster's while both are live), so it holds across
   restarts with nothing remembered.
2. ``keep_pending``: a pending cluster that takes part in a rollback is kept (never dropped while it may
   carry traffic) until the rollback is done; then it is dropped, and a third spec gets its own new cluster
   only after that.
3. ``serve_put``: at most one PUT per pass, the pending cluster first. Upgrading: the desired config with the
   pending cluster's ``target_capacity`` (its goal, else its current one), or only its new ``target_capacity``;
   rolling back: the pending cluster only gets its lower ``target_capacity``, with the config it runs.
   The active cluster gets its new ``target_capacity`` with the config it runs (rolling back to its own spec,
   the desired config). A cluster without a Ready head or a Serve answer gets nothing. Without a pending
   cluster every config carries ``target_capacity`` 100.
4. ``route`` is ``None`` while there is no active cluster (as in KubeRay); after a ``promote`` it routes
   everything to the new active cluster.
6. ``upgrade_requeue_s``: while both clusters take part, the pass looks again within ``INCREMENTAL_POLL_S``
   and at the next traffic step's time.
5. ``with_status`` adds ``targetCapacity``, ``trafficRoutedPercent`` and ``lastTrafficMigratedTime`` to the
   active and pending statuses and keeps the ``RollbackInProgress`` condition True exactly while rolling back;
   while the Gateway or HTTPRoute is not ready, the ``UpgradeInProgress`` message says so.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rayservice.controller.objects import (
    RawObject,
    generation_of,
    merge_conditions,
    name_of,
    namespace_of,
    owner_reference,
    sequence,
)
from rayservice.controller.rayservice import gateway_objects as gw
from rayservice.controller.rayservice import incremental as inc
from rayservice.controller.rayservice.desired import desired_serve_service, serve_port
from rayservice.controller.rayservice.pass_values import Observed, ServePut
from rayservice.controller.rayservice.serve_diff import is_serving
from rayservice.controller.rayservice.serve_start import head_readiness
from rayservice.controller.rayservice.upgrade import cluster_facts

FULL = 100


@dataclass(frozen=True, slots=True)
class IncrementalPass:
    """What the incremental upgrade adds to a pass (see the guarantees)."""

    step: inc.Step
    keep_pending: bool
    gateway: RawObject
    services: tuple[RawObject, ...] = ()
    capacities: Mapping[str, int] | None = None  # the target_capacity each live cluster's next config carries


def decide_incremental(observed: Observed, now: datetime) -> IncrementalPass | None:
    """Guarantees 1-2."""
    service = observed.service
    if not inc.enabled(service):
        return None
    active, pending = observed.active, observed.pending
    services = tuple(cluster_serve_service(service, observed.clusters[n]) for n in (active, pending)
                     if n is not None and n in observed.clusters)
    gateway = gw.desired_gateway(service, inc.options(service).gateway_class)
    if active is None or active not in observed.clusters:
        return IncrementalPass(inc.Step(), False, gateway, services, {n: FULL for n in (pending,) if n})
    a_side = _side(observed, active, "activeServiceStatus", default_capacity=FULL, default_weight=FULL)
    if pending is None or pending not in observed.clusters:
        step = inc.step(inc.options(service), a_side, None, rollback=False, routing_ready=True,
                        pending_serving=False, pending_head_ready=False, now=now)
        return IncrementalPass(step, False, gateway, services, {active: FULL})
    p_side = _side(observed, pending, "pendingServiceStatus", default_capacity=0, default_weight=0)
    rollback = cluster_facts(observed.clusters[pending]).config_hash != observed.desired_hash
    read = observed.ray.get(pending)
    serving = read is not None and read.answer is not None and is_serving(observed.check.config, read.apps,
                                                                           read.statuses)
    head_ready = head_readiness(observed.clusters[pending], observed.pods.get(pending, ())).ready
    routing = gw.gateway_ready(observed.gateway) and gw.route_ready(service, observed.route)
    step = inc.step(inc.options(service), a_side, p_side, rollback=rollback, routing_ready=routing,
                    pending_serving=serving, pending_head_ready=head_ready, now=now)
    capacities = {active: step.active_capacity if step.active_capacity is not None else a_side.capacity,
                  pending: step.pending_capacity if step.pending_capacity is not None else p_side.capacity}
    return IncrementalPass(step, step.rollback, gateway, services, capacities)


def cluster_serve_service(service: RawObject, cluster: RawObject) -> dict[str, Any]:
    """``<cluster>-serve-svc``: the serve Service of one cluster, owned by that RayCluster (as KubeRay's)."""
    svc = desired_serve_service(service, cluster)
    svc["metadata"]["name"] = gw.cluster_serve_service_name(name_of(cluster))
    svc["metadata"]["ownerReferences"] = [owner_reference(cluster, "RayCluster")]
    return svc


def route(observed: Observed, step: inc.Step, *, active: str | None, pending: str | None) -> RawObject | None:
    """Guarantee 4: ``active``/``pending`` are the clusters after this pass (after a switch: the new one alone)."""
    if active is None or active not in observed.clusters:
        return None
    if pending is None or step.drop_pending:
        weights = [(active, FULL)]
    else:
        weights = [(active, step.active_weight), (pending, step.pending_weight or 0)]
    backends = [(name, serve_port(observed.clusters[name]), weight) for name, weight in weights]
    return gw.desired_route(observed.service, backends)


def incremental_put(observed: Observed, decided: IncrementalPass, config: Mapping[str, Any] | None,
              plain: ServePut | None, *, active: str | None, pending: str | None) -> ServePut | None:
    """Guarantee 3: ``plain`` is the PUT the pass plans on its own for ``config`` (with the capacity)."""
    step, capacities = decided.step, decided.capacities or {}
    if pending is None or step.drop_pending or active is None:
        return plain
    if not step.rollback:
        if plain is not None:
            return plain
        put = _capacity_put(observed, pending, config, capacities.get(pending))
        if put is not None:
            return put
    elif step.pending_capacity is not None:
        put = _capacity_put(observed, pending, inc.serving_config(_answer(observed, pending)), step.pending_capacity)
        if put is not None:
            return put
    if step.active_capacity is None:
        return None
    own = step.rollback and cluster_facts(observed.clusters[active]).config_hash == observed.desired_hash
    runs = config if own else inc.serving_config(_answer(observed, active))
    return _capacity_put(observed, active, runs, step.active_capacity)


def with_status(status: Mapping[str, Any], service: RawObject, step: inc.Step, *, promoted: bool,
                now: datetime) -> dict[str, Any]:
    """Guarantee 5."""
    out = dict(status)
    sides = {one.name: one for one in step.sides}
    weights = {}
    if len(step.sides) == 2:
        active, pending = step.sides
        weights = {active.name: step.active_weight, pending.name: step.pending_weight or 0}
        if promoted:
            weights = {pending.name: FULL}
    elif step.sides:
        weights = {step.sides[0].name: FULL}
    for key in ("activeServiceStatus", "pendingServiceStatus"):
        record = out.get(key)
        if not isinstance(record, Mapping):
            continue
        name = str(record.get("rayClusterName") or "")
        if name in sides and name in weights:
            out[key] = {**record, **inc.status_fields(sides[name], weights[name], now)}
        elif key == "pendingServiceStatus" and name:
            out[key] = {**record, "targetCapacity": 0 if out.get("activeServiceStatus") else FULL}
    condition = [inc.rollback_condition(_rollback_message(service, step))] if step.rollback else []
    out["conditions"] = merge_conditions(sequence(out.get("conditions")), condition, now=now,
                                         generation=generation_of(service), drop=inc.CONDITION_ROLLBACK)
    if step.why == inc.WAITING_FOR_ROUTING:
        for cond in out["conditions"]:
            if cond.get("type") == "UpgradeInProgress" and cond.get("status") == "True":
                cond["message"] = (f"{cond.get('message', '')}; waiting for Gateway {gw.gateway_name(service)} "
                                   f"(Accepted, Programmed) and HTTPRoute {gw.route_name(service)} (Accepted, "
                                   "ResolvedRefs): is the GatewayClass installed?")
    return out


def _rollback_message(service: RawObject, step: inc.Step) -> str:
    active = step.sides[0].name if step.sides else ""
    return (f"rayClusterConfig no longer matches the pending cluster: moving traffic back to RayCluster "
            f"{namespace_of(service)}/{active} before the pending cluster goes")


def _side(observed: Observed, cluster: str, key: str, *, default_capacity: int, default_weight: int) -> inc.Side:
    read = observed.ray.get(cluster)
    answer = read.answer if read is not None else None
    return inc.side(observed.service, cluster, key=key, answer=answer, runs_apps=bool(read and read.apps),
                    route=observed.route, default_capacity=default_capacity, default_weight=default_weight)


def _answer(observed: Observed, cluster: str) -> Mapping[str, Any] | None:
    read = observed.ray.get(cluster)
    return read.answer if read is not None else None


def _capacity_put(observed: Observed, cluster: str, config: Mapping[str, Any] | None,
                  goal: int | None) -> ServePut | None:
    read = observed.ray.get(cluster)
    if goal is None or config is None or read is None or read.answer is None or not read.apps:
        return None
    if not head_readiness(observed.clusters[cluster], observed.pods.get(cluster, ())).ready:
        return None
    current = read.answer.get("target_capacity")
    if isinstance(current, int | float) and not isinstance(current, bool) and round(current) == goal:
        return None
    if current is None and goal == FULL:
        return None
    config = dict(inc.with_capacity(config, goal) or {})
    return ServePut(cluster, read.address, config, f"target_capacity {current} -> {goal}", first=False)


INCREMENTAL_POLL_S = 2.0


def upgrade_requeue_s(requeue: float | None, stepped: IncrementalPass | None,
                         now: datetime) -> float:
    """While an incremental upgrade runs: look again within ``INCREMENTAL_POLL_S``, and at the next step's time."""
    wait = INCREMENTAL_POLL_S if requeue is None else min(requeue, INCREMENTAL_POLL_S)
    at = stepped.step.next_step_at if stepped is not None else None
    if at is not None:
        wait = min(wait, max((at - now).total_seconds(), 0.2))
    return wait
