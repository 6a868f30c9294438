"""Ray token authentication: the pods compared field by field with what KubeRay v1.7 builds, its Secret, and its
validation errors.

The expected values are literals read from ray-project/kuberay v1.7.0: ``SetContainerTokenAuthEnvVars``,
``configureTokenAuth`` and ``AddRayTokenVolume`` in ray-operator/controllers/ray/common/pod.go (env names and the
Secret key from utils/constant.go), ``createAuthSecret`` in raycluster_controller.go, the ``authOptions`` checks
of ``ValidateRayClusterSpec`` / ``ValidateRayServiceSpec`` in utils/validation.go. The cluster is KubeRay's
sample ray-operator/config/samples/ray-cluster.auth.yaml.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from rayservice.controller.raycluster import validate_cluster
from rayservice.controller.raycluster.auth import (
    auth_problems,
    desired_auth_secret,
    generated_secret_name,
    new_token,
    parse_generic_version,
    rayservice_auth_problems,
)
from rayservice.controller.raycluster.desired import desired_head_pod, desired_worker_pod
from rayservice.controller.rayservice import check_service

UID = "6a1f0c2e-0000-4000-8000-00000000a0a0"
NAME = "ray-cluster-with-auth"
RESOURCES = {"limits": {"cpu": "4", "memory": "8Gi"}, "requests": {"cpu": "4", "memory": "8Gi"}}
PORTS = [
    {"containerPort": 6379, "name": "gcs-server"},
    {"containerPort": 8265, "name": "dashboard"},
    {"containerPort": 10001, "name": "client"},
]
# What SetContainerTokenAuthEnvVars appends to a container, for a cluster without secretName.
KUBERAY_TOKEN_ENV = [
    {"name": "RAY_AUTH_MODE", "value": "token"},
    {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": NAME, "key": "auth_token"}}},
]
# The same with enableK8sTokenAuth: no Secret, the projected ServiceAccount token instead.
KUBERAY_K8S_ENV = [{"name": "RAY_AUTH_MODE", "value": "token"}, {"name": "RAY_ENABLE_K8S_TOKEN_AUTH", "value": "true"}]
KUBERAY_K8S_MOUNT = {"name": "ray-token", "mountPath": "/var/run/secrets/ray.io/serviceaccount", "readOnly": True}
KUBERAY_K8S_VOLUME = {"name": "ray-token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
# BuildAutoscalerContainer's env, then SetContainerTokenAuthEnvVars' (before mergeAutoscalerOverrides).
KUBERAY_AUTOSCALER_ENV = [
    {"name": "RAY_CLUSTER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}},
    {"name": "RAY_CLUSTER_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    {"name": "RAY_HEAD_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "KUBERAY_CRD_VER", "value": "v1"},
    {
        "name": "KUBERAY_GEN_AUTOSCALER_START_CMD",
        "value": "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace "
        "$(RAY_CLUSTER_NAMESPACE)",
    },
    *KUBERAY_TOKEN_ENV,
]


def sample_auth() -> dict[str, Any]:
    """KubeRay v1.7's ray-cluster.auth.yaml (rayVersion 2.53.0, image rayproject/ray:2.53.0)."""
    def ray(name: str) -> dict[str, Any]:
        return {"name": name, "image": "rayproject/ray:2.53.0", "resources": copy.deepcopy(RESOURCES)}

    head = ray("ray-head")
    head["ports"] = copy.deepcopy(PORTS)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": NAME, "namespace": "default", "uid": UID},
        "spec": {
            "enableInTreeAutoscaling": True,
            "authOptions": {"mode": "token"},
            "rayVersion": "2.53.0",
            "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [head]}}},
            "workerGroupSpecs": [
                {
                    "replicas": 1,
                    "minReplicas": 1,
                    "maxReplicas": 5,
                    "groupName": "workergroup",
                    "rayStartParams": {},
                    "template": {"spec": {"containers": [ray("ray-worker")]}},
                }
            ],
        },
    }


