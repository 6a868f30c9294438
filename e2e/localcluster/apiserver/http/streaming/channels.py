"""The remote-command channel protocol of exec and attach over WebSocket (`v4.channel.k8s.io`, `v5.channel.k8s.io`).

Every WebSocket message is binary: one byte naming the channel, then that channel's bytes (apimachinery's
wsstream, client-go's tools/remotecommand). Channels: 0 stdin (client to server), 1 stdout, 2 stderr, 3 error
(v4 and later: one JSON `Status`), 4 resize (client to server: JSON `{"Width": W, "Height": H}` terminal
sizes, one or more per message). v5 adds 255, close: the message `[255, C]` says channel C is done (the
client sends `[255, 0]` when its stdin ends).

Guarantees (pure functions, no I/O):
1. `encode(channel, data)` is `bytes([channel]) + data`; `decode(message)` returns the `Frame` (channel, data),
   or a `Close` of channel C for `[255, C]` under v5; an empty message, or a close without v5, is a
   `ProtocolError`.
2. `exit_status(code, command)` is the `Status` the error channel carries: `Success` for 0, else `Failure` with reason
   `NonZeroExitCode` and one cause `{"reason": "ExitCode", "message": "<code>"}`, which kubectl turns into
   `command terminated with exit code <code>` and its own exit code; `error_status(message)` a plain Failure
   (kubectl prints its message).
3. `decode_resize(data)` returns every terminal size in the bytes, in order; sizes that are not two
   non-negative integers below 65536 are a `ProtocolError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
PROTOCOLS = (V5, V4)  # served, newest first


class ProtocolError(ValueError):
    """A message that breaks the channel protocol."""


@dataclass(frozen=True)
class Frame:
    channel: int
    data: bytes


@dataclass(frozen=True)
class Close:
    channel: int


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


def encode(channel: int, data: bytes = b"") -> bytes:
    if not 0 <= channel <= 255:
        raise ProtocolError(f"channel {channel} is not a byte")
    return bytes((channel,)) + data


def encode_close(channel: int) -> bytes:
    return bytes((CLOSE, channel))


def decode(message: bytes, protocol: str) -> Frame | Close:
    if not message:
        raise ProtocolError("an empty message names no channel")
    if message[0] == CLOSE:
        if protocol != V5:
            raise ProtocolError(f"channel 255 (close) needs {V5}, not {protocol}")
        if len(message) != 2:
            raise ProtocolError("a close message is [255, channel]")
        return Close(message[1])
    return Frame(message[0], bytes(message[1:]))


def exit_status(code: int, command: Sequence[str] = ()) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: "
            f"error executing command [{' '.join(command)}], exit code {code}", "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def error_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message}


def encode_status(status: dict[str, Any]) -> bytes:
    return encode(ERROR, json.dumps(status, separators=(",", ":")).encode())


def decode_resize(data: bytes) -> list[TerminalSize]:
    text = data.decode("utf-8", errors="strict") if data else ""
    decoder = json.JSONDecoder()
    sizes: list[TerminalSize] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return sizes
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"a resize message is not JSON: {exc}") from None
        sizes.append(_size(obj))


def _size(obj: Any) -> TerminalSize:
    if not isinstance(obj, dict):
        raise ProtocolError("a terminal size is an object with Width and Height")
    width, height = obj.get("Width", 0), obj.get("Height", 0)
    for v in (width, height):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 65536:
            raise ProtocolError(f"a terminal size is two integers from 0 to 65535, not {obj}")
    return TerminalSize(width, height)
