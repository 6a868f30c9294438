"""The events.k8s.io/v1 view of core/v1 Events: one stored collection, two shapes.

Guarantees:
1. `to_events_v1` renames the fields as kube does (involvedObject -> regarding, message -> note,
   source -> deprecatedSource, firstTimestamp/lastTimestamp/count -> deprecated*, reportingComponent ->
   reportingController, reportingInstance -> reportingInstance) and keeps metadata as stored.
2. `core_field_selector` maps a field selector written against the events.k8s.io names to core names.
"""

from __future__ import annotations

from typing import Any

_RENAMES = {
    "involvedObject": "regarding", "message": "note", "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp", "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount", "reportingComponent": "reportingController",
}
_FIELD_RENAMES = {"regarding.": "involvedObject.", "note": "message", "reportingController": "reportingComponent",
                  "deprecatedSource": "source"}


def to_events_v1(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key in ("apiVersion", "kind"):
            continue
        if key in ("reportingComponent", "reportingInstance") and value == "":
            continue
        out[_RENAMES.get(key, key)] = value
    return out


def core_field_selector(selector: str) -> str:
    parts = []
    for part in selector.split(","):
        for new, old in _FIELD_RENAMES.items():
            if part.startswith(new):
                part = old + part[len(new):]
                break
        parts.append(part)
    return ",".join(parts)
