"""Deleting a RayCluster with GCS fault tolerance: the finalizer, the Redis cleanup Job, and each step's decision.

As KubeRay v1.7 does it (``raycluster_controller.go`` ``rayClusterReconcile``, ``buildRedisCleanupJob``): the
head's GCS keeps its tables in Redis under the storage namespace, and nothing else removes them.

Guarantees:
1. ``should_add_finalizer``: a live cluster with GCS FT on the Redis backend, while the operator's cleanup is
   on (``ENABLE_GCS_FT_REDIS_CLEANUP`` is not ``false``), gets ``ray.io/gcs-ft-redis-cleanup-finalizer`` before
   any of its pods is created, so no data is written to Redis by a cluster that could leave without cleanup.
2. ``plan_deletion`` of a cluster being deleted that carries the finalizer, in KubeRay's order: every head and
   worker pod not yet terminating is deleted; while a head pod exists nothing else happens (its GCS may still
   write to Redis); then, once ``ray.io/gcs-ft-deletion-timeout`` seconds (default 300) passed since the
   deletion began, the finalizer goes with a Warning; then a finished cleanup Job (``Complete``, or ``Failed`` /
   ``FailureTarget``, e.g. past its 300 s ``activeDeadlineSeconds``) lets the finalizer go, a failed one with a
   Warning naming the storage namespace left behind; an unfinished one is waited for; without one, one is
   created. With the cleanup turned off, the finalizer goes at once (the user cleans Redis up).
3. ``desired_cleanup_job`` is KubeRay's Job ``<cluster>-redis-cleanup`` (the last 63 characters, a leading
   punctuation mark replaced by ``r``): the head pod as the operator builds it, labelled
   ``ray.io/node-type=redis-cleanup``, with only its Ray container, which runs Ray's own
   ``ray._private.gcs_utils.cleanup_redis_storage`` against ``RAY_REDIS_ADDRESS`` (first address, ``rediss://``
   for TLS), ``REDIS_USERNAME`` when set, ``REDIS_PASSWORD`` and ``RAY_external_storage_namespace``, exiting 1 when
   it reports failure; no probes, ``RAY_redis_db_connect_retries=120`` and
   ``RAY_redis_db_connect_wait_milliseconds=500``, 200m CPU and 256Mi memory as requests and limits,
   ``restartPolicy: Never``, ``backoffLimit: 0``, ``activeDeadlineSeconds: 300``, controlled by the RayCluster.

Pure.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from rayservice.api.labels import NODE_TYPE_HEAD, NODE_TYPE_LABEL, NODE_TYPE_WORKER
from rayservice.controller.objects import (
    RawObject,
    mapping,
    metadata,
    name_of,
    namespace_of,
    node_type_of,
    parse_time,
    sequence,
    spec_of,
)
from rayservice.controller.raycluster import _podspec, gcsft
from rayservice.controller.raycluster.desired import desired_head_pod, owner_reference

FINALIZER: Final = "ray.io/gcs-ft-redis-cleanup-finalizer"
CLEANUP_NODE_TYPE: Final = "redis-cleanup"
DELETION_TIMEOUT_ANNOTATION: Final = "ray.io/gcs-ft-deletion-timeout"
DEFAULT_DELETION_TIMEOUT_S: Final = 300.0
JOB_ACTIVE_DEADLINE_S: Final = 300
HEAD_WAIT_REQUEUE_S: Final = 10.0
"""KubeRay's wait while the head pod terminates (its watch event usually comes first)."""
JOB_WAIT_REQUEUE_S: Final = 2.0
"""How often an unfinished cleanup Job is read again (the operator does not watch Jobs)."""

