"""core/v1 Event validation, kube's legacyValidateEvent (the only rules the core/v1 API applies).

Guarantees (422 Invalid):
1. An Event without `eventTime` must share its involved object's namespace (empty only in `default`):
   `involvedObject.namespace: Invalid value: "x": does not match event.namespace`.
2. An Event with `eventTime` (a new-style event): involvedObject.namespace may be empty only in `default` or
   `kube-system`; `reportingController` is required and a qualified name; `reportingInstance` (at most 128
   characters), `action` (at most 128) and `reason` (at most 128) are required; `message` is at most 1024
   characters (`reason: Invalid value: "": can have at most 128 characters`).
3. `eventTime` is a MicroTime and `firstTimestamp`/`lastTimestamp` are RFC 3339 times (400 when not).

Not guaranteed: `type` is not checked (core/v1 accepts `Bogus`); events.k8s.io's stricter rules (type Normal or
Warning, unset `source`) apply to writes through that group, which this server serves read-only.
Pure and synchronous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.objectmeta import field_invalid, field_required, is_qualified_name
from e2e.localcluster.apiserver.schema.validation.gotime import micro_time_error, time_error

__all__ = ["decode_problem", "validate"]

_LIMITS = (("reportingInstance", 128), ("action", 128), ("reason", 128))


def decode_problem(ev: Mapping[str, Any]) -> str | None:
    return micro_time_error(ev.get("eventTime")) or time_error(ev.get("firstTimestamp")) \
        or time_error(ev.get("lastTimestamp"))


def validate(ev: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    md = ev.get("metadata") if isinstance(ev.get("metadata"), Mapping) else {}
    assert isinstance(md, Mapping)
    namespace = str(md.get("namespace") or "")
    involved = ev.get("involvedObject") if isinstance(ev.get("involvedObject"), Mapping) else {}
    assert isinstance(involved, Mapping)
    involved_ns = str(involved.get("namespace") or "")
    mismatch = field_invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not ev.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (involved_ns and involved_ns != namespace):
            return [mismatch]
        return []
    causes: list[Cause] = []
    if not involved_ns and namespace not in ("default", "kube-system"):
        causes.append(mismatch)
    controller = str(ev.get("reportingComponent") or ev.get("reportingController") or "")
    if not controller:
        causes.append(field_required("reportingController"))
    causes += [field_invalid("reportingController", controller, m) for m in is_qualified_name(controller)]
    for key, limit in _LIMITS:
        value = str(ev.get(key) or "")
        if not value:
            causes.append(field_required(key))
        if len(value) > limit:
            causes.append(field_invalid(key, "", f"can have at most {limit} characters"))
    if len(str(ev.get("message") or "")) > 1024:
        causes.append(field_invalid("message", "", "can have at most 1024 characters"))
    return causes
