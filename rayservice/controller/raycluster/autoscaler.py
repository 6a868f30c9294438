"""The Ray autoscaler of a RayCluster with ``enableInTreeAutoscaling``: what it adds to the pods, and its checks.

What KubeRay v1.7 builds (``common/pod.go``: ``DefaultHeadPodTemplate``, ``BuildAutoscalerContainer``,
``mergeAutoscalerOverrides``, ``setAutoscalerV1EnvVars``/``setAutoscalerV2EnvVars``, ``BuildPod``), and so
what these functions build.

Guarantees:
1. Nothing changes for a cluster without ``enableInTreeAutoscaling: true``: every function here returns the
   input unchanged, an empty list or ``None``.
2. The head's ``rayStartParams`` get ``no-monitor: "true"`` (Ray's own monitor is not Kubernetes-aware; the
   sidecar replaces it), whatever the user set.
3. The head pod runs as ``service_account_name``: the head template's ``serviceAccountName``, else the
   cluster's name, clipped as KubeRay's ``CheckName`` clips it (at most 50 characters, the tail kept; a
   leading digit becomes ``r``).
4. The head pod gets one more container, last, named ``autoscaler``: the Ray container's image,
   ``imagePullPolicy: IfNotPresent``, command ``/bin/bash -c --`` and one argument ``ray kuberay-autoscaler
   --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)``; env, in this order,
   ``RAY_CLUSTER_NAME`` (the pod's ``ray.io/cluster`` label), ``RAY_CLUSTER_NAMESPACE`` (its namespace),
   ``RAY_HEAD_POD_NAME`` (its name), ``KUBERAY_CRD_VER=v1`` and ``KUBERAY_GEN_AUTOSCALER_START_CMD`` (the
   generated command, for custom ``args`` to run); cpu 500m and memory 512Mi, requests equal to limits.
5. ``autoscalerOptions`` overrides, as ``mergeAutoscalerOverrides`` merges them: ``resources``, ``image``,
   ``imagePullPolicy``, ``securityContext``, ``command`` and ``args`` replace ours; ``env``, ``envFrom`` and
   ``volumeMounts`` are appended to ours. ``upscalingMode`` and ``idleTimeoutSeconds`` (and each group's
   ``idleTimeoutSeconds``) change nothing in the pods: the autoscaler reads them from the RayCluster.
6. The Ray container and the sidecar share an ``emptyDir`` volume ``ray-logs`` mounted at ``/tmp/ray`` (the
   autoscaler's events reach the head's logs through it); a container that already mounts something at
   ``/tmp/ray`` keeps its mount, and an existing volume named ``ray-logs`` is reused.
7. ``autoscalerOptions.version``: ``v2`` sets ``RAY_enable_autoscaler_v2=true`` on the head's Ray container and
   ``restartPolicy: Never`` on the head and worker pods (a v2 node that exits is replaced, not restarted);
   ``v1`` sets ``RAY_enable_autoscaler_v2=false``; unset sets neither (Ray's default, v1).
8. Every Ray container of an autoscaling cluster gets ``RAY_CLOUD_INSTANCE_ID`` (the pod's name) and
   ``RAY_NODE_TYPE_NAME`` (its ``ray.io/group`` label), which autoscaler v2 maps Ray nodes to pods by;
   KubeRay sets them on every cluster, we only where an autoscaler reads them.
9. ``autoscaling_problems`` reports what KubeRay's ``ValidateRayClusterSpec`` rejects about autoscaling, and
   option values of the wrong shape (the schema keeps ``autoscalerOptions`` free-form).

Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.api.labels import RAY_CLUSTER_LABEL, RAY_GROUP_LABEL
from rayservice.controller.objects import RawObject, flag, mapping, name_of, raycluster_spec, sequence
from rayservice.controller.raycluster._podspec import ray_container_index

AUTOSCALER_CONTAINER: Final = "autoscaler"
RAY_LOGS_VOLUME: Final = "ray-logs"
RAY_LOGS_PATH: Final = "/tmp/ray"
START_COMMAND: Final = (
    "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
)
COMMAND: Final = ("/bin/bash", "-c", "--")
ENABLE_V2_ENV: Final = "RAY_enable_autoscaler_v2"
GENERATED_START_ENV: Final = "KUBERAY_GEN_AUTOSCALER_START_CMD"
VERSIONS: Final = ("v1", "v2")
UPSCALING_MODES: Final = ("Default", "Aggressive", "Conservative")
PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
_RESOURCES: Final = {"cpu": "500m", "memory": "512Mi"}
_MAX_SERVICE_ACCOUNT_NAME: Final = 50  # KubeRay's CheckName: 63 - len("-worker-") - 5 random characters
_INT32_MAX: Final = 2**31 - 1
_REPLACED: Final = ("resources", "image", "imagePullPolicy", "securityContext", "command", "args")
_APPENDED: Final = ("env", "envFrom", "volumeMounts")


def is_autoscaling(cluster: RawObject) -> bool:
    """``enableInTreeAutoscaling`` is true."""
    return flag(raycluster_spec(cluster).get("enableInTreeAutoscaling"))


def autoscaler_options(cluster: RawObject) -> Mapping[str, Any]:
    return mapping(raycluster_spec(cluster).get("autoscalerOptions"))


def autoscaler_version(cluster: RawObject) -> str | None:
    """``v1``, ``v2``, or ``None`` when ``autoscalerOptions.version`` is unset (or not one of those)."""
    version = autoscaler_options(cluster).get("version")
    return version if version in VERSIONS else None


def is_autoscaling_v2(cluster: RawObject) -> bool:
    return is_autoscaling(cluster) and autoscaler_version(cluster) == "v2"


def check_name(name: str) -> str:
    """KubeRay's ``utils.CheckName``: the last 50 characters; a leading digit becomes ``r``."""
    if len(name) > _MAX_SERVICE_ACCOUNT_NAME:
        name = name[len(name) - _MAX_SERVICE_ACCOUNT_NAME :]
    if name[:1].isdigit():
        name = "r" + name[1:]
    return name


