"""Small pure helpers on raw Kubernetes objects: metadata access, copies, timestamps, uids.

Guarantees:
1. `now_rfc3339` renders seconds precision with a `Z` zone, as kube-apiserver does for metadata times.
2. `without_meta_status` is the part of an object whose change bumps metadata.generation.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def meta(obj: Obj) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def deep_copy(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


def new_uid() -> str:
    return str(uuid.uuid4())


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def without_meta_status(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
