"""The RayCluster kind: spec (KubeRay v1.7 compatible) and status, as pydantic models.

Guarantees:
1. ``RayClusterSpec`` accepts every spec field of KubeRay v1.7's RayCluster, plus ``headGroupSpec.replicas`` of
   the v0.x alpha manifests, under its exact YAML name; anything else is rejected.
2. Pod templates, the head Service template, ingress options, autoscaler options, history-server options,
   network policy and GCS storage are free-form (``dict[str, Any]``): kept as written, never typed, so any
   Kubernetes or KubeRay version of those objects is accepted.
3. Defaults are KubeRay's: a worker group has ``replicas`` 0, ``minReplicas`` 0, ``maxReplicas`` 2147483647 and
   ``numOfHosts`` 1; the CRD applies the same defaults on the API server.
4. ``RayClusterStatus`` has exactly the fields of DESIGN §3 (state, ready/available/desired worker replicas,
   endpoints, head, conditions, observedGeneration); counters default to 0.

Not guaranteed: cross-field rules (minReplicas <= maxReplicas, unique head/worker names, a runnable pod
template); the reconciler validates and clamps.

Pure: no I/O; values in, values out.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field
from pydantic.config import JsonDict

from rayservice.api.common import (
    API_VERSION_V1,
    INT32_MAX,
    INT64,
    LIST_MAP_BY_TYPE,
    Condition,
    ObjectMeta,
    SpecModel,
    StatusModel,
)

__all__ = [
    "CONDITION_HEAD_POD_READY",
    "CONDITION_RAY_CLUSTER_PROVISIONED",
    "STATE_READY",
    "STATE_SUSPENDED",
    "AuthOptions",
    "GcsFaultToleranceOptions",
    "HeadGroupSpec",
    "HeadInfo",
    "RayCluster",
    "RayClusterSpec",
    "RayClusterStatus",
    "RayClusterUpgradeStrategy",
    "RedisCredential",
    "ScaleStrategy",
    "TLSOptions",
    "WorkerGroupSpec",
]

CONDITION_HEAD_POD_READY: Final = "HeadPodReady"
CONDITION_RAY_CLUSTER_PROVISIONED: Final = "RayClusterProvisioned"
STATE_READY: Final = "ready"
STATE_SUSPENDED: Final = "suspended"

_LIST_MAP_BY_GROUP_NAME: Final[JsonDict] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["groupName"],
}


# ---- spec ----------------------------------------------------------------------------------------------------


class RayClusterUpgradeStrategy(SpecModel):
    """How the pods of a standalone RayCluster are replaced when its spec changes."""

    type: Literal["Recreate", "None"] | None = None
    """``Recreate`` deletes every pod before creating new ones; ``None`` never replaces running pods."""


class AuthOptions(SpecModel):
    """Authentication of the Ray cluster's endpoints."""

    enable_k8s_token_auth: bool | None = Field(None, alias="enableK8sTokenAuth")
    """Delegate token checks to the Kubernetes API server (RAY_ENABLE_K8S_TOKEN_AUTH)."""
    secret_name: str | None = Field(None, alias="secretName")
    """A Secret whose ``auth_token`` key holds the token, instead of a generated one."""
    mode: Literal["disabled", "token"] | None = None
    """``disabled`` or ``token`` (KubeRay's default)."""


class RedisCredential(SpecModel):
    """A Redis user name or password: a literal value, or where to read it from."""

    value: str | None = None
    """The credential itself."""
    value_from: dict[str, Any] | None = Field(None, alias="valueFrom")
    """A core/v1 EnvVarSource (secretKeyRef, configMapKeyRef, ...)."""


class GcsFaultToleranceOptions(SpecModel):
    """GCS fault tolerance: where the head persists cluster metadata so a new head can take over."""

    backend: Literal["redis", "rocksdb"] | None = None
    """``redis`` (external Redis, KubeRay's default) or ``rocksdb`` (a volume on the head pod)."""
    redis_username: RedisCredential | None = Field(None, alias="redisUsername")
    """The Redis user name."""
    redis_password: RedisCredential | None = Field(None, alias="redisPassword")
    """The Redis password."""
    external_storage_namespace: str | None = Field(None, alias="externalStorageNamespace")
    """The key prefix of this cluster's data in Redis."""
    redis_address: str | None = Field(None, alias="redisAddress")
    """``host:port`` of the external Redis."""
    storage: dict[str, Any] | None = None
    """The RocksDB volume (claimName, size, storageClassName, accessModes, subPath, deletionPolicy)."""


