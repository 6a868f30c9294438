"""One RayService pass, decided: ``plan(observed, now, rng) -> PassPlan``, the only place its decisions are made.

Guarantees:
1. ``plan`` is a function of its arguments: no I/O, no clock, no memory. Its parts are the cluster plan
   (``upgrade.decide``, on the active and pending clusters ``observe`` found once), whether the active
   cluster's unreachable clock runs or stops (``health_clock``; the shell writes it to ``deps.memory``), the
   Serve PUT or none (``serve_diff.decide_serve``), the switch or none, the ``ray.io/serve`` label changes,
   the Services' target, the status (``status.compute_status``), the events that status records, and the
   requeue.
2. A pass that creates a cluster plans only that: the status recording the pending name, the pending
   clusters it replaces to drop, the create, and the status to write should the name be someone else's.
3. The switch happens only when the pending cluster's Serve read shows it runs the desired config with
   every application RUNNING and no PUT is needed (``is_serving``); it re-points both Services, sets the old
   cluster's deletion deadline (now + ``rayClusterDeletionDelaySeconds``, whole seconds) and reports the
   upgrade's duration from the new cluster's creation.
4. ``serve_put.first`` is true when the config was not PUT to that address before: such a pass writes no
   status (Ray's answer predates the PUT). ``requeue_after_s`` holds when no PUT fails;
   ``requeue_after_put_failure_s`` when the planned PUT fails (one more dashboard failure: the backoff).
5. Label changes cover the active and pending clusters (before a switch), each cluster's pods by name.
6. Under ``rolloutPolicy`` (``rollout.decide_rollout``, decided first): a pass that gives a rollout up plans
   only the status recording ``failedRollout`` (no cluster write, no PUT, no switch); later passes act on
   that record: a held cluster rollout keeps and makes no pending cluster, and a rolled-back Serve update
   (or a held cluster rollout) deploys the last good config to the active cluster instead of the desired one
   (nothing, when none is known). ``remember_serve`` stores the config the active cluster serves as its last
   good one. Without ``rolloutPolicy`` none of this happens. ``phase`` is ``phase.upgrade_phase``.
7. No PUT to a cluster whose head pod is not Ready; a PUT is ``serve_starting`` while it just became Ready.
8. A cluster past its deadline is deleted only when ``drain.drain_plan`` lets it (``drain_forced``: past the bound).

Pure: randomness (new cluster names, jitter) comes from the ``rng`` argument, drawn in that order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from rayservice.controller.objects import (
    RawObject,
    flag,
    is_deleting,
    metadata,
    parse_time,
    raycluster_status,
    rayservice_spec,
)
from rayservice.controller.rayservice import incremental_pass as incremental
from rayservice.controller.rayservice.desired import desired_head_service, desired_serve_service
from rayservice.controller.rayservice.drain import drain_plan
from rayservice.controller.rayservice.incremental import with_capacity
from rayservice.controller.rayservice.pace import pass_requeue_s
from rayservice.controller.rayservice.pass_values import (
    Notes,
    Observed,
    PassPlan,
    ServePut,
    Submitted,
    Switch,
)
from rayservice.controller.rayservice.phase import upgrade_phase
from rayservice.controller.rayservice.rollout import RolloutOutcome, decide_rollout
from rayservice.controller.rayservice.serve_diff import (
    desired_app_names,
    is_serving,
)
from rayservice.controller.rayservice.serve_health import Health, unhealthy_since
from rayservice.controller.rayservice.serve_labels import serve_label_changes
from rayservice.controller.rayservice.status import (
    ClusterReport,
    compute_status,
    requeue_after_s,
)
from rayservice.controller.rayservice.submission import serve_put
from rayservice.controller.rayservice.upgrade import ClusterPlan, cluster_facts, decide, deletion_deadline
from rayservice.ray import as_status_field


def plan(observed: Observed, now: datetime, rng: random.Random) -> PassPlan:
    """Guarantees 1-6."""
    service = observed.service
    rollout = decide_rollout(observed, now)
    served = rollout.serve_config if rollout.serve_override else observed.check.config
    health, clock = active_health(observed, now, served)
    if rollout.gave_up:
        return _given_up(observed, rollout, clock, now)
    facts = [cluster_facts(cluster) for cluster in observed.clusters.values()]
    stepped = incremental.decide_incremental(observed, now)
    clusters = decide(
        service,
        facts,
        selected=observed.selected,
        desired_hash=observed.desired_hash,
        health=health,
        now=now,
        rng=rng,
        current=(observed.active, observed.pending),
        hold=rollout.hold,
        keep_pending=stepped is not None and stepped.keep_pending,
    )
    if clusters.create is not None:
        return _starting(observed, clusters, clock, now, rollout, stepped)
    clusters, drain = drain_plan(observed, clusters, now)
    target = clusters.pending or clusters.active
    config = rollout.serve_config if rollout.serve_override and target == observed.active else observed.check.config
    capacities = (stepped.capacities or {}) if stepped is not None else {}
    rolling_back = stepped is not None and stepped.step.rollback
    own = None if rolling_back else serve_put(observed, target, with_capacity(
        config, capacities.get(target) if target is not None else None), now=now)
    put = own if stepped is None else incremental.incremental_put(
        observed, stepped, config, own, active=clusters.active, pending=clusters.pending)
    switch = _switch(observed, clusters, put, now)
    if stepped is not None and clusters.active is not None and clusters.pending is not None:
        switch = switch if stepped.step.promote and not rolling_back else None
    active, pending = (switch.new, None) if switch is not None else (clusters.active, clusters.pending)
    live = {name for name, cluster in observed.clusters.items() if not is_deleting(cluster)}
    point_at = active if switch is not None or active in live else None
    status = compute_status(
        service,
        now=now,
        active=_report(active, observed),
        pending=_report(pending, observed),
        serve_endpoints=observed.serve_endpoints,
        kept_outdated=clusters.kept_outdated,
        rollout=rollout.record,
        failed_rollout=rollout.failed,
    )
    if stepped is not None:
        status = incremental.with_status(status, service, stepped.step, promoted=switch is not None, now=now)
    jitter = rng.random()
    override = config is not observed.check.config
    requeue = {
        outcome: pass_requeue_s(observed, clusters, target, outcome, now=now, jitter=jitter, config=config,
                                override=override, wake_at=rollout.wake_at)
        for outcome in (Submitted.PUT if put else Submitted.NOTHING, Submitted.FAILED)
    }
    upgrading = stepped is not None and active is not None and pending is not None
    chosen = requeue[Submitted.PUT if put else Submitted.NOTHING]
    return PassPlan(
        clusters=clusters,
        status=status,
        requeue_after_s=incremental.upgrade_requeue_s(chosen, stepped, now) if upgrading else chosen,
        health_clock=clock,
        serve_put=put,
        labels=_labels(observed, (clusters.active, clusters.pending)),
        switch=switch,
        services=_services(observed, point_at),
        requeue_after_put_failure_s=requeue[Submitted.FAILED],
        remember_serve=rollout.remember,
        phase=upgrade_phase(observed, clusters, switch),
        drain_forced=drain.forced,
        gateway=stepped.gateway if stepped is not None else None,
        route=incremental.route(observed, stepped.step, active=active, pending=pending) if stepped else None,
        cluster_services=stepped.services if stepped is not None else (),
        incremental_why=stepped.step.why if stepped is not None else "",
    )


def active_health(
    observed: Observed, now: datetime, config: Mapping[str, Any] | None = None
) -> tuple[Health, Literal["run", "stop"] | None]:
    """The active cluster's unhealthy clocks: apps UNHEALTHY or DEPLOY_FAILED since the stored time; the
    unreachable clock runs while its head is not ready, its dashboard does not answer or it has none of the
    desired applications (those of ``config`` when given: a rolled-back update's last good config), and stops
    once it has them (the second value: what ``deps.memory`` must note)."""
    active = observed.active
    if active is None:
        return Health(), None
    app_names = desired_app_names(config if config is not None else observed.check.config)
    state = observed.ray.get(active)
    since = observed.notes.get(active, Notes()).unreachable_since
    clock: Literal["run", "stop"] | None = None
    if state is None or (state.answer is not None and app_names and not any(n in state.apps for n in app_names)):
        clock, since = "run", since or now
    elif state.answer is not None:
        clock, since = "stop", None
    statuses = state.statuses if state is not None else {}
    return Health(unhealthy_since(statuses, app_names), since), clock


def _starting(
    observed: Observed,
    clusters: ClusterPlan,
    clock: Literal["run", "stop"] | None,
    now: datetime,
    rollout: RolloutOutcome,
    stepped: incremental.IncrementalPass | None = None,
) -> PassPlan:
    """Guarantee 2."""
    assert clusters.create is not None
    service, active = observed.service, _report(clusters.active, observed)
    recorded = compute_status(
        service,
        now=now,
        active=active,
        pending=ClusterReport(clusters.create.name),
        serve_endpoints=observed.serve_endpoints,
        rollout=rollout.record,
        failed_rollout=rollout.failed,
    )
    if stepped is not None:
        recorded = incremental.with_status(recorded, service, stepped.step, promoted=False, now=now)
    stored = {**service, "status": recorded}
    fallback = compute_status(
        stored,
        now=now,
        active=active,
        serve_endpoints=observed.serve_endpoints,
        rollout=rollout.record,
        failed_rollout=rollout.failed,
    )
    return PassPlan(
        clusters=clusters,
        status=recorded,
        requeue_after_s=requeue_after_s(valid=True, pace="starting"),
        health_clock=clock,
        status_if_create_fails=fallback,
        phase=upgrade_phase(observed, clusters, None),
        start_autoscaled=stepped is not None and clusters.active is not None,
    )


def _given_up(
    observed: Observed, rollout: RolloutOutcome, clock: Literal["run", "stop"] | None, now: datetime
) -> PassPlan:
    """Guarantee 6: the pass that gives a rollout up only records it; the rollback follows from the record."""
    status = compute_status(
        observed.service,
        now=now,
        active=_report(observed.active, observed),
        pending=_report(observed.pending, observed),
        serve_endpoints=observed.serve_endpoints,
        rollout=rollout.record,
        failed_rollout=rollout.failed,
    )
    return PassPlan(
        clusters=ClusterPlan(observed.active, observed.pending),
        status=status,
        requeue_after_s=requeue_after_s(valid=True, pace="converging"),
        health_clock=clock,
        phase=upgrade_phase(observed, ClusterPlan(observed.active, observed.pending), None),
    )


def _switch(observed: Observed, clusters: ClusterPlan, put: ServePut | None, now: datetime) -> Switch | None:
    """Guarantee 3."""
    pending = clusters.pending
    candidate = observed.ray.get(pending) if pending is not None else None
    if (
        pending is None
        or candidate is None
        or candidate.answer is None
        or put is not None
        or not is_serving(observed.check.config, candidate.apps, candidate.statuses)
    ):
        return None
    old = clusters.active
    if old is None or old == pending:
        return Switch(old, pending)
    created = parse_time(metadata(observed.clusters[pending]).get("creationTimestamp"))
    upgrade_s = max((now - created).total_seconds(), 0.0) if created is not None else None
    return Switch(old, pending, deletion_deadline(observed.service, now), upgrade_s)


def _labels(observed: Observed, names: Sequence[str | None]) -> tuple[tuple[str, str], ...]:
    """Guarantee 5."""
    exclude_head = flag(rayservice_spec(observed.service).get("excludeHeadPodFromServeSvc"))
    changes: list[tuple[str, str]] = []
    for name in names:
        cluster = observed.clusters.get(name) if name is not None else None
        if name is None or cluster is None or is_deleting(cluster):
            continue
        state = observed.ray.get(name)
        answer = state.answer if state is not None else None
        pods = observed.pods.get(name, ())
        changes += sorted(serve_label_changes(cluster, pods, answer, exclude_head=exclude_head).items())
    return tuple(changes)


def _services(observed: Observed, cluster_name: str | None) -> tuple[RawObject, ...]:
    """The head and serve Services selecting ``cluster_name``; none when there is no cluster to point at."""
    if cluster_name is None:
        return ()
    cluster = observed.clusters[cluster_name]
    return (desired_head_service(observed.service, cluster), desired_serve_service(observed.service, cluster))


def _report(name: str | None, observed: Observed) -> ClusterReport | None:
    if name is None:
        return None
    cluster = observed.clusters.get(name)
    state = observed.ray.get(name)
    applications = as_status_field(state.statuses) if state is not None and state.answer is not None else None
    unreachable = state is not None and state.answer is None
    error = (state.error or "") if state is not None and unreachable else ""
    return ClusterReport(
        name, raycluster_status(cluster) if cluster is not None else None, applications, unreachable, error
    )
