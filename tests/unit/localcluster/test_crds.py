"""CRDs and custom-resource schemas: validation, serving, status, unknown fields, pruning, defaulting, ObjectMeta.

Expected messages come from the answers a real kube-apiserver v1.36 gave (tests/conformance/kubeapi/recordings).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.crds import (
    Schema,
    crd_defaults,
    crd_status_accepted,
    resource_types_for,
    validate_crd,
    validate_object_meta,
)

KUBEAPI = Path(__file__).parents[2] / "conformance" / "kubeapi"


def _step(scenario: str, name: str) -> dict[str, Any]:
    doc = json.loads((KUBEAPI / "recordings" / f"{scenario}.json").read_text())
    step: dict[str, Any] = next(s for s in doc["steps"] if s["name"] == name)
    return step


def _widget_crd() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("kubeapi_scenarios", KUBEAPI / "scenarios.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return copy.deepcopy(module.WIDGET_CRD)


def _widget_schema() -> Schema:
    return Schema(_widget_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def _times(value: Any) -> Any:
    """The recordings' normalisation of times."""
    if isinstance(value, dict):
        return {k: "TIME" if k == "lastTransitionTime" else _times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(v) for v in value]
    return value


# ---- CRD validation, serving and status ------------------------------------------------------------------------


def test_the_recorded_widget_crd_is_valid() -> None:
    assert validate_crd(_widget_crd()) == []


@pytest.mark.parametrize(("mutate", "field", "message"), [
    (lambda c: c["metadata"].update(name="gadgets.example.com"), "metadata.name",
     'Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group'),
    (lambda c: (c["spec"].update(group="example"), c["metadata"].update(name="widgets.example")), "spec.group",
     'Invalid value: "example": should be a domain with at least one dot'),
    (lambda c: c["spec"].update(scope="Global"), "spec.scope",
     'Unsupported value: "Global": supported values: "Cluster", "Namespaced"'),
    (lambda c: c["spec"]["names"].pop("kind"), "spec.names.kind", "Required value"),
    (lambda c: c["spec"]["versions"][0].pop("schema"), "spec.versions[0].schema.openAPIV3Schema",
     "Required value: schemas are required"),
    (lambda c: c["spec"]["versions"][0].update(storage=False), "spec.versions", None),
    (lambda c: c["spec"]["versions"].append({**c["spec"]["versions"][0], "name": "v2"}), "spec.versions", None),
])
def test_crd_validation_rejects_nonsense_with_kube_field_paths(mutate: Any, field: str, message: str | None) -> None:
    crd = _widget_crd()
    mutate(crd)
    causes = validate_crd(crd)
    assert [c.field for c in causes] == [field]
    if message is None:
        assert causes[0].message.endswith("must have exactly one version marked as storage version")
    else:
        assert causes[0].message == message


def test_crd_defaults_fill_what_the_server_stored_on_create() -> None:
    recorded = _step("S00", "crd-create")["response_normalized"]["body"]
    stored = crd_defaults(_widget_crd())
    assert stored["spec"] == recorded["spec"]
    assert stored["status"] == recorded["status"]


def test_established_status_matches_the_recorded_one() -> None:
    recorded = _step("S00", "crd-wait-established")["response_normalized"]["body"]["status"]
    status = crd_status_accepted(crd_defaults(_widget_crd()), "2026-01-01T00:00:00Z")
    assert _times(status) == recorded


def test_established_status_keeps_condition_times_while_status_does_not_change() -> None:
    crd = crd_defaults(_widget_crd())
    crd["status"] = crd_status_accepted(crd, "2026-01-01T00:00:00Z")
    again = crd_status_accepted(crd, "2026-01-02T00:00:00Z")
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2026-01-01T00:00:00Z"}