_MAX_NAME: Final = 63
_ROCKSDB: Final = "rocksdb"
_HELP: Final = (
    'echo "To get more information about manually deleting the storage namespace in Redis and removing the '
    "RayCluster's finalizer, please check https://docs.ray.io/en/master/cluster/kubernetes/user-guides/"
    'kuberay-gcs-ft.html for more details." && '
)
_PRELUDE: Final = (
    'python -c "from ray._private.gcs_utils import cleanup_redis_storage; '
    "from urllib.parse import urlparse; "
    "import os; "
    "import sys; "
    "redis_address = os.getenv('RAY_REDIS_ADDRESS', '').split(',')[0]; "
    "redis_address = redis_address if '://' in redis_address else 'redis://' + redis_address; "
    "parsed = urlparse(redis_address); "
)
_CALL_HEAD: Final = "sys.exit(1) if not cleanup_redis_storage(host=parsed.hostname, port=parsed.port, "
_USERNAME_ARG: Final = "username=os.getenv('REDIS_USERNAME', parsed.username), "
_CALL_TAIL: Final = (
    "password=os.getenv('REDIS_PASSWORD', parsed.password or ''), use_ssl=parsed.scheme=='rediss', "
    "storage_namespace=os.getenv('RAY_external_storage_namespace')) else None\""
)

Removal = Literal["succeeded", "failed", "timeout", "disabled"]


@dataclass(frozen=True, slots=True)
class DeletionStep:
    """What one pass does for a cluster being deleted (guarantee 2)."""

    delete_pods: tuple[str, ...] = ()
    create_job: dict[str, Any] | None = None
    remove_finalizer: Removal | None = None
    requeue_after_s: float | None = None


def uses_redis_cleanup(cluster: RawObject) -> bool:
    """GCS FT on the Redis backend (the RocksDB backend keeps nothing in Redis)."""
    options = mapping(spec_of(cluster).get("gcsFaultToleranceOptions"))
    return gcsft.is_gcs_ft_enabled(cluster) and options.get("backend") != _ROCKSDB


def has_finalizer(cluster: RawObject) -> bool:
    return FINALIZER in [str(item) for item in sequence(metadata(cluster).get("finalizers"))]


def should_add_finalizer(cluster: RawObject, *, cleanup_enabled: bool) -> bool:
    """Guarantee 1."""
    return (
        cleanup_enabled
        and not metadata(cluster).get("deletionTimestamp")
        and uses_redis_cleanup(cluster)
        and not has_finalizer(cluster)
    )


def finalizers_without(cluster: RawObject) -> list[str]:
    return [str(item) for item in sequence(metadata(cluster).get("finalizers")) if item != FINALIZER]


def finalizers_with(cluster: RawObject) -> list[str]:
    return [*finalizers_without(cluster), FINALIZER]


def deletion_timeout_s(cluster: RawObject) -> float:
    """``ray.io/gcs-ft-deletion-timeout`` as whole positive seconds, else the default (KubeRay's parsing)."""
    value = str(mapping(metadata(cluster).get("annotations")).get(DELETION_TIMEOUT_ANNOTATION, ""))
    if value.isdigit() and int(value) > 0:
        return float(int(value))
    return DEFAULT_DELETION_TIMEOUT_S


def plan_deletion(
    cluster: RawObject,
    pods: Sequence[RawObject],
    job: RawObject | None,
    *,
    now: datetime,
    cleanup_enabled: bool,
) -> DeletionStep:
    """Guarantee 2 for one pass; ``job`` is the stored cleanup Job, None when there is none."""
    if not cleanup_enabled or not uses_redis_cleanup(cluster):
        return DeletionStep(remove_finalizer="disabled")
    ray_pods = [pod for pod in pods if node_type_of(pod) in (NODE_TYPE_HEAD, NODE_TYPE_WORKER)]
    doomed = tuple(sorted(name_of(pod) for pod in ray_pods if not metadata(pod).get("deletionTimestamp")))
    if any(node_type_of(pod) == NODE_TYPE_HEAD for pod in ray_pods):
        return DeletionStep(delete_pods=doomed, requeue_after_s=HEAD_WAIT_REQUEUE_S)
    began = parse_time(metadata(cluster).get("deletionTimestamp"))
    if began is not None and (now - began).total_seconds() >= deletion_timeout_s(cluster):
        return DeletionStep(delete_pods=doomed, remove_finalizer="timeout")
    if job is not None:
        finished = job_outcome(job)
        if finished is None:
            return DeletionStep(delete_pods=doomed, requeue_after_s=JOB_WAIT_REQUEUE_S)
        return DeletionStep(delete_pods=doomed, remove_finalizer=finished)
    return DeletionStep(delete_pods=doomed, create_job=desired_cleanup_job(cluster), requeue_after_s=JOB_WAIT_REQUEUE_S)


