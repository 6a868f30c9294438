"""Deleting a GCS fault tolerant RayCluster against the embedded API server (its Job controller runs the cleanup
Job; the simulated node has no Ray image, so the test plays the cleanup pod's exit): the finalizer, the head
gone before the Job, the finalizer removed once the Job finished, and the cleanup turned off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from e2e.localcluster.apiserver import LocalApiServer
from rayservice.kube import PODS, RAY_CLUSTERS, KubeClient
from tests.integration.raycluster_harness import (
    CLUSTERS_GR,
    NAMESPACE,
    OPERATOR,
    RayClusterOperator,
    events_of,
    new_client,
    pod_names,
    pods_of,
    raycluster,
    stored,
)

FINALIZER = "ray.io/gcs-ft-redis-cleanup-finalizer"
JOBS_GR = ("batch", "jobs")
FT_OPTIONS = {
    "redisAddress": "redis:6379",
    "redisPassword": {"valueFrom": {"secretKeyRef": {"name": "redis-password-secret", "key": "password"}}},
}


async def start(
    server: LocalApiServer, tmp_path: Path, *, redis_cleanup: bool = True
) -> tuple[RayClusterOperator, KubeClient]:
    kube = await new_client(server.write_kubeconfig(tmp_path / "operator-kubeconfig"), OPERATOR)
    operator = RayClusterOperator(kube, redis_cleanup=redis_cleanup)
    await operator.start()
    return operator, kube


def finalizers(server: LocalApiServer, name: str) -> list[str]:
    obj = stored(server, CLUSTERS_GR, name)
    return list(((obj or {}).get("metadata") or {}).get("finalizers") or [])


def cleanup_pods(server: LocalApiServer, name: str) -> list[dict[str, Any]]:
    return pods_of(server, name, "redis-cleanup")


async def test_deleting_a_gcs_ft_cluster_runs_the_cleanup_job_after_the_head_is_gone(
    server: LocalApiServer, user: KubeClient, tmp_path: Path
) -> None:
    with capture_logs():
        operator, kube = await start(server, tmp_path)
        try:
            await user.create(RAY_CLUSTERS, raycluster("ft", gcsFaultToleranceOptions=FT_OPTIONS), namespace=NAMESPACE)
            await operator.until(lambda: FINALIZER in finalizers(server, "ft") and len(pod_names(server, "ft")) == 2)
            [head] = pods_of(server, "ft", "head")
            env = {item["name"]: item for item in head["spec"]["containers"][0]["env"]}
            assert env["RAY_REDIS_ADDRESS"]["value"] == "redis:6379"
            namespace = head["metadata"]["annotations"]["ray.io/external-storage-namespace"]
            assert namespace == stored(server, CLUSTERS_GR, "ft")["metadata"]["uid"]  # type: ignore[index]

            await user.delete(RAY_CLUSTERS, "ft", namespace=NAMESPACE)
            await operator.until(lambda: stored(server, JOBS_GR, "ft-redis-cleanup") is not None)
            # The Job came only once no head pod was left: its GCS could have written to Redis until then.
            assert pod_names(server, "ft", "head") == set() and pod_names(server, "ft", "worker") == set()
            assert stored(server, CLUSTERS_GR, "ft") is not None  # held by the finalizer
            job = stored(server, JOBS_GR, "ft-redis-cleanup")
            assert job is not None
            assert job["metadata"]["labels"]["ray.io/node-type"] == "redis-cleanup"
            assert job["metadata"]["annotations"]["ray.io/external-storage-namespace"] == namespace
            await operator.until(lambda: len(events_of(server, "ft", "CreatedRedisCleanupJob")) == 1)
            assert [e["type"] for e in events_of(server, "ft", "CreatedRedisCleanupJob")] == ["Normal"]

            # The cleanup pod's image is simulated: it exits 0, as Ray's cleanup_redis_storage does on success.
            await operator.until(lambda: len(cleanup_pods(server, "ft")) == 1)
            [pod] = cleanup_pods(server, "ft")
            await user.patch_status(
                PODS, pod["metadata"]["name"], {"status": {"phase": "Succeeded"}}, namespace=NAMESPACE
            )
            await operator.until(lambda: stored(server, CLUSTERS_GR, "ft") is None, deadline_s=20.0)
            assert events_of(server, "ft", "RedisCleanupJobFailed") == []
            assert events_of(server, "ft", "ForceDeletedStuckCluster") == []
        finally:
            await operator.stop()
            await kube.close()


async def test_a_failed_cleanup_job_lets_the_cluster_go_with_a_warning(
    server: LocalApiServer, user: KubeClient, tmp_path: Path
) -> None:
    with capture_logs():
        operator, kube = await start(server, tmp_path)
        try:
            await user.create(RAY_CLUSTERS, raycluster("ftf", gcsFaultToleranceOptions=FT_OPTIONS), namespace=NAMESPACE)
            await operator.until(lambda: FINALIZER in finalizers(server, "ftf") and len(pod_names(server, "ftf")) == 2)
            await user.delete(RAY_CLUSTERS, "ftf", namespace=NAMESPACE)
            await operator.until(lambda: len(cleanup_pods(server, "ftf")) == 1)
            [pod] = cleanup_pods(server, "ftf")
            await user.patch_status(PODS, pod["metadata"]["name"], {"status": {"phase": "Failed"}}, namespace=NAMESPACE)
            await operator.until(lambda: stored(server, CLUSTERS_GR, "ftf") is None, deadline_s=20.0)
            [warning] = events_of(server, "ftf", "RedisCleanupJobFailed")
            assert warning["type"] == "Warning"
            assert "may be left in Redis" in warning["message"]
        finally:
            await operator.stop()
            await kube.close()


async def test_with_the_cleanup_turned_off_no_finalizer_and_no_job(
    server: LocalApiServer, user: KubeClient, tmp_path: Path
) -> None:
    with capture_logs():
        operator, kube = await start(server, tmp_path, redis_cleanup=False)
        try:
            await user.create(RAY_CLUSTERS, raycluster("off", gcsFaultToleranceOptions=FT_OPTIONS), namespace=NAMESPACE)
            await operator.until(lambda: len(pod_names(server, "off")) == 2)
            assert finalizers(server, "off") == []
            await user.delete(RAY_CLUSTERS, "off", namespace=NAMESPACE)
            await operator.until(lambda: stored(server, CLUSTERS_GR, "off") is None)
            assert server.store.list(JOBS_GR, NAMESPACE) == []
        finally:
            await operator.stop()
            await kube.close()