class TLSOptions(SpecModel):
    """Mutual TLS between the Ray processes."""

    enabled: bool | None = None
    """Provision certificates and enable mTLS for the cluster."""


class HeadGroupSpec(SpecModel):
    """The head pod: its template, its Service and its ``ray start`` parameters."""

    template: dict[str, Any]
    """The core/v1 PodTemplateSpec of the head pod."""
    head_service: dict[str, Any] | None = Field(None, alias="headService")
    """A core/v1 Service template for the head Service."""
    enable_ingress: bool | None = Field(None, alias="enableIngress")
    """Create an Ingress for the head Service's dashboard."""
    ingress_options: dict[str, Any] | None = Field(None, alias="ingressOptions")
    """Host, path, pathType and TLS of that Ingress."""
    resources: dict[str, str] = Field(default_factory=dict)
    """Ray logical resources of the head node (override ``rayStartParams``)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Ray node labels of the head node (also put on the pod)."""
    ray_start_params: dict[str, str] = Field(default_factory=dict, alias="rayStartParams")
    """``ray start`` flags without the dashes; the value ``"true"`` makes a bare flag."""
    service_type: str | None = Field(None, alias="serviceType")
    """The head Service's type: ClusterIP (default), NodePort or LoadBalancer."""
    replicas: int | None = Field(None, ge=0)
    """Accepted from v0.x alpha manifests and ignored: a cluster always has exactly one head pod."""


class ScaleStrategy(SpecModel):
    """Which worker pods go first when a group scales down."""

    workers_to_delete: list[str] = Field(default_factory=list, alias="workersToDelete")
    """Names of worker pods to delete; they do not count towards the group's replicas."""


class WorkerGroupSpec(SpecModel):
    """One group of identical worker pods."""

    suspend: bool | None = None
    """Delete every pod of this group while true."""
    group_name: str = Field(alias="groupName")
    """The group's name, unique within the cluster; part of its pods' names and ``ray.io/group`` label."""
    replicas: int = Field(0, ge=0)
    """Desired number of replicas, clamped to [minReplicas, maxReplicas]."""
    min_replicas: int = Field(0, alias="minReplicas", ge=0)
    """Lower bound for replicas."""
    max_replicas: int = Field(INT32_MAX, alias="maxReplicas", ge=0)
    """Upper bound for replicas."""
    idle_timeout_seconds: int | None = Field(None, alias="idleTimeoutSeconds", ge=0)
    """Seconds an idle worker of this group lives before the autoscaler (v2) removes it."""
    priority: int | None = None
    """Autoscaler (v2) preference among groups that fit the same demand; higher first."""
    resources: dict[str, str] = Field(default_factory=dict)
    """Ray logical resources of each worker (override ``rayStartParams``)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Ray node labels of each worker (also put on the pods)."""
    ray_start_params: dict[str, str] = Field(default_factory=dict, alias="rayStartParams")
    """``ray start`` flags without the dashes; the value ``"true"`` makes a bare flag."""
    template: dict[str, Any]
    """The core/v1 PodTemplateSpec of each worker pod."""
    scale_strategy: ScaleStrategy = Field(default_factory=ScaleStrategy, alias="scaleStrategy")
    """Which pods to remove first."""
    num_of_hosts: int = Field(1, alias="numOfHosts", ge=1)
    """Pods per replica (multi-host replicas, e.g. TPU slices)."""


