"""The objects a RayService should have: its RayClusters and the two Services in front of the active one.

Guarantees:
1. Builders return fresh dicts ready to create (``apiVersion``, ``kind``, ``metadata``, ``spec``), never share
   structure with their inputs, and depend only on their arguments.
2. ``desired_cluster`` is a RayCluster named as asked whose spec is the RayService's ``rayClusterConfig``; it is
   labelled ``ray.io/originated-from-crd=RayService``, ``ray.io/originated-from-cr-name=<name>`` and
   ``app.kubernetes.io/created-by=rayservice-operator`` (over the RayService's own labels, which it inherits, as
   it inherits its annotations except ``kubectl.kubernetes.io/*``); annotated with ``cluster_config_hash`` of
   ``rayClusterConfig`` and, for a cluster that replaces an unhealthy one, with the count of consecutive
   replacements (``REPLACEMENTS_ANNOTATION``); and controlled by the RayService.
3. ``<name>-head-svc`` selects the head pod of the given cluster (``ray.io/cluster`` and
   ``ray.io/node-type=head``) with the ports, type and annotations of that cluster's own head Service.
4. The serve Service is named by ``serveService.metadata.name`` or else ``<name>-serve-svc``; it keeps the
   ``serveService`` template's labels, annotations and spec, but always selects the given cluster's pods
   labelled ``ray.io/serve=true`` (only its workers with ``excludeHeadPodFromServeSvc``); without template
   ports it exposes the head's ``serve`` port (8000 unless the head declares another).
5. Both Services are labelled ``ray.io/originated-from-crd``, ``ray.io/originated-from-cr-name``,
   ``app.kubernetes.io/name=kuberay`` and ``app.kubernetes.io/created-by=rayservice-operator`` (the operator's
   Service cache is filtered by it), never ``ray.io/cluster``: they belong to the RayService, not to a cluster.
   They are controlled by the RayService, so deleting it deletes them.

Caller must: pass a spec ``check_service`` accepted.

Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from rayservice.api.labels import (
    APP_NAME_LABEL,
    APP_NAME_VALUE,
    CLUSTER_HASH_ANNOTATION,
    CREATED_BY_LABEL,
    CREATED_BY_VALUE,
    NODE_TYPE_HEAD,
    NODE_TYPE_LABEL,
    NODE_TYPE_WORKER,
    ORIGINATED_FROM_CR_NAME_LABEL,
    ORIGINATED_FROM_CRD_LABEL,
    ORIGINATED_FROM_RAYSERVICE,
    RAY_CLUSTER_LABEL,
    SERVE_LABEL,
    SERVE_VALUE_TRUE,
)
from rayservice.controller import names
from rayservice.controller.objects import (
    RawObject,
    annotations_of,
    flag,
    labels_of,
    mapping,
    name_of,
    namespace_of,
    part,
    rayservice_spec,
    sequence,
)
from rayservice.controller.objects import (
    owner_reference as controller_reference,
)
from rayservice.controller.raycluster import desired_head_service as desired_cluster_head_service

REPLACEMENTS_ANNOTATION: Final = "rayservice.ray.io/unhealthy-replacements"
"""On a cluster made to replace an unhealthy one: how many replacements in a row led to it (1, 2, ...)."""
DEFAULT_SERVE_PORT: Final = 8000
_NOT_INHERITED_PREFIX: Final = "kubectl.kubernetes.io/"


def owner_reference(service: RawObject) -> dict[str, Any]:
    """The controller ownerReference every child of ``service`` carries."""
    return controller_reference(service, "RayService")


def desired_cluster(service: RawObject, *, name: str, replacements: int = 0) -> dict[str, Any]:
    """Guarantee 2."""
    config = part(rayservice_spec(service).get("rayClusterConfig"))
    labels = {str(key): str(value) for key, value in labels_of(service).items()}
    labels.update(_origin_labels(service))
    labels[CREATED_BY_LABEL] = CREATED_BY_VALUE
    annotations = {
        str(key): str(value)
        for key, value in annotations_of(service).items()
        if not str(key).startswith(_NOT_INHERITED_PREFIX)
    }
    annotations[CLUSTER_HASH_ANNOTATION] = names.cluster_config_hash(config)
    if replacements > 0:
        annotations[REPLACEMENTS_ANNOTATION] = str(replacements)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "namespace": namespace_of(service),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(service)],
        },
        "spec": copy.deepcopy(dict(config)),
    }


def without_worker_replicas(cluster: RawObject) -> dict[str, Any]:
    """``cluster`` with no ``replicas`` in its worker groups: each starts at its ``minReplicas`` and the
    autoscaler takes it from there (an incremental upgrade's new cluster)."""
    out = copy.deepcopy(dict(cluster))
    for group in sequence(part(out.get("spec")).get("workerGroupSpecs")):
        if isinstance(group, dict):
            group.pop("replicas", None)
    return out


def desired_head_service(service: RawObject, cluster: RawObject) -> dict[str, Any]:
    """Guarantee 3."""
    base = desired_cluster_head_service(cluster)
    meta: dict[str, Any] = {
        "name": names.rayservice_head_service_name(name_of(service)),
        "namespace": namespace_of(service),
        "labels": _service_labels(service),
        "ownerReferences": [owner_reference(service)],
    }
    if base["metadata"].get("annotations"):
        meta["annotations"] = dict(base["metadata"]["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": {RAY_CLUSTER_LABEL: name_of(cluster), NODE_TYPE_LABEL: NODE_TYPE_HEAD},
            "ports": base["spec"]["ports"],
            "type": base["spec"]["type"],
        },
    }


def serve_service_name_of(service: RawObject) -> str:
    """The serve Service's name: the template's, else ``<name>-serve-svc`` (guarantee 4)."""
    template_name = part(part(rayservice_spec(service).get("serveService")).get("metadata")).get("name")
    return str(template_name) if template_name else names.serve_service_name(name_of(service))


def desired_serve_service(service: RawObject, cluster: RawObject) -> dict[str, Any]:
    """Guarantee 4."""
    template = copy.deepcopy(dict(part(rayservice_spec(service).get("serveService"))))
    template_meta = mapping(template.get("metadata"))
    labels = {str(key): str(value) for key, value in mapping(template_meta.get("labels")).items()}
    labels.update(_service_labels(service))
    meta: dict[str, Any] = {
        "name": serve_service_name_of(service),
        "namespace": namespace_of(service),
        "labels": labels,
        "ownerReferences": [owner_reference(service)],
    }
    annotations = mapping(template_meta.get("annotations"))
    if annotations:
        meta["annotations"] = {str(key): str(value) for key, value in annotations.items()}
    spec = dict(mapping(template.get("spec")))
    selector = {RAY_CLUSTER_LABEL: name_of(cluster), SERVE_LABEL: SERVE_VALUE_TRUE}
    if flag(rayservice_spec(service).get("excludeHeadPodFromServeSvc")):
        selector[NODE_TYPE_LABEL] = NODE_TYPE_WORKER
    spec["selector"] = selector
    if not sequence(spec.get("ports")):
        port = serve_port(cluster)
        spec["ports"] = [{"name": "serve", "port": port, "targetPort": port, "protocol": "TCP"}]
    spec.setdefault("type", "ClusterIP")
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def _origin_labels(service: RawObject) -> dict[str, str]:
    return {ORIGINATED_FROM_CRD_LABEL: ORIGINATED_FROM_RAYSERVICE, ORIGINATED_FROM_CR_NAME_LABEL: name_of(service)}


def _service_labels(service: RawObject) -> dict[str, str]:
    return {**_origin_labels(service), APP_NAME_LABEL: APP_NAME_VALUE, CREATED_BY_LABEL: CREATED_BY_VALUE}


def serve_port(cluster: RawObject) -> int:
    """The cluster's serve port: its head's ``serve`` container port, else 8000."""
    for port in desired_cluster_head_service(cluster)["spec"]["ports"]:
        if isinstance(port, Mapping) and port.get("name") == "serve" and isinstance(port.get("port"), int):
            return int(port["port"])
    return DEFAULT_SERVE_PORT