def user_service_account(cluster: RawObject) -> str:
    """The head template's ``serviceAccountName``, or ``""``."""
    head = mapping(raycluster_spec(cluster).get("headGroupSpec"))
    value = mapping(mapping(head.get("template")).get("spec")).get("serviceAccountName")
    return value if isinstance(value, str) else ""


def service_account_name(cluster: RawObject) -> str:
    """Guarantee 3."""
    return check_name(user_service_account(cluster) or name_of(cluster))


def add_head_params(cluster: RawObject, params: dict[str, str]) -> None:
    """Guarantee 2, on the head's completed ``rayStartParams``."""
    if is_autoscaling(cluster):
        params["no-monitor"] = "true"


def ray_container_env(cluster: RawObject) -> list[dict[str, Any]]:
    """Guarantee 8: env for every Ray container (the user's own values win, as for the rest of ours)."""
    if not is_autoscaling(cluster):
        return []
    return [
        _field_env("RAY_CLOUD_INSTANCE_ID", "metadata.name"),
        _field_env("RAY_NODE_TYPE_NAME", f"metadata.labels['{RAY_GROUP_LABEL}']"),
    ]


def autoscaler_container(
    cluster: RawObject, image: object, *, auth_env: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """Guarantees 4-5: the sidecar before its ``/tmp/ray`` mount; ``auth_env`` (``auth.token_env``) follows our
    env and precedes the ``autoscalerOptions`` env, as in KubeRay."""
    container: dict[str, Any] = {
        "name": AUTOSCALER_CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            _field_env("RAY_CLUSTER_NAME", f"metadata.labels['{RAY_CLUSTER_LABEL}']"),
            _field_env("RAY_CLUSTER_NAMESPACE", "metadata.namespace"),
            _field_env("RAY_HEAD_POD_NAME", "metadata.name"),
            {"name": "KUBERAY_CRD_VER", "value": "v1"},
            {"name": GENERATED_START_ENV, "value": START_COMMAND},
            *(dict(item) for item in auth_env),
        ],
        "command": list(COMMAND),
        "args": [START_COMMAND],
        "resources": {"limits": dict(_RESOURCES), "requests": dict(_RESOURCES)},
    }
    options = autoscaler_options(cluster)
    for key in _REPLACED:
        value = options.get(key)
        if value is None or (key in ("command", "args") and not value):
            continue
        container[key] = copy.deepcopy(value)
    for key in _APPENDED:
        extra = [copy.deepcopy(item) for item in sequence(options.get(key))]
        if extra:
            container[key] = [*sequence(container.get(key)), *extra]
    return container


