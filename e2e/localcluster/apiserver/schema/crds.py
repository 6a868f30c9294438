"""CustomResourceDefinitions: validation, the resource types they serve, their defaults and accepted status.

Guarantees:
1. `validate_crd` rejects what kube-apiserver rejects on the common paths, with its field paths and wording:
   missing or malformed names, `metadata.name` other than `<plural>.<group>`, a group without a dot, a scope
   other than Namespaced|Cluster, not exactly one storage version, duplicate or malformed version names, a
   version without `schema.openAPIV3Schema` or whose root is not an object, bad printer column types.
2. `resource_types_for` returns one `ResourceType` per served version, in spec order; each carries the storage
   version's name, the version's subresources (status, scale), short names, categories, selectable fields
   and the CRD itself. A CRD with no served version yields no types.
3. `crd_defaults` fills what the server defaults on create (singular, listKind, conversion None, an empty
   status with storedVersions); `crd_status_accepted` is the status once established, as recorded from v1.36
   (NamesAccepted/NoConflicts, Established/InitialNamesAccepted, acceptedNames, storedVersions). Condition
   times are kept while a condition's status does not change.
4. `Schema` (pruning, defaulting, unknown fields, validation) and `validate_object_meta` are re-exported here:
   they are what serving a custom resource needs.

Not guaranteed: conversion webhooks, CEL rules, structural-schema completeness checks.

Pure and synchronous: any task may call any function; none mutates its argument.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause

from .objectmeta import (
    field_invalid,
    field_not_supported,
    field_required,
    is_dns1035_label,
    is_dns1123_subdomain,
    validate_object_meta,
)
from .resources import ResourceType
from .structural import Schema

__all__ = [
    "Schema",
    "crd_defaults",
    "crd_status_accepted",
    "resource_types_for",
    "storage_version_of",
    "validate_crd",
    "validate_object_meta",
]

_PRINTER_COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]


def _spec(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = crd.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _names(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    names = _spec(crd).get("names")
    return names if isinstance(names, Mapping) else {}


def _versions(crd: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    versions = _spec(crd).get("versions")
    return [v for v in versions if isinstance(v, Mapping)] if isinstance(versions, list) else []


def storage_version_of(crd: Mapping[str, Any]) -> str:
    return next((str(v.get("name", "")) for v in _versions(crd) if v.get("storage")), "")


# ---- validation --------------------------------------------------------------------------------------------


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """Problems that make kube-apiserver answer 422 to this CRD (see guarantee 1)."""
    spec = _spec(crd)
    names = _names(crd)
    causes: list[Cause] = []
    group = str(spec.get("group") or "")
    plural = str(names.get("plural") or "")
    name = str((crd.get("metadata") or {}).get("name") or "")
    if plural and group and name != f"{plural}.{group}":
        causes.append(field_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        causes.append(field_required("spec.group"))
    elif errs := is_dns1123_subdomain(group):
        causes.append(field_invalid("spec.group", group, ",".join(errs)))
    elif "." not in group:
        causes.append(field_invalid("spec.group", group, "should be a domain with at least one dot"))
    causes += _validate_names(names)
    scope = spec.get("scope") or ""
    if not scope:
        causes.append(field_required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        causes.append(field_not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    causes += _validate_versions(spec.get("versions"))
    return causes


def _validate_names(names: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("plural", "singular"):
        value = str(names.get(key) or "")
        if value and (errs := is_dns1035_label(value)):
            causes.append(field_invalid(f"spec.names.{key}", value, ",".join(errs)))
    for key in ("kind", "listKind"):
        value = str(names.get(key) or "")
        if value and (errs := is_dns1035_label(value.lower())):
            causes.append(field_invalid(f"spec.names.{key}", value,
                                        "may have mixed case, but should otherwise match: " + ",".join(errs)))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or []):
            if errs := is_dns1035_label(str(value)):
                causes.append(field_invalid(f"spec.names.{key}[{i}]", value, ",".join(errs)))
    if not names.get("plural"):
        causes.append(field_required("spec.names.plural"))
    if not names.get("kind"):
        causes.append(field_required("spec.names.kind"))
    return causes


def _validate_versions(raw: Any) -> list[Cause]:
    versions = [v for v in raw if isinstance(v, Mapping)] if isinstance(raw, list) else []
    if not versions:
        return [field_required("spec.versions", "must have exactly one version marked as storage version")]
    causes: list[Cause] = []
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        vname = str(version.get("name") or "")
        if vname in seen:
            unique = False
        seen.add(vname)
        if errs := is_dns1035_label(vname):
            causes.append(field_invalid(f"{path}.name", vname, ",".join(errs)))
        causes += _validate_version_schema(version, path)
        for j, column in enumerate(version.get("additionalPrinterColumns") or []):
            cpath = f"{path}.additionalPrinterColumns[{j}]"
            if not isinstance(column, Mapping):
                continue
            if not column.get("name"):
                causes.append(field_required(f"{cpath}.name"))
            if column.get("type") not in _PRINTER_COLUMN_TYPES:
                causes.append(field_not_supported(f"{cpath}.type", column.get("type") or "", _PRINTER_COLUMN_TYPES))
            if not column.get("jsonPath"):
                causes.append(field_required(f"{cpath}.jsonPath"))
    if not unique:
        causes.append(field_invalid("spec.versions", list(versions), "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage") is True) != 1:
        causes.append(field_invalid("spec.versions", list(versions),
                                    "must have exactly one version marked as storage version"))
    return causes


def _validate_version_schema(version: Mapping[str, Any], path: str) -> list[Cause]:
    schema = (version.get("schema") or {}).get("openAPIV3Schema") if isinstance(version.get("schema"),
                                                                                 Mapping) else None
    spath = f"{path}.schema.openAPIV3Schema"
    if not isinstance(schema, Mapping) or not schema:
        return [field_required(spath, "schemas are required")]
    root_type = schema.get("type")
    if not root_type:
        return [field_required(f"{spath}.type", "must not be empty at the root")]
    if root_type != "object":
        return [field_invalid(f"{spath}.type", root_type, "must be object at the root")]
    return []


# ---- serving ------------------------------------------------------------------------------------------------


def resource_types_for(crd: Mapping[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version (guarantee 2)."""
    spec = _spec(crd)
    names = _names(crd)
    kind = str(names.get("kind") or "")
    plural = str(names.get("plural") or "")
    group = str(spec.get("group") or "")
    if not (kind and plural and group):
        return []
    storage = storage_version_of(crd)
    out = []
    for version in _versions(crd):
        if not version.get("served"):
            continue
        sub = version.get("subresources") if isinstance(version.get("subresources"), Mapping) else {}
        assert isinstance(sub, Mapping)
        subresources = tuple(s for s in ("status", "scale") if sub.get(s) is not None)
        selectable = tuple(str(f.get("jsonPath", "")).lstrip(".") for f in version.get("selectableFields") or []
                           if isinstance(f, Mapping) and f.get("jsonPath"))
        out.append(ResourceType(
            group=group, version=str(version.get("name")), kind=kind, plural=plural,
            singular=str(names.get("singular") or kind.lower()),
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(str(s) for s in names.get("shortNames") or ()),
            categories=tuple(str(c) for c in names.get("categories") or ()),
            subresources=subresources,
            field_selectors=("metadata.name", "metadata.namespace", *selectable),
            crd=crd, storage_version=storage,
        ))
    return out