def test_one_resource_type_per_served_version_with_the_storage_version() -> None:
    crd = _widget_crd()
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [{**v1, "name": "v1alpha1", "storage": False}, v1,
                               {**v1, "name": "v0", "storage": False, "served": False}]
    crd["spec"]["names"]["categories"] = ["all"]
    types = resource_types_for(crd)
    assert [(rt.version, rt.storage_version) for rt in types] == [("v1alpha1", "v1"), ("v1", "v1")]
    rt = types[1]
    assert (rt.group, rt.kind, rt.plural, rt.singular, rt.namespaced) == ("example.com", "Widget", "widgets",
                                                                          "widget", True)
    assert rt.short_names == ("wd",) and rt.categories == ("all",) and rt.subresources == ("status",)
    assert rt.crd is crd and rt.is_custom


# ---- unknown fields, pruning, defaulting -------------------------------------------------------------------------


def test_unknown_fields_are_reported_in_the_order_kube_reports_them() -> None:
    step = _step("S11", "strict")
    paths = _widget_schema().unknown_fields(step["request"]["body"])
    expected = step["response_normalized"]["body"]["message"].split("strict decoding error: ")[1]
    assert ", ".join(f'unknown field "{p}"' for p in paths) == expected


def test_unknown_metadata_fields_are_reported_under_metadata() -> None:
    step = _step("S11", "strict-unknown-metadata-field")
    assert _widget_schema().unknown_fields(step["request"]["body"]) == ["metadata.bogus"]


def test_pruning_then_defaulting_stores_what_the_recorded_server_stored() -> None:
    step = _step("S11", "warn")
    schema = _widget_schema()
    stored = schema.default(schema.prune(step["request"]["body"]))
    recorded = step["response_normalized"]["body"]
    assert stored["spec"] == recorded["spec"]
    assert set(stored) == set(recorded)


def test_prune_and_default_never_mutate_their_argument() -> None:
    body = _step("S11", "warn")["request"]["body"]
    before = copy.deepcopy(body)
    schema = _widget_schema()
    schema.default(schema.prune(body))
    schema.unknown_fields(body)
    assert body == before


_RICH = Schema({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "port": {"type": "integer", "default": 80}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "v": {"type": "string"}}}},
        "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
            "typed": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "embedded": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
        "opt": {"type": "string"},
        "maybe": {"type": "string", "nullable": True},
        "nested": {"type": "object", "default": {}, "properties": {
            "mode": {"type": "string", "default": "auto"}}},
    }},
}})


def test_unknown_fields_respect_preserve_unknown_additional_properties_and_embedded_resources() -> None:
    obj = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "zzz": 1},
           "spec": {"items": [{"name": "a", "extra": 1}], "labels": {"k": {"v": "x", "w": 2}},
                    "template": {"anything": {"goes": True}, "typed": {"a": "x", "b": 1}},
                    "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bad": 1},
                                 "spec": {"free": 1}, "other": 1}}}
    assert _RICH.unknown_fields(obj) == [
        "metadata.zzz", "spec.embedded.other", "spec.items[0].extra", "spec.labels.k.w", "spec.template.typed.b",
        "spec.embedded.metadata.bad"]
    pruned = _RICH.prune(obj)
    assert pruned["spec"]["template"] == {"anything": {"goes": True}, "typed": {"a": "x"}}
    assert pruned["spec"]["embedded"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                          "spec": {"free": 1}}
    assert pruned["metadata"] == {"name": "a"}


def test_prune_keeps_object_meta_fields_only_and_drops_empty_ones() -> None:
    obj = {"metadata": {"name": "a", "labels": {}, "annotations": {"x": "y"}, "finalizers": [],
                        "ownerReferences": [{"uid": "u", "name": "o", "kind": "K", "apiVersion": "v1", "bad": 1}]}}
    assert _RICH.prune(obj)["metadata"] == {
        "name": "a", "annotations": {"x": "y"},
        "ownerReferences": [{"uid": "u", "name": "o", "kind": "K", "apiVersion": "v1"}]}


def test_prune_drops_nulls_of_non_nullable_fields_without_defaults_and_does_not_report_them() -> None:
    obj = {"spec": {"opt": None, "maybe": None}}
    assert _RICH.unknown_fields(obj) == []
    assert _RICH.prune(obj)["spec"] == {"maybe": None}


