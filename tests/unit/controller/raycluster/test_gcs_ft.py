"""GCS fault tolerance: the head and worker pods compared with what KubeRay v1.7 builds (``configureGCSFaultTolerance``
and ``configureRedisFT`` in ray-operator/controllers/ray/common/pod.go), for the options form (KubeRay's sample
``ray-cluster.external-redis.yaml``) and the legacy annotation form; and KubeRay's validation errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rayservice.controller.raycluster import validate_cluster
from rayservice.controller.raycluster.desired import desired_head_pod, desired_worker_pod

UID = "3d5b1c4e-0000-4000-8000-000000000001"
SECRET_REF = {"secretKeyRef": {"name": "redis-password-secret", "key": "password"}}


def sample_external_redis() -> dict[str, Any]:
    """KubeRay v1.7's ray-cluster.external-redis.yaml, its RayCluster (volumes left out: not involved here)."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "raycluster-external-redis", "namespace": "default", "uid": UID},
        "spec": {
            "rayVersion": "2.52.0",
            "gcsFaultToleranceOptions": {"redisAddress": "redis:6379", "redisPassword": {"valueFrom": SECRET_REF}},
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "0"},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}},
            },
            "workerGroupSpecs": [
                {
                    "replicas": 1,
                    "minReplicas": 1,
                    "maxReplicas": 10,
                    "groupName": "small-group",
                    "rayStartParams": {},
                    "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}},
                }
            ],
        },
    }


