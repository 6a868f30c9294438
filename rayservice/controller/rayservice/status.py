"""The status of a RayService, computed from what one pass observed; and when to look again.

Guarantees:
1. ``compute_status`` is a function of its arguments: observing the same state twice gives equal dicts, so a
   converged RayService's status equals the stored one and causes no write. ``lastUpdateTime`` is ``now`` only
   when something else in the status changed, else it is kept.
2. With ``problems``: the previous status is kept, except ``Ready`` (False, ``ValidationFailed``, every problem
   in its message), ``serviceStatus`` (empty) and ``observedGeneration``.
3. Otherwise ``activeServiceStatus``/``pendingServiceStatus`` name their clusters, copy the clusters' status
   and hold ``applicationStatuses``; applications that were not observed this pass (``applications=None``)
   keep what the status said of that cluster, whichever side it was on. A side without a cluster is absent.
4. ``Ready``: True ``NonZeroServeEndpoints`` when an active cluster exists and the serve Service has ready
   endpoints; False ``ZeroServeEndpoints`` when it has none (or the active cluster is gone); False
   ``Initializing`` until a cluster first became active, but False ``ServeDeployFailed`` while an app of the
   cluster being prepared is DEPLOY_FAILED or UNHEALTHY, naming each such app, its status and Ray's message
   (at most ``MAX_APP_MESSAGE`` characters each). A failed dashboard read is named in Ready's message with
   its kind (``dashboard_error``: timeout, refused, HTTP status, invalid JSON). ``UpgradeInProgress``: True
   ``BothActivePendingClustersExist``; False ``NoPendingCluster`` (its message says when a cluster spec change
   is not applied because ``upgradeStrategy.type`` is None); False ``Initializing`` before the first cluster
   became active, Unknown ``NoActiveCluster`` after. ``serviceStatus`` is ``Running`` exactly when Ready is True.
5. Conditions keep ``lastTransitionTime`` while their status stays the same; conditions of other types are
   kept; each carries ``observedGeneration``, as does the status.
6. ``count_serve_endpoints`` counts the distinct ready endpoints (``conditions.ready`` not false) of the
   Service's EndpointSlices in its namespace.
7. ``requeue_after_s``: ``None`` for an invalid spec (an edit wakes the controller); ``STARTING_REQUEUE_S`` while a
   head is not ready; ``CONVERGING_REQUEUE_S`` while Serve is converging or a pending cluster is not serving yet;
   after dashboard failures, a backoff doubling from 1 s up to ``MAX_RAY_BACKOFF_S``; while an app of the cluster
   served to is DEPLOY_FAILED or UNHEALTHY (``failing``), ``FAILING_REQUEUE_S`` +-20 % (10-15 s: Ray's own recovery
   is seen promptly, never a hot loop); ``scaling``: ``SCALING_REQUEUE_S`` +-20 % (4-6 s, inside Serve's 30 s proxy
   drain); when steady, ``STEADY_REQUEUE_S`` +-20 % jitter (72-108 s: well under two dashboard reads per minute, and
   1,000 steady RayServices cost about 11 passes a second, spread out); never later than ``wake_in_s``. Changes
   between two steady looks still wake the controller at once: Kubernetes objects by watch, so only Ray's own view
   (an application turning UNHEALTHY, a restarted head's Serve) waits for the next look.
8. ``rollout`` and ``failed_rollout`` (``rollout.decide_rollout``) become ``status.rollout`` and
   ``status.failedRollout``; with a failed rollout, ``UpgradeInProgress`` is False ``RolloutFailed``, its
   message naming the cluster, the cause in Ray's words and what was done (rolled back, waiting, or nothing to
   roll back to).

Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from rayservice.api.common import format_kube_time
from rayservice.api.rayservice import CONDITION_READY, CONDITION_UPGRADE_IN_PROGRESS, SERVICE_STATUS_RUNNING
from rayservice.api.serve import Problem
from rayservice.api.views import RayServiceStatusView, as_endpoint_slice
from rayservice.controller.objects import (
    RawObject,
    find_condition,
    generation_of,
    items,
    labels_of,
    mapping,
    merge_conditions,
    namespace_of,
    part,
    rayservice_status,
    text,
)

REASON_VALIDATION_FAILED: Final = "ValidationFailed"
REASON_INITIALIZING: Final = "Initializing"
REASON_ZERO_ENDPOINTS: Final = "ZeroServeEndpoints"
REASON_NONZERO_ENDPOINTS: Final = "NonZeroServeEndpoints"
REASON_BOTH_CLUSTERS: Final = "BothActivePendingClustersExist"
REASON_NO_PENDING: Final = "NoPendingCluster"
REASON_NO_ACTIVE: Final = "NoActiveCluster"
REASON_SERVE_DEPLOY_FAILED: Final = "ServeDeployFailed"
REASON_ROLLOUT_FAILED: Final = "RolloutFailed"
FAILED_APP_STATUSES: Final = frozenset({"DEPLOY_FAILED", "UNHEALTHY"})
MAX_APP_MESSAGE: Final = 500  # characters of Ray's message per application in Ready (tracebacks run long)
STARTING_REQUEUE_S: Final = 2.0
CONVERGING_REQUEUE_S: Final = 1.0
STEADY_REQUEUE_S: Final = 90.0
SCALING_REQUEUE_S: Final = 5.0
FAILING_REQUEUE_S: Final = 12.5
MAX_RAY_BACKOFF_S: Final = 60.0
_SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"

Pace = Literal["starting", "converging", "failing", "scaling", "steady"]


@dataclass(frozen=True, slots=True)
class ClusterReport:
    """What the status says of one cluster: its name, a copy of its status, its applications (``None``: keep)."""

    name: str
    cluster_status: Mapping[str, Any] | None = None
    applications: Mapping[str, Any] | None = None
    dashboard_unreachable: bool = False
    dashboard_error: str = ""  # what went wrong, completing "the Ray dashboard ...": "did not answer within 2 s"


def compute_status(
    service: RawObject,
    *,
    now: datetime,
    problems: Sequence[Problem] = (),
    active: ClusterReport | None = None,
    pending: ClusterReport | None = None,
    serve_endpoints: int = 0,
    kept_outdated: bool = False,
    rollout: Mapping[str, Any] | None = None,
    failed_rollout: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The RayService status for this pass (see the guarantees)."""
    previous = rayservice_status(service)
    generation = generation_of(service)
    status: dict[str, Any]
    if problems:
        status = copy.deepcopy(dict(previous))
        message = "invalid spec: " + "; ".join(str(problem) for problem in problems)
        ready = _condition(CONDITION_READY, "False", REASON_VALIDATION_FAILED, message)
        status["conditions"] = merge_conditions(previous.get("conditions"), [ready], now=now, generation=generation)
        status["serviceStatus"] = ""
    else:
        status = {}
        for key, report in (("activeServiceStatus", active), ("pendingServiceStatus", pending)):
            if report is not None:
                status[key] = _cluster_status(report, previous)
        initializing = _still_initializing(previous)
        conditions = [
            _ready(active, pending, status.get("pendingServiceStatus"), serve_endpoints, initializing),
            _upgrade(active, pending, initializing, kept_outdated)
            if failed_rollout is None
            else _condition(
                CONDITION_UPGRADE_IN_PROGRESS, "False", REASON_ROLLOUT_FAILED, rollout_failure_message(failed_rollout)
            ),
        ]
        status["conditions"] = merge_conditions(previous.get("conditions"), conditions, now=now, generation=generation)
        ready = conditions[0]["status"] == "True"
        status["serviceStatus"] = SERVICE_STATUS_RUNNING if ready else ""
        status["numServeEndpoints"] = serve_endpoints if active is not None else 0
        if rollout is not None:
            status["rollout"] = copy.deepcopy(dict(rollout))
        if failed_rollout is not None:
            status["failedRollout"] = copy.deepcopy(dict(failed_rollout))
    if generation is not None:
        status["observedGeneration"] = generation
    before = {key: value for key, value in previous.items() if key != "lastUpdateTime"}
    if previous.get("lastUpdateTime") and before == status:
        status["lastUpdateTime"] = previous["lastUpdateTime"]
    else:
        status["lastUpdateTime"] = format_kube_time(now)
    return status