def env_of(container: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    wanted = set(names)
    return [item for item in container.get("env", []) if item["name"] in wanted]


def auth_env(container: dict[str, Any]) -> list[dict[str, Any]]:
    return env_of(container, "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_ENABLE_K8S_TOKEN_AUTH")


def named(containers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in containers if item["name"] == name)


class TestTheSamplesPods:
    def test_the_head_ray_container_gets_kuberays_token_env(self) -> None:
        head = desired_head_pod(sample_auth(), name="h")
        assert auth_env(named(head["spec"]["containers"], "ray-head")) == KUBERAY_TOKEN_ENV

    def test_the_autoscaler_sidecar_has_kuberays_env_field_by_field(self) -> None:
        head = desired_head_pod(sample_auth(), name="h")
        assert named(head["spec"]["containers"], "autoscaler")["env"] == KUBERAY_AUTOSCALER_ENV

    def test_every_worker_and_its_wait_gcs_ready_init_container_get_the_token_env(self) -> None:
        worker = desired_worker_pod(sample_auth(), "workergroup", name="w")
        assert auth_env(named(worker["spec"]["containers"], "ray-worker")) == KUBERAY_TOKEN_ENV
        assert auth_env(named(worker["spec"]["initContainers"], "wait-gcs-ready")) == KUBERAY_TOKEN_ENV

    def test_the_token_env_follows_the_gcs_fault_tolerance_env_as_in_kuberay(self) -> None:
        cluster = sample_auth()
        cluster["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
        env = [item["name"] for item in desired_head_pod(cluster, name="h")["spec"]["containers"][0]["env"]]
        assert env[:4] == ["RAY_external_storage_namespace", "RAY_REDIS_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"]

    def test_no_token_env_without_mode_token(self) -> None:
        for options in (None, {"mode": "disabled"}, {}):
            cluster = sample_auth()
            if options is None:
                del cluster["spec"]["authOptions"]
            else:
                cluster["spec"]["authOptions"] = options
            head = desired_head_pod(cluster, name="h")
            worker = desired_worker_pod(cluster, "workergroup", name="w")
            for container in [*head["spec"]["containers"], *worker["spec"]["containers"],
                              *worker["spec"]["initContainers"]]:
                assert auth_env(container) == [], container["name"]
            assert generated_secret_name(cluster) is None


class TestSecretName:
    def test_a_secret_name_replaces_the_clusters_in_every_secret_key_ref(self) -> None:
        cluster = sample_auth()
        cluster["spec"]["authOptions"]["secretName"] = "my-token"
        ref = {"secretKeyRef": {"name": "my-token", "key": "auth_token"}}
        head = desired_head_pod(cluster, name="h")
        worker = desired_worker_pod(cluster, "workergroup", name="w")
        for container in (
            named(head["spec"]["containers"], "ray-head"),
            named(head["spec"]["containers"], "autoscaler"),
            named(worker["spec"]["containers"], "ray-worker"),
            named(worker["spec"]["initContainers"], "wait-gcs-ready"),
        ):
            assert env_of(container, "RAY_AUTH_TOKEN") == [{"name": "RAY_AUTH_TOKEN", "valueFrom": ref}]
        assert generated_secret_name(cluster) is None

    def test_a_long_cluster_name_is_clipped_as_kuberay_check_name_clips_it(self) -> None:
        cluster = sample_auth()
        cluster["metadata"]["name"] = "x" * 10 + "-" + "a" * 52
        assert generated_secret_name(cluster) == "a" * 50
        env = env_of(desired_head_pod(cluster, name="h")["spec"]["containers"][0], "RAY_AUTH_TOKEN")
        assert env[0]["valueFrom"]["secretKeyRef"]["name"] == "a" * 50


class TestWhatTheUserSetWins:
    def test_a_token_env_the_user_set_is_kept(self) -> None:
        cluster = sample_auth()
        mine = {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "own", "key": "k"}}}
        cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [mine]
        env = auth_env(desired_head_pod(cluster, name="h")["spec"]["containers"][0])
        assert env == [mine, KUBERAY_TOKEN_ENV[0]]

    def test_a_users_own_wait_gcs_ready_init_container_on_the_head_gets_the_token_env(self) -> None:
        cluster = sample_auth()
        waiter = {"name": "wait-gcs-ready", "image": "busybox", "command": ["true"]}
        other = {"name": "setup", "image": "busybox", "command": ["true"]}
        cluster["spec"]["headGroupSpec"]["template"]["spec"]["initContainers"] = [other, waiter]
        init = desired_head_pod(cluster, name="h")["spec"]["initContainers"]
        assert auth_env(named(init, "wait-gcs-ready")) == KUBERAY_TOKEN_ENV
        assert auth_env(named(init, "setup")) == []

    def test_the_cluster_is_not_changed_by_building_its_pods(self) -> None:
        cluster = sample_auth()
        before = copy.deepcopy(cluster)
        desired_head_pod(cluster, name="h")
        desired_worker_pod(cluster, "workergroup", name="w")
        assert cluster == before


