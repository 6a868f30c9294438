"""Typed views of the objects the controllers read: RayService, RayCluster, Pod, Service, EndpointSlice.

The informer caches hold objects as their JSON decodes (``Mapping[str, Any]``), which is fast and keeps every
field, but leaves mypy blind to a misspelt key. These ``TypedDict``s name the keys, camelCase as stored, and
their value types, so code that reads through a view gets them checked; nothing is copied or converted.

Guarantees:
1. Every key of a RayService or RayCluster view is a field (its wire name, the alias) of the matching pydantic
   model in ``rayservice.api``; every key of a Pod, Service, EndpointSlice or owner-reference view is a field
   of the Kubernetes API object of that kind. ``tests/unit/api/test_views.py`` walks every view against its
   model, nested views included, so a view cannot name a field the model lacks.
2. Keys are optional (``total=False``) unless the model requires the field: an object in the cache may lack
   anything the API server did not default. Required keys (``Required[...]``) are those the CRD schema
   requires, so the API server never stores an object without them.
3. The Pod and EndpointSlice views name only fields the operator's caches keep of those objects (they drop
   the rest to save memory), so a read through a view never looks for a field the cache dropped.
4. The ``as_*`` functions are casts: no copy, no validation, no I/O. The view is as trustworthy as the
   API server's schema check of the stored object, and no more: read values that feed a decision through the
   tolerant accessors, or check their type, where a wrongly typed value must not raise.

How mypy helps: ``view["spce"]`` is an error (the view has no such key); ``view.get("spce")`` types as
``object``, which is an error wherever a ``str``, ``int`` or mapping is expected. Read-only by convention:
nested values are ``Mapping`` and ``Sequence``, so a view cannot be used to change a cached object in place.

Pure: no I/O; types and casts only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Required, TypedDict, cast

__all__ = [
    "ClusterUpgradeOptionsView",
    "ConditionView",
    "ContainerPortView",
    "ContainerView",
    "EndpointConditionsView",
    "EndpointSliceView",
    "EndpointView",
    "HeadGroupSpecView",
    "HeadInfoView",
    "LoadBalancerIngressView",
    "LoadBalancerStatusView",
    "ObjectMetaView",
    "ObjectReferenceView",
    "OwnerReferenceView",
    "PodConditionView",
    "PodSpecView",
    "PodStatusView",
    "PodTemplateView",
    "PodView",
    "RayClusterSpecView",
    "RayClusterStatusView",
    "RayClusterUpgradeStrategyView",
    "RayClusterView",
    "RayServiceClusterStatusView",
    "RayServiceSpecView",
    "RayServiceStatusView",
    "RayServiceUpgradeStrategyView",
    "RayServiceView",
    "ResourceRequirementsView",
    "ScaleStrategyView",
    "ServeApplicationStatusView",
    "ServeDeploymentStatusView",
    "ServicePortView",
    "ServiceSpecView",
    "ServiceStatusView",
    "ServiceView",
    "VolumeMountView",
    "WorkerGroupSpecView",
    "as_endpoint_slice",
    "as_pod",
    "as_raycluster",
    "as_rayservice",
    "as_service",
]


# ---- metadata (metav1.ObjectMeta, rayservice.api.ObjectMeta) -----------------------------------------------


class OwnerReferenceView(TypedDict, total=False):
    apiVersion: Required[str]
    kind: Required[str]
    name: Required[str]
    uid: Required[str]
    controller: bool
    blockOwnerDeletion: bool


class ObjectMetaView(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    ownerReferences: Sequence[OwnerReferenceView]
    finalizers: Sequence[str]


class ConditionView(TypedDict, total=False):
    """A ``metav1.Condition`` (``rayservice.api.Condition``)."""

    type: Required[str]
    status: Required[str]
    reason: str
    message: str
    observedGeneration: int
    lastTransitionTime: str


# ---- Pod (core/v1), as far as the controllers read it -----------------------------------------------------


class ContainerPortView(TypedDict, total=False):
    name: str
    containerPort: Required[int]
    protocol: str


class ResourceRequirementsView(TypedDict, total=False):
    requests: Mapping[str, str | int]
    limits: Mapping[str, str | int]


class VolumeMountView(TypedDict, total=False):
    name: Required[str]
    mountPath: Required[str]


class ContainerView(TypedDict, total=False):
    name: Required[str]
    image: str
    command: Sequence[str]
    args: Sequence[str]
    env: Sequence[Mapping[str, Any]]
    ports: Sequence[ContainerPortView]
    resources: ResourceRequirementsView
    volumeMounts: Sequence[VolumeMountView]
    readinessProbe: Mapping[str, Any]
    livenessProbe: Mapping[str, Any]


class PodSpecView(TypedDict, total=False):
    """The pod spec of a template (``headGroupSpec.template``, ``workerGroupSpecs[].template``)."""

    containers: Required[Sequence[ContainerView]]
    initContainers: Sequence[ContainerView]
    volumes: Sequence[Mapping[str, Any]]


class PodTemplateView(TypedDict, total=False):
    metadata: ObjectMetaView
    spec: PodSpecView


class PodConditionView(TypedDict, total=False):
    type: Required[str]
    status: Required[str]
    reason: str
    message: str
    lastTransitionTime: str


class PodStatusView(TypedDict, total=False):
    phase: str
    podIP: str
    conditions: Sequence[PodConditionView]


class PodView(TypedDict, total=False):
    """A pod as the operator's caches keep it: no spec (``rayservice.controller.caches.slim_pod``)."""

    apiVersion: str
    kind: str
    metadata: ObjectMetaView
    status: PodStatusView


