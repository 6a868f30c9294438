"""API errors as the real kube-apiserver reports them: a `Status` body with reason, code and details.

Guarantees:
1. Every failure the embedded server returns is an `ApiError` rendered by `to_status()`, never a traceback.
2. Messages follow kube-apiserver's wording (checked against recorded v1.36 answers): resource-named
   errors (`widgets.example.com "w1" not found`) use the plural resource in `details.kind`; validation
   errors (`Widget.example.com "w1" is invalid: ...`) use the Kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One field problem: `field` is the path (`spec.size`), `reason` e.g. FieldValueInvalid."""

    field: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def _details(name: str | None, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name is not None:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    return d


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(group, plural)} "{name}" not found',
                    _details(name, group, plural))


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(group, plural)} "{name}" already exists',
                    _details(name, group, plural))


def conflict(group: str, plural: str, name: str,
             why: str = "the object has been modified; please apply your changes to the latest version "
                        "and try again") -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": {why}',
                    _details(name, group, plural))


def invalid(group: str, kind_or_plural: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid. `kind_or_plural` is the Kind for schema/field errors, the plural for RV errors."""
    qualified = f"{kind_or_plural}.{group}" if group else kind_or_plural
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}',
                    {**_details(name, group, kind_or_plural), "causes": [c.to_dict() for c in causes]})


def invalid_options(kind: str, causes: list[Cause]) -> ApiError:
    """422 for bad query options (ListOptions, CreateOptions, PatchOptions in group meta.k8s.io)."""
    parts = [f"{c.field}: {c.message}" for c in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: {text}',
                    {"group": "meta.k8s.io", "kind": kind, "causes": [c.to_dict() for c in causes]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def rejected_patch() -> ApiError:
    """What a failed JSON-patch `test` or a missing path gives: 422 with empty details."""
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def unsupported_patch_type(accepted: list[str]) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(accepted))


def not_acceptable() -> ApiError:
    return ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, "
                    "application/yaml, application/vnd.kubernetes.protobuf")


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def too_many_requests(message: str, retry_after_s: int) -> ApiError:
    return ApiError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after_s},
                    headers={"Retry-After": str(retry_after_s)})
