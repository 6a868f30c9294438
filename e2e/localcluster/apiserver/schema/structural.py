"""A CRD version's openAPIV3Schema as apiextensions-apiserver uses it: unknown fields, pruning, defaulting.

Guarantees:
1. Every path `unknown_fields` reports is removed by `prune`, and `prune` removes nothing else except what
   guarantees 2 and 4 name. The order is kube's: unknown fields of the root `metadata` first, then the schema's
   unknown fields sorted, then unknown fields of embedded resources' metadata. Paths look like
   `spec.items[0].name`; root fields have no leading dot.
2. At the root, and in every `x-kubernetes-embedded-resource` object, `apiVersion`, `kind` and `metadata` are
   always known; their `metadata` is kept as ObjectMeta (unknown and empty fields dropped).
3. `x-kubernetes-preserve-unknown-fields` keeps unknown fields below it, while fields it does specify are still
   pruned by their own schema; `additionalProperties` schemas apply to every key not in `properties`.
4. `prune` also drops `null` values of non-nullable fields that have no default (apiextensions'
   PruneNonNullableNullsWithoutDefaults); `unknown_fields` does not report them.
5. `default` applies `default` values as apiextensions does: only inside objects that exist, to missing keys
   and to non-nullable nulls, into array items and additionalProperties values, recursing into what it set.
6. Every method returns a new value and never mutates its argument.

Not guaranteed: `validate` is implemented in `schemavalidation` (see there).

Pure and synchronous: a `Schema` is immutable after construction and may be shared by every task.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause

from .objectmeta import coerce_object_meta, unknown_meta_fields
from .schemavalidation import validate_value

_META_FIELDS = ("apiVersion", "kind", "metadata")

SchemaNode = Mapping[str, Any]


class Schema:
    """One version's structural schema (the `openAPIV3Schema` dict of a CRD version)."""

    def __init__(self, openapi_v3_schema: Mapping[str, Any]) -> None:
        self._root: SchemaNode = openapi_v3_schema or {}

    @property
    def root(self) -> SchemaNode:
        return self._root

    def unknown_fields(self, obj: Mapping[str, Any]) -> list[str]:
        walker = _Pruner(drop_nulls=False)
        walker.root(copy.deepcopy(dict(obj)), self._root)
        return walker.root_meta + sorted(walker.unknown) + walker.embedded_meta

    def prune(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        walker = _Pruner(drop_nulls=True)
        out = walker.root(copy.deepcopy(dict(obj)), self._root)
        assert isinstance(out, dict)
        return out

    def default(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(obj))
        _default(out, self._root)
        return out

    def validate(self, obj: Mapping[str, Any]) -> list[Cause]:
        return validate_value(self._root, obj)


# ---- pruning -----------------------------------------------------------------------------------------------


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class _Pruner:
    """One pass over an object: mutates the (copied) value in place and records unknown paths."""

    def __init__(self, *, drop_nulls: bool) -> None:
        self.drop_nulls = drop_nulls
        self.unknown: list[str] = []
        self.root_meta: list[str] = []
        self.embedded_meta: list[str] = []

    def root(self, obj: dict[str, Any], schema: SchemaNode) -> Any:
        if "metadata" in obj:
            self.root_meta = unknown_meta_fields(obj["metadata"])
            obj["metadata"] = coerce_object_meta(obj["metadata"])
        self.prune(obj, {**schema, "x-kubernetes-embedded-resource": True}, "", is_root=True)
        return obj

    def prune(self, value: Any, schema: SchemaNode | None, path: str, *, is_root: bool = False) -> None:
        if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields"):
            self._skip_prune(value, schema, path, is_root)
            return
        if isinstance(value, dict):
            if schema is None:
                for key in list(value):
                    self.unknown.append(_join(path, key))
                    del value[key]
                return
            embedded = bool(schema.get("x-kubernetes-embedded-resource"))
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            for key in list(value):
                child = value[key]
                if embedded and key in _META_FIELDS:
                    if key == "metadata" and not is_root:
                        self._embedded_metadata(value, path)
                    continue
                if key in props:
                    if self._drop_null(value, key, child, props[key]):
                        continue
                    self.prune(child, props[key], _join(path, key))
                elif additional is not None and additional is not False:
                    sub = additional if isinstance(additional, Mapping) else None
                    if sub is not None and self._drop_null(value, key, child, sub):
                        continue
                    if sub is not None:
                        self.prune(child, sub, _join(path, key))
                else:
                    self.unknown.append(_join(path, key))
                    del value[key]
        elif isinstance(value, list):
            items = schema.get("items") if schema is not None else None
            for i, item in enumerate(value):
                self.prune(item, items if isinstance(items, Mapping) else None, f"{path}[{i}]")

    def _skip_prune(self, value: Any, schema: SchemaNode, path: str, is_root: bool) -> None:
        if isinstance(value, dict):
            embedded = bool(schema.get("x-kubernetes-embedded-resource")) or is_root
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            for key in list(value):
                child = value[key]
                if embedded and key in _META_FIELDS:
                    if key == "metadata" and not is_root:
                        self._embedded_metadata(value, path)
                    continue
                if key in props:
                    if self._drop_null(value, key, child, props[key]):
                        continue
                    self.prune(child, props[key], _join(path, key))
                elif isinstance(additional, Mapping):
                    if self._drop_null(value, key, child, additional):
                        continue
                    self.prune(child, additional, _join(path, key))
        elif isinstance(value, list):
            items = schema.get("items")
            for i, item in enumerate(value):
                if isinstance(items, Mapping):
                    self._skip_prune(item, items, f"{path}[{i}]", False)

    def _embedded_metadata(self, value: dict[str, Any], path: str) -> None:
        self.embedded_meta += unknown_meta_fields(value["metadata"], _join(path, "metadata"))
        value["metadata"] = coerce_object_meta(value["metadata"])

    def _drop_null(self, parent: dict[str, Any], key: str, child: Any, schema: SchemaNode) -> bool:
        if (self.drop_nulls and child is None and not schema.get("nullable") and "default" not in schema):
            del parent[key]
            return True
        return False


# ---- defaulting --------------------------------------------------------------------------------------------


def _is_non_nullable_null(value: Any, schema: SchemaNode | None) -> bool:
    return value is None and schema is not None and not schema.get("nullable")


def _default(value: Any, schema: SchemaNode | None) -> None:
    if schema is None:
        return
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        for key, prop in props.items():
            if "default" not in prop:
                continue
            if key not in value or _is_non_nullable_null(value[key], prop):
                value[key] = copy.deepcopy(prop["default"])
        additional = schema.get("additionalProperties")
        for key in list(value):
            if key in props:
                _default(value[key], props[key])
            elif isinstance(additional, Mapping):
                if _is_non_nullable_null(value[key], additional) and "default" in additional:
                    value[key] = copy.deepcopy(additional["default"])
                _default(value[key], additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return
        for i, item in enumerate(value):
            if _is_non_nullable_null(item, items) and "default" in items:
                value[i] = copy.deepcopy(items["default"])
            _default(value[i], items)
