"""Go's json type errors for typed fields of built-in kinds (`json: cannot unmarshal string into Go struct field
LeaseSpec.spec.leaseDurationSeconds of type int32`).

Guarantees: each check returns None when the value decodes into the Go type (None/null always does), else Go's
UnmarshalTypeError text, naming the innermost struct and the dotted path from the object's root.
Pure and synchronous.
"""

from __future__ import annotations

from typing import Any

from e2e.localcluster.apiserver.schema.validation.gojson import type_name

__all__ = ["check_int32", "check_string"]

_INT32 = (-(2**31), 2**31 - 1)


def _type_error(value: Any, struct: str, path: str, go_type: str) -> str:
    shown = type_name(value)
    if shown == "number":
        shown = f"number {value}"
    return f"json: cannot unmarshal {shown} into Go struct field {struct}.{path} of type {go_type}"


def check_string(value: Any, struct: str, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return None
    return _type_error(value, struct, path, "string")


def check_int32(value: Any, struct: str, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and _INT32[0] <= value <= _INT32[1]:
        return None
    return _type_error(value, struct, path, "int32")
