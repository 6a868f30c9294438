"""The errors every Kubernetes API call may raise, and the one mapping from an API ``Status`` to them.

```
KubeError                        anything that went wrong talking to the API server
├── ApiError(status, reason, message)      the server answered with an error Status
│   ├── NotFound                 404
│   ├── AlreadyExists            409, reason AlreadyExists
│   ├── Conflict                 409, any other reason (stale resourceVersion, failed precondition)
│   ├── Gone                     410 (Expired / Gone: a resourceVersion or continue token too old)
│   ├── UnsupportedMediaType     415 (e.g. strategic merge patch on a custom resource)
│   ├── Invalid                  422
│   ├── TooManyRequests          429, with retry_after_s
│   └── ServerError              5xx
├── KubeTransportError           no usable answer: connect failure, timeout, broken or garbled stream
├── KubeConfigError              the kubeconfig or in-cluster configuration cannot be loaded
└── NotLeader                    a write the client's write gate refused: nothing was sent
```

Guarantees:
1. ``error_from_status`` picks the most specific class for a code (and, for 409, the reason); codes
   without a class of their own (400, 401, 403, ...) give a plain ``ApiError``.
2. Every ``ApiError`` keeps the HTTP ``status``, the Status ``reason`` and ``message``, and its
   ``details`` (``causes`` for 422) as sent; ``error_from_response`` turns a missing or non-JSON body
   into a typed error too, and reads ``Retry-After`` for 429.
3. This module imports no HTTP or Kubernetes library: callers above ``rayservice.kube`` catch these
   classes only, and ``rayservice.kube.client`` raises them ``from`` the library's exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class KubeError(Exception):
    """Base class of every error raised by ``rayservice.kube``."""


class KubeTransportError(KubeError):
    """The request got no usable answer: connection refused or reset, timeout, a broken stream."""


class KubeConfigError(KubeError):
    """The kubeconfig file or the in-cluster service account configuration cannot be used."""


class NotLeader(KubeError):
    """The client's write gate refused a write (this replica does not hold the leader lease): nothing was sent."""


class ApiError(KubeError):
    """The API server answered with an error ``Status``."""

    def __init__(self, status: int, reason: str, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.details: Mapping[str, Any] = details or {}

    @property
    def causes(self) -> list[Mapping[str, Any]]:
        """The field-level causes the server listed (422 Invalid carries one per bad field)."""
        causes = self.details.get("causes")
        return list(causes) if isinstance(causes, list) else []


class NotFound(ApiError):
    """404: the object (or its namespace, or the resource type) does not exist."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: a create named an object that exists."""


class Conflict(ApiError):
    """409: the write was based on a stale resourceVersion or failed a precondition."""


class Gone(ApiError):
    """410: the resourceVersion or continue token is older than the server remembers; relist."""


class UnsupportedMediaType(ApiError):
    """415: the patch type is not supported for this resource."""


class Invalid(ApiError):
    """422: the object failed validation; ``causes`` names the fields."""


class TooManyRequests(ApiError):
    """429: the server asks the client to slow down and retry after ``retry_after_s``."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        retry_after_s: float = 1.0,
    ) -> None:
        super().__init__(status, reason, message, details=details)
        self.retry_after_s = retry_after_s


class ServerError(ApiError):
    """5xx: the server failed (internal error, unavailable, timeout); retry with backoff."""


_BY_CODE: dict[int, type[ApiError]] = {
    404: NotFound,
    410: Gone,
    415: UnsupportedMediaType,
    422: Invalid,
}

_DEFAULT_REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def error_from_status(
    code: int, status: Mapping[str, Any] | None = None, *, retry_after_s: float | None = None
) -> ApiError:
    """The typed error for an HTTP ``code`` and the ``Status`` object the server sent (if any).

    ``code`` wins over ``status["code"]`` when both are present and differ, except that a code of 0
    (no HTTP status, e.g. a watch ERROR event) defers to the Status.
    """
    body = status or {}
    if not code:
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else 500
    reason = str(body.get("reason") or _DEFAULT_REASONS.get(code, "Unknown"))
    message = str(body.get("message") or "")
    raw_details = body.get("details")
    details: Mapping[str, Any] = raw_details if isinstance(raw_details, Mapping) else {}
    if code == 429:
        return TooManyRequests(
            code, reason, message, details=details, retry_after_s=_retry_after(retry_after_s, details)
        )
    if code == 409:
        cls: type[ApiError] = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif code >= 500:
        cls = ServerError
    else:
        cls = _BY_CODE.get(code, ApiError)
    return cls(code, reason, message, details=details)


def error_from_response(code: int, body: str, *, reason: str = "", retry_after: str | None = None) -> KubeError:
    """The typed error for an HTTP answer whose body should be a ``Status`` (but may be anything)."""
    status: object = None
    if body:
        try:
            status = json.loads(body)
        except ValueError:
            status = None
    if not isinstance(status, dict):
        status = {"message": (body or reason).strip()}
    if not code and not isinstance(status.get("code"), int):
        return KubeError(reason or body or "request failed before an answer")
    retry_after_s: float | None = None
    if retry_after is not None:
        try:
            retry_after_s = float(retry_after)
        except ValueError:
            retry_after_s = None
    return error_from_status(code, status, retry_after_s=retry_after_s)


def _retry_after(header_s: float | None, details: Mapping[str, Any]) -> float:
    if header_s is not None and header_s >= 0:
        return header_s
    seconds = details.get("retryAfterSeconds")
    return float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else 1.0
