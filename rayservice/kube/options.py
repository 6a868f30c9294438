"""What a request says besides its path: patch types, delete options, selectors, and list results.

Guarantees:
1. ``patch_body`` refuses a mismatch between patch type and shape: a JSON patch (RFC 6902) is a list
   of operations, every other patch type an object; the body is copied, never the caller's object.
2. ``delete_options`` writes only the fields that were given, so the server's defaults apply otherwise.
3. ``with_type`` fills a listed item's missing ``kind`` (the list kind without ``List``) and
   ``apiVersion``, and never overwrites ones that are present.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JsonObject = dict[str, Any]
"""A JSON object as the API server answered it: a fresh dict the caller owns (cached objects are
``rayservice.raw.RawObject``, read-only)."""
Patch = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class PatchType(StrEnum):
    """The patch content types the API server understands."""

    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"


class PropagationPolicy(StrEnum):
    """What happens to an object's dependents when it is deleted."""

    BACKGROUND = "Background"
    FOREGROUND = "Foreground"
    ORPHAN = "Orphan"


@dataclass(frozen=True, slots=True)
class Request:
    """One API request before it is sent: what it does (``verb``, for metrics) and how (HTTP)."""

    verb: str
    resource: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    content_type: str = "application/json"
    write: bool = False  # changes state on the server: subject to the client's write gate


@dataclass(frozen=True, slots=True)
class ObjectList:
    """The items of a list and the resourceVersion to start a watch from."""

    items: list[JsonObject]
    resource_version: str


@dataclass(frozen=True, slots=True)
class Preconditions:
    """A delete happens only if the stored object still has this uid and/or resourceVersion."""

    uid: str | None = None
    resource_version: str | None = None


def patch_body(patch: Patch, patch_type: PatchType) -> Any:
    if isinstance(patch, Mapping) == (patch_type is PatchType.JSON):
        raise ValueError("a JSON patch is a list of operations; other patch types take an object")
    return dict(patch) if isinstance(patch, Mapping) else [dict(op) for op in patch]


def delete_options(
    propagation_policy: PropagationPolicy | None,
    preconditions: Preconditions | None,
    grace_period_s: int | None,
) -> JsonObject:
    options: JsonObject = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if propagation_policy is not None:
        options["propagationPolicy"] = str(propagation_policy)
    if grace_period_s is not None:
        options["gracePeriodSeconds"] = grace_period_s
    if preconditions is not None:
        wanted = {"uid": preconditions.uid, "resourceVersion": preconditions.resource_version}
        options["preconditions"] = {k: v for k, v in wanted.items() if v is not None}
    return options


def list_query(
    label_selector: str | None, field_selector: str | None, limit: int | None, continue_token: str
) -> tuple[tuple[str, str], ...]:
    query = _selectors(label_selector, field_selector)
    if limit:
        query.append(("limit", str(limit)))
    if continue_token:
        query.append(("continue", continue_token))
    return tuple(query)


def watch_query(
    resource_version: str | None,
    allow_watch_bookmarks: bool,
    timeout_seconds: int | None,
    label_selector: str | None,
    field_selector: str | None,
) -> tuple[tuple[str, str], ...]:
    query = [("watch", "true"), *_selectors(label_selector, field_selector)]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    if allow_watch_bookmarks:
        query.append(("allowWatchBookmarks", "true"))
    if timeout_seconds is not None:
        query.append(("timeoutSeconds", str(timeout_seconds)))
    return tuple(query)


def _selectors(label_selector: str | None, field_selector: str | None) -> list[tuple[str, str]]:
    query = []
    if label_selector:
        query.append(("labelSelector", label_selector))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    return query


def with_type(item: JsonObject, page: Mapping[str, Any]) -> JsonObject:
    kind = str(page.get("kind") or "")
    if "kind" not in item and kind.endswith("List"):
        item["kind"] = kind[: -len("List")]
    if "apiVersion" not in item and page.get("apiVersion"):
        item["apiVersion"] = page["apiVersion"]
    return item
