"""In-place scaling patches and Service patches: nothing when converged, only what differs otherwise."""

from __future__ import annotations

import copy
from typing import Any

from rayservice.controller.objects import service_patch
from rayservice.controller.rayservice import (
    desired_cluster,
    desired_serve_service,
    owner_reference,
    scale_patch,
)
from tests.unit.controller.rayservice.samples import cluster_config, raw_cluster, rayservice


def test_a_cluster_with_the_desired_scale_needs_no_patch() -> None:
    assert scale_patch(raw_cluster("c"), cluster_config()) is None


def test_unset_scaling_fields_read_as_kuberays_defaults() -> None:
    config = cluster_config()
    observed = copy.deepcopy(config)
    del observed["workerGroupSpecs"][0]["minReplicas"]
    config["workerGroupSpecs"][0]["maxReplicas"] = 2**31 - 1
    del observed["workerGroupSpecs"][0]["maxReplicas"]
    assert scale_patch(raw_cluster("c", config=observed), config) is None


def test_a_scaling_change_replaces_the_groups_with_only_the_scaling_values_changed() -> None:
    desired = cluster_config(replicas=3)
    desired["workerGroupSpecs"][0]["scaleStrategy"] = {"workersToDelete": ["c-worker-small-xyz12"]}
    cluster = raw_cluster("c")
    patch = scale_patch(cluster, desired)
    assert patch is not None
    (group,) = patch["spec"]["workerGroupSpecs"]
    assert group == {
        **cluster["spec"]["workerGroupSpecs"][0],
        "replicas": 3,
        "scaleStrategy": {"workersToDelete": ["c-worker-small-xyz12"]},
    }


def test_with_in_tree_autoscaling_the_autoscaler_keeps_its_replicas() -> None:
    observed = cluster_config(replicas=4, enableInTreeAutoscaling=True)
    desired = cluster_config(replicas=1, enableInTreeAutoscaling=True)
    assert scale_patch(raw_cluster("c", config=observed), desired) is None
    desired["workerGroupSpecs"][0]["maxReplicas"] = 10
    patch = scale_patch(raw_cluster("c", config=observed), desired)
    assert patch is not None and patch["spec"]["workerGroupSpecs"][0]["replicas"] == 4


def served(desired: dict[str, Any]) -> dict[str, Any]:
    """``desired`` as the API server stores it: defaults and allocations added."""
    stored = copy.deepcopy(desired)
    stored["metadata"].update(uid="svc-uid", resourceVersion="7")
    stored["metadata"]["labels"]["extra"] = "someone else's"
    stored["spec"].update(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], sessionAffinity="None")
    return stored


def serve_service(cluster: str = "c1", **spec: Any) -> dict[str, Any]:
    return desired_serve_service(rayservice(**spec), desired_cluster(rayservice(), name=cluster))


def test_a_service_the_server_stored_as_desired_needs_no_patch() -> None:
    desired = serve_service()
    assert service_patch(served(desired), desired) is None


def test_switching_clusters_patches_only_the_selector() -> None:
    observed = served(serve_service("c1", excludeHeadPodFromServeSvc=True))
    desired = serve_service("c2")
    assert service_patch(observed, desired) == {
        "spec": {"selector": {"ray.io/cluster": "c2", "ray.io/serve": "true", "ray.io/node-type": None}}
    }


def test_a_ports_change_keeps_allocated_node_ports() -> None:
    template = {"spec": {"type": "NodePort", "ports": [{"name": "serve", "port": 8000, "targetPort": 8000}]}}
    observed = served(serve_service(serveService=template))
    observed["spec"]["ports"][0]["nodePort"] = 30080
    template["spec"]["ports"][0]["port"] = 8080
    patch = service_patch(observed, serve_service(serveService=template))
    assert patch == {"spec": {"ports": [{"name": "serve", "port": 8080, "targetPort": 8000, "nodePort": 30080}]}}


def test_an_adopted_service_gets_our_controller_reference_and_keeps_other_owners() -> None:
    desired = serve_service()
    observed = served(desired)
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "x-uid"}
    observed["metadata"]["ownerReferences"] = [other]
    patch = service_patch(observed, desired)
    assert patch == {"metadata": {"ownerReferences": [owner_reference(rayservice()), other]}}


def test_template_fields_are_compared_as_contained() -> None:
    template = {"spec": {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}}
    desired = serve_service(serveService=template)
    observed = served(desired)
    observed["spec"]["sessionAffinity"] = "ClientIP"
    assert service_patch(observed, desired) is None
    observed["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = 10
    assert service_patch(observed, desired) == {
        "spec": {"sessionAffinityConfig": template["spec"]["sessionAffinityConfig"]}
    }
