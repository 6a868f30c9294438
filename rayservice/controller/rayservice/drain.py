"""Whether a replaced RayCluster whose deletion deadline passed has drained: the graceful-drain decision, pure.

After the switch the serve Service selects the new cluster: new connections go there, while connections
already open stay with the old cluster's proxies until their requests end. Deleting the old cluster cuts those
requests (its pods are killed), so its deletion waits until its Serve proxies report no request in flight,
as read from Ray's own gauges (``rayservice.ray.serve_inflight``), never past a bound.

Guarantees:
1. A candidate (a cluster ``upgrade.decide`` would delete: its deadline passed) is deleted when
   - nothing about it is observable (``in_flight`` has no entry: its head is not ready, or the dashboard client
     cannot read Ray's metrics): as without a drain, at its deadline;
   - its proxies report 0 requests in flight and the reading is trustworthy: at least ``METRICS_LAG_S`` after
     the switch (the deadline minus ``rayClusterDeletionDelaySeconds``), since Ray's gauge may be that old and
     only then covers every request that reached the cluster before the switch;
   - or the drain bound passed: deadline + ``drain_budget_s``, whatever it reports; it is then ``forced``,
     with a message naming the requests still in flight. A reading that failed (``None``: the dashboard or
     every node's metrics did not answer) counts as requests in flight.
2. Otherwise it is kept (``waiting``) and ``wake_at`` is when to read it again: in ``POLL_S``, or when its
   zero reading becomes trustworthy, never later than its bound.
3. ``drain_plan`` applies 1-2 to the deletions of a pass's cluster plan: only those the drain lets go stay,
   and the plan wakes no later than the drain's ``wake_at``.
4. ``drain_budget_s`` is the largest ``graceful_shutdown_timeout_s`` of the Serve config's deployments, at
   least Ray's default of 20 s (what Ray itself grants a request when it stops a replica), plus
   ``METRICS_LAG_S`` (so a request that ends at that limit is still seen to end).

Pure: the time comes in as ``now``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from rayservice.controller.objects import RawObject, rayservice_spec, whole_number
from rayservice.controller.rayservice.pass_values import Observed
from rayservice.controller.rayservice.upgrade import DEFAULT_DELETION_DELAY_S, ClusterPlan, cluster_facts

RAY_DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_S: Final = 20.0  # ray.serve._private.constants, Ray 2.60
METRICS_LAG_S: Final = 15.0  # Ray's metrics_report_interval_ms (10 s) and the agent's export, with room
POLL_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class DrainVerdict:
    """Which candidates go now (``delete``, some of them ``forced`` past the bound), which wait, and until when."""

    delete: tuple[str, ...] = ()
    forced: tuple[tuple[str, str], ...] = ()  # (cluster, why), for the Warning event
    waiting: tuple[tuple[str, int], ...] = ()  # (cluster, requests in flight; -1: unreadable)
    wake_at: datetime | None = None


def drain_budget_s(config: Mapping[str, Any] | None) -> float:
    """Guarantee 4."""
    longest = RAY_DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_S
    for app in (config or {}).get("applications") or ():
        for deployment in (app.get("deployments") if isinstance(app, Mapping) else None) or ():
            value = deployment.get("graceful_shutdown_timeout_s") if isinstance(deployment, Mapping) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and value > longest:
                longest = float(value)
    return longest + METRICS_LAG_S


def decide_drain(
    service: RawObject,
    config: Mapping[str, Any] | None,
    candidates: Sequence[str],
    deadlines: Mapping[str, datetime | None],
    in_flight: Mapping[str, int | None],
    now: datetime,
) -> DrainVerdict:
    """Guarantees 1-2 for each candidate, in order."""
    delay_s = whole_number(rayservice_spec(service).get("rayClusterDeletionDelaySeconds"), DEFAULT_DELETION_DELAY_S)
    budget = timedelta(seconds=drain_budget_s(config))
    delete: list[str] = []
    forced: list[tuple[str, str]] = []
    waiting: list[tuple[str, int]] = []
    wakes: list[datetime] = []
    for name in candidates:
        deadline = deadlines.get(name)
        if name not in in_flight or deadline is None:
            delete.append(name)
            continue
        count = in_flight[name]
        bound = deadline + budget
        trusted_at = deadline - timedelta(seconds=delay_s) + timedelta(seconds=METRICS_LAG_S)
        if count == 0 and now >= trusted_at:
            delete.append(name)
        elif now >= bound:
            delete.append(name)
            forced.append((name, _forced_message(name, count, budget.total_seconds())))
        else:
            waiting.append((name, -1 if count is None else count))
            wake = trusted_at if count == 0 else now + timedelta(seconds=POLL_S)
            wakes.append(min(wake, bound))
    return DrainVerdict(tuple(delete), tuple(forced), tuple(waiting), min(wakes, default=None))


def drain_plan(observed: Observed, clusters: ClusterPlan, now: datetime) -> tuple[ClusterPlan, DrainVerdict]:
    """Guarantee 3."""
    if not clusters.delete:
        return clusters, DrainVerdict()
    deadlines = {name: cluster_facts(observed.clusters[name]).delete_after for name in clusters.delete}
    verdict = decide_drain(observed.service, observed.check.config, clusters.delete, deadlines,
                           observed.in_flight, now)
    wake_at = min((at for at in (clusters.wake_at, verdict.wake_at) if at is not None), default=None)
    return dataclasses.replace(clusters, delete=verdict.delete, wake_at=wake_at), verdict


def _forced_message(name: str, count: int | None, budget_s: float) -> str:
    if count is None:
        what = "the requests in flight could not be read"
    else:
        what = f"{count} request{'s' if count != 1 else ''} still in flight"
    return (f"RayCluster {name} did not drain within {budget_s:g} s of its deletion deadline ({what} on its "
            "Serve proxies); deleting it anyway")
