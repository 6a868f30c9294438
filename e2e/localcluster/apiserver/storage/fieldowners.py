"""Field ownership for server-side apply, simplified: which manager last set each leaf field.

Guarantees:
1. Every create, update and patch gives the writing manager the leaf fields it added or changed;
   apply gives it the fields of its configuration.
2. Apply conflicts when it would change a leaf that another manager set, unless forced; the error is
   kube's 409 `Apply failed with N conflict(s)` with one `FieldManagerConflict` cause per field.

Not guaranteed: managedFields in responses, list/map ownership granularity, or ownership release when a
manager stops applying a field.
"""

from __future__ import annotations

from typing import Any

from e2e.localcluster.apiserver.errors import ApiError

_SKIP_META = {"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds", "managedFields", "selfLink", "name", "namespace", "generateName"}


def leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths (`.spec.size`) of an object, without status, type and system metadata."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            if not prefix and key in ("apiVersion", "kind", "status"):
                continue
            if prefix == ".metadata" and key in _SKIP_META:
                continue
            out.update(leaves(value, f"{prefix}.{key}"))
    elif prefix:
        out[prefix] = obj
    return out


class FieldOwners:
    def __init__(self) -> None:
        self._owners: dict[str, dict[str, str]] = {}

    def record(self, uid: str, manager: str, before: Any, after: Any) -> None:
        old = leaves(before) if before is not None else {}
        owned = self._owners.setdefault(uid, {})
        for path, value in leaves(after).items():
            if path not in old or old[path] != value:
                owned[path] = manager

    def claim(self, uid: str, manager: str, applied: Any) -> None:
        owned = self._owners.setdefault(uid, {})
        for path in leaves(applied):
            owned[path] = manager

    def check_apply(self, uid: str, manager: str, current: Any, applied: Any, api_version: str) -> None:
        owned = self._owners.get(uid, {})
        now = leaves(current)
        conflicts = [(p, owned[p]) for p, v in leaves(applied).items()
                     if p in now and now[p] != v and owned.get(p) not in (None, manager)]
        if not conflicts:
            return
        causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {api_version}',
                   "field": p} for p, m in conflicts]
        if len(conflicts) == 1:
            path, mgr = conflicts[0]
            message = f'Apply failed with 1 conflict: conflict with "{mgr}" using {api_version}: {path}'
        else:
            lines = "\n".join(f'- conflict with "{m}" using {api_version}: {p}' for p, m in conflicts)
            message = f"Apply failed with {len(conflicts)} conflicts:\n{lines}"
        raise ApiError(409, "Conflict", message, {"causes": causes})

    def forget(self, uid: str) -> None:
        self._owners.pop(uid, None)
