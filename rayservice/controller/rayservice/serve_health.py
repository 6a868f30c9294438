"""When an unhealthy active cluster is due for replacement: the opt-in thresholds and the backoff between them.

Guarantees:
1. Nothing is due unless a threshold is set (``serviceUnhealthySecondThreshold``,
   ``deploymentUnhealthySecondThreshold``; unset means off) and its clock runs: Serve applications UNHEALTHY or
   DEPLOY_FAILED since ``Health.apps_unhealthy_since`` (the stored ``healthLastUpdateTime``), or the dashboard
   unreachable or nothing deployed since ``Health.unreachable_since``.
2. ``replacement_due`` is due once a running clock reached its threshold and the backoff after the cluster's
   creation has passed: a cluster that is itself the n-th replacement in a row may be replaced only
   ``replacement_backoff_s(n)`` after it was created (60 s, doubling, at most an hour; 0 for a cluster that
   replaces nothing), so replacements of a cluster that cannot fit or serve slow down instead of looping.
3. When not due yet but a clock runs, it returns when it will be: the caller looks again then.

Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from rayservice.ray import ServeAppStatus

BACKOFF_BASE_S: Final = 60.0
BACKOFF_MAX_S: Final = 3600.0
SERVICE_THRESHOLD: Final = "serviceUnhealthySecondThreshold"
DEPLOYMENT_THRESHOLD: Final = "deploymentUnhealthySecondThreshold"
_UNHEALTHY_APP_STATUSES: Final = frozenset({"UNHEALTHY", "DEPLOY_FAILED"})


@dataclass(frozen=True, slots=True)
class Health:
    """Since when the active cluster is unhealthy, as the thresholds measure it; ``None``: it is not."""

    apps_unhealthy_since: datetime | None = None
    unreachable_since: datetime | None = None


def unhealthy_since(statuses: Mapping[str, ServeAppStatus], names: Collection[str]) -> datetime | None:
    """Since when some desired application has been UNHEALTHY or DEPLOY_FAILED, if one is."""
    times = [
        app.health_last_update_time
        for name, app in statuses.items()
        if name in names and app.status in _UNHEALTHY_APP_STATUSES
    ]
    return min(times, default=None)


def replacement_backoff_s(replacements: int) -> float:
    """How long after its creation a cluster that is the ``replacements``-th replacement in a row may itself be
    replaced (guarantee 2)."""
    if replacements <= 0:
        return 0.0
    return min(BACKOFF_BASE_S * 2.0 ** (replacements - 1), BACKOFF_MAX_S)


def replacement_due(
    spec: Mapping[str, Any], created: datetime | None, replacements: int, health: Health, now: datetime
) -> tuple[str | None, datetime | None]:
    """``(why, None)`` when the active cluster must be replaced now; else ``(None, when to look again)``."""
    candidates: list[tuple[datetime, str]] = []
    for key, since, what in (
        (SERVICE_THRESHOLD, health.apps_unhealthy_since, "Serve applications unhealthy"),
        (DEPLOYMENT_THRESHOLD, health.unreachable_since, "dashboard unreachable or nothing deployed"),
    ):
        threshold = spec.get(key)
        if since is None or not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            continue
        candidates.append((since + timedelta(seconds=threshold), f"{what} for at least {threshold} s ({key})"))
    if not candidates:
        return None, None
    due, why = min(candidates)
    if created is not None:
        due = max(due, created + timedelta(seconds=replacement_backoff_s(replacements)))
    return (why, None) if due <= now else (None, due)
