"""GCS fault tolerance with an external Redis: what it adds to the pods, and the specs it refuses.

Built as KubeRay v1.7 builds it (``configureGCSFaultTolerance`` / ``configureRedisFT`` in
``ray-operator/controllers/ray/common/pod.go``, the checks of ``ValidateRayClusterSpec``).

Guarantees:
1. ``is_gcs_ft_enabled``: true when ``spec.gcsFaultToleranceOptions`` is set or the annotation
   ``ray.io/ft-enabled`` is ``true`` (any case), the legacy form.
2. ``head_annotations``: with GCS FT the head pod carries ``ray.io/ft-enabled: "true"`` and
   ``ray.io/external-storage-namespace``: ``externalStorageNamespace``, else the cluster's annotation of that
   name, else the cluster's UID. Without it, none (KubeRay writes ``ray.io/ft-enabled: "false"``; its absence
   means the same, and adding it would change every existing head pod).
3. ``head_env``: with GCS FT the head's Ray container gets ``RAY_external_storage_namespace`` (the namespace of
   guarantee 2); with the options form also ``RAY_REDIS_ADDRESS``, and ``REDIS_USERNAME`` / ``REDIS_PASSWORD``
   as ``value`` or ``valueFrom`` exactly as given; with the legacy form a ``redis-password`` start parameter is
   copied into ``REDIS_PASSWORD`` (the cleanup Job needs it). ``worker_env``: with GCS FT each worker's Ray
   container gets ``RAY_gcs_rpc_server_reconnect_timeout_s=600``, so a worker waits out a head restart
   instead of exiting after Ray's default 60 s. Env the user set wins (``merge_env``).
4. ``add_head_params``: with the options form and a password, the head's start parameter
   ``redis-password=$REDIS_PASSWORD`` (and ``redis-username=$REDIS_USERNAME`` with a user name), expanded by the
   shell from the env of guarantee 3, so the secret never appears in the pod's command.
5. ``gcs_ft_problems`` reports KubeRay's conflicting forms, with KubeRay's messages: the annotation together
   with the options; ``RAY_REDIS_ADDRESS`` in the head's env without GCS FT; with the options, a
   ``redis-password`` start parameter, ``REDIS_PASSWORD`` or ``RAY_REDIS_ADDRESS`` in the head's env, the
   ``ray.io/external-storage-namespace`` annotation, or ``storage`` (a RocksDB field) with the Redis backend;
   a ``redis-username`` start parameter or ``REDIS_USERNAME`` env in any case; and the ``rocksdb`` backend,
   which this operator does not build (KubeRay gates it behind a feature gate that is off by default).

Not guaranteed: anything about the Redis itself (reachability, credentials); Ray reports those.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.controller.objects import RawObject, mapping, metadata, sequence, spec_of

FT_ENABLED_ANNOTATION: Final = "ray.io/ft-enabled"
STORAGE_NAMESPACE_ANNOTATION: Final = "ray.io/external-storage-namespace"
RAY_REDIS_ADDRESS: Final = "RAY_REDIS_ADDRESS"
REDIS_PASSWORD: Final = "REDIS_PASSWORD"
REDIS_USERNAME: Final = "REDIS_USERNAME"
STORAGE_NAMESPACE_ENV: Final = "RAY_external_storage_namespace"
RECONNECT_TIMEOUT_ENV: Final = "RAY_gcs_rpc_server_reconnect_timeout_s"
WORKER_RECONNECT_TIMEOUT_S: Final = "600"

_ROCKSDB: Final = "rocksdb"


def is_gcs_ft_enabled(cluster: RawObject) -> bool:
    """Guarantee 1."""
    annotation = str(mapping(metadata(cluster).get("annotations")).get(FT_ENABLED_ANNOTATION, ""))
    return annotation.lower() == "true" or _options(cluster) is not None


def storage_namespace(cluster: RawObject) -> str:
    """The key prefix of this cluster's data in Redis (guarantee 2)."""
    meta = metadata(cluster)
    found = str(meta.get("uid") or "")
    annotations = mapping(meta.get("annotations"))
    if STORAGE_NAMESPACE_ANNOTATION in annotations:
        found = str(annotations[STORAGE_NAMESPACE_ANNOTATION])
    options = _options(cluster)
    if options is not None and options.get("externalStorageNamespace"):
        found = str(options["externalStorageNamespace"])
    return found


def head_annotations(cluster: RawObject) -> dict[str, str]:
    """Guarantee 2."""
    if not is_gcs_ft_enabled(cluster):
        return {}
    return {FT_ENABLED_ANNOTATION: "true", STORAGE_NAMESPACE_ANNOTATION: storage_namespace(cluster)}


