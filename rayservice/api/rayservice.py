"""The RayService kind: spec (KubeRay v1.7 compatible, plus the alpha serve forms) and status, as pydantic models.

Guarantees:
1. ``RayServiceSpec`` accepts every spec field of KubeRay v1.7's RayService under its exact YAML name, and the
   legacy single-application ``serveConfig``, also under its alpha name ``serveDeploymentGraphConfig``; it
   renders that form back as ``serveConfig``. Anything else is rejected.
2. Setting both ``serveConfig`` and ``serveDeploymentGraphConfig``, or ``serveConfigV2`` together with either,
   is a validation error whose message names both fields.
3. ``serveConfigV2`` and the legacy YAML-string fields (``runtimeEnv``, ``userConfig``, ``autoscalingConfig``,
   ``resources``) are kept as the strings the user wrote; they are parsed where they are used.
4. Defaults: ``rayClusterDeletionDelaySeconds`` 60, ``excludeHeadPodFromServeSvc`` false,
   ``clusterUpgradeOptions.maxSurgePercent`` 100; an unset ``upgradeStrategy.type`` means ``NewCluster``
   (``upgrade_type``). The unhealthy thresholds have no default: unset means the check is off.
5. ``RayServiceStatus`` has exactly the fields of DESIGN §3: serviceStatus, conditions, active and pending
   cluster statuses (cluster name, cluster status, applications with their deployments), numServeEndpoints,
   observedGeneration, lastUpdateTime; plus our extension's ``rollout`` (the rollout under way and its
   deadline) and ``failedRollout`` (the rollout given up).
6. ``rolloutPolicy`` (our extension; absent: KubeRay's behaviour) refuses a ``timeoutSeconds`` below 1 and an
   ``onFailure`` other than ``Rollback`` or ``Wait``, in the schema too; ``onFailure`` defaults to ``Rollback``
   and ``timeoutSeconds`` to 900.

Not guaranteed: that ``serveConfigV2`` parses, or that the legacy form translates to a valid Serve config; the
reconciler checks both and reports ``ValidationFailed``.

Pure: no I/O; values in, values out.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import AliasChoices, Field, model_validator

from rayservice.api.common import (
    API_VERSION_V1,
    INT64,
    LIST_MAP_BY_TYPE,
    Condition,
    KubeTime,
    ObjectMeta,
    SpecModel,
    StatusModel,
)
from rayservice.api.raycluster import RayClusterSpec, RayClusterStatus

__all__ = [
    "CONDITION_READY",
    "CONDITION_UPGRADE_IN_PROGRESS",
    "SERVICE_STATUS_RUNNING",
    "ClusterUpgradeOptions",
    "FailedRollout",
    "RayActorOptions",
    "RayService",
    "RayServiceClusterStatus",
    "RayServiceSpec",
    "RayServiceStatus",
    "RayServiceUpgradeStrategy",
    "Rollout",
    "RolloutFailureAction",
    "RolloutPolicy",
    "ServeApplicationStatus",
    "ServeConfigSpec",
    "ServeDeploymentGraphSpec",
    "ServeDeploymentStatus",
    "UpgradeType",
]

CONDITION_READY: Final = "Ready"
CONDITION_UPGRADE_IN_PROGRESS: Final = "UpgradeInProgress"
SERVICE_STATUS_RUNNING: Final = "Running"

UpgradeType = Literal["NewCluster", "None", "NewClusterWithIncrementalUpgrade"]
RolloutFailureAction = Literal["Rollback", "Wait"]

_LEGACY_NAMES: Final = ("serveConfig", "serveDeploymentGraphConfig")


# ---- spec: upgrades ------------------------------------------------------------------------------------------


class ClusterUpgradeOptions(SpecModel):
    """How a NewClusterWithIncrementalUpgrade upgrade moves traffic (through the Gateway API)."""

    max_surge_percent: int = Field(100, alias="maxSurgePercent", ge=0, le=100)
    """Capacity the new cluster scales up to per step, in percent of the old one."""
    step_size_percent: int = Field(alias="stepSizePercent", ge=0, le=100)
    """Traffic moved to the new cluster per step, in percent."""
    interval_seconds: int = Field(alias="intervalSeconds", ge=0)
    """Seconds between two steps."""
    gateway_class_name: str = Field(alias="gatewayClassName")
    """The GatewayClass installed by the cluster administrator."""


class RayServiceUpgradeStrategy(SpecModel):
    """What happens when ``rayClusterConfig`` changes."""

    type: UpgradeType | None = None
    """``NewCluster`` (default): zero-downtime upgrade through a new cluster; ``None``: keep the cluster (Serve
    changes still apply in place); ``NewClusterWithIncrementalUpgrade``: move traffic step by step."""
    cluster_upgrade_options: ClusterUpgradeOptions | None = Field(None, alias="clusterUpgradeOptions")
    """Options of the incremental upgrade."""


class RolloutPolicy(SpecModel):
    """How long a rollout (a pending cluster, or an in-place Serve update) may take, and what happens after."""

    timeout_seconds: int = Field(900, alias="timeoutSeconds", ge=1)
    """Seconds a pending cluster (from its creation), or an in-place Serve update (from its first submission),
    has to serve the desired config with every application RUNNING."""
    on_failure: RolloutFailureAction = Field("Rollback", alias="onFailure")
    """``Rollback`` (default): delete the pending cluster, or submit the last good Serve config again;
    ``Wait``: keep trying and only report the failure."""


# ---- spec: the legacy single-application serve config ---------------------------------------------------------


class RayActorOptions(SpecModel):
    """Ray actor options of one deployment's replicas (legacy form)."""

    runtime_env: str | None = Field(None, alias="runtimeEnv")
    """A YAML runtime_env for the replicas."""
    num_cpus: float | None = Field(None, alias="numCpus", ge=0)
    """CPUs per replica (Ray's default is 1: set it on small clusters)."""
    num_gpus: float | None = Field(None, alias="numGpus", ge=0)
    """GPUs per replica."""
    memory: int | None = Field(None, ge=0, json_schema_extra=INT64)
    """Heap memory per replica, in bytes."""
    object_store_memory: int | None = Field(None, alias="objectStoreMemory", ge=0, json_schema_extra=INT64)
    """Object store memory per replica, in bytes."""
    resources: str | None = None
    """Custom Ray resources per replica, as a YAML mapping."""
    accelerator_type: str | None = Field(None, alias="acceleratorType")
    """Required accelerator type, e.g. ``A100``."""


