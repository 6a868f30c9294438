"""Content negotiation and server-side printing: what `kubectl get` receives.

Guarantees:
1. `parse_accept` picks, in the client's order of preference (q-values, then position), the first media range it
   can serve: JSON (`application/json`, `application/*`, `*/*`, or no header), YAML, a meta.k8s.io v1|v1beta1
   Table (JSON only), PartialObjectMetadata(List), and with `allow_discovery=True` the aggregated
   APIGroupDiscoveryList. Ranges it cannot serve (protobuf, CBOR, text/html, unknown `as=`) are skipped;
   when none is left it raises `errors.not_acceptable()` (406).
2. `to_table` matches kube-apiserver v1.36's Table: columns `Name` (format `name`) then a custom kind's
   additionalPrinterColumns (an `Age` column when it declares none) or a built-in kind's printer; cells from
   simple JSONPath with the column's type (`integer`, `number`, `boolean`, `string`, `date` as an age like
   "0s" or "3h"), `null` where the path finds nothing; `rows[].object` is a PartialObjectMetadata for
   `includeObject=Metadata` (the default), `null` for `None`, for `Object` the whole object with its `kind` and
   `apiVersion` (a built-in list's items carry neither; kubectl decodes each row's object by them, e.g. for
   `--sort-by`, and without them prints an empty `NAME AGE` table).
3. Table metadata carries the list's resourceVersion (the object's for a single GET) and, when paging, `continue`
   and `remainingItemCount`. `no_headers=True` (watch events after the first) gives `columnDefinitions: null`.
4. `to_partial_object_metadata_list` gives a PartialObjectMetadataList (or a single PartialObjectMetadata).
5. `TableWatchEvents` turns a watch's ADDED/MODIFIED/DELETED events into events whose object is a one-row Table
   (the first with its columnDefinitions, later ones `null`), as kube-apiserver answers a watch that accepts
   Tables (`kubectl get -w` keeps the list's columns for what changes); BOOKMARK and ERROR events pass as they are.

Not guaranteed: protobuf or CBOR encodings; Table as YAML.

Pure and synchronous: request handlers call these per request; `now` is passed in, never read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.schema.objectmeta import go_float
from e2e.localcluster.apiserver.schema.resources import ResourceType

from . import jsonpath
from .printers import NAME_COLUMN, Column, RowFn, age, builtin_printer

META_V1 = "meta.k8s.io/v1"
DISCOVERY_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_META_VERSIONS = ("v1", "v1beta1")
_KINDS_BY_AS = {"Table": "table", "PartialObjectMetadata": "partial_object_metadata",
                "PartialObjectMetadataList": "partial_object_metadata_list"}


@dataclass(frozen=True)
class AcceptChoice:
    """What to answer with: `kind` is json, yaml, table, partial_object_metadata(_list) or discovery."""

    kind: str
    api_version: str = ""  # meta.k8s.io/v1|v1beta1 for tables and metadata, apidiscovery.k8s.io/v2 for discovery
    content_type: str = "application/json"


JSON_CHOICE = AcceptChoice("json")


def parse_accept(header: str, *, allow_discovery: bool = False) -> AcceptChoice:
    """The representation to answer with (guarantee 1)."""
    if not header.strip():
        return JSON_CHOICE
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for position, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        mime = pieces[0].lower()
        if not mime:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranges.append((-quality, position, mime, params))
    for _q, _pos, mime, params in sorted(ranges):
        choice = _choice(mime, params, allow_discovery)
        if choice is not None:
            return choice
    raise errors.not_acceptable()


def _choice(mime: str, params: Mapping[str, str], allow_discovery: bool) -> AcceptChoice | None:
    as_kind = params.get("as", "")
    if mime == "application/yaml":
        return AcceptChoice("yaml", content_type="application/yaml") if not as_kind else None
    if mime not in ("application/json", "application/*", "*/*"):
        return None
    if not as_kind:
        return JSON_CHOICE
    group, version = params.get("g", ""), params.get("v", "")
    if as_kind in _KINDS_BY_AS and group == "meta.k8s.io" and version in _META_VERSIONS:
        return AcceptChoice(_KINDS_BY_AS[as_kind], api_version=f"meta.k8s.io/{version}")
    if (allow_discovery and as_kind == "APIGroupDiscoveryList" and group == "apidiscovery.k8s.io"
            and version == "v2"):
        return AcceptChoice("discovery", api_version="apidiscovery.k8s.io/v2", content_type=DISCOVERY_CONTENT_TYPE)
    return None


# ---- tables ----------------------------------------------------------------------------------------------------


def partial_object_metadata(obj: Mapping[str, Any], api_version: str = META_V1) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": obj.get("metadata") or {}}


def _list_meta(resource_version: str, continue_token: str, remaining_item_count: int | None) -> dict[str, Any]:
    md: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        md["continue"] = continue_token
    if remaining_item_count is not None:
        md["remainingItemCount"] = remaining_item_count
    return md


def to_table(rt: ResourceType, objects: list[dict[str, Any]], *, list_rv: str, include_object: str = "Metadata",
             now: datetime, api_version: str = META_V1, single: bool = False, continue_token: str = "",
             remaining_item_count: int | None = None, no_headers: bool = False) -> dict[str, Any]:
    """A meta.k8s.io Table of `objects` (guarantees 2 and 3)."""
    if include_object not in ("", "Metadata", "None", "Object"):
        raise errors.bad_request(f'unrecognized includeObject value: "{include_object}"')
    columns, row_fn = printer_for(rt)
    rows = []
    for obj in objects:
        if include_object == "None":
            row_object: Any = None
        elif include_object == "Object":
            row_object = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
        else:
            row_object = partial_object_metadata(obj, api_version)
        rows.append({"cells": row_fn(obj, now), "object": row_object})
    rv = list_rv
    if single and objects:
        rv = str((objects[0].get("metadata") or {}).get("resourceVersion") or list_rv)
    return {"kind": "Table", "apiVersion": api_version,
            "metadata": _list_meta(rv, "" if single else continue_token, None if single else remaining_item_count),
            "columnDefinitions": None if no_headers else columns, "rows": rows}


def to_partial_object_metadata_list(rt: ResourceType, objects: list[dict[str, Any]], *, list_rv: str,
                                    api_version: str = META_V1, single: bool = False, continue_token: str = "",
                                    remaining_item_count: int | None = None) -> dict[str, Any]:
    """PartialObjectMetadataList of `objects`, or one PartialObjectMetadata when `single` (guarantee 4)."""
    del rt  # every kind's metadata looks the same; kept for symmetry with to_table
    if single and objects:
        return partial_object_metadata(objects[0], api_version)
    return {"kind": "PartialObjectMetadataList", "apiVersion": api_version,
            "metadata": _list_meta(list_rv, continue_token, remaining_item_count),
            "items": [partial_object_metadata(o, api_version) for o in objects]}


class TableWatchEvents:
    """Guarantee 5, per watch stream: call it on each event in order."""

    def __init__(self, rt: ResourceType, *, api_version: str = META_V1, include_object: str = "Metadata") -> None:
        self.rt, self.api_version, self.include_object = rt, api_version, include_object
        self._headers_sent = False

    def __call__(self, event: dict[str, Any], now: datetime) -> dict[str, Any]:
        if event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
            return event
        obj = event["object"]
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        table = to_table(self.rt, [obj], list_rv=rv, include_object=self.include_object, now=now,
                         api_version=self.api_version, single=True, no_headers=self._headers_sent)
        self._headers_sent = True
        return {"type": event["type"], "object": table}


# ---- custom kinds -------------------------------------------------------------------------------------------------


def printer_for(rt: ResourceType) -> tuple[list[Column], RowFn]:
    if rt.crd is None:
        return builtin_printer(rt)
    versions = (rt.crd.get("spec") or {}).get("versions") or []
    version = next((v for v in versions if isinstance(v, Mapping) and v.get("name") == rt.version), {})
    declared = [c for c in version.get("additionalPrinterColumns") or [] if isinstance(c, Mapping)]
    if not declared:
        declared = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    columns = [NAME_COLUMN]
    paths: list[jsonpath.CompiledPath | None] = []
    for col in declared:
        path = str(col.get("jsonPath", ""))
        columns.append({"name": col.get("name", ""), "type": col.get("type", "string"), "format": col.get("format", ""),
                        "description": col.get("description") or
                        f"Custom resource definition column (in JSONPath format): {path}",
                        "priority": int(col.get("priority") or 0)})
        try:
            paths.append(jsonpath.parse(path))
        except ValueError:
            paths.append(None)
    types = [str(c.get("type", "string")) for c in declared]

    def row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
        cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        for steps, ctype in zip(paths, types, strict=True):
            found = jsonpath.find_results(steps, obj) if steps is not None else []
            cells.append(_cell(ctype, found[0], now) if found else None)
        return cells

    return columns, row


def _cell(ctype: str, value: Any, now: datetime) -> Any:
    """apiextensions' cellForJSONValue, plus jsonpath's text printing for string columns."""
    if value is None:
        return None
    if ctype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return go_float(value)
        if isinstance(value, int):
            return str(value)
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if ctype == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)
    if ctype == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 1e21 else number  # Go prints 5.0 as 5
    if ctype == "boolean":
        return value if isinstance(value, bool) else None
    if ctype == "date":
        if not isinstance(value, str):
            return None
        text = age(value, now)
        return "<invalid>" if text == "<unknown>" else text
    return None
