"""The remote-command channel protocol of exec/attach over WebSocket, and the WebSocket subprotocol choice."""

from __future__ import annotations

import json

import pytest

from e2e.localcluster.apiserver.http.streaming import channels
from e2e.localcluster.apiserver.http.streaming.channels import Close, Frame, ProtocolError, TerminalSize
from e2e.localcluster.apiserver.http.streaming.websocket import choose_protocol, offered_protocols


def test_a_frame_is_its_channel_byte_then_its_data_and_decodes_back() -> None:
    assert channels.encode(channels.STDOUT, b"hi\n") == b"\x01hi\n"
    assert channels.encode(channels.STDERR) == b"\x02"
    assert channels.decode(b"\x00abc", channels.V5) == Frame(0, b"abc")
    assert channels.decode(channels.encode(channels.RESIZE, b"{}"), channels.V4) == Frame(4, b"{}")


def test_v5_close_names_the_channel_it_ends_and_is_refused_under_v4() -> None:
    assert channels.decode(b"\xff\x00", channels.V5) == Close(channels.STDIN)
    assert channels.encode_close(channels.STDIN) == b"\xff\x00"
    with pytest.raises(ProtocolError, match="needs v5"):
        channels.decode(b"\xff\x00", channels.V4)
    with pytest.raises(ProtocolError, match="255, channel"):
        channels.decode(b"\xff", channels.V5)


def test_an_empty_message_names_no_channel() -> None:
    with pytest.raises(ProtocolError):
        channels.decode(b"", channels.V5)


def test_exit_code_zero_is_success_and_others_carry_the_code_as_kubectl_reads_it() -> None:
    assert channels.exit_status(0) == {"metadata": {}, "status": "Success"}
    status = channels.exit_status(2, ["sh", "-c", "exit 2"])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "2"}]}
    assert "[sh -c exit 2], exit code 2" in status["message"]
    frame = channels.decode(channels.encode_status(status), channels.V5)
    assert isinstance(frame, Frame) and frame.channel == channels.ERROR and json.loads(frame.data) == status


def test_resize_messages_carry_one_or_more_terminal_sizes() -> None:
    assert channels.decode_resize(b'{"Width":80,"Height":24}\n') == [TerminalSize(80, 24)]
    assert channels.decode_resize(b'{"Width":80,"Height":24}\n{"Width":100,"Height":30}\n') == [
        TerminalSize(80, 24), TerminalSize(100, 30)]
    assert channels.decode_resize(b"") == []


@pytest.mark.parametrize("bad", [b"nope", b"[1, 2]", b'{"Width": -1, "Height": 2}', b'{"Width": "80"}',
                                 b'{"Width": 70000, "Height": 1}'])
def test_a_broken_resize_is_a_protocol_error(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        channels.decode_resize(bad)


def test_the_clients_first_supported_subprotocol_wins() -> None:
    assert offered_protocols(" v5.channel.k8s.io, v4.channel.k8s.io ,") == ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    assert choose_protocol("v5.channel.k8s.io,v4.channel.k8s.io", channels.PROTOCOLS) == channels.V5
    assert choose_protocol("v4.channel.k8s.io,v5.channel.k8s.io", channels.PROTOCOLS) == channels.V4
    assert choose_protocol("base64.channel.k8s.io", channels.PROTOCOLS) is None
    assert choose_protocol("", channels.PROTOCOLS) is None
