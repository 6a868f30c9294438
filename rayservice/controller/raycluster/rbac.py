"""The ServiceAccount, Role and RoleBinding the autoscaler of a RayCluster runs with, as KubeRay v1.7 builds them
(``common/rbac.go``; created by ``reconcileAutoscalerServiceAccount``/``Role``/``RoleBinding``).

Guarantees:
1. ``desired_rbac`` is empty for a cluster without ``enableInTreeAutoscaling``; otherwise, in this order: the
   ServiceAccount ``service_account_name(cluster)`` (only when the head template names none: an account the
   user names is the user's to create, as in KubeRay), the Role and the RoleBinding, both named after the
   cluster (clipped as KubeRay clips them).
2. The Role grants exactly what the autoscaler calls: ``pods`` get/list/watch/patch, ``pods/resize`` patch,
   ``rayclusters.ray.io`` get/patch, in the cluster's namespace only. The RoleBinding binds it to the head's
   ServiceAccount in that namespace.
3. Each carries ``ray.io/cluster``, ``app.kubernetes.io/name=kuberay`` and
   ``app.kubernetes.io/created-by=rayservice-operator`` (so the operator's label-filtered caches see them) and
   one controller ownerReference to the RayCluster: deleting the cluster deletes them.
4. ``rbac_patch(existing, desired)`` is the merge patch that brings an existing object's owned fields
   (labels, ``rules``, ``subjects``) to the desired ones, or ``None`` when they match (labels others added
   stay); a RoleBinding whose ``roleRef`` differs cannot be patched (the field is immutable) and is reported
   by ``has_foreign_role_ref``.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from rayservice.api.labels import APP_NAME_LABEL, APP_NAME_VALUE, CREATED_BY_LABEL, CREATED_BY_VALUE, RAY_CLUSTER_LABEL
from rayservice.controller.objects import RawObject, mapping, metadata, name_of, namespace_of
from rayservice.controller.objects import owner_reference as controller_reference
from rayservice.controller.raycluster.autoscaler import (
    check_name,
    is_autoscaling,
    service_account_name,
    user_service_account,
)

RBAC_GROUP: Final = "rbac.authorization.k8s.io"
ROLE_RULES: Final = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
    {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "patch"]},
)
_OWNED: Final = {"ServiceAccount": (), "Role": ("rules",), "RoleBinding": ("subjects",)}


@dataclass(frozen=True, slots=True)
class RbacObject:
    """One object to ensure: its kind (``ServiceAccount``, ``Role``, ``RoleBinding``) and body."""

    kind: str
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return name_of(self.body)


def desired_rbac(cluster: RawObject) -> tuple[RbacObject, ...]:
    """Guarantee 1."""
    if not is_autoscaling(cluster):
        return ()
    objects: list[RbacObject] = []
    if not user_service_account(cluster):
        objects.append(RbacObject("ServiceAccount", desired_service_account(cluster)))
    objects += [RbacObject("Role", desired_role(cluster)), RbacObject("RoleBinding", desired_role_binding(cluster))]
    return tuple(objects)


def desired_service_account(cluster: RawObject) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(cluster, service_account_name(cluster))}


def desired_role(cluster: RawObject) -> dict[str, Any]:
    """Guarantee 2."""
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "Role",
        "metadata": _metadata(cluster, check_name(name_of(cluster))),
        "rules": [{key: list(value) for key, value in rule.items()} for rule in ROLE_RULES],
    }


def desired_role_binding(cluster: RawObject) -> dict[str, Any]:
    """Guarantee 2."""
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(cluster, check_name(name_of(cluster))),
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account_name(cluster), "namespace": namespace_of(cluster)}
        ],
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": check_name(name_of(cluster))},
    }


def rbac_patch(existing: RawObject, desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """Guarantee 4."""
    patch: dict[str, Any] = {}
    have = mapping(metadata(existing).get("labels"))
    labels = {key: value for key, value in mapping(metadata(desired).get("labels")).items() if have.get(key) != value}
    if labels:
        patch["metadata"] = {"labels": labels}
    for field in _OWNED.get(str(desired.get("kind")), ()):
        if existing.get(field) != desired.get(field):
            patch[field] = desired.get(field)
    return patch or None


def has_foreign_role_ref(existing: RawObject, desired: Mapping[str, Any]) -> bool:
    """A RoleBinding of the desired name that refers to another role (guarantee 4)."""
    return desired.get("kind") == "RoleBinding" and existing.get("roleRef") != desired.get("roleRef")


def _metadata(cluster: RawObject, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace_of(cluster),
        "labels": {
            RAY_CLUSTER_LABEL: name_of(cluster),
            APP_NAME_LABEL: APP_NAME_VALUE,
            CREATED_BY_LABEL: CREATED_BY_VALUE,
        },
        "ownerReferences": [controller_reference(cluster, "RayCluster")],
    }