def add_to_head(
    cluster: RawObject, pod_spec: dict[str, Any], ray_index: int, *, auth_env: Sequence[Mapping[str, Any]] = ()
) -> None:
    """Guarantees 3-7 on a fresh head pod spec whose Ray container is ``containers[ray_index]``."""
    if not is_autoscaling(cluster):
        return
    containers: list[dict[str, Any]] = pod_spec["containers"]
    ray = containers[ray_index]
    pod_spec["serviceAccountName"] = service_account_name(cluster)
    sidecar = autoscaler_container(cluster, ray.get("image"), auth_env=auth_env)
    version = autoscaler_version(cluster)
    if version is not None:
        env = [dict(item) for item in sequence(ray.get("env")) if isinstance(item, Mapping)]
        if not any(item.get("name") == ENABLE_V2_ENV for item in env):
            env.append({"name": ENABLE_V2_ENV, "value": "true" if version == "v2" else "false"})
        ray["env"] = env
    containers.append(sidecar)
    _mount_ray_logs(pod_spec, ray)
    _mount_ray_logs(pod_spec, sidecar)
    if version == "v2":
        pod_spec["restartPolicy"] = "Never"


def set_worker_restart_policy(cluster: RawObject, pod_spec: dict[str, Any]) -> None:
    """Guarantee 7 for a worker pod spec."""
    if is_autoscaling_v2(cluster):
        pod_spec["restartPolicy"] = "Never"


def autoscaling_problems(cluster: RawObject) -> list[tuple[str, str]]:
    """Guarantee 9: (field path, message) pairs, in a stable order."""
    spec = raycluster_spec(cluster)
    problems = _option_problems(spec.get("autoscalerOptions"))
    enabled = is_autoscaling(cluster)
    head_env = _ray_env(mapping(spec.get("headGroupSpec")), head=True)
    v2_env = str(head_env.get(ENABLE_V2_ENV, "")).lower() in ("1", "true")
    version = autoscaler_options(cluster).get("version")
    groups = [mapping(group) for group in sequence(spec.get("workerGroupSpecs"))]
    if not enabled and v2_env:
        problems.append(
            (
                "spec.headGroupSpec.template.spec.containers",
                f"{ENABLE_V2_ENV} cannot be true while enableInTreeAutoscaling is not: set enableInTreeAutoscaling "
                "to use autoscaler v2",
            )
        )
    if enabled and version is not None and ENABLE_V2_ENV in head_env:
        problems.append(
            (
                "spec.autoscalerOptions.version",
                f"is set together with the head's env {ENABLE_V2_ENV}: set only autoscalerOptions.version",
            )
        )
    for index, group in enumerate(groups):
        path = f"spec.workerGroupSpecs[{index}]"
        if enabled and flag(group.get("suspend")):
            problems.append((f"{path}.suspend", "a worker group cannot be suspended while the autoscaler runs"))
        if group.get("idleTimeoutSeconds") is not None and version != "v2" and not v2_env:
            problems.append(
                (f"{path}.idleTimeoutSeconds", "needs autoscaler v2: set spec.autoscalerOptions.version to v2")
            )
    if enabled and version == "v2":
        parts = [("spec.headGroupSpec", mapping(spec.get("headGroupSpec")))]
        parts += [(f"spec.workerGroupSpecs[{index}]", group) for index, group in enumerate(groups)]
        for path, group in parts:
            policy = mapping(mapping(group.get("template")).get("spec")).get("restartPolicy")
            if policy not in (None, "", "Never"):
                message = f"must be Never or unset with autoscaler v2, not {policy!r}"
                problems.append((f"{path}.template.spec.restartPolicy", message))
    return problems


