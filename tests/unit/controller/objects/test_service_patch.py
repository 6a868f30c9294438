"""The Service patch: only owned fields, only when they differ, never clusterIP, nodePorts kept."""

from __future__ import annotations

import ast
import copy
import inspect
from typing import Any

from rayservice.controller.objects import controlled_by_other, service_patch
from rayservice.controller.objects import service_diff as module
from rayservice.controller.raycluster import desired_head_service
from tests.unit.controller.raycluster.samples import cluster


def observed(desired: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """``desired`` as the API server returns it: clusterIP and defaults added, ports in another order."""
    result = copy.deepcopy(desired)
    result["metadata"] |= {
        "uid": "svc-uid",
        "resourceVersion": "7",
        "labels": {**desired["metadata"]["labels"], "x": "y"},
    }
    result["spec"] |= {"clusterIP": "10.96.0.9", "sessionAffinity": "None", **spec}
    result["spec"]["ports"] = [dict(port, appProtocol="tcp") for port in reversed(result["spec"]["ports"])]
    return result


def test_a_service_as_the_server_returns_it_needs_no_patch() -> None:
    desired = desired_head_service(cluster())
    assert service_patch(observed(desired), desired) is None


def test_a_selector_patch_removes_stale_keys_and_leaves_everything_else_alone() -> None:
    desired = desired_head_service(cluster())
    current = observed(desired)
    current["spec"]["selector"] = {"ray.io/cluster": "other", "old": "key"}
    assert service_patch(current, desired) == {
        "spec": {"selector": {"old": None, "ray.io/cluster": "demo", "ray.io/node-type": "head"}}
    }


def test_missing_labels_and_a_lost_controller_reference_are_patched_keeping_other_references() -> None:
    desired = desired_head_service(cluster())
    current = observed(desired)
    current["metadata"]["labels"].pop("ray.io/cluster")
    stale = dict(desired["metadata"]["ownerReferences"][0], uid="old-incarnation")
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "cm"}
    current["metadata"]["ownerReferences"] = [stale, other]
    patch = service_patch(current, desired)
    assert patch == {
        "metadata": {
            "labels": {"ray.io/cluster": "demo"},
            "ownerReferences": [desired["metadata"]["ownerReferences"][0], other],
        }
    }
    assert not controlled_by_other(current, cluster())


def test_a_type_change_resends_the_ports_keeping_node_ports_while_the_type_has_them() -> None:
    desired = desired_head_service(
        cluster(
            head={
                "serviceType": "LoadBalancer",
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray"}]}},
            }
        )
    )
    current = observed(desired, type="NodePort")
    for index, port in enumerate(current["spec"]["ports"]):
        port["nodePort"] = 30000 + index
    patch = service_patch(current, desired)
    assert patch is not None and patch["spec"]["type"] == "LoadBalancer"
    assert {port["name"]: port.get("nodePort") for port in patch["spec"]["ports"]} == {
        port["name"]: port["nodePort"] for port in current["spec"]["ports"]
    }
    assert "clusterIP" not in patch["spec"]

    back = desired_head_service(cluster())
    patch = service_patch(current, back)
    assert patch is not None and patch["spec"]["type"] == "ClusterIP"
    assert all("nodePort" not in port for port in patch["spec"]["ports"])


def test_a_changed_port_number_resends_every_port() -> None:
    desired = desired_head_service(cluster())
    current = observed(desired)
    current["spec"]["ports"][0]["port"] = 1
    patch = service_patch(current, desired)
    assert patch == {"spec": {"ports": desired["spec"]["ports"]}}


def test_a_service_controlled_by_a_rayservice_or_another_cluster_is_someone_elses() -> None:
    service = observed(desired_head_service(cluster()))
    service["metadata"]["ownerReferences"] = [{"kind": "RayService", "name": "demo", "controller": True}]
    assert controlled_by_other(service, cluster())
    service["metadata"]["ownerReferences"] = [{"kind": "RayCluster", "name": "other", "controller": True}]
    assert controlled_by_other(service, cluster())
    service["metadata"]["ownerReferences"] = []
    assert not controlled_by_other(service, cluster())


def test_the_module_is_pure() -> None:
    tree = ast.parse(inspect.getsource(module))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & {"asyncio", "aiohttp", "kubernetes", "socket", "time"}
    assert not any(isinstance(node, ast.AsyncFunctionDef) for node in ast.walk(tree))


def test_ports_the_server_defaulted_need_no_patch_for_either_reconciler() -> None:
    """The API server fills ``targetPort`` (= ``port``) and ``protocol`` (TCP): a desired port without them
    matches, so a converged Service is never patched on every pass."""
    desired = desired_head_service(cluster())
    for port in desired["spec"]["ports"]:
        port.pop("targetPort", None)
        port.pop("protocol", None)
    current = observed(desired)
    for port in current["spec"]["ports"]:
        port.update(targetPort=port["port"], protocol="TCP")
    assert service_patch(current, desired) is None
    current["spec"]["ports"][0]["targetPort"] = 1
    assert service_patch(current, desired) == {"spec": {"ports": desired["spec"]["ports"]}}


def test_an_owner_reference_is_matched_by_uid_and_controller_flag_not_by_every_field() -> None:
    desired = desired_head_service(cluster())
    current = observed(desired)
    ref = dict(desired["metadata"]["ownerReferences"][0])
    ref.pop("blockOwnerDeletion", None)
    current["metadata"]["ownerReferences"] = [ref]
    assert service_patch(current, desired) is None
    current["metadata"]["ownerReferences"] = [dict(ref, uid="another-incarnation")]
    patch = service_patch(current, desired)
    assert patch == {"metadata": {"ownerReferences": desired["metadata"]["ownerReferences"]}}
