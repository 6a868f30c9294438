"""Accept negotiation and server-side Tables, checked against a real kube-apiserver v1.36's recorded answers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.http import jsonpath
from e2e.localcluster.apiserver.http.printers import human_duration
from e2e.localcluster.apiserver.http.tables import (
    DISCOVERY_CONTENT_TYPE,
    parse_accept,
    to_partial_object_metadata_list,
    to_table,
)
from e2e.localcluster.apiserver.schema.crds import resource_types_for
from e2e.localcluster.apiserver.schema.resources import BUILTINS, ResourceType

RECORDINGS = Path(__file__).parents[2] / "conformance" / "kubeapi" / "recordings"
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
KUBECTL_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
                  "g=meta.k8s.io,application/json")


def _s10() -> dict[str, dict[str, Any]]:
    doc = json.loads((RECORDINGS / "S10.json").read_text())
    return {s["name"]: s for s in doc["steps"]}


def _s00_crd() -> dict[str, Any]:
    doc = json.loads((RECORDINGS / "S00.json").read_text())
    body: dict[str, Any] = next(s for s in doc["steps"] if s["name"] == "crd-create")["request"]["body"]
    return body


def _widgets() -> ResourceType:
    return resource_types_for(_s00_crd())[0]


def _builtin(plural: str) -> ResourceType:
    return next(rt for rt in BUILTINS if rt.plural == plural)


def _recorded_widgets(steps: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The created widgets as the server returned them, with a real creation time."""
    out = []
    for name in ("create-w1", "create-w2"):
        obj = copy.deepcopy(steps[name]["response_normalized"]["body"])
        obj["metadata"]["creationTimestamp"] = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(obj)
    return out


def _normalise(table: dict[str, Any]) -> dict[str, Any]:
    """The recordings' normalisation: ages become AGE, times TIME, the table's resourceVersion RV(list)."""
    table = copy.deepcopy(table)
    table["metadata"]["resourceVersion"] = "RV(list)"
    dates = [i for i, c in enumerate(table["columnDefinitions"]) if c["type"] == "date"]
    for row in table["rows"]:
        row["cells"] = ["AGE" if i in dates and c is not None else c for i, c in enumerate(row["cells"])]
        if isinstance(row["object"], dict):
            row["object"]["metadata"]["creationTimestamp"] = "TIME"
    return table


# ---- Accept -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["table-v1", "table-v1beta1-or-json", "table-kubectl-accept", "table-include-none",
                                  "table-include-object", "table-single-object", "table-only-v1beta1"])
def test_table_accept_headers_choose_the_recorded_table_version(step: str) -> None:
    recorded = _s10()[step]
    choice = parse_accept(recorded["request"]["headers"]["Accept"])
    assert choice.kind == "table"
    assert choice.api_version == recorded["response_normalized"]["body"]["apiVersion"]
    assert choice.content_type == recorded["response_normalized"]["content_type"]


def test_partial_object_metadata_list_and_yaml_accept_headers_are_recognised() -> None:
    steps = _s10()
    pom = parse_accept(steps["partial-object-metadata-list"]["request"]["headers"]["Accept"])
    assert (pom.kind, pom.api_version) == ("partial_object_metadata_list", "meta.k8s.io/v1")
    yaml = parse_accept(steps["accept-yaml"]["request"]["headers"]["Accept"])
    assert (yaml.kind, yaml.content_type) == ("yaml", steps["accept-yaml"]["response_normalized"]["content_type"])


def test_unsupported_accept_is_406_with_the_recorded_status() -> None:
    recorded = _s10()["accept-unsupported"]
    with pytest.raises(ApiError) as caught:
        parse_accept(recorded["request"]["headers"]["Accept"])
    assert caught.value.code == recorded["response_normalized"]["code"]
    assert caught.value.to_status() == recorded["response_normalized"]["body"]


@pytest.mark.parametrize(("header", "kind"), [
    ("", "json"),
    ("*/*", "json"),
    ("application/vnd.kubernetes.protobuf,application/json", "json"),
    ("application/vnd.kubernetes.protobuf, */*", "json"),
    ("application/json;q=0.5, application/yaml", "yaml"),
    ("application/json;as=Table;v=v2;g=meta.k8s.io, application/json", "json"),
    ("application/yaml;as=Table;v=v1;g=meta.k8s.io, application/json", "json"),
])
def test_accept_skips_ranges_it_cannot_serve_and_honours_quality(header: str, kind: str) -> None:
    assert parse_accept(header).kind == kind


def test_aggregated_discovery_is_only_chosen_where_allowed() -> None:
    header = _s10()["aggregated-discovery"]["request"]["headers"]["Accept"]
    choice = parse_accept(header, allow_discovery=True)
    assert (choice.kind, choice.content_type) == ("discovery", DISCOVERY_CONTENT_TYPE)
    assert parse_accept(header).kind == "json"
    with pytest.raises(ApiError):
        parse_accept("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")


