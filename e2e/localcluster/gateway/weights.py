"""Smooth weighted round robin over a rule's backends, per request (pure, deterministic).

nginx's smooth weighted balancing: each pick adds every backend's weight to its credit, takes the backend with
the most credit (the first on ties) and takes the total weight from its credit.

Guarantees:
1. Over any `sum(weights)` consecutive picks of one rule with unchanged backends, each backend is picked exactly
   `weight` times, spread evenly (never a run of one backend longer than its share needs).
2. A backend of weight 0 is never picked; when every weight is 0 (or there are no backends) `pick` returns
   None.
3. A change of a rule's backends or weights starts its sequence afresh at the next pick.
4. Rules are independent: each `rule_id` has its own sequence.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


class SmoothWeighted:
    def __init__(self) -> None:
        self._state: dict[str, tuple[tuple[tuple[Hashable, int], ...], list[int]]] = {}

    def pick(self, rule_id: str, backends: Sequence[tuple[T, int]]) -> T | None:
        """`backends`: (backend, weight) pairs."""
        signature = tuple((b, max(0, w)) for b, w in backends)
        total = sum(w for _, w in signature)
        if total == 0:
            self._state.pop(rule_id, None)
            return None
        state = self._state.get(rule_id)
        if state is None or state[0] != signature:
            state = (signature, [0] * len(signature))
            self._state[rule_id] = state
        credit = state[1]
        best = -1
        for i, (_, weight) in enumerate(signature):
            if weight == 0:
                continue
            credit[i] += weight
            if best < 0 or credit[i] > credit[best]:
                best = i
        credit[best] -= total
        return backends[best][0]

    def forget_except(self, rule_ids: set[str]) -> None:
        """Drop the sequences of rules that are gone."""
        for rule_id in [r for r in self._state if r not in rule_ids]:
            del self._state[rule_id]
