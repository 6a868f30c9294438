"""Decoding watch streams (rayservice.kube.watchstream)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rayservice.kube import Gone, KubeTransportError, ServerError
from rayservice.kube.watchstream import LineBuffer, decode_event, iter_events


@given(
    lines=st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b and b.strip()), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=30),
)
def test_lines_come_out_whole_and_in_order_however_the_bytes_were_chunked(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    buffer = LineBuffer()
    out: list[bytes] = []
    for start, end in itertools.pairwise(points):
        out.extend(buffer.feed(data[start:end]))
    out.extend(buffer.flush())
    assert out == lines


def test_a_final_line_without_newline_is_returned_by_flush() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert buffer.feed(b":2}") == []
    assert buffer.flush() == [b'{"b":2}']
    assert buffer.flush() == []


def test_blank_lines_are_skipped() -> None:
    assert LineBuffer().feed(b"\n  \nx\n\n") == [b"x"]


def test_a_garbled_line_is_a_transport_error() -> None:
    with pytest.raises(KubeTransportError, match="not JSON"):
        decode_event(b"{nope")
    with pytest.raises(KubeTransportError, match="not an event"):
        decode_event(b'{"object": {}}')


def _reader(*chunks: bytes) -> Callable[[], Awaitable[bytes]]:
    pending = [*chunks, b""]

    async def read() -> bytes:
        return pending.pop(0)

    return read


def _line(event: Mapping[str, object]) -> bytes:
    return json.dumps(event).encode() + b"\n"


async def test_iter_events_yields_every_event_to_the_end_of_the_stream() -> None:
    added = {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "2"}}}
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "3"}}}
    data = _line(added) + _line(bookmark)
    events = [e async for e in iter_events(_reader(data[:10], data[10:-1]))]
    assert events == [added, bookmark]


async def test_an_error_event_with_a_410_status_raises_gone() -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"}
    stream = iter_events(_reader(_line({"type": "ERROR", "object": status})))
    with pytest.raises(Gone, match="too old"):
        await anext(stream)


async def test_an_error_event_with_another_status_raises_its_typed_error() -> None:
    status = {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"}
    stream = iter_events(_reader(_line({"type": "ERROR", "object": status})))
    with pytest.raises(ServerError):
        await anext(stream)
