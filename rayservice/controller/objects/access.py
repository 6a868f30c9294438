"""Reading raw Kubernetes objects (``RawObject``, as the informer caches hold them): one accessor set for every
reconciler.

Guarantees:
1. Every accessor tolerates missing, ``null`` or wrongly typed fields and returns an empty value (or
   ``None`` where stated) instead of raising.
2. ``parse_time`` reads the RFC 3339 times the API server writes and returns an aware UTC datetime, or
   ``None`` for anything else.
3. ``is_controlled_by`` is true only when the object's controller ownerReference carries the owner's uid;
   ``controller_uid`` is that reference's uid (``None`` without a controller).
4. ``belongs_to`` is true only for pods labelled with the cluster's name whose controlling owner, if they
   have one, is this incarnation of the cluster (same uid): pods of a deleted cluster that had the same name
   are never counted.
5. ``pick_head`` chooses deterministically: a Ready head first, then a Running one, then the oldest, then
   the first by name.
6. ``owner_reference`` is the controller reference (``blockOwnerDeletion``) a child of ``owner`` carries.
7. Typed reads: ``metadata`` and the ``rayservice_*``, ``raycluster_*``, ``pod_status`` and ``service_spec``
   accessors return the ``rayservice.api.views`` view of their part (a cast, no copy), so a misspelt field
   read through them fails mypy; ``part`` and ``items`` keep a nested read typed and tolerant (an absent,
   ``null`` or wrongly typed value reads as empty).

Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from rayservice.api.labels import NODE_TYPE_LABEL, RAY_CLUSTER_LABEL, RAY_GROUP_LABEL
from rayservice.api.views import (
    ObjectMetaView,
    PodStatusView,
    RayClusterSpecView,
    RayClusterStatusView,
    RayServiceSpecView,
    RayServiceStatusView,
    ServiceSpecView,
    WorkerGroupSpecView,
)
from rayservice.raw import RawObject

ViewT = TypeVar("ViewT", bound=Mapping[str, object])
ItemT = TypeVar("ItemT")


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: object) -> Sequence[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def part(value: ViewT | None) -> ViewT:
    """Guarantee 7: a nested view, or an empty one when the value is absent, ``null`` or not an object."""
    return value if isinstance(value, Mapping) else cast(ViewT, {})


def items(value: Sequence[ItemT] | None) -> Sequence[ItemT]:
    """Guarantee 7: a list field, or an empty one when it is absent, ``null`` or not a list."""
    return value if isinstance(value, list) else []


def metadata(obj: RawObject) -> ObjectMetaView:
    return cast(ObjectMetaView, mapping(obj.get("metadata")))


def rayservice_spec(service: RawObject) -> RayServiceSpecView:
    return cast(RayServiceSpecView, mapping(service.get("spec")))


def rayservice_status(service: RawObject) -> RayServiceStatusView:
    return cast(RayServiceStatusView, mapping(service.get("status")))


def raycluster_spec(cluster: RawObject) -> RayClusterSpecView:
    return cast(RayClusterSpecView, mapping(cluster.get("spec")))


def raycluster_status(cluster: RawObject) -> RayClusterStatusView:
    return cast(RayClusterStatusView, mapping(cluster.get("status")))


def pod_status(pod: RawObject) -> PodStatusView:
    return cast(PodStatusView, mapping(pod.get("status")))


def service_spec(service: RawObject) -> ServiceSpecView:
    return cast(ServiceSpecView, mapping(service.get("spec")))


def name_of(obj: RawObject) -> str:
    return str(metadata(obj).get("name") or "")


def namespace_of(obj: RawObject) -> str:
    return str(metadata(obj).get("namespace") or "")


def uid_of(obj: RawObject) -> str:
    return str(metadata(obj).get("uid") or "")


def labels_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(metadata(obj).get("labels"))


def annotations_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(metadata(obj).get("annotations"))


def spec_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(obj.get("spec"))


def status_of(obj: RawObject) -> Mapping[str, Any]:
    return mapping(obj.get("status"))


def generation_of(obj: RawObject) -> int | None:
    generation = metadata(obj).get("generation")
    return generation if isinstance(generation, int) and not isinstance(generation, bool) else None


def is_deleting(obj: RawObject) -> bool:
    """Deletion has started: the object is on its way out, no longer counts and must not be acted on again."""
    return bool(metadata(obj).get("deletionTimestamp"))


def is_controlled_by(obj: RawObject, owner_uid: str) -> bool:
    """Guarantee 3."""
    for ref in sequence(metadata(obj).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return bool(owner_uid) and ref.get("uid") == owner_uid
    return False


def controller_uid(obj: RawObject) -> str | None:
    """Guarantee 3."""
    for ref in sequence(metadata(obj).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def owner_reference(owner: RawObject, kind: str) -> dict[str, Any]:
    """Guarantee 6: the controller ownerReference every child of ``owner`` (a ``ray.io/v1`` ``kind``) carries."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def find_condition(conditions: Sequence[Any] | None, kind: str) -> Mapping[str, Any] | None:
    """The condition of type ``kind`` in a conditions list, if any."""
    for condition in sequence(conditions):
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def parse_time(value: object) -> datetime | None:
    """Guarantee 2."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def text(value: str | None, default: str = "") -> str:
    """A string field (guarantee 7): ``value`` as text, or ``default`` when it is absent or empty."""
    return str(value) if value else default


def flag(value: bool | None) -> bool:
    """A boolean field (guarantee 7): true only when it is ``true``."""
    return value is True


def whole_number(value: int | None, default: int) -> int:
    """``value`` if it is an int (not a bool) >= 0, else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def worker_groups(cluster: RawObject) -> list[WorkerGroupSpecView]:
    """The cluster's worker group specs that are objects, in spec order."""
    groups = items(raycluster_spec(cluster).get("workerGroupSpecs"))
    return [group for group in groups if isinstance(group, Mapping)]


