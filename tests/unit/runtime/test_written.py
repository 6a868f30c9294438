"""WrittenVersions: recognising a cache that is behind the reconciler's own status write."""

from __future__ import annotations

import pytest

from rayservice.api import ObjectKey
from rayservice.runtime import WrittenVersions

KEY = ObjectKey("ns", "demo")


def test_the_version_a_write_replaced_is_stale_until_the_cache_shows_another() -> None:
    written = WrittenVersions()
    written.replaced(KEY, "10", "11")
    assert written.is_stale(KEY, "10")
    assert written.is_stale(KEY, "10")  # still behind: the watch event has not arrived
    assert not written.is_stale(KEY, "11")
    assert not written.is_stale(KEY, "10")  # the record ended once the cache moved on
    assert len(written) == 0


def test_a_later_version_than_the_write_made_ends_the_record_too() -> None:
    written = WrittenVersions()
    written.replaced(KEY, "10", "11")
    assert not written.is_stale(KEY, "12")
    assert not written.is_stale(KEY, "10")


def test_keys_without_a_write_are_never_stale_and_forget_drops_a_record() -> None:
    written = WrittenVersions()
    assert not written.is_stale(KEY, "10")
    written.replaced(KEY, "10", "11")
    written.forget(KEY)
    assert not written.is_stale(KEY, "10")


@pytest.mark.parametrize("old", [None, "", "11"])
def test_a_write_without_a_distinct_precondition_records_nothing(old: str | None) -> None:
    written = WrittenVersions()
    written.replaced(KEY, old, "11")
    assert len(written) == 0


def test_at_most_limit_records_are_kept_the_oldest_go_first() -> None:
    written = WrittenVersions(limit=2)
    for i in range(3):
        written.replaced(ObjectKey("ns", f"o{i}"), "1", "2")
    assert len(written) == 2
    assert not written.is_stale(ObjectKey("ns", "o0"), "1")
    assert written.is_stale(ObjectKey("ns", "o2"), "1")


def test_the_echo_of_an_own_write_is_recognised_once() -> None:
    written = WrittenVersions()
    written.replaced(KEY, "10", "11")
    assert written.is_echo(KEY, "10", "11")
    assert not written.is_echo(KEY, "10", "11")  # the record ended


def test_after_a_skipped_pass_the_echo_is_not_ignored() -> None:
    written = WrittenVersions()
    written.replaced(KEY, "10", "11")
    assert written.is_stale(KEY, "10")  # a pass ran on the old version and did nothing
    assert not written.is_echo(KEY, "10", "11")  # so the echo must wake the key


@pytest.mark.parametrize(("old", "new"), [("9", "11"), ("10", "12"), ("11", "12")])
def test_updates_other_than_the_exact_echo_are_not_ignored(old: str, new: str) -> None:
    written = WrittenVersions()
    written.replaced(KEY, "10", "11")
    assert not written.is_echo(KEY, old, new)


def test_a_write_made_wake_on_echo_is_never_an_ignorable_echo_but_still_recognises_a_stale_cache() -> None:
    written = WrittenVersions()
    written.replaced(KEY, "10", "11", wake_on_echo=True)
    assert written.is_stale(KEY, "10")
    assert not written.is_echo(KEY, "10", "11")
