"""Ray token authentication (``spec.authOptions``): what it adds to the pods, the Secret the operator makes, and
the specs it refuses.

Built as KubeRay v1.7 builds it (``configureTokenAuth``, ``SetContainerTokenAuthEnvVars`` and
``AddRayTokenVolume`` in ``ray-operator/controllers/ray/common/pod.go``; ``reconcileAuthSecret`` and
``createAuthSecret`` in ``raycluster_controller.go``; the ``authOptions`` checks of ``ValidateRayClusterSpec``
and ``ValidateRayServiceSpec`` in ``utils/validation.go``).

Guarantees:
1. ``is_token_auth``: ``authOptions.mode`` is ``token``. Without it nothing here changes a pod, plans a
   Secret or reads a token (``mode: disabled`` and an absent ``authOptions`` are the same).
2. ``token_env``: the env every authenticated container gets, in KubeRay's order: ``RAY_AUTH_MODE=token``, then
   with ``enableK8sTokenAuth`` ``RAY_ENABLE_K8S_TOKEN_AUTH=true``, else ``RAY_AUTH_TOKEN`` from the key
   ``auth_token`` of the Secret ``auth_secret_name`` (a ``secretKeyRef``). A variable the container already
   sets keeps the container's value.
3. ``auth_secret_name``: ``authOptions.secretName`` when set, else the cluster's name clipped as KubeRay's
   ``CheckName`` clips it (the last 50 characters, a leading digit made ``r``).
4. ``add_to_pod`` (on a built pod spec): the Ray container gets ``token_env`` (``desired`` puts it after the GCS
   fault tolerance env, where KubeRay's ``DefaultHeadPodTemplate`` puts it), so does every init container
   named ``wait-gcs-ready`` (ours and the user's); with ``enableK8sTokenAuth`` each of them also mounts the
   volume ``ray-token`` (a projected ServiceAccount token, path ``token``) read-only at
   ``/var/run/secrets/ray.io/serviceaccount``, and the pod gets that volume unless one of that name exists.
   The autoscaler sidecar gets ``token_env`` before its ``autoscalerOptions`` env (``autoscaler``) and, with
   ``enableK8sTokenAuth``, the same mount.
5. ``generated_secret_name``: the name of the Secret the operator must make, or ``None``: only in token mode,
   without ``secretName`` and without ``enableK8sTokenAuth`` (the ServiceAccount token needs none).
   ``desired_auth_secret`` is that Secret: labelled ``ray.io/cluster: <cluster>`` (and created-by the
   operator), with the cluster's controller ownerReference, its token under ``stringData.auth_token``.
   ``new_token`` is KubeRay's: 32 random bytes from the OS's CSPRNG, base64 (standard alphabet, padded).
6. ``auth_problems`` reports, with KubeRay's messages: token mode without ``rayVersion``, with one that does
   not parse (KubeRay's ``version.ParseGeneric``: an optional ``v``, at least two dot-separated numbers) or
   one below 2.52.0; ``enableK8sTokenAuth`` below 2.55.0, together with ``secretName``, or without token
   mode. ``rayservice_auth_problems``: ``enableK8sTokenAuth`` in a RayService (its operator must call the
   dashboard with a token it can read).

Pure.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.api.labels import CREATED_BY_LABEL, CREATED_BY_VALUE, RAY_CLUSTER_LABEL
from rayservice.controller.objects import RawObject, flag, mapping, name_of, namespace_of, owner_reference, sequence
from rayservice.controller.raycluster._podspec import WAIT_FOR_GCS
from rayservice.controller.raycluster.autoscaler import AUTOSCALER_CONTAINER, check_name

MODE_TOKEN: Final = "token"
AUTH_MODE_ENV: Final = "RAY_AUTH_MODE"
AUTH_TOKEN_ENV: Final = "RAY_AUTH_TOKEN"
K8S_TOKEN_AUTH_ENV: Final = "RAY_ENABLE_K8S_TOKEN_AUTH"
TOKEN_KEY: Final = "auth_token"
TOKEN_VOLUME: Final = "ray-token"
TOKEN_MOUNT_PATH: Final = "/var/run/secrets/ray.io/serviceaccount"
MIN_TOKEN_RAY_VERSION: Final = (2, 52, 0)
MIN_K8S_TOKEN_RAY_VERSION: Final = (2, 55, 0)
TOKEN_BYTES: Final = 32

_GENERIC_VERSION: Final = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)*)(.*)$")


def auth_options(cluster: RawObject) -> Mapping[str, Any]:
    return mapping(mapping(cluster.get("spec")).get("authOptions"))


def is_token_auth(cluster: RawObject) -> bool:
    """Guarantee 1."""
    return auth_options(cluster).get("mode") == MODE_TOKEN


def is_k8s_token_auth(options: Mapping[str, Any]) -> bool:
    return flag(options.get("enableK8sTokenAuth"))


def auth_secret_name(cluster: RawObject) -> str:
    """Guarantee 3: the Secret whose ``auth_token`` the pods read (and the operator reads to call the dashboard)."""
    named = auth_options(cluster).get("secretName")
    return named if isinstance(named, str) and named else check_name(name_of(cluster))


def token_env(cluster: RawObject) -> list[dict[str, Any]]:
    """Guarantee 2, or ``[]`` without token mode."""
    if not is_token_auth(cluster):
        return []
    env: list[dict[str, Any]] = [{"name": AUTH_MODE_ENV, "value": MODE_TOKEN}]
    if is_k8s_token_auth(auth_options(cluster)):
        env.append({"name": K8S_TOKEN_AUTH_ENV, "value": "true"})
    else:
        ref = {"name": auth_secret_name(cluster), "key": TOKEN_KEY}
        env.append({"name": AUTH_TOKEN_ENV, "valueFrom": {"secretKeyRef": ref}})
    return env


def add_to_pod(cluster: RawObject, pod_spec: dict[str, Any], ray_index: int) -> None:
    """Guarantee 4 on a fresh pod spec whose Ray container is ``containers[ray_index]``."""
    env = token_env(cluster)
    if not env:
        return
    k8s = is_k8s_token_auth(auth_options(cluster))
    containers: list[dict[str, Any]] = pod_spec["containers"]
    targets = [containers[ray_index]]
    init = [dict(item) for item in sequence(pod_spec.get("initContainers")) if isinstance(item, Mapping)]
    targets += [item for item in init if item.get("name") == WAIT_FOR_GCS]
    for container in targets:
        _add_env(container, env)
        if k8s:
            _mount_token(container)
    if k8s:
        for container in containers:
            if container is not targets[0] and container.get("name") == AUTOSCALER_CONTAINER:
                _mount_token(container)  # its env came with it (``autoscaler.add_to_head``)
    if init:
        pod_spec["initContainers"] = init
    if k8s:
        volumes = [dict(volume) for volume in sequence(pod_spec.get("volumes")) if isinstance(volume, Mapping)]
        if not any(volume.get("name") == TOKEN_VOLUME for volume in volumes):
            projected = {"sources": [{"serviceAccountToken": {"path": "token"}}]}
            volumes.append({"name": TOKEN_VOLUME, "projected": projected})
        pod_spec["volumes"] = volumes


def generated_secret_name(cluster: RawObject) -> str | None:
    """Guarantee 5: the Secret the operator makes for ``cluster``, if any."""
    options = auth_options(cluster)
    if not is_token_auth(cluster) or is_k8s_token_auth(options):
        return None
    named = options.get("secretName")
    if isinstance(named, str) and named:
        return None
    return check_name(name_of(cluster))


def desired_auth_secret(cluster: RawObject, token: str) -> dict[str, Any]:
    """Guarantee 5: the generated Secret holding ``token``."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": check_name(name_of(cluster)),
            "namespace": namespace_of(cluster),
            "labels": {RAY_CLUSTER_LABEL: name_of(cluster), CREATED_BY_LABEL: CREATED_BY_VALUE},
            "ownerReferences": [owner_reference(cluster, "RayCluster")],
        },
        "stringData": {TOKEN_KEY: token},
    }