class ServeConfigSpec(SpecModel):
    """One deployment of the legacy single application."""

    name: str
    """The deployment's name in the application's code."""
    num_replicas: int | None = Field(None, alias="numReplicas", ge=0)
    """Number of replicas."""
    route_prefix: str | None = Field(None, alias="routePrefix")
    """HTTP route of the application; set on the ingress deployment."""
    max_concurrent_queries: int | None = Field(None, alias="maxConcurrentQueries", ge=0)
    """Ongoing requests per replica (Ray Serve's ``max_ongoing_requests``)."""
    user_config: str | None = Field(None, alias="userConfig")
    """A YAML mapping passed to the deployment's ``reconfigure``."""
    autoscaling_config: str | None = Field(None, alias="autoscalingConfig")
    """A YAML mapping of Serve autoscaling settings."""
    graceful_shutdown_wait_loop_s: float | None = Field(None, alias="gracefulShutdownWaitLoopS", ge=0)
    """Seconds between checks for pending requests while a replica shuts down."""
    graceful_shutdown_timeout_s: float | None = Field(None, alias="gracefulShutdownTimeoutS", ge=0)
    """Seconds a shutting-down replica may take before it is killed."""
    health_check_period_s: float | None = Field(None, alias="healthCheckPeriodS", ge=0)
    """Seconds between health checks of a replica."""
    health_check_timeout_s: float | None = Field(None, alias="healthCheckTimeoutS", ge=0)
    """Seconds a health check may take."""
    ray_actor_options: RayActorOptions | None = Field(None, alias="rayActorOptions")
    """Ray actor options of the replicas."""


class ServeDeploymentGraphSpec(SpecModel):
    """The legacy single-application serve config (``serveConfig``, alpha name ``serveDeploymentGraphConfig``)."""

    import_path: str = Field(alias="importPath")
    """``module.attribute`` of the application, e.g. ``fruit.deployment_graph``."""
    runtime_env: str | None = Field(None, alias="runtimeEnv")
    """A YAML runtime_env for the application (``working_dir`` must be a URI)."""
    deployments: list[ServeConfigSpec] = Field(default_factory=list)
    """Per-deployment overrides."""
    port: int | None = Field(None, ge=1, le=65535)
    """The Serve HTTP port."""


# ---- spec ----------------------------------------------------------------------------------------------------


