"""The in-flight tracker of created pod names: kept until seen, expired after a while, dropped on demand."""

from __future__ import annotations

import pytest

from rayservice.api import ObjectKey
from rayservice.controller.raycluster.inflight import InFlight
from rayservice.testing import FakeClock

A, B = ObjectKey("ns", "a"), ObjectKey("ns", "b")


def test_a_name_stays_pending_until_the_cache_shows_it_and_is_then_forgotten_for_good() -> None:
    inflight = InFlight(clock=FakeClock())
    inflight.add(A, "a-head-xxxxx")
    assert inflight.pending(A, seen=set()) == {"a-head-xxxxx"}
    assert inflight.pending(A, seen={"a-head-xxxxx"}) == set()
    assert inflight.pending(A, seen=set()) == set()
    assert len(inflight) == 0


def test_a_name_the_cache_never_shows_expires_after_expiry_s() -> None:
    clock = FakeClock()
    inflight = InFlight(clock=clock, expiry_s=30.0)
    inflight.add(A, "old")
    clock.step(20)
    inflight.add(A, "new")
    clock.step(10)
    assert inflight.pending(A, seen=set()) == {"new"}
    clock.step(20)
    assert inflight.pending(A, seen=set()) == set()


def test_keys_are_independent_and_discard_and_forget_drop_names_at_once() -> None:
    inflight = InFlight(clock=FakeClock())
    for name in ("a1", "a2"):
        inflight.add(A, name)
    inflight.add(B, "b1")
    inflight.discard(A, "a1")
    inflight.discard(A, "never-added")
    assert inflight.pending(A, seen=set()) == {"a2"} and inflight.pending(B, seen=set()) == {"b1"}
    inflight.forget(B)
    assert inflight.pending(B, seen=set()) == set() and len(inflight) == 1


def test_a_non_positive_expiry_is_refused() -> None:
    with pytest.raises(ValueError, match="expiry_s"):
        InFlight(expiry_s=0)
