"""PATCH bodies of the embedded API server: RFC 7386 merge patch, RFC 6902 JSON patch, strategic merge patch."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.storage.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    PATCH_CONTENT_TYPES,
    STRATEGIC_MERGE_PATCH,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget",
          "metadata": {"name": "w1", "labels": {"app": "demo", "tier": "back"}},
          "spec": {"color": "blue", "size": 4}, "status": {"phase": "Ready"}}


def failure(call: Any, *args: Any) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as caught:
        call(*args)
    return caught.value


def directive_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if k.startswith("$")] + [d for v in value.values() for d in directive_keys(v)]
    if isinstance(value, list):
        return [d for v in value for d in directive_keys(v)]
    return []


def test_the_four_patch_content_types_are_kubes() -> None:
    assert PATCH_CONTENT_TYPES == (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH) == (
        "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml")


class TestMergePatch:
    def test_null_deletes_and_objects_merge_recursively_as_recorded_on_kube(self) -> None:
        patched = merge_patch(WIDGET, {"spec": {"color": "red"}, "metadata": {"labels": {"tier": None}}})
        assert patched["metadata"] == {"name": "w1", "labels": {"app": "demo"}}
        assert patched["spec"] == {"color": "red", "size": 4}

    # The examples of RFC 7386, appendix A.
    @pytest.mark.parametrize(("target", "patch", "result"), [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ])
    def test_rfc_7386_examples(self, target: Any, patch: Any, result: Any) -> None:
        assert merge_patch(target, patch) == result

    def test_lists_replace_rather_than_merge(self) -> None:
        assert merge_patch({"l": [1, 2, 3]}, {"l": [4]}) == {"l": [4]}

    def test_inputs_are_never_mutated_and_the_result_shares_nothing_with_them(self) -> None:
        target, patch = {"a": {"b": [1]}, "keep": {"x": [1]}}, {"a": {"c": [2]}, "n": {"m": [3]}}
        before = copy.deepcopy((target, patch))
        result = merge_patch(target, patch)
        result["a"]["b"].append(9)
        result["keep"]["x"].append(9)
        result["n"]["m"].append(9)
        assert (target, patch) == before


class TestJsonPatch:
    def test_operations_apply_in_order_as_recorded_on_kube(self) -> None:
        patched = json_patch(WIDGET, [{"op": "replace", "path": "/spec/size", "value": 5},
                                      {"op": "add", "path": "/metadata/labels/added", "value": "yes"}])
        assert patched["spec"]["size"] == 5
        assert patched["metadata"]["labels"] == {"app": "demo", "tier": "back", "added": "yes"}

    def test_every_rfc_6902_operation_is_supported(self) -> None:
        patched = json_patch({"a": {"b": 1}, "l": [1, 2]}, [
            {"op": "test", "path": "/a/b", "value": 1},
            {"op": "add", "path": "/l/1", "value": 9},
            {"op": "remove", "path": "/l/0"},
            {"op": "copy", "from": "/a", "path": "/c"},
            {"op": "move", "from": "/a/b", "path": "/d"},
            {"op": "replace", "path": "/c/b", "value": 3},
        ])
        assert patched == {"a": {}, "l": [9, 2], "c": {"b": 3}, "d": 1}

    def test_replace_of_a_missing_member_of_an_existing_object_sets_it_as_kube_does(self) -> None:
        # evanphx/json-patch v4 (kube-apiserver's): the Ray autoscaler replaces a group's absent scaleStrategy.
        target = {"spec": {"groups": [{"name": "g", "replicas": 1}]}}
        ops = [
            {"op": "replace", "path": "/spec/groups/0/replicas", "value": 0},
            {"op": "replace", "path": "/spec/groups/0/scaleStrategy", "value": {"workersToDelete": ["p"]}},
        ]

        patched = json_patch(target, ops)

        group = {"name": "g", "replicas": 0, "scaleStrategy": {"workersToDelete": ["p"]}}
        assert patched == {"spec": {"groups": [group]}}
        assert target == {"spec": {"groups": [{"name": "g", "replicas": 1}]}}

    @pytest.mark.parametrize("ops", [
        [{"op": "test", "path": "/spec/size", "value": 99}, {"op": "replace", "path": "/spec/size", "value": 6}],
        [{"op": "replace", "path": "/l/5", "value": 1}],
        [{"op": "replace", "path": "/spec/nothere/x", "value": 1}],
        [{"op": "remove", "path": "/spec/nothere"}],
        [{"op": "add", "path": "/missing/parent", "value": 1}],
        [{"op": "move", "from": "/nothere", "path": "/x"}],
        [{"op": "frobnicate", "path": "/spec"}],
        [{"path": "/spec"}],
        [{"op": "add", "path": "/spec/x"}],
        [{"op": "add", "value": 1}],
        [{"op": "add", "path": 5, "value": 1}],
    ])
    def test_a_failing_or_malformed_operation_is_rejected_like_kube(self, ops: list[Any]) -> None:
        error = failure(json_patch, WIDGET, ops)
        assert error.to_status() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request", "reason": "Invalid",
            "details": {}, "code": 422}

    @pytest.mark.parametrize(("body", "go_type"), [
        ({"op": "add"}, "object"), ("add", "string"), (3, "number"), (1.5, "number"), (True, "bool")])
    def test_a_body_that_is_not_a_list_is_a_bad_request(self, body: Any, go_type: str) -> None:
        error = failure(json_patch, WIDGET, body)
        assert (error.code, error.message) == (
            400, f"json: cannot unmarshal {go_type} into Go value of type jsonpatch.Patch")

    def test_an_operation_that_is_not_an_object_is_a_bad_request(self) -> None:
        error = failure(json_patch, WIDGET, ["add"])
        assert (error.code, error.message) == (
            400, "json: cannot unmarshal string into Go value of type jsonpatch.Operation")

    def test_a_null_body_changes_nothing(self) -> None:
        assert json_patch(WIDGET, None) == WIDGET

    def test_inputs_are_never_mutated_and_the_result_shares_nothing_with_them(self) -> None:
        target, ops = {"a": {"b": 1}}, [{"op": "add", "path": "/v", "value": {"w": [1]}}]
        before = copy.deepcopy((target, ops))
        result = json_patch(target, ops)
        result["a"]["b"] = 2
        result["v"]["w"].append(2)
        assert (target, ops) == before


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": list(containers), **spec}}


def smp(target: dict[str, Any], patch: Any, kind: str = "Pod") -> dict[str, Any]:
    result = strategic_merge_patch(target, patch, kind)
    assert directive_keys(result) == []
    return result


class TestStrategicMergeKeys:
    def test_containers_merge_by_name(self) -> None:
        patched = smp(pod({"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}),
                      {"spec": {"containers": [{"name": "b", "image": "new"}]}})
        assert patched["spec"]["containers"] == [{"name": "a", "image": "i1"}, {"name": "b", "image": "new"}]

    def test_a_new_item_goes_before_the_items_it_is_not_known_to_follow_as_in_kube(self) -> None:
        patched = smp(pod({"name": "a"}, {"name": "b"}), {"spec": {"containers": [{"name": "c"}]}})
        assert [c["name"] for c in patched["spec"]["containers"]] == ["c", "a", "b"]

    @pytest.mark.parametrize(("field", "key", "old", "new"), [
        ("initContainers", "name", {"name": "i", "image": "x"}, {"name": "j"}),
        ("ephemeralContainers", "name", {"name": "e", "image": "x"}, {"name": "f"}),
        ("volumes", "name", {"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}),
        ("imagePullSecrets", "name", {"name": "s"}, {"name": "t"}),
        ("hostAliases", "ip", {"ip": "10.0.0.1", "hostnames": ["a"]}, {"ip": "10.0.0.2"}),
        ("topologySpreadConstraints", "topologyKey", {"topologyKey": "zone", "maxSkew": 1}, {"topologyKey": "host"}),
    ])
    def test_pod_spec_lists_merge_by_their_declared_key(self, field: str, key: str, old: dict[str, Any],
                                                        new: dict[str, Any]) -> None:
        patched = smp(pod(**{field: [old]}), {"spec": {field: [new, {key: old[key], "extra": 1}]}})
        assert patched["spec"][field] == [new, {**old, "extra": 1}]

    @pytest.mark.parametrize(("field", "key", "old", "new"), [
        ("env", "name", {"name": "A", "value": "1"}, {"name": "B", "value": "2"}),
        ("ports", "containerPort", {"containerPort": 80, "name": "http"}, {"containerPort": 81}),
        ("volumeMounts", "mountPath", {"mountPath": "/a", "name": "v"}, {"mountPath": "/b", "name": "w"}),
    ])
    def test_container_lists_merge_by_their_declared_key_in_every_kind_of_container(
            self, field: str, key: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for containers in ("containers", "initContainers", "ephemeralContainers"):
            target = pod(**{containers: [{"name": "c", field: [old]}]})
            patched = smp(target, {"spec": {containers: [{"name": "c", field: [{key: old[key], "x": 1}, new]}]}})
            assert patched["spec"][containers][0][field] == [{**old, "x": 1}, new]

    @pytest.mark.parametrize("field", ["tolerations", "readinessGates"])
    def test_pod_lists_without_a_merge_key_are_replaced(self, field: str) -> None:
        patched = smp(pod(**{field: [{"key": "a"}, {"key": "b"}]}), {"spec": {field: [{"key": "c"}]}})
        assert patched["spec"][field] == [{"key": "c"}]

    def test_env_from_is_replaced(self) -> None:
        target = pod({"name": "c", "envFrom": [{"configMapRef": {"name": "a"}}]})
        patched = smp(target, {"spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]}})
        assert patched["spec"]["containers"][0]["envFrom"] == [{"secretRef": {"name": "s"}}]

    def test_pod_and_node_conditions_merge_by_type(self) -> None:
        conditions = [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]
        patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        for kind in ("Pod", "Node"):
            patched = smp({"kind": kind, "status": {"conditions": conditions}}, patch, kind)
            assert patched["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                                      {"type": "Initialized", "status": "True"}]

    def test_node_addresses_merge_by_type(self) -> None:
        node = {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                         {"type": "Hostname", "address": "n1"}]}}
        patched = smp(node, {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}}, "Node")
        assert patched["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.2"},
                                                  {"type": "Hostname", "address": "n1"}]

    def test_service_ports_merge_by_port(self) -> None:
        service = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 8265, "name": "dashboard"}]}}
        patched = smp(service, {"spec": {"ports": [{"port": 80, "targetPort": 8000}]}}, "Service")
        assert patched["spec"]["ports"] == [{"port": 80, "name": "http", "targetPort": 8000},
                                            {"port": 8265, "name": "dashboard"}]

    def test_deployment_pod_templates_merge_like_pods(self) -> None:
        deployment = {"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]}, {"name": "side", "image": "s"}]}}}}
        app = {"name": "app", "env": [{"name": "B", "value": "2"}]}
        patch = {"spec": {"template": {"spec": {"containers": [app]}}}}
        patched = smp(deployment, patch, "Deployment")
        assert patched["spec"]["template"]["spec"]["containers"] == [
            {"name": "app", "image": "v1", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
            {"name": "side", "image": "s"}]

    @pytest.mark.parametrize("kind", ["Pod", "ConfigMap", "Secret", "Lease", "Role", "SomethingNew"])
    def test_owner_references_merge_by_uid_and_finalizers_merge_as_a_set_in_every_kind(self, kind: str) -> None:
        target = {"metadata": {"finalizers": ["a", "b"], "ownerReferences": [{"uid": "1", "name": "x"}]}}
        patch = {"metadata": {"finalizers": ["b", "c"], "ownerReferences": [{"uid": "2", "name": "y"}]}}
        patched = smp(target, patch, kind)
        assert patched["metadata"]["finalizers"] == ["a", "b", "c"]
        assert patched["metadata"]["ownerReferences"] == [{"uid": "2", "name": "y"}, {"uid": "1", "name": "x"}]

    @pytest.mark.parametrize(("kind", "target", "patch", "result"), [
        ("ConfigMap", {"data": {"a": "1", "b": "2"}}, {"data": {"a": None, "c": "3"}}, {"data": {"b": "2", "c": "3"}}),
        ("Role", {"rules": [{"verbs": ["get"]}]}, {"rules": [{"verbs": ["list"]}]}, {"rules": [{"verbs": ["list"]}]}),
        ("EndpointSlice", {"endpoints": [{"addresses": ["10.0.0.1"]}]}, {"endpoints": []}, {"endpoints": []}),
        ("Lease", {"spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}, {"spec": {"holderIdentity": "b"}},
         {"spec": {"holderIdentity": "b", "leaseDurationSeconds": 15}}),
    ])
    def test_other_kinds_merge_maps_and_replace_lists(self, kind: str, target: dict[str, Any], patch: dict[str, Any],
                                                      result: dict[str, Any]) -> None:
        assert smp(target, patch, kind) == result

    def test_a_value_of_another_type_replaces_the_old_one(self) -> None:
        patched = smp({"spec": {"a": [1], "b": {"c": 1}}}, {"spec": {"a": {"x": None, "y": 1}, "b": "s"}}, "Pod")
        assert patched == {"spec": {"a": {"y": 1}, "b": "s"}}


class TestStrategicMergeDirectives:
    def test_patch_replace_on_a_map_replaces_it_whole(self) -> None:
        target = {"metadata": {"labels": {"a": "1", "b": "2"}}}
        patched = smp(target, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})
        assert patched["metadata"]["labels"] == {"c": "3"}

    def test_patch_delete_on_a_map_empties_it(self) -> None:
        patched = smp({"metadata": {"labels": {"a": "1"}}}, {"metadata": {"labels": {"$patch": "delete"}}})
        assert patched["metadata"]["labels"] == {}

    def test_patch_delete_on_a_list_element_removes_the_item_with_that_key(self) -> None:
        patched = smp(pod({"name": "a"}, {"name": "b"}), {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}})
        assert patched["spec"]["containers"] == [{"name": "b"}]

    def test_patch_replace_in_a_list_replaces_the_list_with_the_other_items(self) -> None:
        patched = smp(pod({"name": "a"}, {"name": "b"}),
                      {"spec": {"containers": [{"name": "c", "env": [{"name": "E", "$patch": "delete"}]},
                                               {"$patch": "replace"}]}})
        assert patched["spec"]["containers"] == [{"name": "c", "env": []}]

    def test_retain_keys_drops_the_fields_not_listed(self) -> None:
        deployment = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
        patched = smp(deployment, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, "Deployment")
        assert patched["spec"]["strategy"] == {"type": "Recreate"}

    def test_retain_keys_works_inside_merged_list_items_as_kubectl_sends_for_volumes(self) -> None:
        target = pod(volumes=[{"name": "v", "emptyDir": {}}])
        patch = {"spec": {"volumes": [{"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "c"}}]}}
        assert smp(target, patch)["spec"]["volumes"] == [{"name": "v", "configMap": {"name": "c"}}]

    def test_set_element_order_orders_the_merged_list(self) -> None:
        patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
                          "containers": [{"name": "c", "image": "i"}]}}
        patched = smp(pod({"name": "a"}, {"name": "b"}), patch)
        assert [c["name"] for c in patched["spec"]["containers"]] == ["a", "c", "b"]

    def test_set_element_order_alone_reorders_the_existing_list(self) -> None:
        patch = {"metadata": {"$setElementOrder/finalizers": ["b", "a"]}}
        assert smp({"metadata": {"finalizers": ["a", "b"]}}, patch)["metadata"]["finalizers"] == ["b", "a"]

    def test_delete_from_primitive_list_removes_those_values(self) -> None:
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}}
        patched = smp({"metadata": {"finalizers": ["a", "b"]}}, patch)
        assert sorted(patched["metadata"]["finalizers"]) == ["b", "c"]

    def test_null_deletes_a_key_and_nulls_in_new_objects_are_dropped(self) -> None:
        patched = smp({"spec": {"nodeName": "n", "x": 1}}, {"spec": {"nodeName": None, "new": {"a": None, "b": 2}}})
        assert patched == {"spec": {"x": 1, "new": {"b": 2}}}

    def test_directives_in_new_parts_of_the_object_are_applied_and_dropped(self) -> None:
        patch = {"spec": {"containers": [{"name": "c", "env": [{"name": "A", "$patch": "delete"}, {"name": "B"}],
                                          "resources": {"$patch": "replace", "limits": {"cpu": "1"}}}]}}
        patched = smp({"metadata": {"name": "p"}}, patch)
        assert patched["spec"]["containers"] == [{"name": "c", "env": [{"name": "B"}],
                                                  "resources": {"limits": {"cpu": "1"}}}]

    def test_a_kubectl_apply_patch_gives_the_applied_object(self) -> None:
        live = pod({"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}, {"name": "OLD", "value": "x"}]},
                   {"name": "side", "image": "s"})
        live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
        patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
                 "spec": {"$setElementOrder/containers": [{"name": "init"}, {"name": "app"}, {"name": "side"}],
                          "containers": [{"$setElementOrder/env": [{"name": "NEW"}, {"name": "A"}], "name": "app",
                                          "image": "v2", "env": [{"name": "NEW", "value": "n"},
                                                                 {"$patch": "delete", "name": "OLD"}]},
                                         {"name": "init", "image": "i"}]}}
        patched = smp(live, patch)
        assert patched["spec"]["containers"] == [
            {"name": "init", "image": "i"},
            {"name": "app", "image": "v2", "env": [{"name": "NEW", "value": "n"}, {"name": "A", "value": "1"}]},
            {"name": "side", "image": "s"}]
        assert patched["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{...}"}

    def test_inputs_are_never_mutated_and_the_result_shares_nothing_with_them(self) -> None:
        target = pod({"name": "a", "env": [{"name": "A"}]})
        patch = {"spec": {"containers": [{"name": "b", "env": [{"name": "B"}]}]}}
        before = copy.deepcopy((target, patch))
        result = strategic_merge_patch(target, patch, "Pod")
        for container in result["spec"]["containers"]:
            container["env"].append({"name": "Z"})
        assert (target, patch) == before

    @pytest.mark.parametrize(("patch", "message"), [
        ({"spec": {"containers": [{"image": "x"}]}}, "map: map[image:x] does not contain declared merge key: name"),
        ({"spec": {"containers": [{"$patch": "delete"}]}}, "map: map[$patch:delete] does not contain declared merge "
                                                           "key: name"),
        ({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}},
         "merging lists cannot yet be specified in the patch"),
        ({"spec": {"containers": [{"name": "a", "$patch": "bogus"}]}},
         "unknown patch type: bogus in map: map[$patch:bogus name:a]"),
        ({"spec": {"$patch": "bogus"}}, "unknown patch type: bogus in map: map[$patch:bogus]"),
        ({"spec": {"$retainKeys": ["a"], "b": 1}}, "invalid patch format of retainKeys"),
        ({"spec": {"$retainKeys": "a"}}, "invalid patch format of retainKeys"),
        ({"spec": {"$setElementOrder/containers": "a"}}, "invalid patch format of setElementOrder list"),
        ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "invalid patch format of primitive list"),
        ({"spec": {"containers": [{"name": "a"}, "b"]}}, "list element types are not identical"),
        ({"metadata": {"finalizers": [{"name": "a"}]}}, "cannot merge lists without merge key for metadata.finalizers"),
        (["not", "a", "map"], "json: cannot unmarshal into Go value of type map[string]interface {}"),
    ])
    def test_a_malformed_strategic_patch_is_a_bad_request(self, patch: Any, message: str) -> None:
        error = failure(strategic_merge_patch, pod({"name": "a"}), patch, "Pod")
        assert (error.code, error.reason) == (400, "BadRequest")
        assert error.message.startswith(message)


# ---- properties -------------------------------------------------------------------------------------

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
NAMES = st.text(alphabet="abc", min_size=1, max_size=2)
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(NAMES, inner, max_size=3), max_leaves=12)
# A merge patch cannot produce an object member whose value is null.
MERGEABLE_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                              | st.dictionaries(NAMES, inner.filter(lambda v: v is not None), max_size=3),
                              max_leaves=12)

NESTED_MAPS = st.recursive(SCALARS, lambda inner: st.dictionaries(NAMES, inner, max_size=3), max_leaves=8)
MAPS_WITHOUT_LISTS = st.dictionaries(NAMES, NESTED_MAPS, max_size=4)


def merge_diff(source: Any, wanted: Any) -> Any:
    """The RFC 7386 patch that turns `source` into `wanted`."""
    if not isinstance(source, dict) or not isinstance(wanted, dict):
        return wanted
    patch: dict[str, Any] = {key: None for key in source if key not in wanted}
    for key, value in wanted.items():
        if key not in source:
            patch[key] = value
        elif json.dumps(source[key], sort_keys=True) != json.dumps(value, sort_keys=True):
            patch[key] = merge_diff(source[key], value)
    return patch


class TestMergePatchProperties:
    @settings(deadline=None)
    @given(ANY_JSON, MERGEABLE_JSON)
    def test_merging_the_diff_of_target_to_other_yields_other(self, target: Any, other: Any) -> None:
        before = copy.deepcopy(target)
        patch = merge_diff(target, other)
        assert merge_patch(target, patch) == other
        assert target == before

    @settings(deadline=None)
    @given(MAPS_WITHOUT_LISTS, MAPS_WITHOUT_LISTS)
    def test_strategic_merge_of_maps_without_lists_agrees_with_merge_patch(self, target: dict[str, Any],
                                                                           patch: dict[str, Any]) -> None:
        assert strategic_merge_patch(target, patch, "ConfigMap") == merge_patch(target, patch)