def test_defaults_apply_inside_existing_objects_array_items_and_what_they_create() -> None:
    assert _RICH.default({"metadata": {"name": "a"}}) == {"metadata": {"name": "a"}}
    defaulted = _RICH.default({"spec": {"items": [{"name": "a"}, {"name": "b", "port": 8080}]}})
    assert defaulted["spec"]["items"] == [{"name": "a", "port": 80}, {"name": "b", "port": 8080}]
    assert defaulted["spec"]["nested"] == {"mode": "auto"}


def test_defaults_replace_nulls_of_non_nullable_fields() -> None:
    assert _RICH.default({"spec": {"nested": None}})["spec"]["nested"] == {"mode": "auto"}


# ---- validation messages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scenario", "step", "patch"), [
    ("S01", "merge-patch-invalid", {"spec": {"size": 0}}),
    ("S11", "strict-wrong-type", None),
])
def test_schema_errors_match_the_recorded_status(scenario: str, step: str, patch: Any) -> None:
    recorded = _step(scenario, step)
    body = recorded["request"]["body"] if patch is None else patch
    status = recorded["response_normalized"]["body"]
    causes = _widget_schema().validate(body)
    assert [c.to_dict() for c in causes] == status["details"]["causes"]
    error = errors.invalid("example.com", "Widget", status["details"]["name"], causes)
    assert error.to_status() == status


_V = Schema({"type": "object", "properties": {"spec": {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
    "mode": {"type": "string", "enum": ["a", "b"]},
    "tags": {"type": "array", "maxItems": 2, "minItems": 1, "x-kubernetes-list-type": "set",
             "items": {"type": "string", "minLength": 2}},
    "port": {"x-kubernetes-int-or-string": True},
    "ratio": {"type": "number", "maximum": 1000000, "exclusiveMaximum": True},
    "when": {"type": "string", "format": "date-time"},
    "opt": {"type": "string", "nullable": True},
    "choice": {"type": "object", "anyOf": [{"required": ["x"]}, {"required": ["y"]}],
               "properties": {"x": {"type": "string"}, "y": {"type": "string"}}},
    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
              "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
}}}})


def _messages(obj: Any) -> list[str]:
    return [f"{c.field}: {c.message}" for c in _V.validate(obj)]


def test_required_fields_are_reported_with_their_path() -> None:
    assert [c.to_dict() for c in _V.validate({"spec": {}})] == [
        {"field": "spec.name", "reason": "FieldValueRequired", "message": "Required value"}]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"mode": "c"}, 'spec.mode: Unsupported value: "c": supported values: "a", "b"'),
    ({"name": "abcd"}, "spec.name: Too long: may not be more than 3 bytes"),
    ({"name": "AB"}, "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"),
    ({"tags": ["ab", "cd", "ef"]}, "spec.tags: Too many: 3: must have at most 2 items"),
    ({"tags": []}, "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"),
    ({"tags": ["x"]}, 'spec.tags[0]: Invalid value: "x": spec.tags[0] in body should be at least 2 chars long'),
    ({"tags": ["ab", "ab"]}, 'spec.tags[1]: Duplicate value: "ab"'),
    ({"ports": [{"port": 80}, {"port": 80}]}, 'spec.ports[1]: Duplicate value: {"port":80}'),
    ({"port": True}, 'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: '
                     '"boolean"'),
    ({"ratio": 1e6}, "spec.ratio: Invalid value: 1e+06: spec.ratio in body should be less than 1e+06"),
    ({"when": "yesterday"}, 'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
                            '"yesterday"'),
    ({"name": None}, 'spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'),
    ({"choice": {}}, '<nil>: Invalid value: "": "spec.choice" must validate at least one schema (anyOf)'),
])
def test_validation_problems_use_kube_wording(spec: dict[str, Any], expected: str) -> None:
    assert expected in _messages({"spec": {"name": "ok", **spec}})


def test_valid_values_pass_validation() -> None:
    spec = {"name": "abc", "mode": "a", "tags": ["ab"], "port": "http", "ratio": 0.5, "opt": None,
            "when": "2026-01-01T00:00:00Z", "choice": {"y": "1"}, "ports": [{"port": 80}, {"port": 81}]}
    assert _V.validate({"spec": spec}) == []
    assert _V.validate({"spec": {"name": "abc", "port": 8080, "ratio": 3}}) == []


