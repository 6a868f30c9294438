"""The API writes of a GCS fault tolerant RayCluster's finalizer and Redis cleanup (decisions in ``redis_cleanup``).

Guarantees:
1. ``ensure_finalizer`` adds the finalizer with one merge patch conditional on the cached resourceVersion (a
   stale cache gets 409 Conflict, which the worker requeues quietly); its watch event wakes the next pass.
2. ``finalize`` runs one ``plan_deletion`` step: reads the cleanup Job by name (NotFound is "none"; the
   operator holds no Job informer, so an unfinished Job is read again every ``JOB_WAIT_REQUEUE_S``), deletes
   the pods the step names (NotFound is done), creates the Job (AlreadyExists is done; any other refusal is a
   ``FailedToCreateRedisCleanupJob`` Warning, then raised for a retry with backoff; success is a
   ``CreatedRedisCleanupJob`` event), and removes the finalizer with a patch conditional on the cached
   resourceVersion: after a successful Job quietly (an info log), after a failed Job with a
   ``RedisCleanupJobFailed`` Warning, after the deletion timeout with KubeRay's ``ForceDeletedStuckCluster``
   Warning; both Warnings name the storage namespace that may be left in Redis and are written before the
   finalizer goes, so they exist by the time the cluster is gone.
3. No credential is logged or put in an event: events name the Job and the storage namespace only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog

from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import (
    EventEmitter,
    KubeWriter,
    RawObject,
    metadata,
    name_of,
    namespace_of,
)
from rayservice.controller.raycluster import redis_cleanup
from rayservice.kube import JOBS, PODS, RAY_CLUSTERS, AlreadyExists, ApiError, NotFound
from rayservice.runtime import DONE, Result

_log = structlog.get_logger(__name__)


async def ensure_finalizer(cluster: RawObject, kube: KubeWriter) -> None:
    """Guarantee 1."""
    body = {
        "metadata": {
            "finalizers": redis_cleanup.finalizers_with(cluster),
            "resourceVersion": metadata(cluster).get("resourceVersion"),
        }
    }
    await kube.patch(RAY_CLUSTERS, name_of(cluster), body, namespace=namespace_of(cluster))
    _log.info("finalizer_added", finalizer=redis_cleanup.FINALIZER)


async def finalize(
    cluster: RawObject,
    pods: Sequence[RawObject],
    *,
    kube: KubeWriter,
    events: EventEmitter,
    now: datetime,
    cleanup_enabled: bool,
) -> Result:
    """Guarantee 2: one step of the deletion of ``cluster``, which carries the finalizer."""
    namespace = namespace_of(cluster)
    job = await _fetch_job(cluster, kube)
    step = redis_cleanup.plan_deletion(cluster, pods, job, now=now, cleanup_enabled=cleanup_enabled)
    for name in step.delete_pods:
        try:
            await kube.delete(PODS, name, namespace=namespace)
        except NotFound:
            pass  # already gone: what we wanted
    if step.create_job is not None:
        await _create_job(cluster, step.create_job, kube, events)
    if step.remove_finalizer is not None:
        await _remove_finalizer(cluster, job, step.remove_finalizer, kube, events)
        return DONE
    return Result(requeue_after_s=step.requeue_after_s)


async def _fetch_job(cluster: RawObject, kube: KubeWriter) -> RawObject | None:
    name = redis_cleanup.cleanup_job_name(name_of(cluster))
    try:
        return await kube.get(JOBS, name, namespace=namespace_of(cluster))
    except NotFound:
        return None


async def _create_job(cluster: RawObject, job: RawObject, kube: KubeWriter, events: EventEmitter) -> None:
    name, namespace = name_of(job), namespace_of(job)
    try:
        await kube.create(JOBS, job, namespace=namespace)
    except AlreadyExists:
        return  # an earlier attempt's answer was lost; the next pass reads it
    except ApiError as exc:
        message = f"Failed to create Redis cleanup Job {namespace}/{name}, {exc.message}"
        await events.emit(cluster, WARNING, "FailedToCreateRedisCleanupJob", message)
        raise
    _log.info("redis_cleanup_job_created", job=name)
    await events.emit(cluster, NORMAL, "CreatedRedisCleanupJob", f"Created Redis cleanup Job {namespace}/{name}")


async def _remove_finalizer(
    cluster: RawObject,
    job: RawObject | None,
    why: redis_cleanup.Removal,
    kube: KubeWriter,
    events: EventEmitter,
) -> None:
    body = {
        "metadata": {
            "finalizers": redis_cleanup.finalizers_without(cluster),
            "resourceVersion": metadata(cluster).get("resourceVersion"),
        }
    }
    storage = redis_cleanup.storage_namespace_of(cluster, job)
    # The Warning goes first: once the finalizer is gone the cluster may vanish at once, and a user reading
    # its events should find why (a repeat after a 409 only bumps the event's count).
    await _warn(cluster, why, storage, events)
    await kube.patch(RAY_CLUSTERS, name_of(cluster), body, namespace=namespace_of(cluster))
    _log.info("finalizer_removed", finalizer=redis_cleanup.FINALIZER, outcome=why, storage_namespace=storage)


async def _warn(cluster: RawObject, why: redis_cleanup.Removal, storage: str, events: EventEmitter) -> None:
    if why == "failed":
        message = (
            f"The Redis cleanup Job {redis_cleanup.cleanup_job_name(name_of(cluster))} failed; the storage namespace "
            f"{storage!r} may be left in Redis and need a manual cleanup"
        )
        await events.emit(cluster, WARNING, "RedisCleanupJobFailed", message)
    elif why == "timeout":
        timeout_s = redis_cleanup.deletion_timeout_s(cluster)
        message = (
            f"Force-removed GCS FT finalizer after {timeout_s:g}s due to Redis cleanup timeout; Redis storage "
            f"namespace {storage!r} may need manual cleanup"
        )
        await events.emit(cluster, WARNING, "ForceDeletedStuckCluster", message)
