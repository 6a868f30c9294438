"""Carrying out a ``PassPlan``: the thin async shell of a RayService pass, in the order its guarantees need.

Guarantees:
1. ``start_pending`` writes the status recording the pending name, then deletes the pending clusters the
   new one replaces, then creates it; when the name belongs to someone else, it writes the status that
   forgets the name (the next pass picks another one).
2. ``apply_plan`` notes the active cluster's unreachable clock in ``deps.memory``, then makes the cluster
   writes (drops, deletions past their deadline, deadlines removed and set, in-place scaling), then the
   Serve PUT, then the ``ray.io/serve`` labels (the serve Service must select only pods with a proxy from
   the moment it points at them), then the Gateway API objects and per-cluster serve Services of an incremental
   upgrade (``gateway_io``), then the switch (both Services, then the old cluster's deadline, then one
   ``SwitchedTraffic`` event) or, without one, points the Services at the active cluster.
3. The PUT is bounded by ``deps.dashboard_timeout_s``; success is remembered in ``deps.memory`` and
   reported as a Normal ``SubmittedServeConfig`` event; failure is counted in ``deps.memory`` (the backoff)
   and reported as a Warning ``FailedToSubmitServeConfig`` event naming the cluster and Ray's answer, or, when
   the plan says Serve is still starting there (``serve_starting``) and the failure is transient (no answer, a
   5xx), as a Normal ``RetryingServeConfig``. The PUT carries the cluster's own Ray auth token
   (``deps.tokens``; a 401 or 403 answer makes the next call read it again).
   Nothing about Ray is raised.
4. ``commit`` writes the status only when it changed; then the events that status records (a Warning
   ``RolloutFailed`` for a rollout given up, a Warning ``RolloutPolicyLimited`` once per generation when
   ``upgradeStrategy.type`` None leaves only the Serve part of ``rolloutPolicy``) and the metrics (a rollout
   that ended: its outcome and duration). Every pass reports its upgrade phase to the metrics first.
5. After the Serve PUT, ``apply_plan`` stores the active cluster's last good Serve config when the plan asks.
6. A cluster deleted past its drain bound (``drain_forced``) gets a Warning ``DrainTimedOut`` event before its
   deletion, naming what was still in flight.

It decides nothing: every choice is the plan's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

import structlog

from rayservice.api import ObjectKey
from rayservice.api.rayservice import CONDITION_READY, CONDITION_UPGRADE_IN_PROGRESS
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import (
    RawObject,
    controller_uid,
    ensure_service,
    find_condition,
    name_of,
    namespace_of,
    part,
    rayservice_spec,
    rayservice_status,
    uid_of,
    write_status_if_changed,
)
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.desired import desired_cluster, without_worker_replicas
from rayservice.controller.rayservice.gateway_io import apply_gateway
from rayservice.controller.rayservice.last_good import LAST_GOOD_ANNOTATION
from rayservice.controller.rayservice.observe import refused_token
from rayservice.controller.rayservice.pass_values import Observed, PassPlan, ServePut, StatusEvents, Submitted, Switch
from rayservice.controller.rayservice.rollout import rollout_ended, serve_config_hash
from rayservice.controller.rayservice.serve_diff import LastPut, config_digest
from rayservice.controller.rayservice.serve_start import is_transient
from rayservice.controller.rayservice.status_events import status_events
from rayservice.controller.rayservice.upgrade import recorded_clusters
from rayservice.controller.rayservice.validate import ServiceCheck
from rayservice.controller.rayservice.writes import (
    create_cluster,
    delete_cluster,
    label_serve_pod,
    scale_cluster,
    set_deadline,
    store_last_good,
)
from rayservice.kube import RAY_SERVICES
from rayservice.ray import DashboardError

REASON_SUBMITTED: Final = "SubmittedServeConfig"
REASON_SUBMIT_FAILED: Final = "FailedToSubmitServeConfig"
REASON_SUBMIT_RETRYING: Final = "RetryingServeConfig"
REASON_SWITCHED: Final = "SwitchedTraffic"
REASON_VALIDATION_FAILED: Final = "ValidationFailed"
REASON_IGNORED_FIELDS: Final = "IgnoredFields"
REASON_SERVE_CONFIG_WARNING: Final = "ServeConfigWarning"
REASON_ROLLOUT_FAILED: Final = "RolloutFailed"
REASON_ROLLOUT_POLICY_LIMITED: Final = "RolloutPolicyLimited"
REASON_DRAIN_TIMED_OUT: Final = "DrainTimedOut"

_log = structlog.get_logger(__name__)


async def start_pending(plan: PassPlan, observed: Observed, deps: Deps) -> None:
    """Guarantee 1."""
    create = plan.clusters.create
    assert create is not None
    _note_health(plan, observed, deps)
    _note_phase(plan, observed, deps)
    service = await commit(observed.service, plan.status, observed.check, deps)
    for name in plan.clusters.drop:
        await delete_cluster(service, observed.clusters.get(name), name, deps, why="replaced before it served")
    replacing, active = plan.clusters.replacing, plan.clusters.active
    why = f"replaces {active}: {replacing}" if replacing else "serves the current rayClusterConfig"
    body = desired_cluster(service, name=create.name, replacements=create.replacements)
    if plan.start_autoscaled:  # an incremental upgrade's new cluster grows from minReplicas with target_capacity
        body = without_worker_replicas(body)
    if not await create_cluster(service, body, deps, why=why) and plan.status_if_create_fails is not None:
        await commit(service, plan.status_if_create_fails, observed.check, deps)


async def apply_plan(plan: PassPlan, observed: Observed, deps: Deps) -> Submitted:
    """Guarantee 2; what the Serve submission did."""
    _note_health(plan, observed, deps)
    _note_phase(plan, observed, deps)
    service, clusters = observed.service, plan.clusters
    why = "its rollout was given up" if plan.status.get("failedRollout") else "no longer wanted, never served"
    for name in clusters.drop:
        await delete_cluster(service, observed.clusters.get(name), name, deps, why=why)
    forced = dict(plan.drain_forced)
    for name in clusters.delete:
        if name in forced:
            _log.warning("cluster_drain_timed_out", cluster=name, message=forced[name])
            await deps.events.emit(service, WARNING, REASON_DRAIN_TIMED_OUT, forced[name])
        await delete_cluster(service, observed.clusters.get(name), name, deps, why="its deletion deadline passed")
    for name in clusters.unmark:
        await set_deadline(service, name, None, deps)
    for name, deadline in clusters.mark:
        await set_deadline(service, name, deadline, deps)
    desired_spec = part(rayservice_spec(service).get("rayClusterConfig"))
    for name in clusters.scale:
        await scale_cluster(service, observed.clusters[name], desired_spec, deps)
    submitted = await submit(service, plan.serve_put, deps) if plan.serve_put is not None else Submitted.NOTHING
    if plan.remember_serve is not None:
        await store_last_good(service, plan.remember_serve[0], LAST_GOOD_ANNOTATION, plan.remember_serve[1], deps)
    for pod, value in plan.labels:
        await label_serve_pod(service, pod, value, deps)
    await apply_gateway(plan, observed, deps)
    await _point_services(plan, observed, deps)
    if plan.switch is not None:
        await _finish_switch(service, plan.switch, deps)
    return submitted


async def submit(service: RawObject, put: ServePut, deps: Deps) -> Submitted:
    """Guarantee 3."""
    key = ObjectKey(namespace_of(service), put.cluster)
    cluster = deps.caches.rayclusters.get(key)
    try:
        async with asyncio.timeout(deps.dashboard_timeout_s):
            token = await deps.tokens.token_for(cluster) if cluster is not None else None
            await deps.dashboard_factory(put.address, token=token).put_config(put.config)
    except (DashboardError, TimeoutError) as exc:
        if refused_token(exc):
            deps.tokens.forget(key)
        failures = deps.memory.failed(key, deps.clock.now())
        error = str(exc) or f"no answer within {deps.dashboard_timeout_s:g} s"
        if put.serve_starting and is_transient(exc):  # its head just turned Ready: Serve is still starting there
            _log.info("serve_config_not_taken_yet", cluster=put.cluster, failures=failures, error=error)
            message = (f"RayCluster {put.cluster} is still starting Serve ({error}); the Serve config is submitted "
                       "again shortly")
            await deps.events.emit(service, NORMAL, REASON_SUBMIT_RETRYING, message)
            return Submitted.FAILED
        _log.warning("serve_config_rejected", cluster=put.cluster, failures=failures, error=error)
        message = f"Failed to submit the Serve config to RayCluster {put.cluster}: {error}"
        await deps.events.emit(service, WARNING, REASON_SUBMIT_FAILED, message)
        return Submitted.FAILED
    deps.memory.put_done(key, LastPut(put.address, config_digest(put.config), deps.clock.monotonic()))
    _log.info("serve_config_submitted", cluster=put.cluster, why=put.reason)
    message = f"Submitted the Serve config to RayCluster {put.cluster} ({put.reason})"
    await deps.events.emit(service, NORMAL, REASON_SUBMITTED, message)
    return Submitted.PUT


async def commit(service: RawObject, status: Mapping[str, Any], check: ServiceCheck, deps: Deps) -> RawObject:
    """Guarantee 4; the RayService as stored after the write."""
    # The recorded clusters are an input of the next decision: a cluster the status stops recording may now be
    # garbage, so that write's echo must wake the controller. Any other status change is only what this pass
    # saw, and its echo need not wake anyone.
    released = set(recorded_clusters(service)) - set(recorded_clusters({"status": status})) - {None}
    stored = await write_status_if_changed(
        deps.kube, RAY_SERVICES, service, status, deps.written, wake_on_echo=bool(released)
    )
    if stored is not None:
        await _emit_status_events(service, status_events(service, status, check), deps)
        desired = (deps.checks.cluster_hash(service), serve_config_hash(check.config))
        ended = rollout_ended(rayservice_status(service), status, desired=desired, now=deps.clock.now())
        if ended is not None:
            kind, outcome, duration_s = ended
            _log.info("rollout_ended", kind=kind, outcome=outcome, duration_s=round(duration_s, 3))
            deps.metrics.rollout_ended(
                name_of(service), namespace_of(service), kind=kind, outcome=outcome, duration_s=duration_s
            )
    stored = stored if stored is not None else service
    conditions = rayservice_status(stored).get("conditions")
    deps.metrics.service_observed(
        name_of(stored),
        namespace_of(stored),
        ready=(find_condition(conditions, CONDITION_READY) or {}).get("status") == "True",
        upgrading=(find_condition(conditions, CONDITION_UPGRADE_IN_PROGRESS) or {}).get("status") == "True",
    )
    return stored


async def _emit_status_events(service: RawObject, events: StatusEvents, deps: Deps) -> None:
    if events.ignored_fields:
        await deps.events.emit(service, WARNING, REASON_IGNORED_FIELDS, events.ignored_fields)
    if events.serve_config_warnings:
        await deps.events.emit(service, WARNING, REASON_SERVE_CONFIG_WARNING, events.serve_config_warnings)
    if events.validation_failed:
        _log.info("rayservice_invalid", message=events.validation_failed)
        await deps.events.emit(service, WARNING, REASON_VALIDATION_FAILED, events.validation_failed)
    if events.rollout_failed:
        _log.warning("rollout_failed", message=events.rollout_failed)
        await deps.events.emit(service, WARNING, REASON_ROLLOUT_FAILED, events.rollout_failed)
    if events.rollout_policy_limited:
        await deps.events.emit(service, WARNING, REASON_ROLLOUT_POLICY_LIMITED, events.rollout_policy_limited)


def _note_phase(plan: PassPlan, observed: Observed, deps: Deps) -> None:
    service = observed.service
    deps.metrics.upgrade_phase(name_of(service), namespace_of(service), plan.phase, deps.clock.monotonic())


def _note_health(plan: PassPlan, observed: Observed, deps: Deps) -> None:
    active = observed.active
    if active is None or plan.health_clock is None:
        return
    key = ObjectKey(namespace_of(observed.service), active)
    if plan.health_clock == "run":
        deps.memory.unreachable(key, deps.clock.now())
    else:
        deps.memory.reachable(key)


async def _point_services(plan: PassPlan, observed: Observed, deps: Deps) -> None:
    service = observed.service
    for have, want in zip((observed.head_service, observed.serve_service), plan.services, strict=False):
        done = await ensure_service(
            deps.kube, have, want, is_foreign=lambda svc: controller_uid(svc) not in (None, uid_of(service))
        )
        if done.action == "foreign":
            _log.warning("service_owned_by_other", service=name_of(want))


async def _finish_switch(service: RawObject, switch: Switch, deps: Deps) -> None:
    namespace = namespace_of(service)
    if switch.old is not None and switch.old != switch.new:
        await set_deadline(service, switch.old, switch.old_deadline, deps)
        message = f"Switched traffic from RayCluster {namespace}/{switch.old} to {namespace}/{switch.new}"
        if switch.upgrade_s is not None:
            deps.metrics.service_upgraded(name_of(service), namespace, switch.upgrade_s)
    else:
        message = f"Switched traffic to RayCluster {namespace}/{switch.new}"
    _log.info("traffic_switched", old=switch.old, new=switch.new)
    await deps.events.emit(service, NORMAL, REASON_SWITCHED, message)
