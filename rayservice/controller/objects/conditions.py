"""Merging the conditions a pass computed into the stored ones, as metav1's ``SetStatusCondition`` does.

Guarantees:
1. ``merge_conditions`` keeps the stored conditions in their order, replaces those of a type in ``updates``
   in place, appends the new types in ``updates`` order, and removes the type ``drop``; entries that are not
   objects are dropped.
2. A condition keeps its ``lastTransitionTime`` while its ``status`` stays the same (reason and message
   follow the update); otherwise it gets ``now``. Each updated condition carries ``observedGeneration`` when
   ``generation`` is an int. Conditions not updated are copied, never shared with the stored status.

Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rayservice.api.common import format_kube_time
from rayservice.controller.objects.access import sequence


def merge_conditions(
    previous: Sequence[Any] | None,
    updates: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    generation: object,
    drop: str | None = None,
) -> list[dict[str, Any]]:
    """Guarantee 1: ``previous`` (the stored ``conditions``) with ``updates`` applied."""
    pending = {update["type"]: update for update in updates}
    merged: list[dict[str, Any]] = []
    for old in sequence(previous):
        if not isinstance(old, Mapping):
            continue
        kind = old.get("type")
        if kind in pending:
            merged.append(_transition(old, pending.pop(kind), now, generation))
        elif kind != drop:
            merged.append(copy.deepcopy(dict(old)))
    merged += [_transition(None, update, now, generation) for update in pending.values()]
    return merged


def _transition(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], now: datetime, generation: object
) -> dict[str, Any]:
    condition = dict(new)
    if old is not None and old.get("status") == new["status"] and old.get("lastTransitionTime"):
        condition["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        condition["lastTransitionTime"] = format_kube_time(now)
    if isinstance(generation, int) and not isinstance(generation, bool):
        condition["observedGeneration"] = generation
    return condition
