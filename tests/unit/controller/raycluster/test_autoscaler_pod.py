"""The head pod of an autoscaling RayCluster, compared field by field with what KubeRay v1.7 builds.

The expected values are literals read from ray-project/kuberay v1.7.0, ray-operator/controllers/ray/common/pod.go:
``BuildAutoscalerContainer`` (the container), ``mergeAutoscalerOverrides`` (replace: resources, image,
imagePullPolicy, securityContext, command, args; append: env, envFrom, volumeMounts), ``BuildPod``'s
``addEmptyDir(..., "ray-logs", "/tmp/ray", StorageMediumDefault)`` on the Ray and autoscaler containers,
``DefaultHeadPodTemplate`` (``no-monitor``, ``serviceAccountName = CheckName(GetHeadGroupServiceAccountName)``,
``setAutoscalerV1EnvVars``/``setAutoscalerV2EnvVars``, v2's ``RestartPolicyNever``) and
``DefaultWorkerPodTemplate`` (v2's ``RestartPolicyNever`` on workers).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rayservice.controller.raycluster import AUTOSCALER_CONTAINER, desired_head_pod, desired_worker_pod
from tests.unit.controller.raycluster.samples import cluster, container, env_of, group, ray_container, template

START = "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"

# BuildAutoscalerContainer("rayproject/ray:2.60.0"), with BuildPod's /tmp/ray mount, as KubeRay v1.7 serializes it.
KUBERAY_AUTOSCALER: dict[str, Any] = {
    "name": "autoscaler",
    "image": "rayproject/ray:2.60.0",
    "imagePullPolicy": "IfNotPresent",
    "env": [
        {"name": "RAY_CLUSTER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}},
        {"name": "RAY_CLUSTER_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "RAY_HEAD_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "KUBERAY_CRD_VER", "value": "v1"},
        {"name": "KUBERAY_GEN_AUTOSCALER_START_CMD", "value": START},
    ],
    "command": ["/bin/bash", "-c", "--"],
    "args": [START],
    "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "512Mi"}},
    "volumeMounts": [{"name": "ray-logs", "mountPath": "/tmp/ray"}],
}
RAY_LOGS_VOLUME = {"name": "ray-logs", "emptyDir": {}}
RAY_LOGS_MOUNT = {"name": "ray-logs", "mountPath": "/tmp/ray"}


def autoscaling(name: str = "demo", options: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body = cluster(name, enableInTreeAutoscaling=True, **spec)
    if options is not None:
        body["spec"]["autoscalerOptions"] = options
    return body


def head_of(body: dict[str, Any]) -> dict[str, Any]:
    return desired_head_pod(body, name=f"{body['metadata']['name']}-head-abcde")


def sidecar(pod: dict[str, Any]) -> dict[str, Any]:
    (found,) = [c for c in pod["spec"]["containers"] if c["name"] == AUTOSCALER_CONTAINER]
    return dict(found)


def expected(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(KUBERAY_AUTOSCALER)
    result.update(changes)
    return result


class TestTheSidecar:
    def test_the_autoscaler_container_is_kuberays_field_by_field(self) -> None:
        pod = head_of(autoscaling())

        got = sidecar(pod)
        assert sorted(got) == sorted(KUBERAY_AUTOSCALER)
        for field, value in KUBERAY_AUTOSCALER.items():
            assert got[field] == value, field

    def test_it_is_the_last_container_after_the_ray_container(self) -> None:
        pod = head_of(autoscaling())

        assert [c["name"] for c in pod["spec"]["containers"]] == ["ray", "autoscaler"]

    def test_it_runs_the_image_of_the_ray_container(self) -> None:
        head = {"rayStartParams": {}, "template": template(container("ray-head", image="my/ray:2.60.0-py311"))}
        pod = head_of(autoscaling(headGroupSpec=head))

        assert sidecar(pod)["image"] == "my/ray:2.60.0-py311"

    def test_the_ray_container_and_the_sidecar_share_the_ray_logs_volume(self) -> None:
        pod = head_of(autoscaling())

        assert RAY_LOGS_VOLUME in pod["spec"]["volumes"]
        assert pod["spec"]["volumes"].count(RAY_LOGS_VOLUME) == 1
        assert RAY_LOGS_MOUNT in ray_container(pod)["volumeMounts"]
        assert {"name": "shared-mem", "mountPath": "/dev/shm"} in ray_container(pod)["volumeMounts"]

    def test_a_ray_container_that_mounts_tmp_ray_keeps_its_own_mount(self) -> None:
        mounts = [{"name": "mine", "mountPath": "/tmp/ray"}]
        head = {"template": template(container(volumeMounts=mounts), volumes=[{"name": "mine", "emptyDir": {}}])}
        pod = head_of(autoscaling(head=head))

        assert {"name": "mine", "mountPath": "/tmp/ray"} in ray_container(pod)["volumeMounts"]
        assert RAY_LOGS_MOUNT not in ray_container(pod)["volumeMounts"]
        assert sidecar(pod)["volumeMounts"] == [RAY_LOGS_MOUNT]

    def test_the_head_starts_ray_without_its_monitor(self) -> None:
        head = {"rayStartParams": {"no-monitor": "false"}, "template": template()}
        pod = head_of(autoscaling(head=head))

        assert "--no-monitor" in ray_container(pod)["args"][0]
        assert "--no-monitor" in env_of(pod)["KUBERAY_GEN_RAY_START_CMD"]

    def test_without_autoscaling_the_head_pod_has_none_of_it(self) -> None:
        pod = head_of(cluster(autoscalerOptions={"version": "v2", "image": "x"}))

        assert [c["name"] for c in pod["spec"]["containers"]] == ["ray"]
        assert "--no-monitor" not in ray_container(pod)["args"][0]
        assert "serviceAccountName" not in pod["spec"]
        assert "RAY_enable_autoscaler_v2" not in env_of(pod)
        assert "RAY_CLOUD_INSTANCE_ID" not in env_of(pod)
        assert RAY_LOGS_VOLUME not in pod["spec"]["volumes"]
        assert head_of(cluster(enableInTreeAutoscaling=False)) == head_of(cluster())


class TestServiceAccount:
    def test_the_head_runs_as_the_account_named_after_the_cluster(self) -> None:
        assert head_of(autoscaling("demo"))["spec"]["serviceAccountName"] == "demo"

    def test_an_account_the_head_template_names_is_used(self) -> None:
        head = {"template": template(serviceAccountName="team-autoscaler")}

        assert head_of(autoscaling(head=head))["spec"]["serviceAccountName"] == "team-autoscaler"

    def test_a_long_name_is_clipped_to_its_last_50_characters_as_kuberay_check_name_does(self) -> None:
        name = "a" * 10 + "b" * 50
        pod = head_of(autoscaling(name, groups=[group("g")]))

        assert pod["spec"]["serviceAccountName"] == "b" * 50

    def test_a_leading_digit_becomes_r_as_kuberay_check_name_does(self) -> None:
        head = {"template": template(serviceAccountName="7even")}

        assert head_of(autoscaling(head=head))["spec"]["serviceAccountName"] == "reven"


class TestVersions:
    def test_v1_sets_enable_autoscaler_v2_false_and_keeps_the_restart_policy(self) -> None:
        pod = head_of(autoscaling(options={"version": "v1"}))

        assert env_of(pod)["RAY_enable_autoscaler_v2"] == "false"
        assert "restartPolicy" not in pod["spec"]

    def test_v2_sets_enable_autoscaler_v2_true_and_restart_policy_never(self) -> None:
        body = autoscaling(options={"version": "v2"})

        pod = head_of(body)
        worker = desired_worker_pod(body, "small", name="w")

        assert env_of(pod)["RAY_enable_autoscaler_v2"] == "true"
        assert pod["spec"]["restartPolicy"] == "Never"
        assert worker["spec"]["restartPolicy"] == "Never"

    def test_an_unset_version_sets_neither(self) -> None:
        pod = head_of(autoscaling())

        assert "RAY_enable_autoscaler_v2" not in env_of(pod)
        assert "restartPolicy" not in pod["spec"]

    def test_the_env_goes_on_the_ray_container_only(self) -> None:
        pod = head_of(autoscaling(options={"version": "v2"}))

        assert "RAY_enable_autoscaler_v2" not in {item["name"] for item in sidecar(pod)["env"]}

    @pytest.mark.parametrize("version", ["v1", "v2", None])
    def test_every_ray_container_gets_the_node_identity_autoscaler_v2_reads(self, version: str | None) -> None:
        body = autoscaling(options={"version": version} if version else None)

        for pod in (head_of(body), desired_worker_pod(body, "small", name="w")):
            env = env_of(pod)
            assert env["RAY_CLOUD_INSTANCE_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
            assert env["RAY_NODE_TYPE_NAME"] == {"fieldRef": {"fieldPath": "metadata.labels['ray.io/group']"}}


class TestOverrides:
    def test_image_replaces_ours(self) -> None:
        got = sidecar(head_of(autoscaling(options={"image": "rayproject/ray:2.60.0-autoscaler"})))

        assert got == expected(image="rayproject/ray:2.60.0-autoscaler")

    def test_image_pull_policy_replaces_ours(self) -> None:
        assert sidecar(head_of(autoscaling(options={"imagePullPolicy": "Always"}))) == expected(
            imagePullPolicy="Always"
        )

    def test_resources_replace_ours_whole(self) -> None:
        resources = {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}

        assert sidecar(head_of(autoscaling(options={"resources": resources}))) == expected(resources=resources)

    def test_security_context_is_set(self) -> None:
        context = {"runAsNonRoot": True, "readOnlyRootFilesystem": True}

        assert sidecar(head_of(autoscaling(options={"securityContext": context}))) == expected(securityContext=context)

    def test_env_is_appended_after_ours(self) -> None:
        extra = [{"name": "AUTOSCALER_LOG_LEVEL", "value": "DEBUG"}, {"name": "RAY_CLUSTER_NAME", "value": "x"}]

        got = sidecar(head_of(autoscaling(options={"env": extra})))

        assert got == expected(env=KUBERAY_AUTOSCALER["env"] + extra)

    def test_env_from_is_appended(self) -> None:
        env_from = [{"configMapRef": {"name": "autoscaler-env"}}]

        assert sidecar(head_of(autoscaling(options={"envFrom": env_from}))) == expected(envFrom=env_from)

    def test_volume_mounts_are_appended_before_the_ray_logs_mount(self) -> None:
        mounts = [{"name": "cfg", "mountPath": "/etc/autoscaler"}]

        got = sidecar(head_of(autoscaling(options={"volumeMounts": mounts})))

        assert got == expected(volumeMounts=[*mounts, RAY_LOGS_MOUNT])

    def test_a_volume_mount_at_tmp_ray_replaces_the_ray_logs_mount(self) -> None:
        mounts = [{"name": "logs", "mountPath": "/tmp/ray"}]

        assert sidecar(head_of(autoscaling(options={"volumeMounts": mounts})))["volumeMounts"] == mounts

    def test_command_and_args_replace_ours(self) -> None:
        options = {"command": ["/bin/sh", "-c"], "args": ["ulimit -n 65536; $KUBERAY_GEN_AUTOSCALER_START_CMD"]}

        got = sidecar(head_of(autoscaling(options=options)))

        assert got == expected(**options)

    def test_upscaling_mode_and_idle_timeouts_change_no_pod(self) -> None:
        plain = autoscaling(options={"version": "v2"})
        tuned = autoscaling(
            options={"version": "v2", "upscalingMode": "Conservative", "idleTimeoutSeconds": 30},
            groups=[group(idleTimeoutSeconds=10)],
        )

        assert head_of(tuned) == head_of(plain)
        assert desired_worker_pod(tuned, "small", name="w") == desired_worker_pod(plain, "small", name="w")

    def test_every_override_at_once(self) -> None:
        options = {
            "image": "img",
            "imagePullPolicy": "Never",
            "resources": {"limits": {"cpu": "2"}},
            "env": [{"name": "A", "value": "1"}],
            "envFrom": [{"secretRef": {"name": "s"}}],
            "securityContext": {"runAsUser": 1000},
            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            "version": "v2",
            "upscalingMode": "Aggressive",
            "idleTimeoutSeconds": 5,
        }

        got = sidecar(head_of(autoscaling(options=options)))

        assert got == expected(
            image="img",
            imagePullPolicy="Never",
            resources={"limits": {"cpu": "2"}},
            env=[*KUBERAY_AUTOSCALER["env"], {"name": "A", "value": "1"}],
            envFrom=[{"secretRef": {"name": "s"}}],
            securityContext={"runAsUser": 1000},
            volumeMounts=[{"name": "v", "mountPath": "/v"}, RAY_LOGS_MOUNT],
        )

    def test_the_cluster_is_not_changed_by_building_its_pods(self) -> None:
        body = autoscaling(options={"env": [{"name": "A", "value": "1"}], "volumeMounts": [{"name": "v"}]})
        before = copy.deepcopy(body)

        pod = head_of(body)
        sidecar(pod)["env"].append({"name": "B"})

        assert body == before