def _accepted_names(crd: Mapping[str, Any]) -> dict[str, Any]:
    names = _names(crd)
    kind = str(names.get("kind") or "")
    out: dict[str, Any] = {"plural": names.get("plural", ""), "singular": names.get("singular") or kind.lower()}
    if names.get("shortNames"):
        out["shortNames"] = list(names["shortNames"])
    out["kind"] = kind
    out["listKind"] = names.get("listKind") or kind + "List"
    if names.get("categories"):
        out["categories"] = list(names["categories"])
    return out


def crd_defaults(crd: Mapping[str, Any]) -> dict[str, Any]:
    """The CRD as stored on create: defaulted names and conversion, a not-yet-established status."""
    out = copy.deepcopy(dict(crd))
    spec = out.setdefault("spec", {})
    names = spec.setdefault("names", {})
    kind = str(names.get("kind") or "")
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", kind + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    storage = storage_version_of(out)
    out["status"] = {"conditions": None, "acceptedNames": {"plural": "", "kind": ""},
                     "storedVersions": [storage] if storage else []}
    return out


def crd_status_accepted(crd: Mapping[str, Any], now_iso: str) -> dict[str, Any]:
    """The status a real server sets once the CRD's names are accepted and it is established."""
    old_status = crd.get("status") if isinstance(crd.get("status"), Mapping) else {}
    assert isinstance(old_status, Mapping)
    old_conditions = [c for c in old_status.get("conditions") or [] if isinstance(c, Mapping)]

    def condition(ctype: str, reason: str, message: str) -> dict[str, Any]:
        previous = next((c for c in old_conditions if c.get("type") == ctype), None)
        since = previous.get("lastTransitionTime") if previous and previous.get("status") == "True" else None
        return {"type": ctype, "status": "True", "lastTransitionTime": since or now_iso, "reason": reason,
                "message": message}

    conditions = [condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                  condition("Established", "InitialNamesAccepted", "the initial names have been accepted")]
    conditions += [dict(c) for c in old_conditions if c.get("type") not in ("NamesAccepted", "Established")]
    stored = [str(v) for v in old_status.get("storedVersions") or []]
    storage = storage_version_of(crd)
    if storage and storage not in stored:
        stored.append(storage)
    return {"conditions": conditions, "acceptedNames": _accepted_names(crd), "storedVersions": stored}
