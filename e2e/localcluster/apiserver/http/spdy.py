"""SPDY/3.1 framing, as github.com/moby/spdystream (client-go's port-forward transport) writes and reads it.

Pure: bytes in, frames out, and back; no sockets and no asyncio. One `FrameDecoder` and one `FrameEncoder`
per direction per connection, because the header blocks of SYN_STREAM, SYN_REPLY and HEADERS share one zlib
stream per direction (primed with SPDY/3's dictionary, flushed with Z_SYNC_FLUSH after every block).

Guarantees:
1. `FrameEncoder().encode(f)` followed by `FrameDecoder().feed(...)` yields `f` again, for every frame type
   (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE, DATA), also when
   many header blocks pass through the same pair (the zlib context carries over between frames).
2. `feed` accepts the bytes in any split (a WebSocket tunnel cuts one Go frame into several messages): it
   returns the frames completed so far and keeps the rest; nothing is lost or duplicated.
3. Header names are lower-cased on the wire; a value list is joined with NUL, as spdystream does, and split
   again on decode. Header lengths are 32-bit, as SPDY/3 has them.
4. Bad input raises `SpdyError` naming what is wrong: a control frame of another version, a frame whose
   length does not fit its type, stream id 0 where one is required, a header block that does not inflate,
   inflates to more than `MAX_HEADER_BLOCK` bytes or does not parse. Control frames of unknown types are
   skipped, as the SPDY/3 draft requires.
5. `encode` refuses (ValueError) what spdystream would refuse to send: stream id 0 on a stream frame, a PING
   id 0, a RST_STREAM status 0, more than `MAX_DATA_LENGTH` bytes of data in one frame.

Flow control: spdystream sends no WINDOW_UPDATE and ignores the ones it receives; a sender that stopped at
the initial 64 KiB window would stall forever talking to it. So this codec only carries WINDOW_UPDATE
frames; the connection (portforward.py) does not hold data back for a window, and relies on the tunnel's
own back-pressure (TCP under the WebSocket), exactly as client-go and the kubelet do.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

VERSION = 3
MAX_DATA_LENGTH = (1 << 24) - 1
MAX_HEADER_BLOCK = 1 << 20  # inflated size limit: no header block of port-forward comes near it
INITIAL_WINDOW_SIZE = 64 * 1024

# The SPDY/3 header compression dictionary: 4-byte length-prefixed words, then a run of plain text.
_DICTIONARY_WORDS = [*(
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from "
    "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split(), "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICTIONARY_WORDS) + _DICTIONARY_TAIL.encode()


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01

HeaderBlock = dict[str, list[str]]


class SpdyError(ValueError):
    """The peer sent bytes that are not SPDY/3.1 as this codec reads it."""


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: HeaderBlock = field(default_factory=dict)
    associated_to: int = 0
    priority: int = 0  # 3 bits
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: HeaderBlock = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Setting:
    id: int  # 24 bits
    value: int
    flags: int = 0


@dataclass(frozen=True)
class Settings:
    entries: tuple[Setting, ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class Headers:
    stream_id: int
    headers: HeaderBlock = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes = b""
    fin: bool = False


Frame = SynStream | SynReply | RstStream | Settings | Ping | GoAway | Headers | WindowUpdate | Data


def header(block: HeaderBlock, name: str) -> str:
    """The first value of header `name` (any case), or "" (Go's `http.Header.Get`)."""
    values = block.get(name.lower()) or []
    return values[0] if values else ""


def encode_header_block(block: HeaderBlock) -> bytes:
    """The uncompressed SPDY/3 name/value block: count, then (length, name, length, NUL-joined values)."""
    out = [struct.pack(">I", len(block))]
    for name, values in block.items():
        raw_name = name.lower().encode()
        raw_value = "\x00".join(values).encode()
        out += [struct.pack(">I", len(raw_name)), raw_name, struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(out)


def decode_header_block(raw: bytes) -> HeaderBlock:
    try:
        (count,) = struct.unpack_from(">I", raw, 0)
        pos, block = 4, HeaderBlock()
        for _ in range(count):
            name, pos = _string(raw, pos, "name")
            value, pos = _string(raw, pos, "value")
            block.setdefault(name.lower(), []).extend(value.split("\x00"))
    except (struct.error, UnicodeDecodeError) as exc:
        raise SpdyError(f"header block does not parse: {exc}") from exc
    if pos != len(raw):
        raise SpdyError(f"header block has {len(raw) - pos} bytes after its {count} headers")
    return block


def _string(raw: bytes, pos: int, what: str) -> tuple[str, int]:
    (n,) = struct.unpack_from(">I", raw, pos)
    if pos + 4 + n > len(raw):
        raise SpdyError(f"header block: a {what} runs past the block's end")
    return raw[pos + 4:pos + 4 + n].decode(), pos + 4 + n


def _control(ftype: FrameType, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


def _need_stream(stream_id: int, what: str) -> None:
    if not 0 < stream_id < 1 << 31:
        raise ValueError(f"{what}: stream id {stream_id} is not in 1..2^31-1")


class FrameEncoder:
    """Frames to bytes for one direction of one connection (it owns that direction's zlib deflate stream)."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(level=9, zdict=DICTIONARY)

    def _headers(self, block: HeaderBlock) -> bytes:
        return self._deflate.compress(encode_header_block(block)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case Data(stream_id, data, fin):
                _need_stream(stream_id, "DATA")
                if len(data) > MAX_DATA_LENGTH:
                    raise ValueError(f"DATA: {len(data)} bytes exceed {MAX_DATA_LENGTH} in one frame")
                return struct.pack(">II", stream_id, (FLAG_FIN if fin else 0) << 24 | len(data)) + data
            case SynStream():
                _need_stream(frame.stream_id, "SYN_STREAM")
                flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
                fixed = struct.pack(">IIBB", frame.stream_id, frame.associated_to, (frame.priority & 7) << 5,
                                    frame.slot)
                return _control(FrameType.SYN_STREAM, flags, fixed + self._headers(frame.headers))
            case SynReply(stream_id, headers, fin):
                _need_stream(stream_id, "SYN_REPLY")
                return _control(FrameType.SYN_REPLY, FLAG_FIN if fin else 0,
                                struct.pack(">I", stream_id) + self._headers(headers))
            case Headers(stream_id, headers, fin):
                _need_stream(stream_id, "HEADERS")
                return _control(FrameType.HEADERS, FLAG_FIN if fin else 0,
                                struct.pack(">I", stream_id) + self._headers(headers))
            case RstStream(stream_id, status):
                _need_stream(stream_id, "RST_STREAM")
                if status == 0:
                    raise ValueError("RST_STREAM: status 0 is not a status")
                return _control(FrameType.RST_STREAM, 0, struct.pack(">II", stream_id, status))
            case Settings(entries, clear):
                body = struct.pack(">I", len(entries)) + b"".join(
                    struct.pack(">II", (e.flags << 24) | (e.id & 0xFFFFFF), e.value) for e in entries)
                return _control(FrameType.SETTINGS, FLAG_SETTINGS_CLEAR if clear else 0, body)
            case Ping(ping_id):
                if ping_id == 0:
                    raise ValueError("PING: id 0 is not allowed")
                return _control(FrameType.PING, 0, struct.pack(">I", ping_id))
            case GoAway(last_good, status):
                return _control(FrameType.GOAWAY, 0, struct.pack(">II", last_good, status))
            case WindowUpdate(stream_id, delta):
                return _control(FrameType.WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameDecoder:
    """Bytes to frames for one direction of one connection (it owns that direction's zlib inflate stream)."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, word = struct.unpack_from(">II", self._buf, 0)
            length = word & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = word >> 24
            if first & 0x80000000:
                frame = self._control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                stream_id = first & 0x7FFFFFFF
                if stream_id == 0:
                    raise SpdyError("DATA frame on stream 0")
                frames.append(Data(stream_id, payload, bool(flags & FLAG_FIN)))
        return frames

    def _headers(self, raw: bytes) -> HeaderBlock:
        try:
            out = self._inflate.decompress(raw, MAX_HEADER_BLOCK + 1)
        except zlib.error as exc:
            raise SpdyError(f"header block does not inflate: {exc}") from exc
        if len(out) > MAX_HEADER_BLOCK or self._inflate.unconsumed_tail:
            raise SpdyError(f"header block inflates to more than {MAX_HEADER_BLOCK} bytes")
        return decode_header_block(out)

    def _control(self, version: int, ftype: int, flags: int, p: bytes) -> Frame | None:
        if version != VERSION:
            raise SpdyError(f"control frame of SPDY version {version}; this connection speaks version {VERSION}")
        fixed = {FrameType.SYN_STREAM: 10, FrameType.SYN_REPLY: 4, FrameType.HEADERS: 4, FrameType.RST_STREAM: 8,
                 FrameType.PING: 4, FrameType.GOAWAY: 8, FrameType.WINDOW_UPDATE: 8, FrameType.SETTINGS: 4}
        if ftype not in fixed:
            return None  # unknown control frames are ignored (SPDY/3 section 2.2.1)
        kind = FrameType(ftype)
        exact = kind in (FrameType.RST_STREAM, FrameType.PING, FrameType.GOAWAY, FrameType.WINDOW_UPDATE)
        if len(p) < fixed[kind] or (exact and len(p) != fixed[kind]):
            raise SpdyError(f"{kind.name} frame of {len(p)} bytes")
        fin = bool(flags & FLAG_FIN)
        if kind is FrameType.SYN_STREAM:
            sid, assoc, prio, slot = struct.unpack_from(">IIBB", p, 0)
            sid &= 0x7FFFFFFF
            _check_stream(sid, kind)
            return SynStream(sid, self._headers(p[10:]), assoc & 0x7FFFFFFF, prio >> 5, slot, fin,
                             bool(flags & FLAG_UNIDIRECTIONAL))
        if kind in (FrameType.SYN_REPLY, FrameType.HEADERS):
            (sid,) = struct.unpack_from(">I", p, 0)
            sid &= 0x7FFFFFFF
            _check_stream(sid, kind)
            block = self._headers(p[4:])
            return SynReply(sid, block, fin) if kind is FrameType.SYN_REPLY else Headers(sid, block, fin)
        if kind is FrameType.RST_STREAM:
            sid, status = struct.unpack(">II", p)
            _check_stream(sid & 0x7FFFFFFF, kind)
            if status == 0:
                raise SpdyError("RST_STREAM with status 0")
            return RstStream(sid & 0x7FFFFFFF, status)
        if kind is FrameType.PING:
            (ping_id,) = struct.unpack(">I", p)
            return Ping(ping_id)
        if kind is FrameType.GOAWAY:
            last, status = struct.unpack(">II", p)
            return GoAway(last & 0x7FFFFFFF, status)
        if kind is FrameType.WINDOW_UPDATE:
            sid, delta = struct.unpack(">II", p)
            return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        (count,) = struct.unpack_from(">I", p, 0)
        if len(p) != 4 + 8 * count:
            raise SpdyError(f"SETTINGS frame of {len(p)} bytes for {count} entries")
        entries = []
        for i in range(count):
            flag_id, value = struct.unpack_from(">II", p, 4 + 8 * i)
            entries.append(Setting(flag_id & 0xFFFFFF, value, flag_id >> 24))
        return Settings(tuple(entries), bool(flags & FLAG_SETTINGS_CLEAR))


def _check_stream(stream_id: int, kind: FrameType) -> None:
    if stream_id == 0:
        raise SpdyError(f"{kind.name} frame on stream 0")
