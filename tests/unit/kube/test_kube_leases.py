"""Raw Lease bodies and MicroTime formatting (rayservice.kube.leases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rayservice.kube import (
    LeaseRecord,
    format_micro_time,
    is_lease_expired,
    lease_body,
    lease_record,
    parse_micro_time,
)

NOON = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def test_micro_time_always_has_six_fraction_digits_and_z_even_for_whole_seconds() -> None:
    assert format_micro_time(NOON) == "2026-11-25T10:00:00.000000Z"
    assert format_micro_time(NOON.replace(microsecond=42)) == "2026-11-25T10:00:00.000042Z"


def test_micro_time_converts_other_zones_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_micro_time(datetime(2026, 11, 25, 12, 0, tzinfo=plus_two)) == "2026-11-25T10:00:00.000000Z"


def test_micro_time_refuses_a_naive_datetime_instead_of_guessing_its_zone() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_micro_time(datetime(2026, 11, 25, 10, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T10:00:00.000000Z", NOON),
        ("2026-11-25T10:00:00Z", NOON),
        ("2026-11-25T10:00:00.5Z", NOON.replace(microsecond=500000)),
        ("2026-11-25T10:00:00.123456789Z", NOON.replace(microsecond=123456)),
        ("2026-11-25T12:00:00.000000+02:00", NOON),
        ("2026-11-25T09:30:00-00:30", NOON),
    ],
)
def test_parse_micro_time_reads_what_servers_send(text: str, expected: datetime) -> None:
    parsed = parse_micro_time(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-11-25 10:00:00Z", "2026-11-25T10:00:00"])
def test_parse_micro_time_rejects_what_is_not_a_micro_time(text: str) -> None:
    with pytest.raises(ValueError, match="MicroTime"):
        parse_micro_time(text)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_formatting_then_parsing_gives_back_the_same_instant_and_text(moment: datetime) -> None:
    text = format_micro_time(moment)
    assert parse_micro_time(text) == moment
    assert format_micro_time(parse_micro_time(text)) == text


def test_lease_body_is_a_complete_lease_with_exactly_formatted_times() -> None:
    record = LeaseRecord("op-1", 15, NOON, NOON + timedelta(seconds=2), 3)
    body = lease_body("ray-system", "rayservice-operator", record, resource_version="77")
    assert body == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "rayservice-operator", "namespace": "ray-system", "resourceVersion": "77"},
        "spec": {
            "holderIdentity": "op-1",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-11-25T10:00:00.000000Z",
            "renewTime": "2026-11-25T10:00:02.000000Z",
            "leaseTransitions": 3,
        },
    }


def test_lease_body_for_create_has_no_resource_version_and_skips_unset_fields() -> None:
    body = lease_body("ns", "l", LeaseRecord(holder_identity="op-1"))
    assert "resourceVersion" not in body["metadata"]
    assert body["spec"] == {"holderIdentity": "op-1", "leaseTransitions": 0}


def test_lease_record_reads_back_what_lease_body_wrote() -> None:
    record = LeaseRecord("op-1", 15, NOON, NOON + timedelta(microseconds=1), 2)
    assert lease_record(lease_body("ns", "l", record)) == record


def test_lease_record_tolerates_a_half_filled_lease() -> None:
    assert lease_record({}) == LeaseRecord()
    odd = {"spec": {"holderIdentity": "", "leaseDurationSeconds": "15", "renewTime": "soon"}}
    assert lease_record(odd) == LeaseRecord()


def test_a_lease_expires_when_renew_time_plus_duration_has_passed() -> None:
    record = LeaseRecord("op-1", 15, NOON, NOON)
    assert not is_lease_expired(record, NOON + timedelta(seconds=14.999))
    assert is_lease_expired(record, NOON + timedelta(seconds=15))


def test_a_lease_without_renew_time_or_duration_counts_as_expired() -> None:
    assert is_lease_expired(LeaseRecord("op-1", 15), NOON)
    assert is_lease_expired(LeaseRecord("op-1", renew_time=NOON), NOON)