def count_serve_endpoints(slices: Iterable[RawObject], *, service: str, namespace: str) -> int:
    """Guarantee 6."""
    seen: set[str] = set()
    for piece in slices:
        if namespace_of(piece) != namespace or labels_of(piece).get(_SERVICE_NAME_LABEL) != service:
            continue
        for listed in items(as_endpoint_slice(piece).get("endpoints")):
            endpoint = part(listed)
            if part(endpoint.get("conditions")).get("ready") is False:
                continue
            addresses = [str(address) for address in items(endpoint.get("addresses"))]
            seen.add(text(part(endpoint.get("targetRef")).get("name")) or ",".join(addresses))
    seen.discard("")
    return len(seen)


def requeue_after_s(
    *,
    valid: bool,
    pace: Pace,
    ray_failures: int = 0,
    wake_in_s: float | None = None,
    jitter: float = 0.5,
) -> float | None:
    """Guarantee 7; ``jitter`` in [0, 1) spreads steady RayServices over time."""
    if not valid:
        return None
    if ray_failures > 0:
        delay = min(2.0 ** (ray_failures - 1), MAX_RAY_BACKOFF_S)
    elif pace == "starting":
        delay = STARTING_REQUEUE_S
    elif pace == "converging":
        delay = CONVERGING_REQUEUE_S
    else:
        base = {"failing": FAILING_REQUEUE_S, "scaling": SCALING_REQUEUE_S}.get(pace, STEADY_REQUEUE_S)
        delay = base * (0.8 + 0.4 * min(max(jitter, 0.0), 1.0))
    if wake_in_s is not None:
        delay = min(delay, max(wake_in_s, 0.0))
    return delay


def _cluster_status(report: ClusterReport, previous: RayServiceStatusView) -> dict[str, Any]:
    entry: dict[str, Any] = {"rayClusterName": report.name}
    if report.cluster_status:
        entry["rayClusterStatus"] = copy.deepcopy(dict(report.cluster_status))
    applications = report.applications
    if applications is None:
        applications = recorded_applications(previous, report.name)
    entry["applicationStatuses"] = copy.deepcopy(dict(applications))
    return entry