class RayClusterSpec(SpecModel):
    """The desired Ray cluster: one head group and any number of worker groups."""

    upgrade_strategy: RayClusterUpgradeStrategy | None = Field(None, alias="upgradeStrategy")
    """How pods are replaced when the spec changes."""
    auth_options: AuthOptions | None = Field(None, alias="authOptions")
    """Authentication of the cluster's endpoints."""
    suspend: bool | None = None
    """Delete every pod of the cluster while true."""
    managed_by: str | None = Field(None, alias="managedBy")
    """The controller that reconciles this cluster; empty means this operator."""
    autoscaler_options: dict[str, Any] | None = Field(None, alias="autoscalerOptions")
    """Settings of the Ray autoscaler sidecar (image, resources, env, upscalingMode, idleTimeoutSeconds, ...)."""
    head_service_annotations: dict[str, str] = Field(default_factory=dict, alias="headServiceAnnotations")
    """Annotations put on the head Service."""
    enable_in_tree_autoscaling: bool | None = Field(None, alias="enableInTreeAutoscaling")
    """Run the Ray autoscaler as a sidecar of the head pod."""
    gcs_fault_tolerance_options: GcsFaultToleranceOptions | None = Field(None, alias="gcsFaultToleranceOptions")
    """GCS fault tolerance."""
    history_server_options: dict[str, Any] | None = Field(None, alias="historyServerOptions")
    """Settings of the history-server collector sidecar."""
    network_policy: dict[str, Any] | None = Field(None, alias="networkPolicy")
    """NetworkPolicies to isolate the cluster's pods (mode, head, worker, workerGroups)."""
    tls_options: TLSOptions | None = Field(None, alias="tlsOptions")
    """Mutual TLS between Ray processes."""
    head_group_spec: HeadGroupSpec = Field(alias="headGroupSpec")
    """The head pod."""
    ray_version: str | None = Field(None, alias="rayVersion")
    """The Ray version of the images, e.g. ``2.60.0``."""
    worker_group_specs: list[WorkerGroupSpec] = Field(
        default_factory=list,
        alias="workerGroupSpecs",
        json_schema_extra=_LIST_MAP_BY_GROUP_NAME,
    )
    """The worker groups; group names are unique."""


# ---- status --------------------------------------------------------------------------------------------------


class HeadInfo(StatusModel):
    """Where the head pod and its Service are."""

    pod_ip: str = Field("", alias="podIP")
    """The head pod's IP."""
    pod_name: str = Field("", alias="podName")
    """The head pod's name."""
    service_ip: str = Field("", alias="serviceIP")
    """The head Service's cluster IP."""
    service_name: str = Field("", alias="serviceName")
    """The head Service's name."""


class RayClusterStatus(StatusModel):
    """What the operator observed of a RayCluster."""

    state: str = ""
    """``ready`` once the head and all desired workers run, ``suspended`` while suspended, empty while starting."""
    ready_worker_replicas: int = Field(0, alias="readyWorkerReplicas", ge=0)
    """Worker pods whose Ready condition is true."""
    available_worker_replicas: int = Field(0, alias="availableWorkerReplicas", ge=0)
    """Worker pods that are running."""
    desired_worker_replicas: int = Field(0, alias="desiredWorkerReplicas", ge=0)
    """Sum over groups of clamped replicas times numOfHosts."""
    min_worker_replicas: int = Field(0, alias="minWorkerReplicas", ge=0, json_schema_extra=INT64)
    """Sum over groups of minReplicas times numOfHosts."""
    max_worker_replicas: int = Field(0, alias="maxWorkerReplicas", ge=0, json_schema_extra=INT64)
    """Sum over groups of maxReplicas times numOfHosts."""
    endpoints: dict[str, str] = Field(default_factory=dict)
    """Port name -> port of the head Service (client, dashboard, gcs, serve, ...)."""
    head: HeadInfo | None = None
    """The head pod and Service."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=LIST_MAP_BY_TYPE)
    """``HeadPodReady`` and ``RayClusterProvisioned``."""
    observed_generation: int = Field(0, alias="observedGeneration", ge=0, json_schema_extra=INT64)
    """The ``metadata.generation`` this status was computed from."""


# ---- the object ----------------------------------------------------------------------------------------------


class RayCluster(SpecModel):
    """A RayCluster object as the API server serves it."""

    api_version: str = Field(API_VERSION_V1, alias="apiVersion")
    """``ray.io/v1`` or ``ray.io/v1alpha1``."""
    kind: Literal["RayCluster"] = "RayCluster"
    """Always ``RayCluster``."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""
    spec: RayClusterSpec
    """The desired cluster."""
    status: RayClusterStatus | None = None
    """What the operator observed; written through the status subresource only."""
