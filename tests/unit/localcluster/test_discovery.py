"""Discovery documents, compared with what a real kube-apiserver v1.36 answered (S10 recordings)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from e2e.localcluster.apiserver.http.discovery import (
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    kube_version_key,
    storage_version_hash,
    version_info,
)
from e2e.localcluster.apiserver.schema.crds import resource_types_for
from e2e.localcluster.apiserver.schema.resources import Registry

RECORDINGS = Path(__file__).parents[2] / "conformance" / "kubeapi" / "recordings"


def _body(scenario: str, step: str) -> Any:
    doc = json.loads((RECORDINGS / f"{scenario}.json").read_text())
    return next(s for s in doc["steps"] if s["name"] == step)["response_normalized"]["body"]


def _widget_crd() -> dict[str, Any]:
    doc = json.loads((RECORDINGS / "S00.json").read_text())
    crd: dict[str, Any] = next(s for s in doc["steps"] if s["name"] == "crd-create")["request"]["body"]
    return crd


def _registry(crd: dict[str, Any] | None = None) -> Registry:
    registry = Registry()
    for rt in resource_types_for(crd or _widget_crd()):
        registry.add(rt)
    return registry


def test_version_matches_the_recorded_server_version() -> None:
    recorded = _body("S10", "version")
    ours = version_info()
    assert set(ours) == set(recorded)
    for key in ("major", "minor", "emulationMajor", "emulationMinor", "minCompatibilityMajor",
                "minCompatibilityMinor", "gitVersion"):
        assert ours[key] == recorded[key]


def test_api_versions_has_no_api_version_field() -> None:
    assert api_versions("127.0.0.1:6443") == _body("S10", "api")


def test_a_custom_group_and_its_resources_match_the_recording() -> None:
    registry = _registry()
    assert api_group(registry, "example.com") == _body("S10", "apis-group")
    assert api_resource_list(registry, "example.com", "v1") == _body("S10", "apis-group-version")


def test_served_core_resources_match_the_recorded_entries_and_the_list_has_no_api_version() -> None:
    recorded = _body("S10", "api-v1")
    ours = api_resource_list(_registry(), "", "v1")
    assert ours is not None
    assert {k: v for k, v in ours.items() if k != "resources"} == \
        {k: v for k, v in recorded.items() if k != "resources"}
    by_name = {r["name"]: r for r in recorded["resources"]}
    names = [r["name"] for r in ours["resources"]]
    assert {"pods", "pods/binding", "pods/log", "pods/status", "namespaces/finalize", "services/status"} <= set(names)
    assert names == sorted(names)
    for entry in ours["resources"]:
        assert entry == by_name[entry["name"]]


def test_group_list_follows_the_recorded_order_and_entries() -> None:
    recorded = _body("S10", "apis")
    ours = api_group_list(_registry())
    assert {k: v for k, v in ours.items() if k != "groups"} == {k: v for k, v in recorded.items() if k != "groups"}
    recorded_groups = [g for g in recorded["groups"] if g["name"] in {o["name"] for o in ours["groups"]}]
    assert ours["groups"] == recorded_groups


def test_aggregated_discovery_matches_the_recording_for_groups_served_alike() -> None:
    recorded = _body("S10", "aggregated-discovery")
    ours = aggregated_discovery(_registry(), core=False)
    assert {k: v for k, v in ours.items() if k != "items"} == {k: v for k, v in recorded.items() if k != "items"}
    recorded_items = {i["metadata"]["name"]: i for i in recorded["items"]}
    our_items = {i["metadata"]["name"]: i for i in ours["items"]}
    for name in ("example.com", "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
                 "rbac.authorization.k8s.io"):
        assert our_items[name] == recorded_items[name], name
    order = [n for n in recorded_items if n in our_items]
    assert list(our_items) == order


def test_core_aggregated_discovery_describes_pods_with_their_subresources() -> None:
    core = aggregated_discovery(_registry(), core=True)
    assert [i["metadata"] for i in core["items"]] == [{}]
    version = core["items"][0]["versions"][0]
    assert (version["version"], version["freshness"]) == ("v1", "Current")
    pods = next(r for r in version["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}
    assert [(s["subresource"], s["responseKind"]["kind"], s["verbs"]) for s in pods["subresources"]] == [
        ("attach", "PodAttachOptions", ["create", "get"]), ("binding", "Binding", ["create"]),
        ("exec", "PodExecOptions", ["create", "get"]), ("log", "Pod", ["get"]),
        ("portforward", "PodPortForwardOptions", ["create", "get"]), ("status", "Pod", ["get", "patch", "update"])]


def test_unknown_groups_and_versions_are_not_found() -> None:
    registry = _registry()
    assert api_group(registry, "nope.example.com") is None
    assert api_resource_list(registry, "nope.example.com", "v1") is None
    assert api_resource_list(registry, "example.com", "v2") is None
    assert api_group(registry, "") is None


def test_versions_are_in_kube_order_and_the_preferred_one_is_first() -> None:
    crd = copy.deepcopy(_widget_crd())
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [{**v1, "name": "v1alpha1", "storage": False},
                               {**v1, "name": "v1beta2", "storage": False}, v1]
    group = api_group(_registry(crd), "example.com")
    assert group is not None
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta2", "v1alpha1"]
    assert group["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}
    assert sorted(["v1alpha1", "v2", "v1", "v10beta1", "foo", "v1beta1"], key=kube_version_key) == [
        "v2", "v1", "v10beta1", "v1beta1", "v1alpha1", "foo"]


def test_every_served_version_hashes_the_storage_version() -> None:
    crd = copy.deepcopy(_widget_crd())
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [{**v1, "name": "v1alpha1", "storage": False}, v1]
    body = api_resource_list(_registry(crd), "example.com", "v1alpha1")
    assert body is not None
    assert body["resources"][0]["storageVersionHash"] == storage_version_hash("example.com", "v1", "Widget")
    assert storage_version_hash("", "v1", "Pod") == "xPOwRZ+Yhw8="


def test_discovery_reflects_the_registry_at_call_time() -> None:
    registry = _registry()
    assert api_group(registry, "example.com") is not None
    registry.remove_group_resource("example.com", "widgets")
    assert api_group(registry, "example.com") is None
    assert "example.com" not in [i["metadata"].get("name") for i in aggregated_discovery(registry, False)["items"]]
