"""Reading the caches: a ready head's dashboard address, and which RayService an EndpointSlice wakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rayservice.api import ObjectKey
from rayservice.controller.rayservice import head_address, slice_owner
from tests.unit.controller.rayservice.samples import NAMESPACE, raw_cluster


def pod(
    name: str,
    *,
    cluster: str = "c",
    node_type: str = "head",
    ready: bool = True,
    owner: str = "c-uid",
    ip: str = "127.16.0.7",
    **meta: Any,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"ray.io/cluster": cluster, "ray.io/node-type": node_type},
            "ownerReferences": [{"kind": "RayCluster", "name": cluster, "uid": owner, "controller": True}],
            **meta,
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_the_dashboard_of_a_ready_head_pod_is_reached_on_its_ip_and_port() -> None:
    assert head_address(raw_cluster("c"), [pod("h")], port=None) == "http://127.16.0.7:8265"
    assert head_address(raw_cluster("c"), [pod("h")], port=40123) == "http://127.16.0.7:40123"


def test_the_heads_dashboard_port_start_parameter_is_honoured() -> None:
    cluster = raw_cluster("c")
    cluster["spec"]["headGroupSpec"]["rayStartParams"] = {"dashboard-port": "8300"}
    assert head_address(cluster, [pod("h")], port=None) == "http://127.16.0.7:8300"


def test_no_address_while_the_head_is_not_ready_or_only_workers_run() -> None:
    cluster = raw_cluster("c")
    assert head_address(cluster, [pod("h", ready=False), pod("w", node_type="worker")], port=None) is None
    assert head_address(cluster, [pod("h", deletionTimestamp="2026-01-01T00:00:00Z")], port=None) is None


def test_pods_of_an_earlier_cluster_with_the_same_name_do_not_count() -> None:
    assert head_address(raw_cluster("c"), [pod("h", owner="older-uid")], port=None) is None


def test_without_any_cached_pod_the_cluster_status_tells_where_its_ready_head_is() -> None:
    cluster = raw_cluster("c")
    cluster["status"] = {
        "head": {"podIP": "127.16.0.9"},
        "conditions": [{"type": "HeadPodReady", "status": "True"}],
    }
    assert head_address(cluster, [], port=None) == "http://127.16.0.9:8265"
    cluster["status"]["conditions"][0]["status"] = "False"
    assert head_address(cluster, [], port=None) is None


@dataclass
class _Services:
    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        return self.objects.get(key)


@dataclass
class _Caches:
    services: _Services


def service(name: str, owner_kind: str, api_version: str = "ray.io/v1") -> dict[str, Any]:
    ref = {"apiVersion": api_version, "kind": owner_kind, "name": "fruit", "uid": "u", "controller": True}
    return {"metadata": {"name": name, "namespace": NAMESPACE, "ownerReferences": [ref]}}


def endpoint_slice(service_name: str | None) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": service_name} if service_name else {}
    return {"metadata": {"name": "s-abc", "namespace": NAMESPACE, "labels": labels}}


def test_an_endpoint_slice_wakes_the_rayservice_controlling_its_service_and_nothing_else() -> None:
    caches = _Caches(
        _Services(
            {
                ObjectKey(NAMESPACE, "fruit-serve-svc"): service("fruit-serve-svc", "RayService"),
                ObjectKey(NAMESPACE, "c-head-svc"): service("c-head-svc", "RayCluster"),
                ObjectKey(NAMESPACE, "other"): service("other", "RayService", "example.com/v1"),
            }
        )
    )
    keys = slice_owner(caches).keys  # type: ignore[arg-type]
    assert keys(endpoint_slice("fruit-serve-svc")) == [ObjectKey(NAMESPACE, "fruit")]
    assert keys(endpoint_slice("c-head-svc")) == []
    assert keys(endpoint_slice("other")) == []
    assert keys(endpoint_slice("unknown")) == []
    assert keys(endpoint_slice(None)) == []
