"""Rollouts under ``spec.rolloutPolicy``: the deadline of a pending cluster or an in-place Serve update, when it
is given up, and what a given-up rollout holds back; as a pure function of one pass's observations.

A rollout is a pending cluster with the desired ``rayClusterConfig`` hash while an active cluster runs another
one (kind ``Cluster``; not under ``upgradeStrategy.type: None``), or, without a pending cluster, a Serve config
on the active cluster other than the last one that ran there with every application RUNNING (kind ``Serve``).
It is identified by the desired cluster hash, the Serve config hash and the ``RETRY_ANNOTATION`` value.

Guarantees:
1. Without ``rolloutPolicy`` nothing here applies: ``decide_rollout`` returns the empty ``RolloutOutcome``
   (no record, no failure, no hold, no override, no write), so the pass is KubeRay's.
2. The deadline is ``startTime + timeoutSeconds``: ``startTime`` is the pending cluster's creation (kind
   ``Cluster``) or the first pass that saw the new config not yet served (kind ``Serve``). It is kept in
   ``status.rollout`` and read back from there, so an operator restart keeps it.
3. A rollout is given up when it is not serving by its deadline, or when a desired application has been
   DEPLOY_FAILED, on the config rolled out, for ``DEPLOY_FAILED_GRACE_S``. The pass that gives it up only
   records ``status.failedRollout`` (``gave_up``): the rollback follows from that record in later passes, so
   a crash between the two never loses the outcome.
4. A recorded failure holds while the desired hashes and the retry annotation are the ones it names. With
   ``Rollback``: a cluster rollout is held (``hold``: no pending cluster for that spec, the active cluster
   keeps what it runs: only its last good Serve config is ever re-submitted to it); a Serve rollout submits
   the last good config instead of the desired one (``serve_config``). With ``Wait`` nothing is held back;
   the failure is cleared once the rollout serves after all.
5. Changing the spec, or the value of ``RETRY_ANNOTATION``, forgets the failure: one more try, with a new
   deadline.
6. ``remember`` asks to store on the active cluster the Serve config it runs with every desired application
   RUNNING, when it is not the one stored there (``last_good``).
7. ``rollout_ended`` tells, from the status before and after a write, whether a rollout ended in it: given up
   (``rolled_back``, or ``failed`` when nothing was rolled back) once, when first recorded; ``succeeded`` when
   the record of the current spec goes away with no failure and its cluster active.

Pure: time comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from rayservice.api.common import format_kube_time
from rayservice.controller.objects import (
    RawObject,
    annotations_of,
    is_deleting,
    mapping,
    metadata,
    parse_time,
    part,
    rayservice_spec,
    rayservice_status,
    text,
)
from rayservice.controller.rayservice.last_good import encode_last_good, last_good_of
from rayservice.controller.rayservice.pass_values import Observed, ServeState
from rayservice.controller.rayservice.serve_diff import config_digest, desired_app_names, is_serving
from rayservice.controller.rayservice.upgrade import cluster_facts
from rayservice.ray import serve_config_differs

RETRY_ANNOTATION: Final = "rayservice.ray.io/retry-rollout"
DEPLOY_FAILED_GRACE_S: Final = 30.0
REASON_TIMEOUT: Final = "Timeout"
REASON_DEPLOY_FAILED: Final = "DeployFailed"
ACTION_ROLLED_BACK: Final = "RolledBack"
ACTION_WAITING: Final = "Waiting"
ACTION_NOTHING: Final = "NothingToRollBackTo"

Kind = Literal["Cluster", "Serve"]


@dataclass(frozen=True, slots=True)
class Policy:
    """``spec.rolloutPolicy`` as the decision reads it."""

    timeout_s: int
    on_failure: str


@dataclass(frozen=True, slots=True)
class RolloutOutcome:
    """What rollouts mean for this pass (see the guarantees)."""

    record: Mapping[str, Any] | None = None
    failed: Mapping[str, Any] | None = None
    gave_up: bool = False
    hold: bool = False
    serve_override: bool = False
    serve_config: Mapping[str, Any] | None = None
    remember: tuple[str, str] | None = None
    wake_at: datetime | None = None


NO_ROLLOUT: Final = RolloutOutcome()


def rollout_policy(service: RawObject) -> Policy | None:
    """The policy in effect, or ``None`` when the spec sets none."""
    raw = rayservice_spec(service).get("rolloutPolicy")
    if not isinstance(raw, Mapping):
        return None
    timeout = raw.get("timeoutSeconds", 900)
    timeout_s = timeout if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout >= 1 else 900
    return Policy(timeout_s, "Wait" if raw.get("onFailure") == "Wait" else "Rollback")


def serve_config_hash(config: Mapping[str, Any] | None) -> str:
    """A short, key-order independent hash of a Serve config (``""`` for none)."""
    return config_digest(config)[:16] if config is not None else ""


def decide_rollout(observed: Observed, now: datetime) -> RolloutOutcome:
    """Guarantees 1-6, before the cluster decision (which ``hold`` changes)."""
    policy = rollout_policy(observed.service)
    active = observed.active
    if policy is None or active is None or active not in observed.clusters:
        return NO_ROLLOUT
    scene = _Scene(observed, policy, now)
    strategy = text(part(rayservice_spec(observed.service).get("upgradeStrategy")).get("type"), "NewCluster")
    if strategy != "None" and cluster_facts(observed.clusters[active]).config_hash != observed.desired_hash:
        return scene.cluster_rollout()
    if observed.pending is None and observed.check.config is not None:
        return scene.serve_rollout(active)
    return NO_ROLLOUT


@dataclass(frozen=True, slots=True)
class _Scene:  # one pass's view of the rollout
    observed: Observed
    policy: Policy
    now: datetime

    @property
    def key(self) -> dict[str, str]:
        service = self.observed.service
        return {
            "clusterConfigHash": self.observed.desired_hash,
            "serveConfigHash": serve_config_hash(self.observed.check.config),
            "retryToken": str(annotations_of(service).get(RETRY_ANNOTATION, "")),
        }

    def stored(self, field: str, kind: Kind, cluster: str | None = None) -> Mapping[str, Any] | None:
        """The stored ``status.<field>`` when it is about this rollout."""
        entry = mapping(rayservice_status(self.observed.service).get(field))
        if entry.get("kind") != kind or any(entry.get(name) != value for name, value in self.key.items()):
            return None
        return entry if cluster is None or entry.get("rayClusterName") == cluster else None

    def record(self, kind: Kind, cluster: str, start: datetime | None) -> dict[str, Any]:
        kept = parse_time(mapping(self.stored("rollout", kind, cluster)).get("startTime"))
        begun = kept or start or self.now
        deadline = begun + timedelta(seconds=self.policy.timeout_s)
        return {
            "kind": kind,
            "rayClusterName": cluster,
            **self.key,
            "startTime": format_kube_time(begun),
            "deadline": format_kube_time(deadline),
        }

    def cluster_rollout(self) -> RolloutOutcome:
        observed, active = self.observed, self.observed.active
        assert active is not None
        failed = self.stored("failedRollout", "Cluster")
        if failed is not None and self.policy.on_failure == "Rollback":
            return RolloutOutcome(failed=failed, hold=True, serve_override=True, serve_config=_last_good(observed))
        pending = observed.pending
        cluster = observed.clusters.get(pending) if pending is not None else None
        if pending is None or cluster is None or is_deleting(cluster):
            return RolloutOutcome(failed=failed)  # this pass makes the pending cluster: its clock starts there
        if cluster_facts(cluster).config_hash != observed.desired_hash:
            return RolloutOutcome(failed=failed)  # a newer spec replaces it this pass
        record = self.record("Cluster", pending, parse_time(metadata(cluster).get("creationTimestamp")))
        return self.judge("Cluster", pending, record, failed, fallback=True)

    def serve_rollout(self, active: str) -> RolloutOutcome:
        observed = self.observed
        config, state = observed.check.config, observed.ray.get(active)
        last = last_good_of(observed.clusters[active])
        failed = self.stored("failedRollout", "Serve", active)
        if failed is not None and self.policy.on_failure == "Rollback":
            return RolloutOutcome(failed=failed, serve_override=last is not None, serve_config=last)
        if state is None or state.answer is None:
            return RolloutOutcome(record=self.stored("rollout", "Serve", active), failed=failed)
        if is_serving(config, state.apps, state.statuses):
            remember = None
            if config is not None and serve_config_hash(last) != serve_config_hash(config):
                value = encode_last_good(config)
                remember = (active, value) if value is not None else None
            return RolloutOutcome(remember=remember)
        if failed is not None:
            return RolloutOutcome(failed=failed)
        if last is not None and serve_config_hash(last) == serve_config_hash(config):
            return NO_ROLLOUT  # the good config itself is being restored (a head restarted): not a rollout
        record = self.record("Serve", active, None)
        return self.judge("Serve", active, record, None, fallback=last is not None)

    def judge(
        self, kind: Kind, cluster: str, record: dict[str, Any], failed: Mapping[str, Any] | None, *, fallback: bool
    ) -> RolloutOutcome:
        """Guarantee 3 for a rollout under way on ``cluster``."""
        state = self.observed.ray.get(cluster)
        config = self.observed.check.config
        if state is not None and state.answer is not None and is_serving(config, state.apps, state.statuses):
            return RolloutOutcome(record=record)  # it serves: the switch (or the success) is this pass's
        deadline = parse_time(record["deadline"])
        assert deadline is not None
        found, wake = _failure(config, state, self.now, deadline, self.policy.timeout_s)
        if failed is not None or found is None:
            return RolloutOutcome(record=record, failed=failed, wake_at=wake)
        rollback = self.policy.on_failure == "Rollback"
        action = ACTION_WAITING if not rollback else ACTION_ROLLED_BACK if fallback else ACTION_NOTHING
        reason, message = found
        entry = {
            "kind": kind,
            "rayClusterName": cluster,
            **self.key,
            "reason": reason,
            "message": message,
            "action": action,
            "time": format_kube_time(self.now),
        }
        return RolloutOutcome(record=None if rollback else record, failed=entry, gave_up=True)


def rollout_ended(
    before: Mapping[str, Any], after: Mapping[str, Any], *, desired: tuple[str, str], now: datetime
) -> tuple[str, str, float] | None:
    """Guarantee 7: (kind, outcome, seconds since the rollout started) of a rollout the write ends, or ``None``;
    ``desired`` is the (cluster, Serve config) hash pair of the current spec."""
    started, failed = mapping(before.get("rollout")), mapping(after.get("failedRollout"))
    if failed and failed != mapping(before.get("failedRollout")):
        begun = parse_time(started.get("startTime")) if started.get("kind") == failed.get("kind") else None
        end = parse_time(failed.get("time")) or now
        outcome = "rolled_back" if failed.get("action") == ACTION_ROLLED_BACK else "failed"
        return str(failed.get("kind")), outcome, max((end - begun).total_seconds(), 0.0) if begun else 0.0
    if not started or after.get("rollout") or failed:
        return None
    same = (started.get("clusterConfigHash"), started.get("serveConfigHash")) == desired
    active = part(after.get("activeServiceStatus")).get("rayClusterName")
    if not same or active != started.get("rayClusterName"):
        return None  # superseded by a newer spec, or reverted: not a success
    begun = parse_time(started.get("startTime"))
    return str(started.get("kind")), "succeeded", max((now - begun).total_seconds(), 0.0) if begun else 0.0


def _last_good(observed: Observed) -> dict[str, Any] | None:
    active = observed.active
    return last_good_of(observed.clusters.get(active)) if active is not None else None


def _failure(
    config: Mapping[str, Any] | None, state: ServeState | None, now: datetime, deadline: datetime, timeout_s: int
) -> tuple[tuple[str, str] | None, datetime | None]:
    """Why the rollout is given up now, if it is, and else the next time it could be."""
    grace = timedelta(seconds=DEPLOY_FAILED_GRACE_S)
    wakes = [deadline]
    if state is not None and state.answer is not None and config is not None:
        deployed = not serve_config_differs(config, state.apps)
        for name in desired_app_names(config):
            app = state.statuses.get(name)
            if not deployed or app is None or app.status != "DEPLOY_FAILED":
                continue
            if app.health_last_update_time + grace <= now:
                said = " ".join(app.message.split())[:500]
                return (
                    REASON_DEPLOY_FAILED,
                    f"application {name} DEPLOY_FAILED for {DEPLOY_FAILED_GRACE_S:g} s: {said}",
                ), None
            wakes.append(app.health_last_update_time + grace)
    if now >= deadline:
        return (REASON_TIMEOUT, f"not serving within {timeout_s} s: {_describe(config, state)}"), None
    return None, min(wakes)


def _describe(config: Mapping[str, Any] | None, state: ServeState | None) -> str:
    """Where the rollout stands, in Ray's words where there are some."""
    if state is None:
        return "its head pod is not ready"
    if state.answer is None:
        return f"its Ray dashboard {state.error or 'is not answering'}"
    parts = []
    for name in desired_app_names(config):
        app = state.statuses.get(name)
        if app is None:
            parts.append(f"application {name} is not deployed")
        elif app.status != "RUNNING":
            said = " ".join(app.message.split())[:500]
            parts.append(f"application {name} is {app.status}" + (f": {said}" if said else ""))
    return "; ".join(parts) or "Ray does not run the desired config yet"
