"""Table rows as kubectl decodes them: a built-in kind's row objects and the Tables of a watch (tables.py 2, 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from e2e.localcluster.apiserver.http.tables import TableWatchEvents, to_table
from e2e.localcluster.apiserver.schema.resources import BUILTINS, ResourceType

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _rt(plural: str) -> ResourceType:
    return next(rt for rt in BUILTINS if rt.plural == plural and rt.group == "")


def _cm(name: str, rv: str, **data: str) -> dict[str, Any]:
    # as a built-in list hands its items over: without kind and apiVersion
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": rv,
                         "creationTimestamp": "2026-01-01T11:59:00Z"}, "data": data}


def test_a_built_in_rows_object_carries_its_kind_and_api_version_so_kubectl_can_sort_by_it() -> None:
    table = to_table(_rt("events"), [{"metadata": {"name": "e1", "namespace": "default"}, "reason": "Started",
                                      "lastTimestamp": "2026-01-01T11:00:00Z"}],
                     list_rv="5", include_object="Object", now=NOW)
    assert table["rows"][0]["object"] == {"apiVersion": "v1", "kind": "Event", "reason": "Started",
                                          "metadata": {"name": "e1", "namespace": "default"},
                                          "lastTimestamp": "2026-01-01T11:00:00Z"}
    assert [c["name"] for c in table["columnDefinitions"]][:7] == ["Last Seen", "Type", "Reason", "Object",
                                                                    "Subobject", "Source", "Message"]


def test_watch_events_become_one_row_tables_with_headers_only_on_the_first() -> None:
    to_tables = TableWatchEvents(_rt("configmaps"))
    first = to_tables({"type": "ADDED", "object": _cm("a", "7", k="v")}, NOW)
    second = to_tables({"type": "MODIFIED", "object": _cm("a", "8", k="v", j="w")}, NOW)
    assert first["type"] == "ADDED" and first["object"]["kind"] == "Table"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert first["object"]["rows"][0]["cells"] == ["a", 1, "60s"]
    assert first["object"]["metadata"] == {"resourceVersion": "7"}
    assert second["object"]["columnDefinitions"] is None
    assert second["object"]["rows"][0]["cells"] == ["a", 2, "60s"]
    assert second["object"]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_bookmarks_and_errors_pass_a_table_watch_unchanged() -> None:
    to_tables = TableWatchEvents(_rt("configmaps"))
    bookmark = {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                                               "metadata": {"resourceVersion": "9"}}}
    error = {"type": "ERROR", "object": {"kind": "Status", "code": 410}}
    assert to_tables(bookmark, NOW) == bookmark and to_tables(error, NOW) == error
    added = to_tables({"type": "ADDED", "object": _cm("b", "10")}, NOW)
    assert added["object"]["columnDefinitions"] is not None  # the first row event still gets the headers
