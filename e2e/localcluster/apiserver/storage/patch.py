"""PATCH bodies applied to stored objects: JSON merge patch, JSON patch and strategic merge patch.

Guarantees:
1. No function mutates its arguments; each result shares no mutable part with them.
2. `merge_patch` is RFC 7386: null deletes a key, objects merge recursively, anything else (lists included)
   replaces.
3. `json_patch` is RFC 6902: a body that is not a JSON list is a 400 BadRequest; a failed `test`, a missing
   path or a malformed operation is kube's 422 "the server rejected our request due to an error in our
   request". As in kube-apiserver (evanphx/json-patch v4, whose object lookup never reports a missing
   member), `replace` of a missing member of an existing object sets it; the Ray autoscaler relies on that
   (it replaces `scaleStrategy` of groups that have none).
4. `strategic_merge_patch` merges a list by the merge key Kubernetes declares for that field of that kind
   (`MERGE_KEYS`: containers by name, Service ports by port, conditions by type, ...), merges set-like lists
   (finalizers) as sets and replaces every other list; null deletes a key; other values merge as in (2).
5. The directives `$patch: replace|delete` (on maps and on list elements), `$retainKeys`,
   `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured and never reach the result.
6. In a merged list, patched items keep the patch's order (or `$setElementOrder`'s) and existing items keep
   theirs, interleaved as kube-apiserver does: an item new to the list goes before the existing items it is
   not known to follow, so `$setElementOrder` (which kubectl sends) is what places new items exactly.
7. A malformed strategic patch (an item without its merge key, an unknown `$patch`, a bad directive) is a 400.

Not guaranteed: server-side apply field ownership (callers treat apply as a merge patch); kube answers some
malformed strategic patches with 500 where this module answers 400.
Pure: no I/O, no shared state; any task may call anything here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

from e2e.localcluster.apiserver import errors

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_KEYS",
    "MERGE_PATCH",
    "PATCH_CONTENT_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_CONTENT_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


# ---- RFC 7386 ---------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch; returns a new value."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return {k: v if k in patch else copy.deepcopy(v) for k, v in result.items()}


# ---- RFC 6902 ---------------------------------------------------------------------------------------

_GO_JSON_TYPES = ((bool, "bool"), (str, "string"), (int, "number"), (float, "number"), (Mapping, "object"))

# The library reports malformed operations as plain Python errors as well as its own.
_JSON_PATCH_FAILURES = (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError,
                        TypeError, ValueError, AttributeError)


def json_patch(target: Any, ops: Any) -> Any:
    """Apply a JSON patch (a list of operations); returns a new value."""
    if ops is None:  # Go decodes a null body to an empty patch
        return copy.deepcopy(target)
    if not isinstance(ops, list):
        name = next((n for t, n in _GO_JSON_TYPES if isinstance(ops, t)), "value")
        raise errors.bad_request(f"json: cannot unmarshal {name} into Go value of type jsonpatch.Patch")
    if bad := next((op for op in ops if not isinstance(op, Mapping)), None):
        name = next((n for t, n in _GO_JSON_TYPES if isinstance(bad, t)), "array")
        raise errors.bad_request(f"json: cannot unmarshal {name} into Go value of type jsonpatch.Operation")
    try:
        doc = copy.deepcopy(target)
        for op in copy.deepcopy(ops):
            if op.get("op") == "replace" and _is_missing_member(doc, op.get("path")):
                op["op"] = "add"
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        return doc
    except _JSON_PATCH_FAILURES as exc:
        raise errors.rejected_patch() from exc


def _is_missing_member(doc: Any, path: object) -> bool:
    """`path` names a member absent from an object that exists (guarantee 3)."""
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    *parents, last = jsonpatch.JsonPointer(path).parts
    try:
        parent = jsonpatch.JsonPointer.from_parts(parents).resolve(doc)
    except jsonpatch.JsonPointerException:
        return False
    return isinstance(parent, dict) and last not in parent


# ---- strategic merge patch: the merge keys Kubernetes declares --------------------------------------

Path = tuple[str, ...]
SET = ""
"""The merge key of a list of scalars merged as a set (patchStrategy merge without patchMergeKey)."""


def _under(prefix: Path, table: Mapping[Path, str]) -> dict[Path, str]:
    return {prefix + path: key for path, key in table.items()}


_CONTAINER: Mapping[Path, str] = {
    ("ports",): "containerPort", ("env",): "name", ("volumeMounts",): "mountPath",
    ("volumeDevices",): "devicePath",
}
_POD_SPEC: Mapping[Path, str] = {
    ("containers",): "name", ("initContainers",): "name", ("ephemeralContainers",): "name",
    ("volumes",): "name", ("imagePullSecrets",): "name", ("hostAliases",): "ip",
    ("topologySpreadConstraints",): "topologyKey", ("resourceClaims",): "name", ("schedulingGates",): "name",
    **_under(("containers",), _CONTAINER), **_under(("initContainers",), _CONTAINER),
    **_under(("ephemeralContainers",), _CONTAINER),
}
_METADATA: Mapping[Path, str] = {("finalizers",): SET, ("ownerReferences",): "uid"}
_OBJECT: Mapping[Path, str] = _under(("metadata",), _METADATA)
_STATUS_CONDITIONS: Mapping[Path, str] = {("status", "conditions"): "type"}
_POD_TEMPLATE: Mapping[Path, str] = {**_OBJECT, **_under(("spec",), _POD_SPEC)}
_WORKLOAD: Mapping[Path, str] = {**_OBJECT, **_STATUS_CONDITIONS, **_under(("spec", "template"), _POD_TEMPLATE)}

MERGE_KEYS: Mapping[str, Mapping[Path, str]] = {
    "Pod": {**_OBJECT, **_under(("spec",), _POD_SPEC), **_STATUS_CONDITIONS,
            ("status", "podIPs"): "ip", ("status", "hostIPs"): "ip", ("status", "resourceClaimStatuses"): "name"},
    "PodTemplate": {**_OBJECT, **_under(("template",), _POD_TEMPLATE)},
    "Deployment": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "Job": _WORKLOAD,
    "CronJob": {**_OBJECT, **_under(("spec", "jobTemplate", "spec", "template"), _POD_TEMPLATE)},
    "Node": {**_OBJECT, ("spec", "podCIDRs"): SET, **_STATUS_CONDITIONS, ("status", "addresses"): "type"},
    "Service": {**_OBJECT, ("spec", "ports"): "port", **_STATUS_CONDITIONS},
    "ServiceAccount": {**_OBJECT, ("secrets",): "name"},
    "Namespace": {**_OBJECT, **_STATUS_CONDITIONS},
}
"""Per kind, the path of each merged list (list levels skipped) and its merge key; other lists replace."""

# ---- strategic merge patch: the algorithm -------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"
_MISSING = object()


def _bad(message: str) -> errors.ApiError:
    return errors.bad_request(message)


def _go(value: Any) -> str:
    """Render a value as Go's %v does, for error messages."""
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    return "<nil>" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def strategic_merge_patch(target: Mapping[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of a built-in `kind`; returns a new object."""
    if not isinstance(patch, Mapping):
        raise _bad("json: cannot unmarshal into Go value of type map[string]interface {}")
    table = MERGE_KEYS.get(kind, _OBJECT)
    original = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    return _merge_map(original, copy.deepcopy(dict(patch)), (), table)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], path: Path,
               table: Mapping[Path, str]) -> dict[str, Any]:
    """Merge `patch` into `original`; both are private copies and may be changed."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "delete":
            return {}
        if directive != "replace":
            raise _bad(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")
        del patch[_DIRECTIVE]
        original = {}
    if _RETAIN_KEYS in patch:
        original = _retain_keys(original, patch, patch.pop(_RETAIN_KEYS))
    orders = _pop_prefixed(patch, _ORDER_PREFIX, "invalid patch format of setElementOrder list")
    for name, doomed in _pop_prefixed(patch, _DELETE_PREFIX, "invalid patch format of primitive list").items():
        if isinstance(original.get(name), list):
            original[name] = [v for v in original[name] if v not in doomed]
    for key, value in patch.items():
        here = (*path, key)
        current = original.get(key)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            original[key] = _merge_map(current if isinstance(current, dict) else {}, value, here, table)
        elif isinstance(value, list):
            base = current if isinstance(current, list) else []
            original[key] = _merge_list(base, value, here, table, orders.get(key))
        else:
            original[key] = value
    for key, order in orders.items():
        if key not in patch and isinstance(original.get(key), list):
            original[key] = _merge_list(original[key], [], (*path, key), table, order)
    return original


def _retain_keys(original: dict[str, Any], patch: dict[str, Any], retain: Any) -> dict[str, Any]:
    if not isinstance(retain, list) or any(
            v is not None and not k.startswith((_ORDER_PREFIX, _DELETE_PREFIX)) and k not in retain
            for k, v in patch.items()):
        raise _bad("invalid patch format of retainKeys")
    return {k: v for k, v in original.items() if k in retain}


def _pop_prefixed(patch: dict[str, Any], prefix: str, complaint: str) -> dict[str, list[Any]]:
    found = {key[len(prefix):]: patch.pop(key) for key in [k for k in patch if k.startswith(prefix)]}
    if any(not name or not isinstance(values, list) for name, values in found.items()):
        raise _bad(complaint)
    return found


def _merge_list(original: list[Any], patch: list[Any], path: Path, table: Mapping[Path, str],
                order: list[Any] | None) -> list[Any]:
    key = table.get(path)
    if key is None:  # an atomic list: the patch replaces it
        return [_clean(item, path, table) for item in patch if not _is_directive_item(item)]
    items = original + patch
    if all(not isinstance(item, dict | list) for item in items):
        merged = []
        for item in items:
            if item not in merged:
                merged.append(item)
        return _ordered(merged, patch if order is None else order, original, None)
    if not all(isinstance(item, dict) for item in items):
        raise _bad("list element types are not identical: " + _go(items))
    if not key:
        raise _bad(f"cannot merge lists without merge key for {'.'.join(path)}")
    merged, kept = _merge_keyed(original, patch, key, path, table)
    return _ordered(merged, kept if order is None else order, original, key)


def _is_directive_item(item: Any) -> bool:
    return isinstance(item, dict) and _DIRECTIVE in item


def _clean(value: Any, path: Path, table: Mapping[Path, str]) -> Any:
    """A value new to the object, with directives applied and unmatched nulls dropped."""
    if isinstance(value, dict):
        return _merge_map({}, value, path, table)
    if isinstance(value, list):
        return _merge_list([], value, path, table, None)
    return value


def _merge_keyed(original: list[Any], patch: list[Any], key: str, path: Path,
                 table: Mapping[Path, str]) -> tuple[list[Any], list[Any]]:
    """Merge lists of maps by `key`; returns the merged list and the patch items that are not directives."""
    kept: list[Any] = []
    replace = False
    for item in patch:
        directive = item.get(_DIRECTIVE, _MISSING)
        if directive is _MISSING:
            kept.append(item)
        elif directive == "delete":
            if key not in item:
                raise _bad(f"map: {_go(item)} does not contain declared merge key: {key}")
            original = [o for o in original if o.get(key, _MISSING) != item[key]]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _bad("merging lists cannot yet be specified in the patch")
        else:
            raise _bad(f"unknown patch type: {_go(directive)} in map: {_go(item)}")
    if replace:
        return [_clean(item, path, table) for item in kept], []
    merged = list(original)
    for item in kept:
        if key not in item:
            raise _bad(f"map: {_go(item)} does not contain declared merge key: {key}")
        at = next((i for i, o in enumerate(merged) if o.get(key, _MISSING) == item[key]), None)
        if at is None:
            merged.append(_merge_map({}, item, path, table))
        else:
            merged[at] = _merge_map(merged[at], item, path, table)
    return merged, kept


def _ordered(merged: list[Any], patch_order: list[Any], server_order: list[Any], key: str | None) -> list[Any]:
    """Patch items in patch order, server-only items in server order, interleaved by server order."""

    def ident(item: Any) -> Any:
        return item.get(key, _MISSING) if key is not None and isinstance(item, dict) else item

    def position(order: list[Any], item: Any) -> int:
        wanted = ident(item)
        return next((i for i, o in enumerate(order) if ident(o) == wanted), -1)

    def by(order: list[Any]) -> Any:
        return lambda item: (p if (p := position(order, item)) >= 0 else len(order))

    in_patch = sorted((m for m in merged if position(patch_order, m) >= 0), key=by(patch_order))
    server_only = sorted((m for m in merged if position(patch_order, m) < 0), key=by(server_order))
    result: list[Any] = []
    while server_only or in_patch:
        if in_patch and server_only:
            left, right = position(server_order, server_only[0]), position(server_order, in_patch[0])
            take_server = 0 <= left < right
        else:
            take_server = bool(server_only)
        result.append((server_only if take_server else in_patch).pop(0))
    return result
