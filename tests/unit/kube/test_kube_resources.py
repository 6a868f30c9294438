"""Resource addressing and request shapes (rayservice.kube.resources, rayservice.kube.options)."""

from __future__ import annotations

import pytest

from rayservice.kube import (
    LEASES,
    NAMESPACES,
    PODS,
    RAY_SERVICES,
    PatchType,
    Preconditions,
    PropagationPolicy,
    Resource,
)
from rayservice.kube.options import delete_options, patch_body, with_type


def test_core_resources_live_under_api_v1_and_grouped_ones_under_apis() -> None:
    assert PODS.path(namespace="default", name="p") == "/api/v1/namespaces/default/pods/p"
    assert LEASES.path(namespace="ray-system") == "/apis/coordination.k8s.io/v1/namespaces/ray-system/leases"
    assert RAY_SERVICES.path(namespace="ns", name="s", subresource="status") == (
        "/apis/ray.io/v1/namespaces/ns/rayservices/s/status"
    )


def test_a_namespaced_collection_without_namespace_means_all_namespaces() -> None:
    assert PODS.path() == "/api/v1/pods"
    assert RAY_SERVICES.path() == "/apis/ray.io/v1/rayservices"


def test_cluster_scoped_paths_never_carry_a_namespace() -> None:
    assert NAMESPACES.path(namespace="ignored", name="default") == "/api/v1/namespaces/default"


def test_names_cannot_escape_their_path_segment() -> None:
    assert PODS.path(namespace="a/b", name="../x?y") == "/api/v1/namespaces/a%2Fb/pods/..%2Fx%3Fy"


def test_an_empty_name_or_a_subresource_of_a_collection_is_refused() -> None:
    with pytest.raises(ValueError, match="empty name"):
        PODS.path(namespace="ns", name="")
    with pytest.raises(ValueError, match="subresource"):
        PODS.path(namespace="ns", subresource="status")


def test_api_version_and_display_name() -> None:
    assert PODS.api_version == "v1"
    assert RAY_SERVICES.api_version == "ray.io/v1"
    assert str(PODS) == "pods"
    assert str(Resource("ray.io", "v1", "rayclusters")) == "rayclusters.ray.io"


def test_a_json_patch_must_be_a_list_and_other_patches_an_object() -> None:
    ops = [{"op": "replace", "path": "/spec/x", "value": 1}]
    assert patch_body(ops, PatchType.JSON) == ops
    assert patch_body({"spec": {"x": 1}}, PatchType.MERGE) == {"spec": {"x": 1}}
    with pytest.raises(ValueError, match="JSON patch"):
        patch_body({"spec": {}}, PatchType.JSON)
    with pytest.raises(ValueError, match="JSON patch"):
        patch_body(ops, PatchType.MERGE)


def test_delete_options_carry_only_what_was_asked() -> None:
    assert delete_options(None, None, None) == {"apiVersion": "v1", "kind": "DeleteOptions"}
    options = delete_options(PropagationPolicy.FOREGROUND, Preconditions(uid="u1"), 0)
    assert options == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Foreground",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u1"},
    }


def test_listed_items_get_the_kind_and_api_version_of_their_list_without_overwriting() -> None:
    page = {"kind": "PodList", "apiVersion": "v1"}
    assert with_type({"metadata": {}}, page) == {"metadata": {}, "kind": "Pod", "apiVersion": "v1"}
    assert with_type({"kind": "X", "apiVersion": "y/v1"}, page) == {"kind": "X", "apiVersion": "y/v1"}