def group_name(group: WorkerGroupSpecView) -> str:
    return text(group.get("groupName"))


def is_suspended(cluster: RawObject) -> bool:
    return flag(raycluster_spec(cluster).get("suspend"))


def phase_of(pod: RawObject) -> str:
    return text(pod_status(pod).get("phase"))


def is_finished(pod: RawObject) -> bool:
    """The pod ran to an end (Failed or Succeeded) and will never run Ray again."""
    return phase_of(pod) in ("Failed", "Succeeded")


def is_running(pod: RawObject) -> bool:
    return phase_of(pod) == "Running"


def ready_condition(pod: RawObject) -> Mapping[str, Any]:
    """The pod's ``Ready`` condition, or an empty mapping."""
    return find_condition(pod_status(pod).get("conditions"), "Ready") or {}


def is_ready(pod: RawObject) -> bool:
    """Running and its Ready condition is True."""
    return is_running(pod) and ready_condition(pod).get("status") == "True"


def node_type_of(pod: RawObject) -> str:
    return str(labels_of(pod).get(NODE_TYPE_LABEL) or "")


def group_of(pod: RawObject) -> str:
    return str(labels_of(pod).get(RAY_GROUP_LABEL) or "")


def belongs_to(pod: RawObject, cluster: RawObject) -> bool:
    """Guarantee 4."""
    if labels_of(pod).get(RAY_CLUSTER_LABEL) != name_of(cluster):
        return False
    uid = metadata(cluster).get("uid")
    owner = controller_uid(pod)
    return owner is None or uid is None or owner == uid


def age_key(pod: RawObject) -> tuple[str, str]:
    """Sorts pods oldest first (RFC 3339 UTC times sort as text), ties by name."""
    return (str(metadata(pod).get("creationTimestamp") or ""), name_of(pod))


def pick_head(heads: Iterable[RawObject]) -> RawObject | None:
    """Guarantee 5."""
    ranked = sorted(heads, key=lambda pod: (not is_ready(pod), not is_running(pod), age_key(pod)))
    return ranked[0] if ranked else None