def legacy_form() -> dict[str, Any]:
    """The pre-1.2 form: ``ray.io/ft-enabled`` plus RAY_REDIS_ADDRESS and a redis-password start parameter."""
    cluster = sample_external_redis()
    del cluster["spec"]["gcsFaultToleranceOptions"]
    cluster["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}
    head = cluster["spec"]["headGroupSpec"]
    head["rayStartParams"]["redis-password"] = "5241590000000000"
    head["template"]["spec"]["containers"][0]["env"] = [{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}]
    return cluster


def ray_env(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod["spec"]["containers"][0]["env"])


def env_named(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((item for item in ray_env(pod) if item["name"] == name), None)


class TestOptionsForm:
    def test_head_env_is_kuberays_in_kuberays_order_before_the_operators_own(self) -> None:
        pod = desired_head_pod(sample_external_redis(), name="h")
        # KubeRay appends, after the user's env: the storage namespace (the UID here), RAY_REDIS_ADDRESS,
        # REDIS_PASSWORD as given (valueFrom kept); its other env comes later (setContainerEnvVars).
        assert ray_env(pod)[:3] == [
            {"name": "RAY_external_storage_namespace", "value": UID},
            {"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"},
            {"name": "REDIS_PASSWORD", "valueFrom": SECRET_REF},
        ]

    def test_head_starts_with_the_password_from_its_env_never_in_the_command(self) -> None:
        pod = desired_head_pod(sample_external_redis(), name="h")
        args = pod["spec"]["containers"][0]["args"][0]
        assert '--redis-password="$REDIS_PASSWORD"' in args
        assert "--redis-username" not in args

    def test_head_pod_annotations_are_kuberays(self) -> None:
        pod = desired_head_pod(sample_external_redis(), name="h")
        assert pod["metadata"]["annotations"] == {
            "ray.io/ft-enabled": "true",
            "ray.io/external-storage-namespace": UID,
        }

    def test_external_storage_namespace_option_wins_over_the_uid(self) -> None:
        cluster = sample_external_redis()
        cluster["spec"]["gcsFaultToleranceOptions"]["externalStorageNamespace"] = "my-ns"
        pod = desired_head_pod(cluster, name="h")
        assert env_named(pod, "RAY_external_storage_namespace") == {
            "name": "RAY_external_storage_namespace",
            "value": "my-ns",
        }
        assert pod["metadata"]["annotations"]["ray.io/external-storage-namespace"] == "my-ns"

    def test_a_username_becomes_redis_username_env_and_start_param(self) -> None:
        cluster = sample_external_redis()
        cluster["spec"]["gcsFaultToleranceOptions"]["redisUsername"] = {"value": "ray"}
        pod = desired_head_pod(cluster, name="h")
        assert env_named(pod, "REDIS_USERNAME") == {"name": "REDIS_USERNAME", "value": "ray"}
        assert '--redis-username="$REDIS_USERNAME"' in pod["spec"]["containers"][0]["args"][0]

    def test_workers_wait_600_s_for_a_restarted_gcs_and_get_no_redis_settings(self) -> None:
        pod = desired_worker_pod(sample_external_redis(), "small-group", name="w")
        assert env_named(pod, "RAY_gcs_rpc_server_reconnect_timeout_s") == {
            "name": "RAY_gcs_rpc_server_reconnect_timeout_s",
            "value": "600",
        }
        for name in ("RAY_REDIS_ADDRESS", "REDIS_PASSWORD", "RAY_external_storage_namespace"):
            assert env_named(pod, name) is None
        assert "ray.io/ft-enabled" not in (pod["metadata"].get("annotations") or {})

    def test_a_reconnect_timeout_the_user_set_is_kept(self) -> None:
        cluster = sample_external_redis()
        worker = cluster["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
        worker["env"] = [{"name": "RAY_gcs_rpc_server_reconnect_timeout_s", "value": "120"}]
        pod = desired_worker_pod(cluster, "small-group", name="w")
        found = [item for item in ray_env(pod) if item["name"] == "RAY_gcs_rpc_server_reconnect_timeout_s"]
        assert found == [{"name": "RAY_gcs_rpc_server_reconnect_timeout_s", "value": "120"}]

    def test_the_sample_is_valid(self) -> None:
        assert validate_cluster(sample_external_redis()) == []


class TestLegacyForm:
    def test_head_keeps_its_redis_address_and_gets_the_namespace_and_the_password_env(self) -> None:
        pod = desired_head_pod(legacy_form(), name="h")
        assert ray_env(pod)[:3] == [
            {"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"},
            {"name": "RAY_external_storage_namespace", "value": UID},
            {"name": "REDIS_PASSWORD", "value": "5241590000000000"},
        ]
        assert "--redis-password=5241590000000000" in pod["spec"]["containers"][0]["args"][0]

    def test_storage_namespace_annotation_of_the_cluster_is_used(self) -> None:
        cluster = legacy_form()
        cluster["metadata"]["annotations"]["ray.io/external-storage-namespace"] = "legacy-ns"
        pod = desired_head_pod(cluster, name="h")
        assert env_named(pod, "RAY_external_storage_namespace") == {
            "name": "RAY_external_storage_namespace",
            "value": "legacy-ns",
        }
        assert pod["metadata"]["annotations"]["ray.io/external-storage-namespace"] == "legacy-ns"

    def test_annotation_is_case_insensitive_and_workers_get_the_reconnect_timeout(self) -> None:
        cluster = legacy_form()
        cluster["metadata"]["annotations"]["ray.io/ft-enabled"] = "True"
        pod = desired_worker_pod(cluster, "small-group", name="w")
        assert env_named(pod, "RAY_gcs_rpc_server_reconnect_timeout_s") is not None

    def test_the_legacy_form_is_valid(self) -> None:
        assert validate_cluster(legacy_form()) == []


def test_without_gcs_ft_no_pod_changes() -> None:
    cluster = sample_external_redis()
    del cluster["spec"]["gcsFaultToleranceOptions"]
    head = desired_head_pod(cluster, name="h")
    worker = desired_worker_pod(cluster, "small-group", name="w")
    assert "annotations" not in head["metadata"]
    names = {item["name"] for item in ray_env(head) + ray_env(worker)}
    assert not names & {"RAY_external_storage_namespace", "RAY_REDIS_ADDRESS", "RAY_gcs_rpc_server_reconnect_timeout_s"}


def _with(change: str) -> dict[str, Any]:
    cluster = sample_external_redis()
    head = cluster["spec"]["headGroupSpec"]
    env = head["template"]["spec"]["containers"][0].setdefault("env", [])
    if change == "annotation_and_options":
        cluster["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}
    elif change == "address_without_ft":
        del cluster["spec"]["gcsFaultToleranceOptions"]
        env.append({"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"})
    elif change == "password_param":
        head["rayStartParams"]["redis-password"] = "x"
    elif change == "password_env":
        env.append({"name": "REDIS_PASSWORD", "value": "x"})
    elif change == "address_env":
        env.append({"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"})
    elif change == "namespace_annotation":
        cluster["metadata"]["annotations"] = {"ray.io/external-storage-namespace": "x"}
    elif change == "username_param":
        head["rayStartParams"]["redis-username"] = "x"
    elif change == "rocksdb":
        cluster["spec"]["gcsFaultToleranceOptions"] = {"backend": "rocksdb"}
    elif change == "storage_with_redis":
        cluster["spec"]["gcsFaultToleranceOptions"]["storage"] = {"size": "1Gi"}
    return copy.deepcopy(cluster)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("annotation_and_options", "ray.io/ft-enabled annotation and GcsFaultToleranceOptions are both set"),
        ("address_without_ft", "RAY_REDIS_ADDRESS is set which implicitly enables GCS fault tolerance"),
        ("password_param", "cannot set `redis-password` in rayStartParams when GcsFaultToleranceOptions is enabled"),
        ("password_env", "cannot set `REDIS_PASSWORD` env var in head Pod when GcsFaultToleranceOptions is enabled"),
        ("address_env", "cannot set `RAY_REDIS_ADDRESS` env var in head Pod when GcsFaultToleranceOptions"),
        ("namespace_annotation", "cannot set `ray.io/external-storage-namespace` annotation when"),
        ("username_param", "cannot set redis username in rayStartParams or environment variables"),
        ("rocksdb", "embedded RocksDB GCS fault tolerance backend"),
        ("storage_with_redis", "cannot set GcsFaultToleranceOptions.Storage when backend is 'redis'"),
    ],
)
def test_conflicting_forms_get_kuberays_validation_error(change: str, message: str) -> None:
    problems = validate_cluster(_with(change))
    assert any(message in problem.message for problem in problems), problems
