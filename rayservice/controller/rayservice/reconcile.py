"""Reconcile one RayService: validate, decide its clusters, apply its Serve config, switch traffic, report.

Guarantees:
1. Level-triggered and idempotent: a pass reads the whole state (caches, plus one Serve read per cluster
   that has a ready head) and moves it one step; a converged RayService costs zero API writes and zero PUTs.
2. An invalid spec creates, changes and deletes nothing: Ready=False/ValidationFailed, one Warning event per
   distinct set of problems, no requeue (the next edit wakes the controller).
3. A pending cluster's name is in the stored status before its RayCluster is created, and a pass that
   creates one stops there: a crash never leaves an unrecorded cluster behind to be made twice.
4. The Services point at a cluster only once it is active, and a pending cluster becomes active only in a
   pass whose Serve read shows it runs the desired config with every application RUNNING (and no PUT was
   needed). The switch re-points both Services, then marks the old cluster's deletion deadline, then records
   the new active cluster in status.
5. Ray failures (dashboard unreachable, a rejected PUT) never raise: they are logged, a failed PUT is an
   event, and the pass requeues with a backoff. API errors propagate to the worker (409: a quiet retry).
6. Events about the spec (``ValidationFailed``; ``IgnoredFields`` and ``ServeConfigWarning`` once per
   generation) follow the status write that records them, so a pass on a stale cache (its write fails with
   409) never repeats them.
7. The status is written last, and only when it changed (``writes.write_status_if_changed``). A pass that PUT
   a Serve config not PUT to that cluster before writes no status: it could only report Ray's answer from
   before the PUT; the next pass, at most ``CONVERGING_REQUEUE_S`` later, reports what Ray made of it.
   (A PUT repeated for the same config, as after a head restart, keeps writing the status.)
8. Before the status, the pods of the active and pending clusters get the ``ray.io/serve`` label their proxy
   health and ``excludeHeadPodFromServeSvc`` call for (``serve_labels``): only labels that differ are written.
9. A pass that finds in the cache the very resourceVersion its own last status write replaced does nothing
   (``deps.written``): the cache is behind that write, any write would get 409, and the write's watch event,
   on its way, wakes the key again.

Tasks: called by the controller's workers, one key at a time; ``deps.memory`` is shared between keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import structlog

from rayservice.api import ObjectKey
from rayservice.api.rayservice import CONDITION_READY, CONDITION_UPGRADE_IN_PROGRESS
from rayservice.controller.caches import CLUSTER_INDEX
from rayservice.controller.events import WARNING
from rayservice.controller.objects import (
    RawObject,
    find_condition,
    generation_of,
    is_deleting,
    mapping,
    metadata,
    name_of,
    namespace_of,
    spec_of,
    status_of,
    uid_of,
)
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.desired import desired_cluster
from rayservice.controller.rayservice.observe import Observed, ServeState, active_health, observe, read_clusters
from rayservice.controller.rayservice.serve_diff import LastPut, apps_missing, desired_app_names, is_serving
from rayservice.controller.rayservice.serve_labels import serve_label_changes
from rayservice.controller.rayservice.status import (
    FAILED_APP_STATUSES,
    ClusterReport,
    Pace,
    compute_status,
    requeue_after_s,
)
from rayservice.controller.rayservice.submit import Submitted, submit_serve_config
from rayservice.controller.rayservice.traffic import point_services, switch_traffic
from rayservice.controller.rayservice.upgrade import ClusterPlan, cluster_facts, current_clusters, decide
from rayservice.controller.rayservice.validate import ServiceCheck
from rayservice.controller.rayservice.writes import (
    create_cluster,
    delete_cluster,
    label_serve_pod,
    scale_cluster,
    set_deadline,
    write_status_if_changed,
)
from rayservice.ray import as_status_field, is_converging
from rayservice.runtime import DONE, Result

REASON_VALIDATION_FAILED: Final = "ValidationFailed"
REASON_IGNORED_FIELDS: Final = "IgnoredFields"
REASON_SERVE_CONFIG_WARNING: Final = "ServeConfigWarning"

_log = structlog.get_logger(__name__)


async def reconcile(key: ObjectKey, deps: Deps) -> Result:
    """One pass over the RayService ``key`` (see the guarantees)."""
    service = deps.caches.rayservices.get(key)
    if service is None:
        deps.metrics.forget_service(key.name, key.namespace)
        deps.written.forget(key)
        return DONE  # owner references clean up the rest
    if deps.written.is_stale(key, metadata(service).get("resourceVersion")):
        _log.debug("cache_behind_own_write")  # guarantee 9
        return DONE
    if is_deleting(service):
        deps.checks.forget(uid_of(service))
        return DONE
    now = deps.clock.now()
    check = deps.checks.check(service)
    if not check.ok:
        await _commit(service, compute_status(service, now=now, problems=check.problems), check, deps)
        return DONE  # the next spec edit wakes us
    observed = observe(service, deps)
    live = {name for name, cluster in observed.clusters.items() if not is_deleting(cluster)}
    active, pending = current_clusters(service, live, selected=observed.selected)
    ray = await read_clusters(service, observed, (active, pending), deps)
    app_names = desired_app_names(check.config)
    plan = decide(
        service,
        [cluster_facts(cluster) for cluster in observed.clusters.values()],
        selected=observed.selected,
        desired_hash=deps.checks.cluster_hash(service),
        health=active_health(service, active, ray, app_names, deps),
        now=now,
        rng=deps.rng,
    )
    if plan.create is not None:
        return await _start_pending(service, plan, observed, ray, check, deps)
    await _apply_cluster_plan(service, plan, observed, deps)
    target = plan.pending or plan.active
    before = deps.memory.last_put(ObjectKey(key.namespace, target)) if target is not None else None
    submitted = await submit_serve_config(service, target, ray, check.config, deps)
    active, pending = plan.active, plan.pending
    candidate = ray.get(pending) if pending is not None else None
    # Labels first: the serve Service must select only pods with a proxy from the moment it points at them.
    await _label_serve_pods(service, (active, pending), observed, ray, deps)
    if (
        pending is not None
        and candidate is not None
        and candidate.answer is not None
        and submitted is Submitted.NOTHING
        and is_serving(check.config, candidate.apps, candidate.statuses)
    ):
        await switch_traffic(service, observed, old=active, new=pending, deps=deps)
        active, pending = pending, None
    elif active is not None and active in live:
        await point_services(service, observed, active, deps)
    after = deps.memory.last_put(ObjectKey(key.namespace, target)) if target is not None else None
    if submitted is Submitted.PUT and _first_put(before, after):
        return Result(requeue_after_s=_requeue(service, plan, target, ray, submitted, check, deps))  # guarantee 7
    status = compute_status(
        service,
        now=now,
        active=_report(active, observed, ray),
        pending=_report(pending, observed, ray),
        serve_endpoints=observed.serve_endpoints,
        kept_outdated=plan.kept_outdated,
    )
    await _commit(service, status, check, deps)
    return Result(requeue_after_s=_requeue(service, plan, target, ray, submitted, check, deps))


async def _start_pending(
    service: RawObject,
    plan: ClusterPlan,
    observed: Observed,
    ray: Mapping[str, ServeState],
    check: ServiceCheck,
    deps: Deps,
) -> Result:
    """Guarantee 3: record the pending name, drop what it replaces, then create it."""
    assert plan.create is not None
    now = deps.clock.now()
    active = _report(plan.active, observed, ray)
    status = compute_status(
        service,
        now=now,
        active=active,
        pending=ClusterReport(plan.create.name),
        serve_endpoints=observed.serve_endpoints,
    )
    service = await _commit(service, status, check, deps)
    for name in plan.drop:
        await delete_cluster(service, observed.clusters.get(name), name, deps, why="replaced before it served")
    why = f"replaces {plan.active}: {plan.replacing}" if plan.replacing else "serves the current rayClusterConfig"
    body = desired_cluster(service, name=plan.create.name, replacements=plan.create.replacements)
    if not await create_cluster(service, body, deps, why=why):
        # The name is someone else's: forget it, and the next pass picks another one.
        status = compute_status(service, now=now, active=active, serve_endpoints=observed.serve_endpoints)
        await _commit(service, status, check, deps)
    return Result(requeue_after_s=requeue_after_s(valid=True, pace="starting"))


async def _apply_cluster_plan(service: RawObject, plan: ClusterPlan, observed: Observed, deps: Deps) -> None:
    for name in plan.drop:
        await delete_cluster(service, observed.clusters.get(name), name, deps, why="no longer wanted, never served")
    for name in plan.delete:
        await delete_cluster(service, observed.clusters.get(name), name, deps, why="its deletion deadline passed")
    for name in plan.unmark:
        await set_deadline(service, name, None, deps)
    for name, deadline in plan.mark:
        await set_deadline(service, name, deadline, deps)
    desired_spec = mapping(spec_of(service).get("rayClusterConfig"))
    for name in plan.scale:
        await scale_cluster(service, observed.clusters[name], desired_spec, deps)


async def _label_serve_pods(
    service: RawObject,
    clusters: tuple[str | None, ...],
    observed: Observed,
    ray: Mapping[str, ServeState],
    deps: Deps,
) -> None:
    """Guarantee 8."""
    exclude_head = spec_of(service).get("excludeHeadPodFromServeSvc") is True
    for name in clusters:
        cluster = observed.clusters.get(name) if name is not None else None
        if name is None or cluster is None or is_deleting(cluster):
            continue
        state = ray.get(name)
        pods = deps.caches.pods.by_index(CLUSTER_INDEX, name)
        answer = state.answer if state is not None else None
        for pod, value in sorted(serve_label_changes(cluster, pods, answer, exclude_head=exclude_head).items()):
            await label_serve_pod(service, pod, value, deps)


async def _commit(service: RawObject, status: Mapping[str, Any], check: ServiceCheck, deps: Deps) -> RawObject:
    """Write the status if it changed; then the events it records (guarantee 6) and the metrics."""
    stored = await write_status_if_changed(service, status, deps)
    if stored is not service:
        generation = generation_of(service)
        if generation is not None and generation != status_of(service).get("observedGeneration"):
            if check.ignored:
                fields = ", ".join(f"spec.{field}" for field in check.ignored)
                await deps.events.emit(service, WARNING, REASON_IGNORED_FIELDS, f"Accepted but not acted on: {fields}")
            if check.warnings:
                message = "; ".join(str(warning) for warning in check.warnings)
                await deps.events.emit(service, WARNING, REASON_SERVE_CONFIG_WARNING, message)
        before = find_condition(status_of(service).get("conditions"), CONDITION_READY) or {}
        after = find_condition(status.get("conditions"), CONDITION_READY) or {}
        if after.get("reason") == REASON_VALIDATION_FAILED and before.get("message") != after.get("message"):
            _log.info("rayservice_invalid", message=after.get("message"))
            await deps.events.emit(service, WARNING, REASON_VALIDATION_FAILED, str(after.get("message", "")))
    conditions = status_of(stored).get("conditions")
    deps.metrics.service_observed(
        name_of(stored),
        namespace_of(stored),
        ready=(find_condition(conditions, CONDITION_READY) or {}).get("status") == "True",
        upgrading=(find_condition(conditions, CONDITION_UPGRADE_IN_PROGRESS) or {}).get("status") == "True",
    )
    return stored


def _first_put(before: LastPut | None, after: LastPut | None) -> bool:
    """The PUT just made sent the cluster a config it had not been sent there before (guarantee 7)."""
    return after is not None and (before is None or (before.address, before.digest) != (after.address, after.digest))


def _report(name: str | None, observed: Observed, ray: Mapping[str, ServeState]) -> ClusterReport | None:
    if name is None:
        return None
    cluster = observed.clusters.get(name)
    state = ray.get(name)
    applications = as_status_field(state.statuses) if state is not None and state.answer is not None else None
    unreachable = state is not None and state.answer is None
    error = (state.error or "") if state is not None and unreachable else ""
    return ClusterReport(name, status_of(cluster) if cluster is not None else None, applications, unreachable, error)


def _requeue(
    service: RawObject,
    plan: ClusterPlan,
    target: str | None,
    ray: Mapping[str, ServeState],
    submitted: Submitted,
    check: ServiceCheck,
    deps: Deps,
) -> float | None:
    state = ray.get(target) if target is not None else None
    pace: Pace = "steady"
    if target is not None and (state is None or any(name not in ray for name in (plan.active, plan.pending) if name)):
        pace = "starting"
    elif submitted is Submitted.PUT or (
        state is not None
        and state.answer is not None
        and (is_converging(state.statuses) or apps_missing(check.config, state.apps))
    ):
        pace = "converging"
    elif state is not None and state.answer is not None and any(app.status in FAILED_APP_STATUSES
                                                                for app in state.statuses.values()):
        pace = "failing"  # Ray may recover on its own (a replica restarts): look again soon, not in 90 s
    failures = 0
    if target is not None and (submitted is Submitted.FAILED or (state is not None and state.answer is None)):
        failures = deps.memory.failures(ObjectKey(namespace_of(service), target))
    wake_in_s = (plan.wake_at - deps.clock.now()).total_seconds() if plan.wake_at is not None else None
    return requeue_after_s(valid=True, pace=pace, ray_failures=failures, wake_in_s=wake_in_s, jitter=deps.rng.random())
