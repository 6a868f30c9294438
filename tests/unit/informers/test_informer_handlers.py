"""Event -> key mappings (rayservice.informers.handlers)."""

from __future__ import annotations

from typing import Any

from rayservice.api import ObjectKey
from rayservice.informers import controller_owner, enqueue_by_label, enqueue_owner, enqueue_self


def _pod(
    name: str = "p", *, owners: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "ownerReferences": owners or [], "labels": labels or {}}}


def _owner(kind: str, name: str, *, controller: bool = True, api_version: str = "ray.io/v1") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": f"uid-{name}", "controller": controller}


def test_enqueue_self_maps_an_object_to_its_own_key() -> None:
    assert enqueue_self().keys(_pod("a")) == [ObjectKey("ns", "a")]


def test_enqueue_owner_maps_a_child_to_its_controlling_owner_of_that_kind() -> None:
    pod = _pod(owners=[_owner("RayCluster", "other", controller=False), _owner("RayCluster", "c1")])
    assert enqueue_owner("RayCluster").keys(pod) == [ObjectKey("ns", "c1")]
    assert enqueue_owner("RayService").keys(pod) == []


def test_enqueue_owner_ignores_children_without_a_controlling_owner() -> None:
    assert enqueue_owner("RayCluster").keys(_pod(owners=[_owner("RayCluster", "c", controller=False)])) == []
    assert enqueue_owner("RayCluster").keys(_pod()) == []
    assert controller_owner({"metadata": {"ownerReferences": "garbage"}}) is None


def test_enqueue_owner_can_require_the_owners_api_group() -> None:
    pod = _pod(owners=[_owner("RayCluster", "c", api_version="example.com/v1")])
    assert enqueue_owner("RayCluster", group="ray.io").keys(pod) == []
    assert enqueue_owner("RayCluster", group="example.com").keys(pod) == [ObjectKey("ns", "c")]


def test_enqueue_by_label_maps_to_the_label_value_in_the_objects_namespace() -> None:
    mapper = enqueue_by_label("ray.io/cluster")
    assert mapper.keys(_pod(labels={"ray.io/cluster": "c1"})) == [ObjectKey("ns", "c1")]
    assert mapper.keys(_pod(labels={"other": "c1"})) == []
    assert mapper.keys(_pod(labels={"ray.io/cluster": ""})) == []


def test_an_update_enqueues_the_old_and_the_new_keys_once_each() -> None:
    enqueued: list[ObjectKey] = []
    handlers = enqueue_by_label("ray.io/cluster").handlers(enqueued.append)
    assert handlers.on_update is not None
    handlers.on_update(_pod(labels={"ray.io/cluster": "old"}), _pod(labels={"ray.io/cluster": "new"}))
    handlers.on_update(_pod(labels={"ray.io/cluster": "same"}), _pod(labels={"ray.io/cluster": "same"}))
    assert enqueued == [ObjectKey("ns", "old"), ObjectKey("ns", "new"), ObjectKey("ns", "same")]


def test_adds_and_deletes_enqueue_the_mapped_keys() -> None:
    enqueued: list[ObjectKey] = []
    handlers = enqueue_owner("RayCluster").handlers(enqueued.append)
    assert handlers.on_add is not None and handlers.on_delete is not None
    handlers.on_add(_pod(owners=[_owner("RayCluster", "c1")]))
    handlers.on_delete(_pod(owners=[_owner("RayCluster", "c2")]))
    handlers.on_delete(_pod())
    assert enqueued == [ObjectKey("ns", "c1"), ObjectKey("ns", "c2")]
