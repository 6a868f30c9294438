"""Decoding a watch response: newline-delimited JSON events, split across arbitrary network chunks.

Guarantees:
1. ``LineBuffer.feed`` returns exactly the complete lines seen so far, in order, each once, however the
   bytes were chunked; ``flush`` returns what is left after the last newline (a final unterminated line).
2. Blank lines are skipped; a line that is not a JSON object with a string ``type`` raises
   ``KubeTransportError`` (a garbled stream is a transport failure, not a server answer).
3. ``iter_events`` yields every event up to the end of the stream, including a final line without a
   newline; an ERROR event raises the typed error of the Status it carries (410 -> ``Gone``) instead.

No I/O of its own: ``iter_events`` reads through the ``read_chunk`` function it is given.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from rayservice.kube.errors import KubeTransportError, error_from_status


class LineBuffer:
    """Reassembles lines from chunks; there is no limit on a line's length."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._pending += chunk
        if b"\n" not in chunk:
            return []
        *lines, rest = bytes(self._pending).split(b"\n")
        self._pending = bytearray(rest)
        return [line for line in lines if line.strip()]

    def flush(self) -> list[bytes]:
        rest, self._pending = bytes(self._pending), bytearray()
        return [rest] if rest.strip() else []


def decode_event(line: bytes) -> dict[str, Any]:
    """One watch event, ``{"type": ..., "object": {...}}``."""
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise KubeTransportError(f"watch stream sent a line that is not JSON: {line[:120]!r}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise KubeTransportError(f"watch stream sent something that is not an event: {line[:120]!r}")
    return event


async def iter_events(read_chunk: Callable[[], Awaitable[bytes]]) -> AsyncGenerator[dict[str, Any], None]:
    """Decoded events from a stream whose ``read_chunk`` returns ``b""`` at its end."""
    buffer = LineBuffer()
    while True:
        chunk = await read_chunk()
        for line in buffer.feed(chunk) if chunk else buffer.flush():
            event = decode_event(line)
            if event["type"] == "ERROR":
                status = event.get("object")
                raise error_from_status(0, status if isinstance(status, Mapping) else None)
            yield event
        if not chunk:
            return
