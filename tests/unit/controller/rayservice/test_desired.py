"""The RayCluster made for a RayService and the two Services in front of its active cluster."""

from __future__ import annotations

import copy

from rayservice.api import CLUSTER_HASH_ANNOTATION
from rayservice.controller.raycluster.desired import desired_head_pod
from rayservice.controller.rayservice import (
    REPLACEMENTS_ANNOTATION,
    desired_cluster,
    desired_head_service,
    desired_serve_service,
    serve_service_name_of,
)
from tests.unit.controller.rayservice.samples import NAME, NAMESPACE, UID, cluster_config, config_hash, rayservice

OWNER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayService",
    "name": NAME,
    "uid": UID,
    "controller": True,
    "blockOwnerDeletion": True,
}


def made_cluster(name: str = "fruit-raycluster-abcde") -> dict[str, object]:
    return desired_cluster(rayservice(), name=name)


def test_the_cluster_carries_the_origin_labels_the_config_hash_and_the_controller_reference() -> None:
    service = rayservice()
    service["metadata"]["labels"] = {"team": "fruit", "ray.io/originated-from-cr-name": "spoofed"}
    service["metadata"]["annotations"] = {
        "note": "kept",
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
    }
    cluster = desired_cluster(service, name="fruit-raycluster-abcde")
    meta = cluster["metadata"]
    assert meta["name"] == "fruit-raycluster-abcde" and meta["namespace"] == NAMESPACE
    assert meta["labels"] == {
        "team": "fruit",
        "ray.io/originated-from-crd": "RayService",
        "ray.io/originated-from-cr-name": NAME,
        "app.kubernetes.io/created-by": "rayservice-operator",
    }
    assert meta["annotations"] == {"note": "kept", CLUSTER_HASH_ANNOTATION: config_hash()}
    assert meta["ownerReferences"] == [OWNER]
    assert cluster["spec"] == cluster_config()


def test_a_replacement_counts_the_replacements_in_a_row() -> None:
    cluster = desired_cluster(rayservice(), name="c", replacements=2)
    assert cluster["metadata"]["annotations"][REPLACEMENTS_ANNOTATION] == "2"


def test_the_cluster_spec_shares_nothing_with_the_rayservice() -> None:
    service = rayservice()
    cluster = desired_cluster(service, name="c")
    cluster["spec"]["workerGroupSpecs"][0]["replicas"] = 99
    assert service["spec"]["rayClusterConfig"] == cluster_config()


def test_the_head_service_selects_the_head_of_the_given_cluster_with_the_head_ports() -> None:
    svc = desired_head_service(rayservice(), made_cluster())
    assert svc["metadata"]["name"] == f"{NAME}-head-svc"
    assert svc["metadata"]["ownerReferences"] == [OWNER]
    assert "ray.io/cluster" not in svc["metadata"]["labels"]
    assert svc["metadata"]["labels"]["app.kubernetes.io/created-by"] == "rayservice-operator"
    assert svc["spec"]["selector"] == {"ray.io/cluster": "fruit-raycluster-abcde", "ray.io/node-type": "head"}
    ports = {port["name"]: port["port"] for port in svc["spec"]["ports"]}
    assert ports == {"client": 10001, "dashboard": 8265, "dashboard-agent": 52365, "gcs": 6379, "serve": 8000}
    assert svc["spec"]["type"] == "ClusterIP"


def test_the_serve_service_selects_the_serving_pods_of_the_given_cluster_on_port_8000() -> None:
    svc = desired_serve_service(rayservice(), made_cluster())
    assert svc["metadata"]["name"] == f"{NAME}-serve-svc" == serve_service_name_of(rayservice())
    assert svc["spec"] == {
        "selector": {"ray.io/cluster": "fruit-raycluster-abcde", "ray.io/serve": "true"},
        "ports": [{"name": "serve", "port": 8000, "targetPort": 8000, "protocol": "TCP"}],
        "type": "ClusterIP",
    }


def test_excluding_the_head_keeps_only_workers_behind_the_serve_service() -> None:
    svc = desired_serve_service(rayservice(excludeHeadPodFromServeSvc=True), made_cluster())
    assert svc["spec"]["selector"]["ray.io/node-type"] == "worker"


def test_the_serve_port_follows_the_head_containers_serve_port() -> None:
    config = cluster_config()
    head = config["headGroupSpec"]["template"]["spec"]["containers"][0]
    head["ports"] = [{"name": "serve", "containerPort": 9000}]
    cluster = desired_cluster(rayservice(config=config), name="c")
    svc = desired_serve_service(rayservice(config=config), cluster)
    assert svc["spec"]["ports"] == [{"name": "serve", "port": 9000, "targetPort": 9000, "protocol": "TCP"}]


def test_the_serve_service_template_is_honoured_but_never_its_selector() -> None:
    template = {
        "metadata": {"name": "custom-serve", "labels": {"tier": "web"}, "annotations": {"lb": "internal"}},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "mine"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8000}],
            "sessionAffinity": "ClientIP",
        },
    }
    service = rayservice(serveService=copy.deepcopy(template))
    svc = desired_serve_service(service, made_cluster())
    assert svc["metadata"]["name"] == "custom-serve" == serve_service_name_of(service)
    assert svc["metadata"]["labels"]["tier"] == "web"
    assert svc["metadata"]["annotations"] == {"lb": "internal"}
    assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["sessionAffinity"] == "ClientIP"
    assert svc["spec"]["ports"] == template["spec"]["ports"]
    assert svc["spec"]["selector"] == {"ray.io/cluster": "fruit-raycluster-abcde", "ray.io/serve": "true"}


def test_each_cluster_of_an_upgrade_gets_its_own_gcs_storage_namespace() -> None:
    ft = {"gcsFaultToleranceOptions": {"redisAddress": "redis:6379"}}
    old_service = rayservice(config=cluster_config(**ft))
    new_service = rayservice(config=cluster_config(image="rayproject/ray:2.60.1", **ft))
    namespaces = []
    for service, name in ((old_service, "fruit-raycluster-aaaaa"), (new_service, "fruit-raycluster-bbbbb")):
        cluster = desired_cluster(service, name=name)
        assert "externalStorageNamespace" not in cluster["spec"]["gcsFaultToleranceOptions"]
        assert "ray.io/external-storage-namespace" not in cluster["metadata"].get("annotations", {})
        cluster["metadata"]["uid"] = f"{name}-uid"  # the API server's, on create
        head = desired_head_pod(cluster, name=f"{name}-head-x")
        env = {e["name"]: e for e in head["spec"]["containers"][0]["env"]}
        namespaces.append(env["RAY_external_storage_namespace"]["value"])
    assert namespaces == ["fruit-raycluster-aaaaa-uid", "fruit-raycluster-bbbbb-uid"]