def test_validation_type_reason_is_field_value_type_invalid() -> None:
    causes = _V.validate({"spec": {"name": 5}})
    assert [(c.field, c.reason) for c in causes] == [("spec.name", "FieldValueTypeInvalid")]


# ---- ObjectMeta ----------------------------------------------------------------------------------------------------


def test_invalid_names_are_reported_like_kube() -> None:
    causes = validate_object_meta({"metadata": {"name": "Bad_Name", "namespace": "ns"}}, True)
    assert causes == [Cause(
        "metadata.name", "FieldValueInvalid",
        "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]


def test_a_name_is_required_unless_generate_name_is_set() -> None:
    assert validate_object_meta({"metadata": {"namespace": "ns"}}, True) == [
        Cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]
    assert validate_object_meta({"metadata": {"generateName": "web-", "namespace": "ns"}}, True) == []


def test_names_longer_than_253_characters_are_rejected() -> None:
    causes = validate_object_meta({"metadata": {"name": "a" * 254}}, False)
    assert [c.message.split(": ", 2)[-1] for c in causes] == ["must be no more than 253 characters"]


def test_name_rules_follow_the_kind() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web", "namespace": "ns"}}
    assert "a DNS-1035 label must consist of" in validate_object_meta(svc, True)[0].message
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    assert "a lowercase RFC 1123 label must consist of" in validate_object_meta(ns, False)[0].message
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "system:Reader", "namespace": "ns"}}
    assert validate_object_meta(role, True) == []


def test_labels_annotations_and_namespace_scope_are_checked() -> None:
    obj = {"metadata": {"name": "a", "namespace": "ns", "labels": {"bad key": "v", "ok": "bad value!"},
                        "annotations": {"big": "x" * (256 * 1024)}}}
    fields = [(c.field, c.reason) for c in validate_object_meta(obj, True)]
    assert fields == [("metadata.labels", "FieldValueInvalid"), ("metadata.labels", "FieldValueInvalid"),
                      ("metadata.annotations", "FieldValueTooLong")]
    cluster_scoped = validate_object_meta({"metadata": {"name": "a", "namespace": "ns"}}, False)
    assert cluster_scoped == [Cause("metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type")]


def test_owner_references_need_identity_and_at_most_one_controller() -> None:
    refs = [{"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
            {"apiVersion": "", "kind": "B", "name": "b", "uid": "", "controller": True}]
    causes = validate_object_meta({"metadata": {"name": "x", "ownerReferences": refs}}, False)
    assert [(c.field, c.message.rsplit(": ", 1)[-1]) for c in causes] == [
        ("metadata.ownerReferences.apiVersion", "version must not be empty"),
        ("metadata.ownerReferences.uid", "must not be empty"),
        ("metadata.ownerReferences", "Only one reference can have Controller set to true. Found \"true\" in "
                                     "references for A/a and B/b")]


def test_generate_name_may_end_with_a_dash() -> None:
    assert validate_object_meta({"metadata": {"generateName": "web-"}}, False) == []
    assert validate_object_meta({"metadata": {"generateName": "Web-"}}, False)[0].field == "metadata.generateName"


def test_multiple_of_tolerates_floating_point_rounding() -> None:
    schema = Schema({"type": "object", "properties": {"v": {"type": "number", "multipleOf": 0.1}}})
    assert schema.validate({"v": 0.3}) == []
    assert [c.message for c in schema.validate({"v": 0.35})] == [
        "Invalid value: 0.35: v in body should be a multiple of 0.1"]


def test_label_value_message_names_the_kube_regex() -> None:
    causes = validate_object_meta({"metadata": {"name": "a", "labels": {"k": "-x"}}}, False)
    assert re.search(r"regex used for validation is '\(\(\[A-Za-z0-9\]\[-A-Za-z0-9_\.\]\*\)\?\[A-Za-z0-9\]\)\?'",
                     causes[0].message)
