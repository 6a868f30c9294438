"""The port-forward tunnel's SPDY side as kubectl sees it: replies, refusals, kubelet's error texts, pings, GOAWAY."""

from __future__ import annotations

import asyncio

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.http import portforward, spdy
from e2e.localcluster.apiserver.http.portforward import Session, pod_refusal, request_id_of, stream_refusal
from e2e.localcluster.apiserver.http.spdy import Data, GoAway, Ping, RstStream, SynReply, SynStream


class Client:
    """kubectl's end: frames in, the server's frames out (decoded with the client's own zlib context)."""

    def __init__(self, refuse: str = "connection refused") -> None:
        self.encoder = spdy.FrameEncoder()
        self.decoder = spdy.FrameDecoder()
        self.received: list[spdy.Frame] = []
        self.opened: list[int] = []
        self.refuse = refuse
        self.session = Session(self._receive, self._open)

    async def _receive(self, data: bytes) -> None:
        self.received += self.decoder.feed(data)

    async def _open(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened.append(port)
        raise OSError(f"error forwarding port {port} to pod p, uid : {self.refuse}")

    async def send(self, *frames: spdy.Frame) -> None:
        await self.session.feed(b"".join(self.encoder.encode(f) for f in frames))

    async def settle(self) -> None:
        """Let the forwards the frames started run to their end."""
        await asyncio.gather(*list(self.session._tasks))


def streams(rid: str, port: str = "8000") -> tuple[SynStream, SynStream]:
    return (SynStream(1, {"streamtype": ["error"], "port": [port], "requestid": [rid]}),
            SynStream(3, {"streamtype": ["data"], "port": [port], "requestid": [rid]}))


@pytest.mark.parametrize(("headers", "why"), [
    ({"streamtype": ["data"]}, '"port" header is required'),
    ({"port": ["http"], "streamtype": ["data"]}, 'unable to parse "http" as a port'),
    ({"port": ["70000"], "streamtype": ["data"]}, 'unable to parse "70000" as a port'),
    ({"port": ["0"], "streamtype": ["data"]}, 'port "0" must be > 0'),
    ({"port": ["80"]}, '"streamType" header is required'),
    ({"port": ["80"], "streamtype": ["stdin"]}, 'invalid stream type "stdin"'),
    ({"port": ["80"], "streamtype": ["error"]}, None),
])
def test_streams_are_refused_for_the_kubelets_reasons(headers: spdy.HeaderBlock, why: str | None) -> None:
    assert stream_refusal(headers) == why


def test_a_stream_without_request_id_is_paired_by_stream_id_as_for_old_clients() -> None:
    assert request_id_of(5, {"streamtype": ["error"]}) == "5"
    assert request_id_of(7, {"streamtype": ["data"]}) == "5"
    assert request_id_of(7, {"streamtype": ["data"], "requestid": ["0"]}) == "0"


async def test_every_accepted_stream_gets_a_reply_and_a_refused_one_a_reset() -> None:
    client = Client()
    await client.send(SynStream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}),
                      SynStream(3, {"streamtype": ["data"], "requestid": ["1"]}))
    assert client.received == [SynReply(1, {}), RstStream(3, spdy.RstStatus.CANCEL)]


async def test_a_port_that_cannot_be_reached_is_reported_on_the_error_stream_and_both_streams_end() -> None:
    client = Client()
    await client.send(*streams("0"), Data(1, b"", fin=True))
    await client.settle()
    assert client.opened == [8000]
    assert client.received == [
        SynReply(1, {}), SynReply(3, {}),
        Data(1, b"error forwarding port 8000 to pod p, uid : connection refused"),
        Data(3, b"", fin=True), Data(1, b"", fin=True),
    ]


async def test_a_second_stream_of_one_type_for_a_request_is_kubelets_error_on_the_pairs_error_stream() -> None:
    client = Client()
    await client.send(streams("0")[0], SynStream(5, {"streamtype": ["error"], "port": ["8000"], "requestid": ["0"]}))
    await client.send(SynStream(7, {"streamtype": ["data"], "port": ["8000"], "requestid": ["9"]}),
                      SynStream(9, {"streamtype": ["data"], "port": ["8000"], "requestid": ["9"]}))
    assert client.received == [
        SynReply(1, {}), SynReply(5, {}),
        Data(1, b"error processing stream for request 0: error stream already assigned"),
        SynReply(7, {}), SynReply(9, {}),
    ]
    await client.session.close()


async def test_pings_from_kubectl_are_answered_and_goaway_ends_the_tunnel() -> None:
    client = Client()
    await client.send(Ping(1), Ping(2))
    assert client.received == [Ping(1)]
    assert not client.session.gone_away
    await client.send(GoAway(0))
    assert client.session.gone_away


async def test_malformed_bytes_end_the_session_with_a_spdy_error() -> None:
    client = Client()
    with pytest.raises(spdy.SpdyError, match="version 2"):
        await client.session.feed(bytes.fromhex("8002000600000004 00000001"))


async def test_data_for_streams_that_are_gone_is_dropped() -> None:
    client = Client()
    await client.send(Data(11, b"late"), RstStream(11, spdy.RstStatus.CANCEL))
    assert client.received == []


def test_a_pod_without_a_node_is_refused_as_kube_apiserver_does() -> None:
    err = pod_refusal({"metadata": {"name": "web"}, "spec": {}})
    assert isinstance(err, ApiError)
    assert (err.code, err.reason, err.message) == (400, "BadRequest", "pod web does not have a host assigned")
    assert pod_refusal({"metadata": {"name": "web"}, "spec": {"nodeName": "n"}}) is None


def test_the_tunnel_speaks_the_subprotocol_kubectl_offers() -> None:
    assert portforward.TUNNEL_PROTOCOL == "SPDY/3.1+portforward.k8s.io"