def job_outcome(job: RawObject) -> Literal["succeeded", "failed"] | None:
    """KubeRay's ``IsJobFinished``: Complete, or Failed / FailureTarget (a deadline passed), when True."""
    for condition in sequence(mapping(job.get("status")).get("conditions")):
        item = mapping(condition)
        if item.get("status") != "True":
            continue
        if item.get("type") == "Complete":
            return "succeeded"
        if item.get("type") in ("Failed", "FailureTarget"):
            return "failed"
    return None


def cleanup_job_name(cluster_name: str) -> str:
    """KubeRay's ``TrimJobName``: the last 63 characters, a leading punctuation mark replaced by ``r``."""
    name = f"{cluster_name}-redis-cleanup"[-_MAX_NAME:]
    if unicodedata.category(name[0]).startswith("P"):
        name = "r" + name[1:]
    return name


def desired_cleanup_job(cluster: RawObject) -> dict[str, Any]:
    """Guarantee 3."""
    head = desired_head_pod(cluster, name=f"{name_of(cluster)}-redis-cleanup")
    head_meta = mapping(head.get("metadata"))
    labels = {**mapping(head_meta.get("labels")), NODE_TYPE_LABEL: CLEANUP_NODE_TYPE}
    annotations = dict(mapping(head_meta.get("annotations")))
    pod_spec = dict(mapping(head.get("spec")))
    containers = [dict(mapping(item)) for item in sequence(pod_spec.get("containers"))]
    container = containers[_podspec.ray_container_index(containers, head=True)]
    env = [dict(mapping(item)) for item in sequence(container.get("env"))]
    with_username = any(item.get("name") == gcsft.REDIS_USERNAME for item in env)
    container["command"] = ["/bin/bash", "-c", "--"]
    container["args"] = [_HELP + _PRELUDE + _CALL_HEAD + (_USERNAME_ARG if with_username else "") + _CALL_TAIL]
    container.pop("livenessProbe", None)
    container.pop("readinessProbe", None)
    container["env"] = [
        *env,
        {"name": "RAY_redis_db_connect_retries", "value": "120"},
        {"name": "RAY_redis_db_connect_wait_milliseconds", "value": "500"},
    ]
    fixed = {"cpu": "200m", "memory": "256Mi"}
    container["resources"] = {"limits": dict(fixed), "requests": dict(fixed)}
    pod_spec["containers"] = [container]
    pod_spec["restartPolicy"] = "Never"
    template_meta: dict[str, Any] = {"labels": dict(labels)}
    job_meta: dict[str, Any] = {
        "name": cleanup_job_name(name_of(cluster)),
        "namespace": namespace_of(cluster),
        "labels": labels,
        "ownerReferences": [owner_reference(cluster)],
    }
    if annotations:
        template_meta["annotations"] = dict(annotations)
        job_meta["annotations"] = annotations
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": JOB_ACTIVE_DEADLINE_S,
            "template": {"metadata": template_meta, "spec": pod_spec},
        },
    }


def storage_namespace_of(cluster: RawObject, job: Mapping[str, Any] | None = None) -> str:
    """The namespace the cleanup works on, as its Job's annotation says, else as the cluster gives it."""
    annotations = mapping(mapping((job or {}).get("metadata")).get("annotations"))
    found = annotations.get(gcsft.STORAGE_NAMESPACE_ANNOTATION)
    return str(found) if found else gcsft.storage_namespace(cluster)
