"""The deletion of a GCS fault tolerant RayCluster, one step at a time, and the Redis cleanup Job as KubeRay v1.7
builds it (``buildRedisCleanupJob`` in raycluster_controller.go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rayservice.controller.raycluster.redis_cleanup import (
    FINALIZER,
    cleanup_job_name,
    desired_cleanup_job,
    plan_deletion,
    should_add_finalizer,
)
from tests.unit.controller.raycluster.test_gcs_ft import UID, sample_external_redis

DELETED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def deleting(cluster: dict[str, Any], **annotations: str) -> dict[str, Any]:
    cluster["metadata"]["deletionTimestamp"] = DELETED_AT.isoformat().replace("+00:00", "Z")
    cluster["metadata"]["finalizers"] = [FINALIZER]
    if annotations:
        cluster["metadata"]["annotations"] = annotations
    return cluster


def pod(name: str, node_type: str, *, terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"ray.io/node-type": node_type}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T12:00:01Z"
    return {"metadata": meta}


def job(condition: str | None) -> dict[str, Any]:
    conditions = [] if condition is None else [{"type": condition, "status": "True"}]
    return {"metadata": {"name": "raycluster-external-redis-redis-cleanup"}, "status": {"conditions": conditions}}


class TestFinalizer:
    def test_a_gcs_ft_cluster_gets_the_finalizer_once(self) -> None:
        cluster = sample_external_redis()
        assert should_add_finalizer(cluster, cleanup_enabled=True)
        cluster["metadata"]["finalizers"] = [FINALIZER]
        assert not should_add_finalizer(cluster, cleanup_enabled=True)

    def test_no_finalizer_when_the_cleanup_is_turned_off_or_without_gcs_ft(self) -> None:
        assert not should_add_finalizer(sample_external_redis(), cleanup_enabled=False)
        cluster = sample_external_redis()
        del cluster["spec"]["gcsFaultToleranceOptions"]
        assert not should_add_finalizer(cluster, cleanup_enabled=True)

    def test_the_legacy_annotation_form_gets_it_too(self) -> None:
        cluster = sample_external_redis()
        del cluster["spec"]["gcsFaultToleranceOptions"]
        cluster["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}
        assert should_add_finalizer(cluster, cleanup_enabled=True)


class TestPlanDeletion:
    def test_pods_are_deleted_and_nothing_else_happens_while_a_head_pod_exists(self) -> None:
        pods = [pod("h", "head"), pod("w1", "worker"), pod("w2", "worker", terminating=True)]
        step = plan_deletion(deleting(sample_external_redis()), pods, None, now=DELETED_AT, cleanup_enabled=True)
        assert step.delete_pods == ("h", "w1")
        assert step.create_job is None and step.remove_finalizer is None
        assert step.requeue_after_s == 10.0

    def test_a_terminating_head_still_holds_the_cleanup_back(self) -> None:
        pods = [pod("h", "head", terminating=True)]
        step = plan_deletion(deleting(sample_external_redis()), pods, None, now=DELETED_AT, cleanup_enabled=True)
        assert step.delete_pods == () and step.create_job is None and step.remove_finalizer is None

    def test_once_the_head_is_gone_the_cleanup_job_is_created(self) -> None:
        step = plan_deletion(
            deleting(sample_external_redis()), [pod("w1", "worker", terminating=True)], None, now=DELETED_AT,
            cleanup_enabled=True,
        )  # fmt: skip
        assert step.create_job is not None
        assert step.create_job["metadata"]["name"] == "raycluster-external-redis-redis-cleanup"
        assert step.remove_finalizer is None

    def test_the_cleanup_pod_itself_is_not_deleted(self) -> None:
        pods = [pod("c", "redis-cleanup")]
        step = plan_deletion(deleting(sample_external_redis()), pods, job(None), now=DELETED_AT, cleanup_enabled=True)
        assert step.delete_pods == () and step.remove_finalizer is None and step.requeue_after_s == 2.0

    def test_a_complete_job_lets_the_finalizer_go(self) -> None:
        step = plan_deletion(
            deleting(sample_external_redis()), [], job("Complete"), now=DELETED_AT, cleanup_enabled=True
        )
        assert step.remove_finalizer == "succeeded"

    def test_a_failed_job_or_one_past_its_deadline_lets_it_go_as_failed(self) -> None:
        for condition in ("Failed", "FailureTarget"):
            step = plan_deletion(
                deleting(sample_external_redis()), [], job(condition), now=DELETED_AT, cleanup_enabled=True
            )
            assert step.remove_finalizer == "failed"

    def test_after_300_s_the_finalizer_goes_whatever_the_job_does(self) -> None:
        cluster = deleting(sample_external_redis())
        early = plan_deletion(cluster, [], job(None), now=DELETED_AT + timedelta(seconds=299), cleanup_enabled=True)
        late = plan_deletion(cluster, [], job(None), now=DELETED_AT + timedelta(seconds=300), cleanup_enabled=True)
        assert early.remove_finalizer is None
        assert late.remove_finalizer == "timeout"

    def test_the_deletion_timeout_annotation_shortens_it(self) -> None:
        cluster = deleting(sample_external_redis(), **{"ray.io/gcs-ft-deletion-timeout": "30"})
        step = plan_deletion(cluster, [], job(None), now=DELETED_AT + timedelta(seconds=30), cleanup_enabled=True)
        assert step.remove_finalizer == "timeout"

    def test_with_the_cleanup_turned_off_the_finalizer_goes_at_once(self) -> None:
        pods = [pod("h", "head")]
        step = plan_deletion(deleting(sample_external_redis()), pods, None, now=DELETED_AT, cleanup_enabled=False)
        assert step.remove_finalizer == "disabled" and step.create_job is None


class TestCleanupJob:
    def test_job_is_kuberays(self) -> None:
        built = desired_cleanup_job(sample_external_redis())
        assert built["apiVersion"] == "batch/v1" and built["kind"] == "Job"
        assert built["metadata"]["labels"]["ray.io/node-type"] == "redis-cleanup"
        assert built["metadata"]["labels"]["ray.io/cluster"] == "raycluster-external-redis"
        assert built["metadata"]["annotations"]["ray.io/external-storage-namespace"] == UID
        assert built["metadata"]["ownerReferences"][0]["kind"] == "RayCluster"
        assert built["metadata"]["ownerReferences"][0]["controller"] is True
        assert built["spec"]["backoffLimit"] == 0
        assert built["spec"]["activeDeadlineSeconds"] == 300
        pod_spec = built["spec"]["template"]["spec"]
        assert pod_spec["restartPolicy"] == "Never"
        assert built["spec"]["template"]["metadata"]["labels"]["ray.io/node-type"] == "redis-cleanup"
        [container] = pod_spec["containers"]
        assert container["command"] == ["/bin/bash", "-c", "--"]
        assert "livenessProbe" not in container and "readinessProbe" not in container
        assert container["resources"] == {
            "limits": {"cpu": "200m", "memory": "256Mi"},
            "requests": {"cpu": "200m", "memory": "256Mi"},
        }
        env = {item["name"]: item for item in container["env"]}
        assert env["RAY_redis_db_connect_retries"]["value"] == "120"
        assert env["RAY_redis_db_connect_wait_milliseconds"]["value"] == "500"
        assert env["RAY_external_storage_namespace"]["value"] == UID
        assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "redis-password-secret"

    def test_job_runs_rays_own_cleanup_with_kuberays_command(self) -> None:
        [args] = desired_cleanup_job(sample_external_redis())["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args.startswith('echo "To get more information about manually deleting the storage namespace')
        assert "from ray._private.gcs_utils import cleanup_redis_storage; " in args
        assert (
            "sys.exit(1) if not cleanup_redis_storage(host=parsed.hostname, port=parsed.port, "
            "password=os.getenv('REDIS_PASSWORD', parsed.password or ''), use_ssl=parsed.scheme=='rediss', "
            "storage_namespace=os.getenv('RAY_external_storage_namespace')) else None\""
        ) in args

    def test_with_a_username_the_cleanup_passes_it(self) -> None:
        cluster = sample_external_redis()
        cluster["spec"]["gcsFaultToleranceOptions"]["redisUsername"] = {"value": "ray"}
        [args] = desired_cleanup_job(cluster)["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "username=os.getenv('REDIS_USERNAME', parsed.username), " in args

    def test_a_long_name_keeps_its_last_63_characters_and_starts_with_a_letter(self) -> None:
        assert cleanup_job_name("rc") == "rc-redis-cleanup"
        long = cleanup_job_name("a" * 60)
        assert long == ("a" * 60 + "-redis-cleanup")[-63:] and len(long) == 63
        # 65 characters: the first two go, and the "-" that would lead becomes "r", as KubeRay's CheckLabel does.
        assert cleanup_job_name("ab-" + "c" * 48) == "r" + "c" * 48 + "-redis-cleanup"