class RayServiceSpec(SpecModel):
    """The desired service: a Ray cluster spec plus a Ray Serve config."""

    serve_config_v2: str | None = Field(None, alias="serveConfigV2")
    """A YAML Ray Serve multi-application config (``applications: [...]``, ``http_options``, ...)."""
    serve_config: ServeDeploymentGraphSpec | None = Field(
        None,
        validation_alias=AliasChoices(*_LEGACY_NAMES),
        serialization_alias="serveConfig",
    )
    """The legacy single-application config (alpha name: ``serveDeploymentGraphConfig``); not with
    ``serveConfigV2``."""
    ray_cluster_config: RayClusterSpec = Field(alias="rayClusterConfig")
    """The spec of the RayClusters made for this service."""
    upgrade_strategy: RayServiceUpgradeStrategy | None = Field(None, alias="upgradeStrategy")
    """What happens when ``rayClusterConfig`` changes."""
    ray_cluster_deletion_delay_seconds: int = Field(60, alias="rayClusterDeletionDelaySeconds", ge=0)
    """Seconds a replaced cluster keeps running after traffic moved away from it."""
    service_unhealthy_second_threshold: int | None = Field(None, alias="serviceUnhealthySecondThreshold", ge=0)
    """Replace the cluster when Serve applications stay unhealthy this long; unset: never."""
    deployment_unhealthy_second_threshold: int | None = Field(None, alias="deploymentUnhealthySecondThreshold", ge=0)
    """Replace the cluster when the dashboard stays unreachable or nothing is deployed this long; unset: never."""
    serve_service: dict[str, Any] | None = Field(None, alias="serveService")
    """A core/v1 Service template for the ``<name>-serve-svc`` Service."""
    exclude_head_pod_from_serve_svc: bool = Field(False, alias="excludeHeadPodFromServeSvc")
    """Keep the head pod out of the serve Service's endpoints."""
    rollout_policy: RolloutPolicy | None = Field(None, alias="rolloutPolicy")
    """A deadline and automatic rollback for cluster upgrades and in-place Serve updates (our extension);
    unset: no deadline, as in KubeRay."""
    suspend: bool | None = None
    """Delete the service's clusters while true."""
    managed_by: str | None = Field(None, alias="managedBy")
    """The controller that reconciles this service; empty means this operator."""

    @model_validator(mode="before")
    @classmethod
    def _one_legacy_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and all(name in data for name in _LEGACY_NAMES):
            raise ValueError("set serveConfig or its alpha name serveDeploymentGraphConfig, not both")
        return data

    @model_validator(mode="after")
    def _one_serve_form(self) -> RayServiceSpec:
        if self.serve_config_v2 is not None and self.serve_config is not None:
            raise ValueError("set serveConfigV2 or the legacy serveConfig (serveDeploymentGraphConfig), not both")
        return self

    @property
    def upgrade_type(self) -> UpgradeType:
        """The upgrade strategy in effect: ``NewCluster`` unless the spec says otherwise."""
        if self.upgrade_strategy is None or self.upgrade_strategy.type is None:
            return "NewCluster"
        return self.upgrade_strategy.type


# ---- status --------------------------------------------------------------------------------------------------


class ServeDeploymentStatus(StatusModel):
    """One Serve deployment as the Ray dashboard reports it."""

    status: str = ""
    """UPDATING, HEALTHY, UNHEALTHY, DEPLOY_FAILED, UPSCALING or DOWNSCALING."""
    message: str = ""
    """Ray's explanation of the status."""
    health_last_update_time: KubeTime | None = Field(None, alias="healthLastUpdateTime")
    """Last time the deployment was seen healthy, or first seen unhealthy."""


class ServeApplicationStatus(StatusModel):
    """One Serve application as the Ray dashboard reports it."""

    status: str = ""
    """NOT_STARTED, DEPLOYING, DEPLOY_FAILED, RUNNING, UNHEALTHY or DELETING."""
    message: str = ""
    """Ray's explanation of the status."""
    health_last_update_time: KubeTime | None = Field(None, alias="healthLastUpdateTime")
    """Last time the application was seen healthy, or first seen unhealthy."""
    serve_deployment_statuses: dict[str, ServeDeploymentStatus] = Field(
        default_factory=dict, alias="serveDeploymentStatuses"
    )
    """Deployment name -> its status."""


class RayServiceClusterStatus(StatusModel):
    """One of the service's clusters (active or pending) and what it serves."""

    ray_cluster_name: str = Field("", alias="rayClusterName")
    """The RayCluster's name."""
    ray_cluster_status: RayClusterStatus | None = Field(None, alias="rayClusterStatus")
    """A copy of the RayCluster's status."""
    application_statuses: dict[str, ServeApplicationStatus] = Field(default_factory=dict, alias="applicationStatuses")
    """Application name -> its status."""
    target_capacity: int | None = Field(None, alias="targetCapacity", ge=0, le=100)
    """``NewClusterWithIncrementalUpgrade``: the Serve ``target_capacity`` (percent) this cluster runs with."""
    traffic_routed_percent: int | None = Field(None, alias="trafficRoutedPercent", ge=0, le=100)
    """``NewClusterWithIncrementalUpgrade``: this cluster's weight (percent) on the RayService's HTTPRoute."""
    last_traffic_migrated_time: KubeTime | None = Field(None, alias="lastTrafficMigratedTime")
    """``NewClusterWithIncrementalUpgrade``: when ``trafficRoutedPercent`` last changed."""