def head_env(cluster: RawObject, head_params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Guarantee 3, the head's Ray container; ``head_params`` are the head group's own ``rayStartParams``."""
    if not is_gcs_ft_enabled(cluster):
        return []
    env: list[dict[str, Any]] = [{"name": STORAGE_NAMESPACE_ENV, "value": storage_namespace(cluster)}]
    options = _options(cluster)
    if options is None:
        password = head_params.get("redis-password")
        if isinstance(password, str):
            env.append({"name": REDIS_PASSWORD, "value": password})
        return env
    env.append({"name": RAY_REDIS_ADDRESS, "value": str(options.get("redisAddress") or "")})
    for field, name in (("redisUsername", REDIS_USERNAME), ("redisPassword", REDIS_PASSWORD)):
        credential = options.get(field)
        if isinstance(credential, Mapping):
            env.append(_credential_env(name, credential))
    return env


def worker_env(cluster: RawObject) -> list[dict[str, Any]]:
    """Guarantee 3, a worker's Ray container."""
    if not is_gcs_ft_enabled(cluster):
        return []
    return [{"name": RECONNECT_TIMEOUT_ENV, "value": WORKER_RECONNECT_TIMEOUT_S}]


def add_head_params(cluster: RawObject, params: dict[str, str]) -> None:
    """Guarantee 4: set the head's Redis credential start parameters in place."""
    options = _options(cluster) if is_gcs_ft_enabled(cluster) else None
    if options is None:
        return
    if isinstance(options.get("redisUsername"), Mapping):
        params["redis-username"] = f"${REDIS_USERNAME}"
    if isinstance(options.get("redisPassword"), Mapping):
        params["redis-password"] = f"${REDIS_PASSWORD}"


def gcs_ft_problems(cluster: RawObject) -> list[tuple[str, str]]:
    """Guarantee 5: ``(field, message)`` pairs, the first conflict KubeRay would report and any others."""
    problems: list[tuple[str, str]] = []
    annotations = mapping(metadata(cluster).get("annotations"))
    options = _options(cluster)
    head = mapping(spec_of(cluster).get("headGroupSpec"))
    params = mapping(head.get("rayStartParams"))
    env = _head_env_names(head)
    if annotations.get(FT_ENABLED_ANNOTATION) and options is not None:
        problems.append(
            (
                f"metadata.annotations[{FT_ENABLED_ANNOTATION}]",
                f"{FT_ENABLED_ANNOTATION} annotation and GcsFaultToleranceOptions are both set. "
                "Please use only GcsFaultToleranceOptions to configure GCS fault tolerance",
            )
        )
    if not is_gcs_ft_enabled(cluster) and RAY_REDIS_ADDRESS in env:
        problems.append(
            (
                "spec.headGroupSpec.template.spec.containers.env",
                f"{RAY_REDIS_ADDRESS} is set which implicitly enables GCS fault tolerance, but "
                "GcsFaultToleranceOptions is not set. Please set GcsFaultToleranceOptions to enable GCS fault "
                "tolerance",
            )
        )
    if options is not None:
        problems += _options_problems(options, params, env, annotations)
    if params.get("redis-username") or REDIS_USERNAME in env:
        problems.append(
            (
                "spec.headGroupSpec",
                "cannot set redis username in rayStartParams or environment variables - use "
                "GcsFaultToleranceOptions.RedisUsername instead",
            )
        )
    return problems


def _options_problems(
    options: Mapping[str, Any], params: Mapping[str, Any], env: set[str], annotations: Mapping[str, Any]
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    instead = "is enabled - use GcsFaultToleranceOptions"
    if params.get("redis-password"):
        problems.append(
            (
                "spec.headGroupSpec.rayStartParams.redis-password",
                f"cannot set `redis-password` in rayStartParams when GcsFaultToleranceOptions {instead}"
                ".RedisPassword instead",
            )
        )
    container_env = "spec.headGroupSpec.template.spec.containers.env"
    if REDIS_PASSWORD in env:
        problems.append(
            (
                container_env,
                f"cannot set `REDIS_PASSWORD` env var in head Pod when GcsFaultToleranceOptions {instead}"
                ".RedisPassword instead",
            )
        )
    if RAY_REDIS_ADDRESS in env:
        problems.append(
            (
                container_env,
                f"cannot set `RAY_REDIS_ADDRESS` env var in head Pod when GcsFaultToleranceOptions {instead}"
                ".RedisAddress instead",
            )
        )
    if annotations.get(STORAGE_NAMESPACE_ANNOTATION):
        problems.append(
            (
                f"metadata.annotations[{STORAGE_NAMESPACE_ANNOTATION}]",
                f"cannot set `{STORAGE_NAMESPACE_ANNOTATION}` annotation when GcsFaultToleranceOptions {instead}"
                ".ExternalStorageNamespace instead",
            )
        )
    if options.get("backend") == _ROCKSDB:
        problems.append(
            (
                "spec.gcsFaultToleranceOptions.backend",
                "the embedded RocksDB GCS fault tolerance backend (GcsFaultToleranceOptions.Backend: 'rocksdb') "
                "requires the GCSFaultToleranceEmbeddedStorage feature gate, which this operator does not enable",
            )
        )
    elif options.get("storage") is not None:
        problems.append(
            (
                "spec.gcsFaultToleranceOptions.storage",
                "cannot set GcsFaultToleranceOptions.Storage when backend is 'redis' - it only applies to the "
                "'rocksdb' backend",
            )
        )
    return problems


def _options(cluster: RawObject) -> Mapping[str, Any] | None:
    options = spec_of(cluster).get("gcsFaultToleranceOptions")
    return options if isinstance(options, Mapping) else None


def _credential_env(name: str, credential: Mapping[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = {"name": name}
    if credential.get("value") is not None:
        env["value"] = str(credential["value"])
    if isinstance(credential.get("valueFrom"), Mapping):
        env["valueFrom"] = dict(credential["valueFrom"])
    return env


def _head_env_names(head: Mapping[str, Any]) -> set[str]:
    containers: Sequence[Any] = sequence(mapping(mapping(head.get("template")).get("spec")).get("containers"))
    if not containers:
        return set()
    # KubeRay reads the container at index 0 here (RayContainerIndex), not the one named ray-head.
    first = mapping(containers[0])
    return {str(mapping(item).get("name")) for item in sequence(first.get("env"))}
