"""Fault injection and the request log, for tests that check behaviour under API failures.

Guarantees:
1. A rule fails at most `count` matching requests (None: every match) with its code and a real `Status`
   body; 429 answers carry Retry-After.
2. `delay_s` on a rule delays matching requests without failing them when `code` is 0.
3. Every request the server answers is appended to the log with its verb, resource, subresource,
   namespace, name and status code, in arrival order of completion.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from . import errors
from .errors import ApiError


@dataclass
class FaultRule:
    code: int = 500
    count: int | None = 1
    method: str | None = None  # GET, POST, PUT, PATCH, DELETE
    verb: str | None = None  # get, list, watch, create, update, patch, delete
    resource: str | None = None  # plural, e.g. "pods"
    subresource: str | None = None
    path_regex: str | None = None
    delay_s: float = 0.0
    retry_after_s: int = 1
    hits: int = 0

    def matches(self, rec: RequestInfo) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if self.method and self.method.upper() != rec.method:
            return False
        if self.verb and self.verb != rec.verb:
            return False
        if self.resource and self.resource != rec.resource:
            return False
        if self.subresource is not None and self.subresource != rec.subresource:
            return False
        return not (self.path_regex and not re.search(self.path_regex, rec.path))

    def error(self) -> ApiError:
        if self.code == 429:
            return errors.too_many_requests("injected: too many requests", self.retry_after_s)
        if self.code == 409:
            return ApiError(409, "Conflict", "injected: Operation cannot be fulfilled: the object has been "
                            "modified; please apply your changes to the latest version and try again")
        if self.code == 410:
            return errors.expired("injected: too old resource version")
        if self.code == 503:
            return ApiError(503, "ServiceUnavailable", "injected: the server is currently unable to handle "
                            "the request")
        return errors.internal("injected failure")


@dataclass
class RequestInfo:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    verb: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user_agent: str = ""
    code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self, log_limit: int = 200_000) -> None:
        self.rules: list[FaultRule] = []
        self.log: list[RequestInfo] = []
        self.log_limit = log_limit
        self.expire_next_watches = 0

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.expire_next_watches = 0

    def match(self, rec: RequestInfo) -> FaultRule | None:
        for rule in self.rules:
            if rule.matches(rec):
                rule.hits += 1
                return rule
        return None

    def record(self, rec: RequestInfo) -> None:
        self.log.append(rec)
        if len(self.log) > self.log_limit:
            del self.log[: len(self.log) - self.log_limit]

    def writes(self) -> list[RequestInfo]:
        return [r for r in self.log if r.verb in ("create", "update", "patch", "delete", "deletecollection")]