def new_token() -> str:
    """Guarantee 5: a fresh token, as KubeRay's ``generateRandomToken(32)`` makes one."""
    return base64.b64encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii")


def auth_problems(cluster: RawObject) -> list[tuple[str, str]]:
    """Guarantee 6 for a RayCluster: ``(field, message)`` pairs; KubeRay stops at the first, so there is one."""
    options = auth_options(cluster)
    k8s = is_k8s_token_auth(options)
    if not is_token_auth(cluster):
        if k8s:
            return [
                (
                    "spec.authOptions.enableK8sTokenAuth",
                    "authOptions.enableK8sTokenAuth is enabled but authOptions.mode not set to 'token'",
                )
            ]
        return []
    raw = mapping(cluster.get("spec")).get("rayVersion")
    ray_version = raw if isinstance(raw, str) else ""
    if not ray_version:
        return [
            (
                "spec.rayVersion",
                "authOptions.mode is 'token' but RayVersion was not specified. Ray version 2.52.0 or later is required",
            )
        ]
    parsed = parse_generic_version(ray_version)
    if isinstance(parsed, str):
        message = f"authOptions.mode is 'token' but RayVersion format is invalid: {ray_version}, {parsed}"
        return [("spec.rayVersion", message)]
    if _less(parsed, MIN_TOKEN_RAY_VERSION):
        return [
            ("spec.rayVersion", f"authOptions.mode is 'token' but minimum Ray version is 2.52.0, got {ray_version}")
        ]
    if k8s and _less(parsed, MIN_K8S_TOKEN_RAY_VERSION):
        return [
            (
                "spec.rayVersion",
                f"authOptions.enableK8sTokenAuth is enabled but minimum Ray version is 2.55.0, got {ray_version}",
            )
        ]
    named = options.get("secretName")
    if k8s and isinstance(named, str) and named:
        return [
            (
                "spec.authOptions.secretName",
                "authOptions.enableK8sTokenAuth is enabled and authOptions.secretName is also set",
            )
        ]
    return []