class TestK8sTokenAuth:
    def cluster(self) -> dict[str, Any]:
        cluster = sample_auth()
        cluster["spec"]["rayVersion"] = "2.60.0"
        cluster["spec"]["authOptions"]["enableK8sTokenAuth"] = True
        return cluster

    def test_containers_get_the_k8s_env_and_the_projected_token_mount(self) -> None:
        head = desired_head_pod(self.cluster(), name="h")
        worker = desired_worker_pod(self.cluster(), "workergroup", name="w")
        for container in (
            named(head["spec"]["containers"], "ray-head"),
            named(head["spec"]["containers"], "autoscaler"),
            named(worker["spec"]["containers"], "ray-worker"),
            named(worker["spec"]["initContainers"], "wait-gcs-ready"),
        ):
            assert auth_env(container) == KUBERAY_K8S_ENV, container["name"]
            assert KUBERAY_K8S_MOUNT in container["volumeMounts"], container["name"]
        for pod in (head, worker):
            assert [v for v in pod["spec"]["volumes"] if v["name"] == "ray-token"] == [KUBERAY_K8S_VOLUME]

    def test_no_secret_is_made(self) -> None:
        assert generated_secret_name(self.cluster()) is None

    def test_a_volume_the_user_named_ray_token_is_kept(self) -> None:
        cluster = self.cluster()
        own = {"name": "ray-token", "emptyDir": {}}
        cluster["spec"]["headGroupSpec"]["template"]["spec"]["volumes"] = [own]
        volumes = desired_head_pod(cluster, name="h")["spec"]["volumes"]
        assert [v for v in volumes if v["name"] == "ray-token"] == [own]


class TestTheSecret:
    def test_it_is_named_labelled_and_owned_as_kuberays(self) -> None:
        cluster = sample_auth()
        assert generated_secret_name(cluster) == NAME
        secret = desired_auth_secret(cluster, "tok")
        assert secret["metadata"]["name"] == NAME
        assert secret["metadata"]["namespace"] == "default"
        assert secret["metadata"]["labels"]["ray.io/cluster"] == NAME
        assert secret["metadata"]["ownerReferences"] == [
            {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": NAME, "uid": UID, "controller": True,
             "blockOwnerDeletion": True}
        ]
        assert secret["stringData"] == {"auth_token": "tok"}

    def test_a_new_token_is_32_random_bytes_in_standard_base64(self) -> None:
        tokens = {new_token() for _ in range(5)}
        assert len(tokens) == 5
        for token in tokens:
            assert len(token) == 44 and len(base64.b64decode(token, validate=True)) == 32


