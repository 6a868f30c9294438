"""``<cluster>-head-svc`` and ``<cluster>-dashboard-svc``: names, labels, selectors, ports, type, owner."""

from __future__ import annotations

from typing import Any

from rayservice.controller.raycluster import desired_dashboard_service, desired_head_service
from tests.unit.controller.raycluster.samples import cluster, container, template

OWNER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "name": "demo",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def ports_by_name(service: dict[str, Any]) -> dict[str, int]:
    ports = service["spec"]["ports"]
    for port in ports:
        assert port["targetPort"] == port["port"]
        assert port["protocol"] == "TCP"
    return {port["name"]: port["port"] for port in ports}


def test_the_head_service_selects_the_head_pod_of_this_cluster() -> None:
    service = desired_head_service(cluster())

    assert service["apiVersion"] == "v1"
    assert service["kind"] == "Service"
    assert service["metadata"]["name"] == "demo-head-svc"
    assert service["metadata"]["namespace"] == "ns"
    assert service["metadata"]["ownerReferences"] == [OWNER]
    assert service["spec"]["selector"] == {"ray.io/cluster": "demo", "ray.io/node-type": "head"}
    assert service["metadata"]["labels"] == {
        "ray.io/cluster": "demo",
        "ray.io/node-type": "head",
        "ray.io/identifier": "demo-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "rayservice-operator",
    }


def test_the_head_service_exposes_gcs_dashboard_client_serve_and_agent_ports_sorted_by_name() -> None:
    service = desired_head_service(cluster())

    assert ports_by_name(service) == {
        "client": 10001,
        "dashboard": 8265,
        "dashboard-agent": 52365,
        "gcs": 6379,
        "serve": 8000,
    }
    assert [port["name"] for port in service["spec"]["ports"]] == sorted(ports_by_name(service))
    assert service["spec"]["type"] == "ClusterIP"


def test_ports_the_user_declares_on_the_head_are_exposed_too() -> None:
    ports = [{"name": "metrics", "containerPort": 8080}, {"containerPort": 9000}]
    service = desired_head_service(cluster(head={"template": template(container(ports=ports))}))

    assert ports_by_name(service)["metrics"] == 8080
    assert ports_by_name(service)["9000-port"] == 9000


def test_ports_moved_by_ray_start_params_move_in_the_service() -> None:
    params = {"port": "6380", "dashboard-port": "8266", "ray-client-server-port": "10002"}
    service = desired_head_service(cluster(head={"rayStartParams": params, "template": template()}))

    assert ports_by_name(service) == {
        "client": 10002,
        "dashboard": 8266,
        "dashboard-agent": 52365,
        "gcs": 6380,
        "serve": 8000,
    }


def test_the_head_service_type_and_annotations_come_from_the_spec() -> None:
    spec = cluster(
        head={"serviceType": "NodePort", "template": template()},
        headServiceAnnotations={"cloud.example/lb": "internal"},
    )
    service = desired_head_service(spec)

    assert service["spec"]["type"] == "NodePort"
    assert service["metadata"]["annotations"] == {"cloud.example/lb": "internal"}


def test_a_head_service_without_annotations_has_no_annotations_key() -> None:
    assert "annotations" not in desired_head_service(cluster())["metadata"]


def test_the_dashboard_service_exposes_only_the_agent_port_of_the_head() -> None:
    service = desired_dashboard_service(cluster())

    assert service["metadata"]["name"] == "demo-dashboard-svc"
    assert service["metadata"]["ownerReferences"] == [OWNER]
    assert service["spec"]["selector"] == {"ray.io/cluster": "demo", "ray.io/node-type": "head"}
    assert service["spec"]["type"] == "ClusterIP"
    assert ports_by_name(service) == {"dashboard-agent": 52365}


def test_long_cluster_names_give_service_names_of_63_characters() -> None:
    name = "x" * 63
    spec = cluster(name)

    assert len(desired_head_service(spec)["metadata"]["name"]) == 63
    assert len(desired_dashboard_service(spec)["metadata"]["name"]) == 63
    assert desired_head_service(spec)["spec"]["selector"]["ray.io/cluster"] == name