def rayservice_auth_problems(cluster_spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Guarantee 6 for a RayService's ``rayClusterConfig``."""
    if is_k8s_token_auth(mapping(cluster_spec.get("authOptions"))):
        return [
            (
                "spec.rayClusterConfig.authOptions.enableK8sTokenAuth",
                "The RayService spec is invalid: K8s token auth mode is currently not supported for RayService",
            )
        ]
    return []


def parse_generic_version(text: str) -> tuple[int, ...] | str:
    """KubeRay's ``version.ParseGeneric`` (k8s.io/apimachinery): the numbers (text after them is ignored), or
    its error message."""
    match = _GENERIC_VERSION.match(text)
    if match is None:
        return f"could not parse {_go_quote(text)} as version"
    numbers = match.group(1).split(".")
    if len(numbers) < 2:
        return f"illegal version string {_go_quote(text)}"
    if len(numbers[0]) > 1 and numbers[0].startswith("0"):
        return f"illegal zero-prefixed version component {_go_quote(numbers[0])} in {_go_quote(text)}"
    return tuple(int(number) for number in numbers)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _less(version: Sequence[int], minimum: Sequence[int]) -> bool:
    width = max(len(version), len(minimum))
    padded = tuple(version) + (0,) * (width - len(version))
    return padded < tuple(minimum) + (0,) * (width - len(minimum))


def _add_env(container: dict[str, Any], env: Sequence[Mapping[str, Any]]) -> None:
    current = [dict(item) for item in sequence(container.get("env")) if isinstance(item, Mapping)]
    taken = {item.get("name") for item in current}
    container["env"] = current + [dict(item) for item in env if item["name"] not in taken]


def _mount_token(container: dict[str, Any]) -> None:
    mounts = [dict(mount) for mount in sequence(container.get("volumeMounts")) if isinstance(mount, Mapping)]
    if not any(mount.get("name") == TOKEN_VOLUME for mount in mounts):
        mounts.append({"name": TOKEN_VOLUME, "mountPath": TOKEN_MOUNT_PATH, "readOnly": True})
    container["volumeMounts"] = mounts
