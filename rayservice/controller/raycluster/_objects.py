"""Reading raw RayCluster and Pod objects (``Mapping[str, Any]``, as the informer cache holds them).

Guarantees:
1. Every accessor tolerates missing or ``null`` fields and returns an empty value instead of raising.
2. ``belongs_to`` is true only for pods labelled with the cluster's name whose controlling owner, if they
   have one, is this incarnation of the cluster (same UID): pods of a deleted cluster that had the same name
   are never counted.
3. ``pick_head`` chooses deterministically: a Ready head first, then a Running one, then the oldest, then
   the first by name.

Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rayservice.api.labels import NODE_TYPE_LABEL, RAY_CLUSTER_LABEL, RAY_GROUP_LABEL
from rayservice.controller.rawobjects import (
    RawObject,
    labels_of,
    mapping,
    metadata,
    name_of,
    namespace_of,
    sequence,
    spec_of,
)

__all__ = [
    "RawObject", "age_key", "belongs_to", "group_name", "group_of", "is_finished", "is_ready", "is_running",
    "is_suspended", "is_terminating", "labels_of", "mapping", "metadata", "name_of", "namespace_of",
    "node_type_of", "phase_of", "pick_head", "ready_condition", "sequence", "spec_of", "worker_groups",
]










def worker_groups(cluster: RawObject) -> list[Mapping[str, Any]]:
    """The cluster's worker group specs that are objects, in spec order."""
    return [
        mapping(group) for group in sequence(spec_of(cluster).get("workerGroupSpecs")) if isinstance(group, Mapping)
    ]


def group_name(group: Mapping[str, Any]) -> str:
    return str(group.get("groupName") or "")


def is_suspended(cluster: RawObject) -> bool:
    return spec_of(cluster).get("suspend") is True


def phase_of(pod: RawObject) -> str:
    return str(mapping(pod.get("status")).get("phase") or "")


def is_terminating(pod: RawObject) -> bool:
    """Deletion has started: the pod no longer counts and must not be deleted again."""
    return bool(metadata(pod).get("deletionTimestamp"))


def is_finished(pod: RawObject) -> bool:
    """The pod ran to an end (Failed or Succeeded) and will never run Ray again."""
    return phase_of(pod) in ("Failed", "Succeeded")


def is_running(pod: RawObject) -> bool:
    return phase_of(pod) == "Running"


def ready_condition(pod: RawObject) -> Mapping[str, Any]:
    """The pod's ``Ready`` condition, or an empty mapping."""
    for condition in sequence(mapping(pod.get("status")).get("conditions")):
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return {}


def is_ready(pod: RawObject) -> bool:
    """Running and its Ready condition is True."""
    return is_running(pod) and ready_condition(pod).get("status") == "True"


def node_type_of(pod: RawObject) -> str:
    return str(labels_of(pod).get(NODE_TYPE_LABEL) or "")


def group_of(pod: RawObject) -> str:
    return str(labels_of(pod).get(RAY_GROUP_LABEL) or "")


def belongs_to(pod: RawObject, cluster: RawObject) -> bool:
    """Guarantee 2."""
    if labels_of(pod).get(RAY_CLUSTER_LABEL) != name_of(cluster):
        return False
    uid = metadata(cluster).get("uid")
    for owner in sequence(metadata(pod).get("ownerReferences")):
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            return uid is None or owner.get("uid") == uid
    return True


def age_key(pod: RawObject) -> tuple[str, str]:
    """Sorts pods oldest first (RFC 3339 UTC times sort as text), ties by name."""
    return (str(metadata(pod).get("creationTimestamp") or ""), name_of(pod))


def pick_head(heads: Iterable[RawObject]) -> RawObject | None:
    """Guarantee 3."""
    ranked = sorted(heads, key=lambda pod: (not is_ready(pod), not is_running(pod), age_key(pod)))
    return ranked[0] if ranked else None
