"""Per-cluster notes kept in this process: last PUT, consecutive failures, the unreachable clock, bounded size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rayservice.api import ObjectKey
from rayservice.controller.rayservice import ClusterMemory, LastPut

T0 = datetime(2026, 1, 1, tzinfo=UTC)
A = ObjectKey("ns", "a")
B = ObjectKey("ns", "b")


def test_failures_count_up_until_a_success_resets_them() -> None:
    memory = ClusterMemory()
    assert [memory.failed(A, T0) for _ in range(3)] == [1, 2, 3]
    memory.succeeded(A)
    assert memory.failures(A) == 0 and memory.failures(B) == 0


def test_the_unreachable_clock_keeps_its_first_time_until_the_cluster_is_reachable() -> None:
    memory = ClusterMemory()
    memory.unreachable(A, T0)
    memory.failed(A, T0 + timedelta(seconds=5))
    memory.unreachable(A, T0 + timedelta(seconds=9))
    assert memory.unreachable_since(A) == T0
    memory.succeeded(A)
    assert memory.unreachable_since(A) == T0  # a read that answers without the apps keeps it running
    memory.reachable(A)
    assert memory.unreachable_since(A) is None


def test_the_last_put_is_kept_per_cluster_and_forgotten_with_it() -> None:
    memory = ClusterMemory()
    last = LastPut("http://127.16.0.2:8265", "digest", 12.5)
    memory.put_done(A, last)
    assert memory.last_put(A) == last and memory.last_put(B) is None
    memory.forget(A)
    assert memory.last_put(A) is None and len(memory) == 0


def test_the_least_recently_touched_clusters_go_first_beyond_the_limit() -> None:
    memory = ClusterMemory(limit=2)
    memory.failed(A, T0)
    memory.failed(B, T0)
    memory.failed(A, T0)  # touches A again
    memory.failed(ObjectKey("ns", "c"), T0)
    assert len(memory) == 2 and memory.failures(A) == 2 and memory.failures(B) == 0


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ClusterMemory(limit=0)