# ---- Service and EndpointSlice -----------------------------------------------------------------------------


class ServicePortView(TypedDict, total=False):
    name: str
    port: Required[int]
    targetPort: int | str
    protocol: str
    nodePort: int


class ServiceSpecView(TypedDict, total=False):
    type: str
    selector: Mapping[str, str]
    ports: Sequence[ServicePortView]
    clusterIP: str


class LoadBalancerIngressView(TypedDict, total=False):
    ip: str
    hostname: str


class LoadBalancerStatusView(TypedDict, total=False):
    ingress: Sequence[LoadBalancerIngressView]


class ServiceStatusView(TypedDict, total=False):
    loadBalancer: LoadBalancerStatusView


class ServiceView(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMetaView
    spec: ServiceSpecView
    status: ServiceStatusView


class ObjectReferenceView(TypedDict, total=False):
    kind: str
    namespace: str
    name: str
    uid: str


class EndpointConditionsView(TypedDict, total=False):
    ready: bool
    serving: bool
    terminating: bool


class EndpointView(TypedDict, total=False):
    addresses: Required[Sequence[str]]
    conditions: EndpointConditionsView
    targetRef: ObjectReferenceView


class EndpointSliceView(TypedDict, total=False):
    metadata: ObjectMetaView
    addressType: Required[str]
    endpoints: Sequence[EndpointView]


# ---- RayCluster (rayservice.api.raycluster) ----------------------------------------------------------------


class RayClusterUpgradeStrategyView(TypedDict, total=False):
    type: str


class ScaleStrategyView(TypedDict, total=False):
    workersToDelete: Sequence[str]


class HeadGroupSpecView(TypedDict, total=False):
    template: Required[PodTemplateView]
    headService: ServiceView
    enableIngress: bool
    resources: Mapping[str, str]
    labels: Mapping[str, str]
    rayStartParams: Mapping[str, str]
    serviceType: str
    replicas: int


class WorkerGroupSpecView(TypedDict, total=False):
    suspend: bool
    groupName: Required[str]
    replicas: int
    minReplicas: int
    maxReplicas: int
    idleTimeoutSeconds: int
    resources: Mapping[str, str]
    labels: Mapping[str, str]
    rayStartParams: Mapping[str, str]
    template: Required[PodTemplateView]
    scaleStrategy: ScaleStrategyView
    numOfHosts: int


class RayClusterSpecView(TypedDict, total=False):
    upgradeStrategy: RayClusterUpgradeStrategyView
    suspend: bool
    managedBy: str
    autoscalerOptions: Mapping[str, Any]
    headServiceAnnotations: Mapping[str, str]
    enableInTreeAutoscaling: bool
    gcsFaultToleranceOptions: Mapping[str, Any]
    headGroupSpec: Required[HeadGroupSpecView]
    rayVersion: str
    workerGroupSpecs: Sequence[WorkerGroupSpecView]


class HeadInfoView(TypedDict, total=False):
    podIP: str
    podName: str
    serviceIP: str
    serviceName: str


class RayClusterStatusView(TypedDict, total=False):
    state: str
    readyWorkerReplicas: int
    availableWorkerReplicas: int
    desiredWorkerReplicas: int
    minWorkerReplicas: int
    maxWorkerReplicas: int
    endpoints: Mapping[str, str]
    head: HeadInfoView
    conditions: Sequence[ConditionView]
    observedGeneration: int


class RayClusterView(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMetaView
    spec: Required[RayClusterSpecView]
    status: RayClusterStatusView


# ---- RayService (rayservice.api.rayservice) ----------------------------------------------------------------


class ClusterUpgradeOptionsView(TypedDict, total=False):
    maxSurgePercent: int
    stepSizePercent: Required[int]
    intervalSeconds: Required[int]
    gatewayClassName: Required[str]


class RayServiceUpgradeStrategyView(TypedDict, total=False):
    type: str
    clusterUpgradeOptions: ClusterUpgradeOptionsView


class RayServiceSpecView(TypedDict, total=False):
    serveConfigV2: str
    serveConfig: Mapping[str, Any]
    serveDeploymentGraphConfig: Mapping[str, Any]
    rayClusterConfig: Required[RayClusterSpecView]
    upgradeStrategy: RayServiceUpgradeStrategyView
    rayClusterDeletionDelaySeconds: int
    serviceUnhealthySecondThreshold: int
    deploymentUnhealthySecondThreshold: int
    serveService: ServiceView
    excludeHeadPodFromServeSvc: bool
    suspend: bool
    managedBy: str


class ServeDeploymentStatusView(TypedDict, total=False):
    status: str
    message: str
    healthLastUpdateTime: str


class ServeApplicationStatusView(TypedDict, total=False):
    status: str
    message: str
    healthLastUpdateTime: str
    serveDeploymentStatuses: Mapping[str, ServeDeploymentStatusView]


class RayServiceClusterStatusView(TypedDict, total=False):
    rayClusterName: str
    rayClusterStatus: RayClusterStatusView
    applicationStatuses: Mapping[str, ServeApplicationStatusView]


class RayServiceStatusView(TypedDict, total=False):
    serviceStatus: str
    conditions: Sequence[ConditionView]
    activeServiceStatus: RayServiceClusterStatusView
    pendingServiceStatus: RayServiceClusterStatusView
    numServeEndpoints: int
    observedGeneration: int
    lastUpdateTime: str


class RayServiceView(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMetaView
    spec: Required[RayServiceSpecView]
    status: RayServiceStatusView


# ---- casts (guarantee 4) -----------------------------------------------------------------------------------


def as_rayservice(obj: Mapping[str, Any]) -> RayServiceView:
    """``obj`` (a RayService as the cache holds it) read through its view."""
    return cast(RayServiceView, obj)


def as_raycluster(obj: Mapping[str, Any]) -> RayClusterView:
    """``obj`` (a RayCluster as the cache holds it) read through its view."""
    return cast(RayClusterView, obj)


def as_pod(obj: Mapping[str, Any]) -> PodView:
    """``obj`` (a Pod as the cache holds it) read through its view."""
    return cast(PodView, obj)


def as_service(obj: Mapping[str, Any]) -> ServiceView:
    """``obj`` (a Service as the cache holds it) read through its view."""
    return cast(ServiceView, obj)


def as_endpoint_slice(obj: Mapping[str, Any]) -> EndpointSliceView:
    """``obj`` (an EndpointSlice as the cache holds it) read through its view."""
    return cast(EndpointSliceView, obj)