class Rollout(StatusModel):
    """The rollout under way, as ``rolloutPolicy`` times it: what it rolls out and by when it must serve."""

    kind: Literal["Cluster", "Serve"] = "Cluster"
    """``Cluster``: a pending cluster; ``Serve``: an in-place Serve update of the active cluster."""
    ray_cluster_name: str = Field("", alias="rayClusterName")
    """The RayCluster the rollout is on."""
    cluster_config_hash: str = Field("", alias="clusterConfigHash")
    """The hash of the ``rayClusterConfig`` rolled out."""
    serve_config_hash: str = Field("", alias="serveConfigHash")
    """The hash of the Serve config rolled out."""
    retry_token: str = Field("", alias="retryToken")
    """The value of the ``rayservice.ray.io/retry-rollout`` annotation when the rollout started."""
    start_time: KubeTime | None = Field(None, alias="startTime")
    """When the rollout started (the pending cluster's creation, or the first pass that saw the new config)."""
    deadline: KubeTime | None = None
    """``startTime`` + ``timeoutSeconds``: not serving by then, the rollout is given up."""


class FailedRollout(StatusModel):
    """A rollout given up: the same spec is not tried again until it changes or a retry is asked for."""

    kind: Literal["Cluster", "Serve"] = "Cluster"
    """``Cluster``: a pending cluster; ``Serve``: an in-place Serve update of the active cluster."""
    ray_cluster_name: str = Field("", alias="rayClusterName")
    """The RayCluster the rollout was on."""
    cluster_config_hash: str = Field("", alias="clusterConfigHash")
    """The hash of the ``rayClusterConfig`` that failed."""
    serve_config_hash: str = Field("", alias="serveConfigHash")
    """The hash of the Serve config that failed."""
    retry_token: str = Field("", alias="retryToken")
    """The value of the ``rayservice.ray.io/retry-rollout`` annotation when it failed."""
    reason: str = ""
    """``Timeout`` (not serving within ``timeoutSeconds``) or ``DeployFailed`` (an application DEPLOY_FAILED
    longer than the grace period)."""
    message: str = ""
    """What went wrong, with Ray's message."""
    action: str = ""
    """``RolledBack``, ``Waiting``, or ``NothingToRollBackTo`` (no Serve config known to have run)."""
    time: KubeTime | None = None
    """When the rollout was given up."""


class RayServiceStatus(StatusModel):
    """What the operator observed of a RayService."""

    service_status: str = Field("", alias="serviceStatus")
    """``Running`` while the service serves traffic, empty otherwise."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=LIST_MAP_BY_TYPE)
    """``Ready`` and ``UpgradeInProgress``."""
    active_service_status: RayServiceClusterStatus | None = Field(None, alias="activeServiceStatus")
    """The cluster the Services point at."""
    pending_service_status: RayServiceClusterStatus | None = Field(None, alias="pendingServiceStatus")
    """The cluster being prepared to replace the active one."""
    num_serve_endpoints: int = Field(0, alias="numServeEndpoints", ge=0)
    """Ready pods behind the serve Service."""
    observed_generation: int = Field(0, alias="observedGeneration", ge=0, json_schema_extra=INT64)
    """The ``metadata.generation`` this status was computed from."""
    last_update_time: KubeTime | None = Field(None, alias="lastUpdateTime")
    """When the operator last changed this status."""
    rollout: Rollout | None = None
    """The rollout under way, timed by ``spec.rolloutPolicy``."""
    failed_rollout: FailedRollout | None = Field(None, alias="failedRollout")
    """The last rollout given up for the current spec, under ``spec.rolloutPolicy``."""


# ---- the object ----------------------------------------------------------------------------------------------


class RayService(SpecModel):
    """A RayService object as the API server serves it."""

    api_version: str = Field(API_VERSION_V1, alias="apiVersion")
    """``ray.io/v1`` or ``ray.io/v1alpha1``."""
    kind: Literal["RayService"] = "RayService"
    """Always ``RayService``."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""
    spec: RayServiceSpec
    """The desired service."""
    status: RayServiceStatus | None = None
    """What the operator observed; written through the status subresource only."""
