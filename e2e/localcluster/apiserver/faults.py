"""Fault injection and the request log, for tests that check behaviour under API failures.

Guarantees:
1. A rule fails at most `count` matching requests (None: every match) with its code and a real `Status`
   body; 429 answers carry Retry-After.
2. `delay_s` on a rule delays matching requests without failing them when `code` is 0.
3. Every request the server answers is appended to the log with its verb, resource, subresource,
   namespace, name and status code, in arrival order of completion.
4. `probability` below 1 makes a rule hit only that share of the requests it matches, drawn from
   `Faults.rng` (seeded, so a run repeats); a miss does not count towards `count`. `codes` (several
   codes) picks one of them per hit, uniformly from the same generator; `code` is used when it is empty.
5. `user_agent`, when set, limits a rule to requests whose User-Agent starts with it (one client's
   requests fail, the tests' own do not). `injected` counts hits per code.
6. Every request that passes the rules gets `arrival`, its rank in order of arrival (its headers were read;
   the body may still be coming), so a test tells a request that started before an instant (`arrivals`
   then) from one that started after it, whatever the order in which they completed.
"""

from __future__ import annotations

import random
import re
from collections import Counter
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
    probability: float = 1.0
    codes: list[int] = field(default_factory=list)
    user_agent: str | None = None
    next_code: int = 0  # the code of the latest hit (one of `codes`), answered by `error()`

    def __post_init__(self) -> None:
        if self.codes and not self.code:
            self.code = self.codes[0]  # the HTTP layer answers an error only when `code` is set

    def matches(self, rec: RequestInfo) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if self.user_agent is not None and not rec.user_agent.startswith(self.user_agent):
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
        code = self.next_code or self.code
        if code == 429:
            return errors.too_many_requests("injected: too many requests", self.retry_after_s)
        if code == 409:
            return ApiError(409, "Conflict", "injected: Operation cannot be fulfilled: the object has been "
                            "modified; please apply your changes to the latest version and try again")
        if code == 410:
            return errors.expired("injected: too old resource version")
        if code == 503:
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
    arrival: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self, log_limit: int = 200_000, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.log: list[RequestInfo] = []
        self.log_limit = log_limit
        self.expire_next_watches = 0
        self.rng = random.Random(seed)
        self.injected: Counter[int] = Counter()
        self.arrivals = 0

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.expire_next_watches = 0

    def match(self, rec: RequestInfo) -> FaultRule | None:
        self.arrivals += 1
        rec.arrival = self.arrivals
        for rule in self.rules:
            if rule.matches(rec) and (rule.probability >= 1.0 or self.rng.random() < rule.probability):
                rule.hits += 1
                rule.next_code = self.rng.choice(rule.codes) if rule.codes else rule.code
                if rule.next_code:
                    self.injected[rule.next_code] += 1
                return rule
        return None

    def record(self, rec: RequestInfo) -> None:
        self.log.append(rec)
        if len(self.log) > self.log_limit:
            del self.log[: len(self.log) - self.log_limit]

    def writes(self) -> list[RequestInfo]:
        return [r for r in self.log if r.verb in ("create", "update", "patch", "delete", "deletecollection")]