class TestValidation:
    @pytest.mark.parametrize(
        ("version", "message"),
        [
            ("", "authOptions.mode is 'token' but RayVersion was not specified. Ray version 2.52.0 or later is "
                 "required"),
            ("latest", "authOptions.mode is 'token' but RayVersion format is invalid: latest, could not parse "
                       "\"latest\" as version"),
            ("2", "authOptions.mode is 'token' but RayVersion format is invalid: 2, illegal version string \"2\""),
            ("2.51.9", "authOptions.mode is 'token' but minimum Ray version is 2.52.0, got 2.51.9"),
            ("2.9", "authOptions.mode is 'token' but minimum Ray version is 2.52.0, got 2.9"),
        ],
    )
    def test_kuberays_ray_version_checks_of_token_mode(self, version: str, message: str) -> None:
        cluster = sample_auth()
        cluster["spec"]["rayVersion"] = version
        assert auth_problems(cluster) == [("spec.rayVersion", message)]
        assert [p.message for p in validate_cluster(cluster)] == [message]

    @pytest.mark.parametrize("version", ["2.52.0", "2.53.0", "v2.60.0", "2.60.0-rc1", "3.0"])
    def test_versions_kuberay_accepts(self, version: str) -> None:
        cluster = sample_auth()
        cluster["spec"]["rayVersion"] = version
        assert auth_problems(cluster) == []

    def test_k8s_token_auth_needs_ray_2_55(self) -> None:
        cluster = sample_auth()
        cluster["spec"]["authOptions"]["enableK8sTokenAuth"] = True
        assert auth_problems(cluster) == [
            ("spec.rayVersion", "authOptions.enableK8sTokenAuth is enabled but minimum Ray version is 2.55.0, got "
                                "2.53.0")
        ]

    def test_k8s_token_auth_with_a_secret_name_is_refused(self) -> None:
        cluster = sample_auth()
        cluster["spec"]["rayVersion"] = "2.60.0"
        cluster["spec"]["authOptions"].update(enableK8sTokenAuth=True, secretName="s")
        assert auth_problems(cluster) == [
            ("spec.authOptions.secretName",
             "authOptions.enableK8sTokenAuth is enabled and authOptions.secretName is also set")
        ]

    def test_k8s_token_auth_without_token_mode_is_refused(self) -> None:
        cluster = sample_auth()
        cluster["spec"]["authOptions"] = {"enableK8sTokenAuth": True}
        assert auth_problems(cluster) == [
            ("spec.authOptions.enableK8sTokenAuth",
             "authOptions.enableK8sTokenAuth is enabled but authOptions.mode not set to 'token'")
        ]

    def test_a_rayservice_with_k8s_token_auth_is_refused_in_kuberays_words(self) -> None:
        spec = sample_auth()["spec"]
        spec["rayVersion"] = "2.60.0"
        spec["authOptions"]["enableK8sTokenAuth"] = True
        assert rayservice_auth_problems(spec) == [
            ("spec.rayClusterConfig.authOptions.enableK8sTokenAuth",
             "The RayService spec is invalid: K8s token auth mode is currently not supported for RayService")
        ]
        service = {"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": "svc", "namespace": "ns"},
                   "spec": {"rayClusterConfig": spec}}
        assert [p.field for p in check_service(service).problems] == [
            "spec.rayClusterConfig.authOptions.enableK8sTokenAuth"
        ]

    def test_a_rayservice_with_token_mode_is_accepted(self) -> None:
        service = {"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": "svc", "namespace": "ns"},
                   "spec": {"rayClusterConfig": sample_auth()["spec"]}}
        assert check_service(service).problems == ()

    def test_parse_generic_rejects_a_leading_zero_in_the_first_component_only(self) -> None:
        assert parse_generic_version("2.052.0") == (2, 52, 0)
        assert parse_generic_version("02.52.0") == 'illegal zero-prefixed version component "02" in "02.52.0"'
