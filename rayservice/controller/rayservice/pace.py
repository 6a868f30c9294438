"""When to look again after a RayService pass: the pace of what the pass saw, as a pure function.

Guarantees:
1. ``pass_requeue_s`` is ``starting`` while a current cluster's head is not read (not ready), ``converging``
   after a PUT or while Ray applies a config or misses an application of the config deployed, ``failing``
   while an application is DEPLOY_FAILED or UNHEALTHY, ``scaling`` when the cluster served to (``target``) scales
   itself (``is_self_scaling`` of it and the config judged), else ``steady`` (``status.requeue_after_s`` turns the
   pace into seconds); dashboard failures back off.
2. It is never later than the clusters' ``wake_at`` nor the ``wake_at`` passed in (a rollout's deadline).
3. The config judged is the desired one, or ``config`` when ``override`` (a rolled-back update deploys the last
   good config instead: its applications, not the desired ones, are the ones that must exist).

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rayservice.controller.rayservice.pass_values import Notes, Observed, Submitted
from rayservice.controller.rayservice.self_scaling import is_self_scaling
from rayservice.controller.rayservice.serve_diff import apps_missing
from rayservice.controller.rayservice.status import FAILED_APP_STATUSES, Pace, requeue_after_s
from rayservice.controller.rayservice.upgrade import ClusterPlan
from rayservice.ray import is_converging


def pass_requeue_s(
    observed: Observed,
    clusters: ClusterPlan,
    target: str | None,
    submitted: Submitted,
    *,
    now: datetime,
    jitter: float,
    config: Mapping[str, Any] | None = None,
    override: bool = False,
    wake_at: datetime | None = None,
) -> float | None:
    """When to look again after a pass whose Serve submission did ``submitted``: of ``config`` when ``override``
    (the last good config), else of the desired one; never later than ``wake_at`` or the clusters' wake."""
    config = config if override else observed.check.config
    ray = observed.ray
    state = ray.get(target) if target is not None else None
    answered = state is not None and state.answer is not None
    unread = any(name not in ray for name in (clusters.active, clusters.pending) if name)
    pace: Pace = "steady"
    if target is not None and (state is None or unread):
        pace = "starting"
    elif submitted is Submitted.PUT or (
        state is not None and answered and (is_converging(state.statuses) or apps_missing(config, state.apps))
    ):
        pace = "converging"
    elif state is not None and answered and any(app.status in FAILED_APP_STATUSES for app in state.statuses.values()):
        pace = "failing"  # Ray may recover on its own (a replica restarts): look again soon, not in 90 s
    elif target is not None and is_self_scaling(observed.clusters.get(target), config):
        pace = "scaling"  # Serve moves proxies with its replicas: a drain shows only in Ray's answer
    failures = 0
    if target is not None and (submitted is Submitted.FAILED or (state is not None and not answered)):
        failures = observed.notes.get(target, Notes()).failures + (1 if submitted is Submitted.FAILED else 0)
    wake = min((at for at in (clusters.wake_at, wake_at) if at is not None), default=None)
    wake_in_s = (wake - now).total_seconds() if wake is not None else None
    return requeue_after_s(valid=True, pace=pace, ray_failures=failures, wake_in_s=wake_in_s, jitter=jitter)
