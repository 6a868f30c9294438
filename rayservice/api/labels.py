"""Label and annotation keys (and their fixed values) the operator puts on the objects it makes.

Guarantees:
1. The keys and values are KubeRay's where KubeRay has them, so selectors, dashboards and tools written for
   KubeRay's pods, Services and RayClusters keep working.
2. ``CLUSTER_HASH_ANNOTATION`` (``ray.io/hash-without-replicas-and-workers-to-delete``, KubeRay's key) holds
   the hash of a RayService's ``rayClusterConfig`` that its RayCluster was made from, computed without worker
   ``replicas``, ``minReplicas``, ``maxReplicas`` and ``scaleStrategy.workersToDelete``: a scaling-only change
   keeps the hash, so it is applied in place and never causes a new cluster.
3. ``DELETE_AFTER_ANNOTATION`` (``rayservice.ray.io/delete-after``, our own key: KubeRay keeps this deadline in
   memory) is set on a RayCluster once its RayService switched traffic away from it. Its value is an RFC 3339
   UTC time with whole seconds (``2026-11-25T10:00:00Z``, as ``common.format_kube_time`` writes it); the
   cluster is deleted once that time has passed. Persisting it means an operator restart neither forgets
   nor extends the deadline.

Pure: constants only.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "APP_NAME_LABEL",
    "APP_NAME_VALUE",
    "CLUSTER_HASH_ANNOTATION",
    "CREATED_BY_LABEL",
    "CREATED_BY_VALUE",
    "DELETE_AFTER_ANNOTATION",
    "HEAD_GROUP_NAME",
    "IS_RAY_NODE_LABEL",
    "IS_RAY_NODE_VALUE",
    "NODE_TYPE_HEAD",
    "NODE_TYPE_LABEL",
    "NODE_TYPE_WORKER",
    "ORIGINATED_FROM_CRD_LABEL",
    "ORIGINATED_FROM_CR_NAME_LABEL",
    "ORIGINATED_FROM_RAYSERVICE",
    "RAY_CLUSTER_LABEL",
    "RAY_GROUP_LABEL",
    "RAY_IDENTIFIER_LABEL",
    "SERVE_LABEL",
    "SERVE_VALUE_FALSE",
    "SERVE_VALUE_TRUE",
]

# ---- pod labels ------------------------------------------------------------------------------------------------

RAY_CLUSTER_LABEL: Final = "ray.io/cluster"
"""The RayCluster's name, on its pods and Services."""
NODE_TYPE_LABEL: Final = "ray.io/node-type"
"""``head`` or ``worker``."""
NODE_TYPE_HEAD: Final = "head"
NODE_TYPE_WORKER: Final = "worker"
RAY_GROUP_LABEL: Final = "ray.io/group"
"""The worker group's name, or ``headgroup`` for the head pod."""
HEAD_GROUP_NAME: Final = "headgroup"
RAY_IDENTIFIER_LABEL: Final = "ray.io/identifier"
"""``<cluster>-head`` or ``<cluster>-worker``: one value per cluster and node type."""
IS_RAY_NODE_LABEL: Final = "ray.io/is-ray-node"
IS_RAY_NODE_VALUE: Final = "yes"
SERVE_LABEL: Final = "ray.io/serve"
"""``true`` when the pod may receive Serve traffic (it runs a healthy Serve proxy), else ``false``."""
SERVE_VALUE_TRUE: Final = "true"
SERVE_VALUE_FALSE: Final = "false"
APP_NAME_LABEL: Final = "app.kubernetes.io/name"
APP_NAME_VALUE: Final = "kuberay"
CREATED_BY_LABEL: Final = "app.kubernetes.io/created-by"
CREATED_BY_VALUE: Final = "rayservice-operator"

# ---- RayCluster labels and annotations -----------------------------------------------------------------------

ORIGINATED_FROM_CRD_LABEL: Final = "ray.io/originated-from-crd"
"""The kind of the object a RayCluster was made for: ``RayService``."""
ORIGINATED_FROM_RAYSERVICE: Final = "RayService"
ORIGINATED_FROM_CR_NAME_LABEL: Final = "ray.io/originated-from-cr-name"
"""The name of the RayService a RayCluster was made for."""
CLUSTER_HASH_ANNOTATION: Final = "ray.io/hash-without-replicas-and-workers-to-delete"
"""The hash of the ``rayClusterConfig`` a RayCluster was made from (guarantee 2)."""
DELETE_AFTER_ANNOTATION: Final = "rayservice.ray.io/delete-after"
"""When a replaced RayCluster may be deleted (guarantee 3)."""
