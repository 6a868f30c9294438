"""What the shared caches keep of each object (rayservice.controller.caches)."""

from __future__ import annotations

from typing import Any

from rayservice.controller.caches import cached_form, slim_endpoint_slice, slim_pod, without_last_applied

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "h", "namespace": "ns", "labels": {"ray.io/cluster": "c"}, "ownerReferences": [{"uid": "u"}],
                 "deletionTimestamp": None, "creationTimestamp": "2026-01-01T00:00:00Z", "resourceVersion": "7"},
    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0", "env": [{"name": "A"}]}]},
    "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}], "hostIP": "10.1.0.1",
               "conditions": [{"type": "Ready", "status": "True"}], "startTime": "2026-01-01T00:00:01Z",
               "containerStatuses": [{"name": "ray-head", "ready": True, "imageID": "sha256:..."}], "qosClass": "x"},
}


def test_a_cached_pod_keeps_metadata_and_the_status_fields_reconcilers_read_and_nothing_else() -> None:
    slim = slim_pod(POD)
    assert slim["metadata"] == POD["metadata"]
    assert (slim["apiVersion"], slim["kind"]) == ("v1", "Pod")
    assert "spec" not in slim
    assert slim["status"] == {key: POD["status"][key] for key in
                              ("phase", "podIP", "podIPs", "hostIP", "conditions", "startTime")}
    assert "spec" in POD and "containerStatuses" in POD["status"]  # the watched object is not changed


def test_a_cached_endpoint_slice_keeps_what_endpoints_are_counted_by() -> None:
    piece = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"name": "s", "namespace": "ns", "labels": {"kubernetes.io/service-name": "x"}},
             "ports": [{"name": "serve", "port": 8000}],
             "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "nodeName": "n1",
                            "targetRef": {"kind": "Pod", "name": "h"}, "zone": "z"}]}
    slim = slim_endpoint_slice(piece)
    assert "ports" not in slim
    assert slim["metadata"] == piece["metadata"] and slim["addressType"] == "IPv4"
    assert slim["endpoints"] == [{"addresses": ["10.0.0.1"], "conditions": {"ready": True},
                                  "targetRef": {"kind": "Pod", "name": "h"}}]


def test_the_cached_form_trims_then_shares_strings_and_equals_the_trimmed_object() -> None:
    assert cached_form(slim_pod)(POD) == slim_pod(POD)
    assert cached_form()(POD) == POD


def test_a_cached_rayservice_or_raycluster_drops_only_the_last_applied_configuration_annotation() -> None:
    obj = {"kind": "RayService", "metadata": {"name": "a", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{...the whole object...}", "keep": "me"}}, "spec": {}}
    slim = without_last_applied(obj)
    assert slim == {"kind": "RayService", "metadata": {"name": "a", "annotations": {"keep": "me"}}, "spec": {}}
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    plain = {"kind": "RayCluster", "metadata": {"name": "b"}}
    assert without_last_applied(plain) is plain