def _option_problems(options: object) -> list[tuple[str, str]]:
    path = "spec.autoscalerOptions"
    if options is None:
        return []
    if not isinstance(options, Mapping):
        return [(path, "must be an object")]
    problems: list[tuple[str, str]] = []
    allowed = {"version": VERSIONS, "upscalingMode": UPSCALING_MODES, "imagePullPolicy": PULL_POLICIES}
    for key, values in allowed.items():
        value = options.get(key)
        if value is not None and value not in values:
            problems.append((f"{path}.{key}", f"must be one of {', '.join(values)}, not {value!r}"))
    idle = options.get("idleTimeoutSeconds")
    if idle is not None and (not isinstance(idle, int) or isinstance(idle, bool) or not 0 <= idle <= _INT32_MAX):
        problems.append((f"{path}.idleTimeoutSeconds", f"must be a whole number of seconds >= 0, not {idle!r}"))
    if options.get("image") is not None and not isinstance(options.get("image"), str):
        problems.append((f"{path}.image", "must be a string"))
    for key in ("resources", "securityContext"):
        if options.get(key) is not None and not isinstance(options.get(key), Mapping):
            problems.append((f"{path}.{key}", "must be an object"))
    for key in ("env", "envFrom", "volumeMounts"):
        value = options.get(key)
        if value is not None and not (_is_list(value) and all(isinstance(item, Mapping) for item in value)):
            problems.append((f"{path}.{key}", "must be a list of objects"))
    for key in ("command", "args"):
        value = options.get(key)
        if value is not None and not (_is_list(value) and all(isinstance(item, str) for item in value)):
            problems.append((f"{path}.{key}", "must be a list of strings"))
    if any(mapping(item).get("name") == GENERATED_START_ENV for item in sequence(options.get("env"))):
        problems.append((f"{path}.env", f"must not set {GENERATED_START_ENV}: the operator sets it"))
    return problems


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _ray_env(group: Mapping[str, Any], *, head: bool) -> dict[str, object]:
    containers = sequence(mapping(mapping(group.get("template")).get("spec")).get("containers"))
    if not containers:
        return {}
    ray = mapping(containers[ray_container_index(containers, head=head)])
    return {str(mapping(item).get("name")): mapping(item).get("value") for item in sequence(ray.get("env"))}


def _mount_ray_logs(pod_spec: dict[str, Any], container: dict[str, Any]) -> None:
    mounts = [dict(mount) for mount in sequence(container.get("volumeMounts")) if isinstance(mount, Mapping)]
    if any(mount.get("mountPath") == RAY_LOGS_PATH for mount in mounts):
        return
    volumes = [dict(volume) for volume in sequence(pod_spec.get("volumes")) if isinstance(volume, Mapping)]
    if not any(volume.get("name") == RAY_LOGS_VOLUME for volume in volumes):
        volumes.append({"name": RAY_LOGS_VOLUME, "emptyDir": {}})
        pod_spec["volumes"] = volumes
    mounts.append({"name": RAY_LOGS_VOLUME, "mountPath": RAY_LOGS_PATH})
    container["volumeMounts"] = mounts


def _field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}