# ---- Tables of custom kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "include"), [
    ("table-v1", "Metadata"), ("table-only-v1beta1", "Metadata"), ("table-include-none", "None"),
    ("table-include-object", "Object"),
])
def test_custom_resource_tables_match_the_recorded_tables(step: str, include: str) -> None:
    steps = _s10()
    recorded = steps[step]["response_normalized"]["body"]
    table = to_table(_widgets(), _recorded_widgets(steps), list_rv="77", include_object=include, now=NOW,
                     api_version=recorded["apiVersion"])
    assert _normalise(table) == recorded


def test_a_single_object_table_matches_the_recorded_one_and_carries_its_resource_version() -> None:
    steps = _s10()
    w1 = _recorded_widgets(steps)[0]
    table = to_table(_widgets(), [w1], list_rv="77", now=NOW, single=True)
    assert table["metadata"] == {"resourceVersion": w1["metadata"]["resourceVersion"]}
    assert _normalise(table) == steps["table-single-object"]["response_normalized"]["body"]


def test_partial_object_metadata_list_matches_the_recorded_one() -> None:
    steps = _s10()
    body = to_partial_object_metadata_list(_widgets(), _recorded_widgets(steps), list_rv="RV(list)")
    for item in body["items"]:
        item["metadata"]["creationTimestamp"] = "TIME"
    assert body == steps["partial-object-metadata-list"]["response_normalized"]["body"]


def test_a_single_partial_object_metadata_is_not_a_list() -> None:
    obj = {"metadata": {"name": "w1"}}
    assert to_partial_object_metadata_list(_widgets(), [obj], list_rv="1", single=True) == {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "w1"}}


def _custom(columns: list[dict[str, Any]]) -> ResourceType:
    crd = _s00_crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = columns
    return resource_types_for(crd)[0]


def test_printer_columns_evaluate_filters_indexes_and_column_types() -> None:
    rt = _custom([
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "First", "type": "string", "jsonPath": ".spec.items[0].name", "priority": 1},
        {"name": "Last", "type": "integer", "jsonPath": ".spec.items[-1].n"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
        {"name": "Obj", "type": "string", "jsonPath": ".spec.obj"},
        {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
        {"name": "Made", "type": "date", "jsonPath": ".metadata.creationTimestamp", "description": "made"},
    ])
    obj = {"metadata": {"name": "w", "creationTimestamp": "2026-01-01T09:00:00Z"},
           "spec": {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2.0}], "ratio": 2.0, "on": True,
                    "obj": {"b": 1, "a": 2}},
           "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}}
    table = to_table(rt, [obj], list_rv="1", now=NOW, include_object="None")
    assert table["rows"][0]["cells"] == ["w", "True", "a", 2, 2, True, '{"a":2,"b":1}', None, "3h"]
    columns = table["columnDefinitions"]
    assert [c["priority"] for c in columns] == [0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert columns[8]["description"] == "made"
    assert columns[1]["description"] == ("Custom resource definition column (in JSONPath format): "
                                         '.status.conditions[?(@.type=="Ready")].status')


def test_a_printer_column_with_unsupported_jsonpath_gives_empty_cells() -> None:
    rt = _custom([{"name": "Deep", "type": "string", "jsonPath": "..name"}])
    table = to_table(rt, [{"metadata": {"name": "w"}}], list_rv="1", now=NOW, include_object="None")
    assert table["rows"][0]["cells"] == ["w", None]


def test_jsonpath_selects_wildcards_slices_and_comparisons() -> None:
    obj = {"items": [{"n": 1, "k": "a"}, {"n": 5, "k": "b"}, {"n": 9, "k": "c"}], "m": {"x": 1, "y": 2}}
    assert jsonpath.find_results("{.items[*].k}", obj) == ["a", "b", "c"]
    assert jsonpath.find_results(".items[0:2].n", obj) == [1, 5]
    assert jsonpath.find_results(".items[?(@.n > 3)].k", obj) == ["b", "c"]
    assert jsonpath.find_results(".items[?(@.k != 'a')].n", obj) == [5, 9]
    assert jsonpath.find_results("$.m.*", obj) == [1, 2]
    assert jsonpath.find_results(".items[7].n", obj) == []
    with pytest.raises(ValueError):
        jsonpath.parse("..name")


def test_a_custom_kind_without_printer_columns_gets_an_age_column() -> None:
    table = to_table(_custom([]), [{"metadata": {"name": "w", "creationTimestamp": "2026-01-01T11:55:00Z"}}],
                     list_rv="1", now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["w", "5m"]


def test_watch_tables_after_the_first_carry_no_column_definitions() -> None:
    table = to_table(_widgets(), [], list_rv="1", now=NOW, no_headers=True)
    assert table["columnDefinitions"] is None


def test_paging_fields_are_carried_in_table_metadata() -> None:
    table = to_table(_widgets(), [], list_rv="5", now=NOW, continue_token="abc", remaining_item_count=3)
    assert table["metadata"] == {"resourceVersion": "5", "continue": "abc", "remainingItemCount": 3}


def test_an_unknown_include_object_value_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as caught:
        to_table(_widgets(), [], list_rv="1", now=NOW, include_object="Everything")
    assert caught.value.to_status() == errors.bad_request('unrecognized includeObject value: "Everything"').to_status()


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1.5, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (150, "2m30s"), (600, "10m"),
    (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400, "8d"), (2 * 365 * 86400, "2y"),
    (2 * 365 * 86400 + 86400, "2y1d"), (9 * 365 * 86400, "9y"),
])
def test_ages_read_like_kubes_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


