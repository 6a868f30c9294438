"""The SPDY/3.1 codec of the port-forward tunnel: round trips, split input, Go's bytes, and refusals."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from e2e.localcluster.apiserver.http import spdy
from e2e.localcluster.apiserver.http.spdy import (
    Data,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    Headers,
    Ping,
    RstStream,
    Setting,
    Settings,
    SpdyError,
    SynReply,
    SynStream,
    WindowUpdate,
)

# What kubectl 1.37.1 sent for its first forwarded connection (recorded from the tunnel's binary messages):
# the error stream's SYN_STREAM, its FIN, the data stream's SYN_STREAM (deflated in the same zlib stream as
# the first), the request, then RST_STREAM CANCEL once the answer was in.
GO_SYN_ERROR = bytes.fromhex(
    "800300010000003e0000000100000000000078f9e3c6a7c202253a48f95b044eea160606060c0c0c9c4590f8ca04a5634603704a"
    "2c294a4dcc851636aca9a0a800000000ffff")
GO_FIN_ERROR = bytes.fromhex("0000000101000000")
GO_SYN_DATA = bytes.fromhex("800300010000001a00000003000000000000826a469502954389848d04000000ffff")
GO_REQUEST = bytes.fromhex("0000000300000012474554202f20485454502f312e300d0a0d0a")
GO_RESET = bytes.fromhex("80030003000000080000000300000005")
GO_SESSION = GO_SYN_ERROR + GO_FIN_ERROR + GO_SYN_DATA + GO_REQUEST + GO_RESET

EVERY_FRAME: list[spdy.Frame] = [
    SynStream(1, {"streamtype": ["error"], "port": ["8000"], "requestid": ["0"]}),
    SynStream(3, {"x": ["a", "b"]}, associated_to=1, priority=7, slot=2, fin=True, unidirectional=True),
    SynReply(1, {}),
    SynReply(3, {"status": ["200"]}, fin=True),
    Headers(3, {"k": ["v"]}, fin=True),
    RstStream(3, spdy.RstStatus.CANCEL),
    Settings((Setting(7, 65536, flags=1), Setting(4, 100)), clear=True),
    Settings(),
    Ping(1),
    GoAway(5, 1),
    WindowUpdate(3, 1024),
    Data(1, b"hello"),
    Data(3, b"", fin=True),
    Data(5, bytes(range(256)) * 64),
]


def test_the_dictionary_is_spdy3s_byte_for_byte() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02")  # spdystream's headerDictionary
    # zlib names the preset dictionary by its Adler-32 in the stream header: Go's first header block names ours
    assert GO_SYN_ERROR[18:20] == b"\x78\xf9"
    assert GO_SYN_ERROR[20:24] == zlib.adler32(spdy.DICTIONARY).to_bytes(4, "big")


def test_every_frame_type_survives_a_round_trip_through_one_encoder_and_decoder_pair() -> None:
    encoder, decoder = FrameEncoder(), FrameDecoder()
    for _ in range(3):  # header blocks share a zlib stream: later rounds depend on the earlier ones
        wire = b"".join(encoder.encode(f) for f in EVERY_FRAME)
        assert decoder.feed(wire) == EVERY_FRAME
    assert decoder.pending == 0


def test_bytes_split_anywhere_give_the_same_frames_once() -> None:
    encoder = FrameEncoder()
    wire = b"".join(encoder.encode(f) for f in EVERY_FRAME)
    for step in (1, 3, 7, 4096):
        decoder = FrameDecoder()
        got: list[spdy.Frame] = []
        for i in range(0, len(wire), step):
            got += decoder.feed(wire[i:i + step])
        assert got == EVERY_FRAME
        assert decoder.pending == 0


def test_kubectls_own_frames_decode_to_kubelets_stream_headers() -> None:
    frames = FrameDecoder().feed(GO_SESSION)
    assert frames == [
        SynStream(1, {"port": ["8000"], "requestid": ["0"], "streamtype": ["error"]}),
        Data(1, b"", fin=True),
        SynStream(3, {"streamtype": ["data"], "port": ["8000"], "requestid": ["0"]}),
        Data(3, b"GET / HTTP/1.0\r\n\r\n"),
        RstStream(3, spdy.RstStatus.CANCEL),
    ]
    first = frames[0]
    assert isinstance(first, SynStream)
    assert spdy.header(first.headers, "requestID") == "0"  # Go's header names arrive lower-cased


def test_the_fixed_frames_are_laid_out_as_spdystream_writes_them() -> None:
    encoder = FrameEncoder()
    assert encoder.encode(Ping(1)) == bytes.fromhex("8003000600000004 00000001")
    assert encoder.encode(RstStream(3, spdy.RstStatus.CANCEL)) == GO_RESET
    assert encoder.encode(GoAway(0, 0)) == bytes.fromhex("8003000700000008 00000000 00000000")
    assert encoder.encode(WindowUpdate(3, 7)) == bytes.fromhex("8003000900000008 00000003 00000007")
    assert encoder.encode(Data(1, b"", fin=True)) == GO_FIN_ERROR
    assert encoder.encode(Data(3, b"GET / HTTP/1.0\r\n\r\n")) == GO_REQUEST
    assert encoder.encode(Settings((Setting(7, 65536, 1),))) == bytes.fromhex(
        "800300040000000c 00000001 01000007 00010000")


def test_header_names_go_out_lower_cased_and_value_lists_are_nul_joined() -> None:
    block = spdy.encode_header_block({"StreamType": ["data"], "X": ["a", "b"]})
    assert block == (b"\x00\x00\x00\x02" + b"\x00\x00\x00\x0astreamtype" + b"\x00\x00\x00\x04data"
                     + b"\x00\x00\x00\x01x" + b"\x00\x00\x00\x03a\x00b")
    assert spdy.decode_header_block(block) == {"streamtype": ["data"], "x": ["a", "b"]}


def test_a_reply_deflated_here_inflates_with_a_fresh_zlib_stream_and_the_dictionary() -> None:
    wire = FrameEncoder().encode(SynReply(1, {"status": ["200"]}))
    inflated = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(wire[12:])
    assert spdy.decode_header_block(inflated) == {"status": ["200"]}


def test_unknown_control_frames_are_skipped() -> None:
    credential = bytes.fromhex("8003000a00000002 abcd")  # SPDY/3's CREDENTIAL, gone in 3.1
    assert FrameDecoder().feed(credential + FrameEncoder().encode(Ping(3))) == [Ping(3)]


@pytest.mark.parametrize(("wire", "message"), [
    (bytes.fromhex("8002000600000004 00000001"), "SPDY version 2"),
    (bytes.fromhex("8003000600000005 0000000100"), "PING frame of 5 bytes"),
    (bytes.fromhex("0000000000000001 00"), "DATA frame on stream 0"),
    (bytes.fromhex("8003000300000008 00000000 00000005"), "RST_STREAM frame on stream 0"),
    (bytes.fromhex("8003000300000008 00000001 00000000"), "RST_STREAM with status 0"),
    (bytes.fromhex("8003000200000008 00000001 deadbeef"), "does not inflate"),
    (bytes.fromhex("8003000400000008 00000002 00000000"), "SETTINGS frame of 8 bytes for 2 entries"),
])
def test_malformed_frames_are_refused_with_what_is_wrong(wire: bytes, message: str) -> None:
    with pytest.raises(SpdyError, match=message):
        FrameDecoder().feed(wire)


def test_a_header_block_that_inflates_past_the_limit_is_refused() -> None:
    huge = FrameEncoder().encode(SynReply(1, {"x": ["a" * (spdy.MAX_HEADER_BLOCK + 1)]}))
    with pytest.raises(SpdyError, match="inflates to more than"):
        FrameDecoder().feed(huge)


def test_a_header_block_with_trailing_or_missing_bytes_is_refused() -> None:
    block = spdy.encode_header_block({"a": ["b"]})
    with pytest.raises(SpdyError, match="bytes after"):
        spdy.decode_header_block(block + b"x")
    with pytest.raises(SpdyError, match="a value runs past"):
        spdy.decode_header_block(block[:-1])
    with pytest.raises(SpdyError, match="a name runs past"):
        spdy.decode_header_block(block[:8])
    with pytest.raises(SpdyError, match="does not parse"):
        spdy.decode_header_block(block[:2])


@pytest.mark.parametrize("frame", [Data(0, b"x"), SynStream(0), SynReply(0), Headers(0), RstStream(1, 0), Ping(0),
                                   Data(1, b"x" * (spdy.MAX_DATA_LENGTH + 1))])
def test_the_encoder_refuses_what_spdystream_would_not_send(frame: spdy.Frame) -> None:
    with pytest.raises(ValueError):
        FrameEncoder().encode(frame)
