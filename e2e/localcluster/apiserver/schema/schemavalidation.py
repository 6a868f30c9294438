"""openAPIV3Schema validation of custom resources, reported as kube-apiserver v1.36 reports it.

Guarantees:
1. Semantics are those of kube-openapi's validator for CRDs (JSON-Schema draft 4 plus OpenAPI's `nullable`):
   type (an integral float passes as integer), `x-kubernetes-int-or-string`, `nullable`, string formats that kube
   checks (date-time, date, uuid, byte, ipv4, ipv6, cidr, mac; int32/int64 are not range-checked, as in kube),
   minimum/maximum with draft-4 boolean exclusives, multipleOf, minLength/maxLength (in characters), pattern
   (unanchored search), enum, required, minItems/maxItems, uniqueItems, min/maxProperties, properties,
   additionalProperties, items, allOf/anyOf/oneOf/not; then `x-kubernetes-list-type` set/map uniqueness.
2. Each problem is a `Cause` worded like kube (`spec.size: Invalid value: 0: spec.size in body should be greater
   than or equal to 1`; type errors `FieldValueTypeInvalid` quoting the JSON type of the value; `Required value`;
   `Unsupported value: "x": supported values: "a", "b"`; `Too long: may not be more than 3 bytes`; `Too many: 4:
   must have at most 3 items`), with field paths like `spec.items[0].name`. Composite failures use kube's
   root path `<nil>` and quote the schema path (`"spec.x" must validate at least one schema (anyOf)`).
3. Within an object, validators run in kube-openapi's order (type, composites, string, format, number, array,
   enum, object) and properties are visited in sorted order, so the output is deterministic.

Not guaranteed: CEL rules (`x-kubernetes-validations`), `x-kubernetes-embedded-resource` TypeMeta checks,
Go RE2-only pattern syntax.

Pure and synchronous: any task may call `validate_value`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from e2e.localcluster.apiserver.errors import Cause

from .objectmeta import go_float, go_value

SchemaNode = Mapping[str, Any]

_NIL = "<nil>"  # kube validates custom resources from a nil field path; composite errors land there
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")


def validate_value(schema: SchemaNode, obj: Any) -> list[Cause]:
    """All problems of `obj` against `schema` (the root of a CRD version's openAPIV3Schema)."""
    return _validate(obj, schema, "") + _list_types(obj, schema, "")


# ---- helpers -----------------------------------------------------------------------------------------------


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _field(path: str) -> str:
    return path or _NIL


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(_field(path), "FieldValueInvalid", f"Invalid value: {go_value(value)}: {detail}")


def _type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(_field(path), "FieldValueTypeInvalid", f"Invalid value: {go_value(value)}: {detail}")


def _composite(detail: str) -> Cause:
    return Cause(_NIL, "FieldValueInvalid", f'Invalid value: "": {detail}')


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _canonical(value: Any) -> str:
    """JSON equality (1 == 1.0, True != 1), as a hashable string."""

    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---- the validator -----------------------------------------------------------------------------------------


def _validate(value: Any, schema: SchemaNode, path: str) -> list[Cause]:
    types = _types(schema)
    if value is None:
        if types and "null" not in types and not schema.get("nullable"):
            where = f"{path} in body"
            return [_type_invalid(path, "null", f'{where} must be of type {",".join(types)}: "null"')]
        return []
    causes: list[Cause] = []
    actual = json_type(value)
    if types and not _type_ok(value, actual, types):
        causes.append(_type_invalid(path, actual,
                                    f'{path} in body must be of type {",".join(types)}: "{actual}"'))
    causes += _composites(value, schema, path)
    if isinstance(value, str):
        causes += _string(value, schema, path)
        causes += _format(value, schema, path)
    elif _is_number(value):
        causes += _number(value, schema, path)
    elif isinstance(value, list):
        causes += _array(value, schema, path)
    if "enum" in schema and isinstance(schema["enum"], list):
        allowed = {_canonical(e) for e in schema["enum"]}
        if _canonical(value) not in allowed:
            supported = [e if isinstance(e, str) else json.dumps(e, separators=(",", ":")) for e in schema["enum"]]
            quoted = ", ".join(json.dumps(s, ensure_ascii=False) for s in supported)
            causes.append(Cause(_field(path), "FieldValueNotSupported",
                                f"Unsupported value: {go_value(value)}: supported values: {quoted}"))
    if isinstance(value, dict):
        causes += _object(value, schema, path)
    return causes


def _types(schema: SchemaNode) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = schema.get("type")
    if isinstance(t, str) and t:
        return [t]
    if isinstance(t, list):
        return [str(x) for x in t]
    return []


def _type_ok(value: Any, actual: str, types: list[str]) -> bool:
    if actual in types:
        return True
    if actual == "number" and "integer" in types and float(value).is_integer():
        return True
    return actual == "integer" and "number" in types


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The failing alternative closest to passing (kube-openapi keeps the one with most passing checks)."""
    best = results[0]
    for result in results[1:]:
        if len(result) < len(best):
            best = result
    return best


def _composites(value: Any, schema: SchemaNode, path: str) -> list[Cause]:
    causes: list[Cause] = []
    quoted = json.dumps(path)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of:
        results = [_validate(value, sub, path) for sub in any_of]
        if all(results):
            causes.append(_composite(f"{quoted} must validate at least one schema (anyOf)"))
            causes += _fewest(results)
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of:
        results = [_validate(value, sub, path) for sub in one_of]
        valid = sum(1 for r in results if not r)
        if valid == 0:
            causes.append(_composite(f"{quoted} must validate one and only one schema (oneOf). Found none valid"))
            causes += _fewest(results)
        elif valid > 1:
            causes.append(_composite(f"{quoted} must validate one and only one schema (oneOf). "
                                     f"Found {valid} valid alternatives"))
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        results = [_validate(value, sub, path) for sub in all_of]
        for r in results:
            causes += r
        valid = sum(1 for r in results if not r)
        if valid != len(results):
            extra = ". None validated" if valid == 0 else ""
            causes.append(_composite(f"{quoted} must validate all the schemas (allOf){extra}"))
    not_schema = schema.get("not")
    if isinstance(not_schema, Mapping) and not _validate(value, not_schema, path):
        causes.append(_composite(f"{quoted} must not validate the schema (not)"))
    return causes


def _string(value: str, schema: SchemaNode, path: str) -> list[Cause]:
    causes = []
    where = f"{path} in body"
    if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
        n = schema["maxLength"]
        causes.append(Cause(_field(path), "FieldValueTooLong",
                            f"Too long: may not be more than {n} {'byte' if n == 1 else 'bytes'}"))
    if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
        causes.append(_invalid(path, value, f"{where} should be at least {schema['minLength']} chars long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # a pattern Python cannot compile is not the object's fault
        if not matched:
            causes.append(_invalid(path, value, f"{where} should match '{pattern}'"))
    return causes


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt in ("date-time", "datetime"):
            if not _RFC3339.match(value):
                return False
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00").replace(" ", "T")
                                   .replace("t", "T"))
        elif fmt == "date":
            if not _DATE.match(value):
                return False
            date.fromisoformat(value)
        elif fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
            return bool(_UUID.match(value))
        elif fmt == "byte":
            base64.b64decode(value, validate=True)
        elif fmt == "ipv4":
            ipaddress.IPv4Address(value)
        elif fmt == "ipv6":
            ipaddress.IPv6Address(value)
        elif fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
        elif fmt == "mac":
            return bool(_MAC.match(value))
    except (ValueError, binascii.Error):
        return False
    return True


def _format(value: str, schema: SchemaNode, path: str) -> list[Cause]:
    fmt = schema.get("format")
    if not isinstance(fmt, str) or not fmt or _format_ok(fmt, value):
        return []
    return [_type_invalid(path, value, f"{path} in body must be of type {fmt}: {json.dumps(value)}")]


def _is_integral(quotient: float) -> bool:
    """go-openapi's IsFloat64AJSONInteger: integral up to rounding error (0.3 / 0.1 is a multiple)."""
    return abs(quotient - round(quotient)) <= 1e-9 * max(1.0, abs(quotient))


def _number(value: float, schema: SchemaNode, path: str) -> list[Cause]:
    causes = []
    where = f"{path} in body"
    multiple = schema.get("multipleOf")
    if _is_number(multiple) and multiple and not _is_integral(value / multiple):
        causes.append(_invalid(path, value, f"{where} should be a multiple of {go_float(float(multiple))}"))
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        limit = go_float(float(maximum))
        if schema.get("exclusiveMaximum") is True and value >= maximum:
            causes.append(_invalid(path, value, f"{where} should be less than {limit}"))
        elif value > maximum:
            causes.append(_invalid(path, value, f"{where} should be less than or equal to {limit}"))
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        limit = go_float(float(minimum))
        if schema.get("exclusiveMinimum") is True and value <= minimum:
            causes.append(_invalid(path, value, f"{where} should be greater than {limit}"))
        elif value < minimum:
            causes.append(_invalid(path, value, f"{where} should be greater than or equal to {limit}"))
    return causes


def _array(value: list[Any], schema: SchemaNode, path: str) -> list[Cause]:
    causes = []
    where = f"{path} in body"
    if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
        causes.append(_invalid(path, len(value), f"{where} should have at least {schema['minItems']} items"))
    if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
        n = schema["maxItems"]
        causes.append(Cause(_field(path), "FieldValueTooMany",
                            f"Too many: {len(value)}: must have at most {n} {'item' if n == 1 else 'items'}"))
    if schema.get("uniqueItems") is True and len({_canonical(v) for v in value}) != len(value):
        causes.append(_invalid(path, "", f"{where} shouldn't contain duplicates"))
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            causes += _validate(item, items, f"{path}[{i}]")
    return causes


def _object(value: dict[str, Any], schema: SchemaNode, path: str) -> list[Cause]:
    causes = []
    where = f"{path} in body"
    if isinstance(schema.get("maxProperties"), int) and len(value) > schema["maxProperties"]:
        n = schema["maxProperties"]
        causes.append(Cause(_field(path), "FieldValueTooMany",
                            f"Too many: {len(value)}: must have at most {n} {'item' if n == 1 else 'items'}"))
    if isinstance(schema.get("minProperties"), int) and len(value) < schema["minProperties"]:
        causes.append(_invalid(path, len(value),
                               f"{where} should have at least {schema['minProperties']} properties"))
    for name in schema.get("required") or []:
        if name not in value:
            causes.append(Cause(_join(path, name), "FieldValueRequired", "Required value"))
    props: Mapping[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key in sorted(value):
        if key in props:
            causes += _validate(value[key], props[key], _join(path, key))
        elif isinstance(additional, Mapping):
            causes += _validate(value[key], additional, _join(path, key))
    return causes


# ---- x-kubernetes-list-type ----------------------------------------------------------------------------------


def _list_types(value: Any, schema: SchemaNode, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in sorted(value):
            sub = props.get(key) if key in props else additional
            if isinstance(sub, Mapping):
                causes += _list_types(value[key], sub, _join(path, key))
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: set[str] = set()
            for i, item in enumerate(value):
                key = _canonical(item)
                if key in seen:
                    causes.append(Cause(f"{path}[{i}]", "FieldValueDuplicate", f"Duplicate value: {go_value(item)}"))
                seen.add(key)
        elif list_type == "map":
            names = [str(k) for k in schema.get("x-kubernetes-list-map-keys") or []]
            seen = set()
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                ident = {k: item.get(k) for k in names if k in item}
                key = _canonical(ident)
                if key in seen:
                    causes.append(Cause(f"{path}[{i}]", "FieldValueDuplicate",
                                        f"Duplicate value: {go_value(ident)}"))
                seen.add(key)
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                causes += _list_types(item, items, f"{path}[{i}]")
    return causes