# ---- Tables of built-in kinds ---------------------------------------------------------------------------------------


def _names(table: dict[str, Any]) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in table["columnDefinitions"]]


def test_pod_tables_show_ready_status_restarts_and_wide_columns() -> None:
    running = {"metadata": {"name": "p", "creationTimestamp": "2026-01-01T11:00:00Z"},
               "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
               "status": {"phase": "Running", "podIP": "10.244.0.5",
                          "containerStatuses": [
                              {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                               "lastState": {"terminated": {"finishedAt": "2026-01-01T11:55:00Z"}}},
                              {"name": "b", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    deleting = {"metadata": {"name": "q", "creationTimestamp": "2026-01-01T11:00:00Z",
                             "deletionTimestamp": "2026-01-01T11:59:00Z"},
                "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running"}}
    table = to_table(_builtin("pods"), [running, deleting], list_rv="1", now=NOW)
    assert _names(table) == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1),
                             ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert table["rows"][0]["cells"] == ["p", "1/2", "CrashLoopBackOff", "2 (5m ago)", "60m", "10.244.0.5", "n1",
                                         "<none>", "<none>"]
    assert table["rows"][1]["cells"][:4] == ["q", "0/1", "Terminating", "0"]


def test_pod_tables_report_init_container_progress() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}, {"name": "j"}],
                                               "containers": [{"name": "a"}]},
           "status": {"phase": "Pending", "initContainerStatuses": [
               {"name": "i", "state": {"terminated": {"exitCode": 0}}},
               {"name": "j", "state": {"running": {}}}]}}
    cells = to_table(_builtin("pods"), [pod], list_rv="1", now=NOW)["rows"][0]["cells"]
    assert cells[:5] == ["p", "0/1", "Init:1/2", "0", "<unknown>"]


def test_service_tables_show_type_ips_ports_and_selector() -> None:
    cluster_ip = {"metadata": {"name": "web", "creationTimestamp": "2026-01-01T11:59:00Z"},
                  "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "selector": {"b": "2", "a": "1"},
                           "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}
    balancer = {"metadata": {"name": "lb"},
                "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11",
                         "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}}
    table = to_table(_builtin("services"), [cluster_ip, balancer], list_rv="1", now=NOW)
    assert _names(table) == [("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0),
                             ("Age", 0), ("Selector", 1)]
    assert table["rows"][0]["cells"] == ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "60s",
                                         "a=1,b=2"]
    assert table["rows"][1]["cells"] == ["lb", "LoadBalancer", "10.96.0.11", "<pending>", "80:30080/TCP",
                                         "<unknown>", "<none>"]


def test_namespace_tables_show_status_and_age() -> None:
    ns = {"metadata": {"name": "demo", "creationTimestamp": "2026-01-01T10:00:00Z"}, "status": {"phase": "Active"}}
    table = to_table(_builtin("namespaces"), [ns], list_rv="1", now=NOW)
    assert _names(table) == [("Name", 0), ("Status", 0), ("Age", 0)]
    assert table["rows"][0]["cells"] == ["demo", "Active", "120m"]


def test_kinds_without_a_kube_printer_show_name_and_created_at() -> None:
    crd = {"metadata": {"name": "widgets.example.com", "creationTimestamp": "2026-01-01T10:00:00Z"}}
    table = to_table(_builtin("customresourcedefinitions"), [crd], list_rv="1", now=NOW)
    assert _names(table) == [("Name", 0), ("Created At", 0)]
    assert table["rows"][0]["cells"] == ["widgets.example.com", "2026-01-01T10:00:00Z"]


def test_every_built_in_kind_has_a_row_for_every_column() -> None:
    for rt in BUILTINS:
        table = to_table(rt, [{"metadata": {"name": "x"}}], list_rv="1", now=NOW)
        assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"]), rt.plural
        assert table["columnDefinitions"][0]["format"] == "name" or rt.plural == "events"
