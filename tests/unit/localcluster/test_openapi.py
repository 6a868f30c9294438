"""OpenAPI documents: what kubectl needs to send fieldValidation=Strict, pick patch types and explain kinds."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver.http.openapi import openapi_v2, openapi_v3_group_version, openapi_v3_index
from e2e.localcluster.apiserver.schema.crds import resource_types_for
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType

RECORDINGS = Path(__file__).parents[2] / "conformance" / "kubeapi" / "recordings"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def _widget_crd() -> dict[str, Any]:
    doc = json.loads((RECORDINGS / "S00.json").read_text())
    crd: dict[str, Any] = next(s for s in doc["steps"] if s["name"] == "crd-create")["request"]["body"]
    return crd


def _registry(crd: dict[str, Any] | None = None) -> Registry:
    registry = Registry()
    for rt in resource_types_for(crd or _widget_crd()):
        registry.add(rt)
    return registry


def _gv_docs(registry: Registry) -> Iterator[tuple[ResourceType, dict[str, Any]]]:
    for rt in registry:
        doc = openapi_v3_group_version(registry, rt.group, rt.version)
        assert doc is not None
        yield rt, doc


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def _supports_field_validation(doc: dict[str, Any], rt: ResourceType) -> bool:
    """kubectl's QueryParamVerifierV3: the first PATCH for the GVK must declare the query parameter."""
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    for _path, method, op in _operations(doc):
        if method == "patch" and op.get("x-kubernetes-group-version-kind") == gvk:
            return any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])
    return False


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_index_lists_every_served_group_version_with_a_hashed_url() -> None:
    index = openapi_v3_index(_registry())
    assert {"api/v1", "apis/example.com/v1", "apis/apps/v1", "apis/apiextensions.k8s.io/v1"} <= set(index["paths"])
    url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/example.com/v1?hash=")
    assert len(url.split("hash=")[1]) == 128


def test_the_hash_changes_when_the_registry_changes_and_is_stable_otherwise() -> None:
    before = openapi_v3_index(_registry())
    assert openapi_v3_index(_registry()) == before
    crd = copy.deepcopy(_widget_crd())
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["extra"] = {
        "type": "string"}
    after = openapi_v3_index(_registry(crd))
    assert after["paths"]["apis/example.com/v1"] != before["paths"]["apis/example.com/v1"]
    assert after["paths"]["api/v1"] == before["paths"]["api/v1"]
    assert "apis/example.com/v1" not in openapi_v3_index(Registry())["paths"]


def test_kubectl_finds_field_validation_support_for_every_resource() -> None:
    registry = _registry()
    for rt, doc in _gv_docs(registry):
        if "patch" not in rt.verbs:
            continue  # create-only kinds (TokenReview): kube publishes no PATCH either, kubectl falls back to v2
        assert _supports_field_validation(doc, rt), rt.plural


def test_every_create_update_and_patch_declares_field_validation() -> None:
    for _rt, doc in _gv_docs(_registry()):
        for path, method, op in _operations(doc):
            if method in ("post", "put", "patch"):
                assert "fieldValidation" in [p["name"] for p in op["parameters"]], (path, method)


def test_no_patch_operation_offers_strategic_merge_patch() -> None:
    for _rt, doc in _gv_docs(_registry()):
        for _path, method, op in _operations(doc):
            if method == "patch":
                assert set(op["requestBody"]["content"]) == {"application/json-patch+json",
                                                             "application/merge-patch+json",
                                                             "application/apply-patch+yaml"}


def test_paths_cover_collection_item_all_namespaces_and_status() -> None:
    doc = openapi_v3_group_version(_registry(), "example.com", "v1")
    assert doc is not None
    base = "/apis/example.com/v1/namespaces/{namespace}/widgets"
    paths = doc["paths"]
    assert {m for m in HTTP_METHODS if m in paths[base]} == {"get", "post", "delete"}
    assert {m for m in HTTP_METHODS if m in paths[base + "/{name}"]} == {"get", "put", "patch", "delete"}
    assert {m for m in HTTP_METHODS if m in paths[base + "/{name}/status"]} == {"get", "put", "patch"}
    assert "get" in paths["/apis/example.com/v1/widgets"]
    assert paths[base + "/{name}"]["patch"]["x-kubernetes-action"] == "patch"
    assert paths[base + "/{name}"]["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "example.com", "version": "v1", "kind": "Widget"}


def test_a_custom_kind_schema_is_its_crd_schema_with_type_meta_and_object_meta() -> None:
    doc = openapi_v3_group_version(_registry(), "example.com", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    widget = schemas["com.example.v1.Widget"]
    crd_schema = _widget_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert widget["properties"]["spec"] == crd_schema["properties"]["spec"]
    assert widget["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert widget["x-kubernetes-group-version-kind"] == [{"group": "example.com", "kind": "Widget", "version": "v1"}]
    assert schemas["com.example.v1.WidgetList"]["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "WidgetList", "version": "v1"}]


def test_built_in_schemas_carry_patch_merge_keys() -> None:
    doc = openapi_v3_group_version(_registry(), "", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["properties"]["containers"]
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    assert containers["items"]["properties"]["env"]["x-kubernetes-patch-merge-key"] == "name"
    ports = schemas["io.k8s.api.core.v1.Service"]["properties"]["spec"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"
    owners = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["ownerReferences"]
    assert owners["x-kubernetes-patch-merge-key"] == "uid"


@pytest.mark.parametrize("v3", [True, False])
def test_every_reference_resolves_within_its_document(v3: bool) -> None:
    registry = _registry()
    docs = [doc for _rt, doc in _gv_docs(registry)] if v3 else [openapi_v2(registry)]
    for doc in docs:
        defined = doc["components"]["schemas"] if v3 else doc["definitions"]
        prefix = "#/components/schemas/" if v3 else "#/definitions/"
        for target in _refs(doc):
            assert target.startswith(prefix) and target[len(prefix):] in defined, target


def test_swagger_v2_has_definitions_for_built_in_and_custom_kinds() -> None:
    doc = openapi_v2(_registry())
    assert doc["swagger"] == "2.0"
    defs = doc["definitions"]
    assert defs["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}]
    assert defs["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["group"] == "apps"
    assert defs["com.example.v1.Widget"]["properties"]["spec"]["properties"]["size"] == {"type": "integer",
                                                                                          "minimum": 1}
    patch = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["consumes"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


def test_swagger_v2_drops_what_it_cannot_express() -> None:
    crd = copy.deepcopy(_widget_crd())
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    props["port"] = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    props["note"] = {"type": "string", "nullable": True}
    spec = openapi_v2(_registry(crd))["definitions"]["com.example.v1.Widget"]["properties"]["spec"]["properties"]
    assert spec["port"] == {"x-kubernetes-int-or-string": True}
    assert spec["note"] == {}
    v3 = openapi_v3_group_version(_registry(crd), "example.com", "v1")
    assert v3 is not None
    assert v3["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"]["properties"]["note"] == {
        "type": "string", "nullable": True}


def test_a_group_version_nothing_serves_has_no_document() -> None:
    assert openapi_v3_group_version(_registry(), "nope.example.com", "v1") is None
    assert openapi_v3_group_version(_registry(), "example.com", "v2") is None
