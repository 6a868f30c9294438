"""Reconcile one RayService: observe -> ``plan`` (pure) -> apply (``apply.py``) -> status.

Guarantees:
1. Level-triggered and idempotent: a pass reads the whole state (``observe``: caches, plus one Serve read per
   cluster that has a ready head), decides everything at once (``plan``, pure) and moves it one step
   (``apply``); a converged RayService costs zero API writes and zero PUTs (under
   ``NewClusterWithIncrementalUpgrade`` the pass also GETs its Gateway and HTTPRoute).
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
7. The status is written last, and only when it changed (``objects.write_status_if_changed``). A pass that PUT
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
from typing import Any

import structlog

from rayservice.api import ObjectKey
from rayservice.controller.objects import is_deleting, metadata, uid_of
from rayservice.controller.rayservice import incremental
from rayservice.controller.rayservice.apply import apply_plan, commit, start_pending
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.gateway_io import read_gateway
from rayservice.controller.rayservice.observe import observe
from rayservice.controller.rayservice.pass_values import Observed, Submitted
from rayservice.controller.rayservice.plan import plan
from rayservice.controller.rayservice.status import compute_status
from rayservice.runtime import DONE, Result

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
        await commit(service, compute_status(service, now=now, problems=check.problems), check, deps)
        return DONE  # the next spec edit wakes us
    observed = await observe(service, check, deps)  # caches, plus one Serve read per cluster with a ready head
    if incremental.enabled(service):
        observed = await read_gateway(observed, deps)  # its Gateway and HTTPRoute: two GETs
    decided = plan(observed, now, deps.rng)  # pure
    if decided.clusters.create is not None:
        await start_pending(decided, observed, deps)  # guarantee 3
        return Result(requeue_after_s=decided.requeue_after_s)
    submitted = await apply_plan(decided, observed, deps)
    if submitted is Submitted.FAILED:
        return await _report(decided.status, observed, deps, decided.requeue_after_put_failure_s)
    if submitted is Submitted.PUT and decided.serve_put is not None and decided.serve_put.first:
        return Result(requeue_after_s=decided.requeue_after_s)  # guarantee 7
    return await _report(decided.status, observed, deps, decided.requeue_after_s)


async def _report(status: Mapping[str, Any], observed: Observed, deps: Deps, requeue_s: float | None) -> Result:
    """The status write, last (guarantee 7), and when to look again."""
    await commit(observed.service, status, observed.check, deps)
    return Result(requeue_after_s=requeue_s)
