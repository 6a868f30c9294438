"""Sample RayServices, clusters and Ray answers for the RayService decision tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from rayservice.api import CLUSTER_HASH_ANNOTATION, DELETE_AFTER_ANNOTATION, format_kube_time
from rayservice.controller.names import cluster_config_hash
from rayservice.controller.rayservice import REPLACEMENTS_ANNOTATION, ClusterFacts
from tests.fruit_market import fruit_v2_yaml

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
UID = "service-uid"
NAME = "fruit"
NAMESPACE = "ns"


def container(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "rayproject/ray:2.60.0", **fields}


def cluster_config(*, image: str = "rayproject/ray:2.60.0", replicas: int = 1, **extra: Any) -> dict[str, Any]:
    """A ``rayClusterConfig``: a head and one worker group ``small``."""
    return {
        "rayVersion": "2.60.0",
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [container("ray-head", image=image)]}},
        },
        "workerGroupSpecs": [
            {
                "groupName": "small",
                "replicas": replicas,
                "minReplicas": 0,
                "maxReplicas": 5,
                "rayStartParams": {},
                "template": {"spec": {"containers": [container("ray-worker", image=image)]}},
            }
        ],
        **extra,
    }


def rayservice(
    *,
    name: str = NAME,
    status: dict[str, Any] | None = None,
    generation: int = 1,
    config: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A raw RayService as the cache holds it; ``spec`` keys override the defaults."""
    body: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": UID,
            "generation": generation,
            "resourceVersion": "10",
        },
        "spec": {
            "serveConfigV2": fruit_v2_yaml(),
            "rayClusterConfig": config if config is not None else cluster_config(),
            **spec,
        },
    }
    if status is not None:
        body["status"] = status
    return body


def recorded(active: str | None = None, pending: str | None = None, **status: Any) -> dict[str, Any]:
    """A RayService status that records ``active`` and ``pending``."""
    body: dict[str, Any] = dict(status)
    if active:
        body["activeServiceStatus"] = {"rayClusterName": active}
    if pending:
        body["pendingServiceStatus"] = {"rayClusterName": pending}
    return body


def config_hash(config: dict[str, Any] | None = None) -> str:
    return cluster_config_hash(config if config is not None else cluster_config())


DESIRED = config_hash()
OLD = config_hash(cluster_config(image="rayproject/ray:2.59.0"))


def facts(
    name: str,
    config_hash: str = DESIRED,
    *,
    age_s: float = 3600.0,
    delete_after: datetime | None = None,
    deleting: bool = False,
    replacements: int = 0,
) -> ClusterFacts:
    return ClusterFacts(name, config_hash, NOW - timedelta(seconds=age_s), delete_after, deleting, replacements)


def raw_cluster(
    name: str,
    *,
    config: dict[str, Any] | None = None,
    delete_after: datetime | None = None,
    replacements: int = 0,
    created: datetime = NOW,
    annotate_hash: bool = True,
) -> dict[str, Any]:
    spec = copy.deepcopy(config if config is not None else cluster_config())
    annotations: dict[str, str] = {}
    if annotate_hash:
        annotations[CLUSTER_HASH_ANNOTATION] = cluster_config_hash(spec)
    if delete_after is not None:
        annotations[DELETE_AFTER_ANNOTATION] = format_kube_time(delete_after)
    if replacements:
        annotations[REPLACEMENTS_ANNOTATION] = str(replacements)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"{name}-uid",
            "resourceVersion": "5",
            "creationTimestamp": format_kube_time(created),
            "annotations": annotations,
            "ownerReferences": [
                {"apiVersion": "ray.io/v1", "kind": "RayService", "name": NAME, "uid": UID, "controller": True}
            ],
        },
        "spec": spec,
    }


def ray_app(status: str = "RUNNING", *, config: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """One application of a ``GET /api/serve/applications/`` answer."""
    app: dict[str, Any] = {"status": status, "message": "", "deployments": {}, **fields}
    if config is not None:
        app["deployed_app_config"] = config
    return app
