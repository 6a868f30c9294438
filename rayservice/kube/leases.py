"""Raw ``coordination.k8s.io/v1`` Lease bodies with the exact MicroTime format the API server accepts.

Guarantees:
1. ``format_micro_time`` always writes six fraction digits and ``Z`` in UTC
   (``2026-11-25T10:00:00.000000Z``), also when the microseconds are 0; a naive datetime is refused
   rather than guessed.
2. ``parse_micro_time`` reads what a server sends (any number of fraction digits, ``Z`` or an offset)
   and returns an aware UTC datetime; ``format_micro_time(parse_micro_time(s)) == s`` for every
   well-formed MicroTime.
3. ``lease_record`` tolerates missing fields (a Lease someone else created half-filled) and
   ``lease_body`` writes only the fields of the record that are set, plus ``resourceVersion`` when
   given, so an update is conditional on the version read.
4. ``is_lease_expired`` takes ``now`` as an argument: a lease with no renew time or no duration counts
   as expired.

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

LEASE_API_VERSION: Final = "coordination.k8s.io/v1"

_MICRO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def format_micro_time(moment: datetime) -> str:
    """``moment`` as a Kubernetes MicroTime: UTC, six fraction digits, ``Z``."""
    if moment.utcoffset() is None:
        raise ValueError("MicroTime needs an aware datetime; got a naive one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str) -> datetime:
    """A MicroTime or RFC 3339 time as an aware UTC datetime (digits past microseconds are dropped)."""
    match = _MICRO_TIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a MicroTime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC)
    return local - offset


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The election-relevant part of a Lease spec."""

    holder_identity: str | None = None
    lease_duration_s: int | None = None
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    lease_transitions: int = 0


def lease_record(lease: Mapping[str, Any]) -> LeaseRecord:
    """The record stored in a raw Lease object; unparsable times read as absent."""
    spec = lease.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    transitions = spec.get("leaseTransitions")
    return LeaseRecord(
        holder_identity=spec.get("holderIdentity") or None,
        lease_duration_s=duration if isinstance(duration, int) else None,
        acquire_time=_time_or_none(spec.get("acquireTime")),
        renew_time=_time_or_none(spec.get("renewTime")),
        lease_transitions=transitions if isinstance(transitions, int) else 0,
    )


def lease_body(
    namespace: str, name: str, record: LeaseRecord, *, resource_version: str | None = None
) -> dict[str, Any]:
    """A complete raw Lease for create or update (update: pass the ``resource_version`` read)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    spec: dict[str, Any] = {"leaseTransitions": record.lease_transitions}
    if record.holder_identity is not None:
        spec["holderIdentity"] = record.holder_identity
    if record.lease_duration_s is not None:
        spec["leaseDurationSeconds"] = record.lease_duration_s
    if record.acquire_time is not None:
        spec["acquireTime"] = format_micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = format_micro_time(record.renew_time)
    return {"apiVersion": LEASE_API_VERSION, "kind": "Lease", "metadata": metadata, "spec": spec}


def is_lease_expired(record: LeaseRecord, now: datetime) -> bool:
    """True when the holder's last renewal plus the lease duration is at or before ``now``."""
    if record.renew_time is None or record.lease_duration_s is None:
        return True
    return record.renew_time + timedelta(seconds=record.lease_duration_s) <= now


def _time_or_none(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_micro_time(value)
    except ValueError:
        return None