def recorded_applications(previous: RayServiceStatusView, cluster: str) -> Mapping[str, Any]:
    """What the status says of the cluster's applications, on whichever side it is recorded."""
    for side in (part(previous.get("activeServiceStatus")), part(previous.get("pendingServiceStatus"))):
        if side.get("rayClusterName") == cluster:
            return part(side.get("applicationStatuses"))
    return {}


def _still_initializing(previous: RayServiceStatusView) -> bool:
    """No cluster ever became active: the UpgradeInProgress condition never left ``Initializing``."""
    upgrade = find_condition(previous.get("conditions"), CONDITION_UPGRADE_IN_PROGRESS)
    return upgrade is None or upgrade.get("reason") == REASON_INITIALIZING


def _ready(
    active: ClusterReport | None,
    pending: ClusterReport | None,
    pending_status: Mapping[str, Any] | None,
    endpoints: int,
    initializing: bool,
) -> dict[str, Any]:
    if active is None and initializing:
        return _initializing(pending, mapping(mapping(pending_status).get("applicationStatuses")))
    if active is None:
        return _condition(CONDITION_READY, "False", REASON_ZERO_ENDPOINTS, "No active Ray cluster")
    # Serving goes through the proxies, not the dashboard: a silent dashboard is reported, not counted against Ready.
    silent = f"; {_dashboard_problem(active)}, so Serve status is not current" if active.dashboard_unreachable else ""
    if endpoints > 0:
        message = f"Serving on RayCluster {active.name}{silent}"
        return _condition(CONDITION_READY, "True", REASON_NONZERO_ENDPOINTS, message)
    message = f"The serve Service has no ready endpoints on RayCluster {active.name}{silent}"
    return _condition(CONDITION_READY, "False", REASON_ZERO_ENDPOINTS, message)


def _initializing(pending: ClusterReport | None, applications: Mapping[str, Any]) -> dict[str, Any]:
    """Guarantee 4: ``Initializing``, or ``ServeDeployFailed`` naming the failing applications in Ray's words."""
    failing = []
    for name, app in sorted(applications.items()):
        if isinstance(app, Mapping) and app.get("status") in FAILED_APP_STATUSES:
            said = " ".join(str(app.get("message") or "").split())
            said = said if len(said) <= MAX_APP_MESSAGE else said[: MAX_APP_MESSAGE - 3] + "..."
            failing.append(f"application {name} is {app['status']}" + (f": {said}" if said else ""))
    if pending is not None and failing:
        message = f"RayService is initializing, but on RayCluster {pending.name} " + "; ".join(failing)
        return _condition(CONDITION_READY, "False", REASON_SERVE_DEPLOY_FAILED, message)
    message = "RayService is initializing"
    if pending is not None and pending.dashboard_unreachable:
        message += f"; {_dashboard_problem(pending)}"
    return _condition(CONDITION_READY, "False", REASON_INITIALIZING, message)


def _dashboard_problem(report: ClusterReport) -> str:
    return f"the Ray dashboard of RayCluster {report.name} {report.dashboard_error or 'is not answering'}"


def _upgrade(
    active: ClusterReport | None, pending: ClusterReport | None, initializing: bool, kept_outdated: bool
) -> dict[str, Any]:
    kind = CONDITION_UPGRADE_IN_PROGRESS
    if active is not None and pending is not None:
        message = f"Preparing RayCluster {pending.name} to replace {active.name}"
        return _condition(kind, "True", REASON_BOTH_CLUSTERS, message)
    if active is not None:
        message = "Active Ray cluster exists and no pending Ray cluster"
        if kept_outdated:
            message += (
                f"; rayClusterConfig changed, but upgradeStrategy.type is None: RayCluster {active.name} keeps its spec"
            )
        return _condition(kind, "False", REASON_NO_PENDING, message)
    if initializing:
        return _condition(kind, "False", REASON_INITIALIZING, "RayService is initializing")
    return _condition(kind, "Unknown", REASON_NO_ACTIVE, "No active Ray cluster")


_ROLLOUT_ACTIONS: Final = {
    "RolledBack": "rolled back; the active cluster keeps serving the last good config",
    "Waiting": "rolloutPolicy.onFailure is Wait: still trying",
    "NothingToRollBackTo": "no Serve config is known to have run on this cluster: nothing to roll back to",
}


def rollout_failure_message(failed: Mapping[str, Any]) -> str:
    """Guarantee 8: the cluster, the cause and what was done, in one sentence."""
    kind = "Serve update" if failed.get("kind") == "Serve" else "upgrade"
    action = _ROLLOUT_ACTIONS.get(str(failed.get("action")), str(failed.get("action", "")))
    return (
        f"The {kind} on RayCluster {failed.get('rayClusterName', '')} failed ({failed.get('reason', '')}): "
        f"{failed.get('message', '')}; {action}. It is not tried again until the spec changes or the "
        "rayservice.ray.io/retry-rollout annotation does"
    )


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message}
