"""`pods/NAME/portforward`: kubectl's port-forward tunnel, served as the kubelet serves it, to a provider's ports.

kubectl 1.37 opens `GET .../pods/NAME/portforward` as a WebSocket with the subprotocol
`SPDY/3.1+portforward.k8s.io` and runs a SPDY/3.1 connection inside its binary messages (client-go's
TunnelingConnection); for every local connection it opens an error stream and a data stream that carry the
headers `streamType`, `port` and `requestID`. This module answers that connection (the SPDY server side of
kubelet's `cri/streaming/portforward/httpstream.go`), and for each complete pair asks the
`PortForwardProvider` (set by `up`: the node agent) for a TCP connection to the pod's port, then copies.

Guarantees:
1. Every stream whose headers the kubelet accepts gets a SYN_REPLY; one it refuses (no or a bad `port`, a
   `streamType` other than `error`/`data`) gets RST_STREAM, and a second stream of one type for a request
   gets kubelet's `error processing stream for request N: ... already assigned` on the pair's error stream.
2. For a complete pair, bytes from the data stream reach the pod's port and the pod's answer comes back on
   the data stream, in order, without a size limit (no SPDY window is waited for: see spdy.py). A FIN from
   kubectl half-closes the pod connection; the pod closing its side sends FIN on the data stream. Once
   either direction has ended the other gets `LINGER_S` (1 s, as containerd's port-forward gives it) to end
   too; then the pod connection is closed and the error stream gets its FIN, which ends kubectl's handling
   of that connection. A RST_STREAM from kubectl closes the pod connection at once.
3. A provider that cannot connect raises `OSError`; its message (the kubelet's `error forwarding port P to
   pod ..., uid ...: ...`) is written to the error stream, then both streams are closed.
4. Pairs are independent: many local connections are forwarded at once over one tunnel.
5. PINGs from kubectl are answered; a GOAWAY, the WebSocket's close or a malformed frame ends the tunnel,
   and then every pod connection of it is closed and no task of it is left.
6. The HTTP shell refuses before any upgrade, with kube's Status: a pod without a node (400 `pod NAME does
   not have a host assigned`), no node agent (400), a GET that is not a WebSocket upgrade (400) or offers
   no supported subprotocol (400 `requested protocol(s) are not supported`, from streaming/websocket.py),
   and the SPDY upgrade by POST (400; kubectl 1.37 uses it only when the WebSocket upgrade itself fails).
   Before it, the server answers a caller without `create` on `pods/portforward` (403: auth.authorize asks
   it for the WebSocket GET too, as kube-apiserver 1.35+ does) and an unknown pod (404).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from e2e.localcluster.apiserver.errors import ApiError, bad_request

from . import spdy
from .streaming.websocket import is_websocket_request, negotiate, upgrade

log = logging.getLogger(__name__)
PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+" + PROTOCOL
CHUNK = 32 * 1024  # as Go's io.Copy writes
LINGER_S = 1.0  # containerd's port-forward gives the other direction 1 s once one has ended (socat's habit)
_QUEUE_FRAMES = 64  # frames buffered towards one pod connection before the tunnel's reader waits


class PortForwardProvider(Protocol):
    """Opens a TCP connection to `port` of a pod (the node agent implements it, as the kubelet's runtime does)."""

    async def open_port(self, namespace: str, name: str, port: int) -> tuple[asyncio.StreamReader,
                                                                            asyncio.StreamWriter]: ...


Opener = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def stream_refusal(headers: spdy.HeaderBlock) -> str | None:
    """Why the kubelet refuses a new stream (httpStreamReceived), or None when it takes it."""
    port = spdy.header(headers, "port")
    if not port:
        return '"port" header is required'
    if not port.isdigit() or int(port) > 65535:
        return f'unable to parse "{port}" as a port'
    if int(port) < 1:
        return f'port "{port}" must be > 0'
    kind = spdy.header(headers, "streamType")
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return None


def request_id_of(stream_id: int, headers: spdy.HeaderBlock) -> str:
    """The pair a stream belongs to: its `requestID`, or for old clients the id derived from the stream id."""
    rid = spdy.header(headers, "requestID")
    if rid:
        return rid
    return str(stream_id if spdy.header(headers, "streamType") == "error" else stream_id - 2)


@dataclass
class _Stream:
    sid: int
    headers: spdy.HeaderBlock
    inbound: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE_FRAMES))
    sent_fin: bool = False
    open: bool = True  # False once the forward ended or the peer reset it: later data is dropped


@dataclass
class _Pair:
    request_id: str
    error: _Stream | None = None
    data: _Stream | None = None


class Session:
    """One SPDY connection of port-forward streams; `send` writes bytes to the tunnel, `feed` reads from it."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], opener: Opener) -> None:
        self._send_raw = send
        self._opener = opener
        self._encoder = spdy.FrameEncoder()
        self._decoder = spdy.FrameDecoder()
        self._lock = asyncio.Lock()
        self._streams: dict[int, _Stream] = {}
        self._pairs: dict[str, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.gone_away = False

    async def send(self, frame: spdy.Frame) -> None:
        async with self._lock:  # frames leave in the order their header blocks were deflated
            await self._send_raw(self._encoder.encode(frame))

    async def feed(self, data: bytes) -> None:
        """Handle the frames `data` completes; raises `spdy.SpdyError` on a malformed one."""
        for frame in self._decoder.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: spdy.Frame) -> None:
        match frame:
            case spdy.SynStream(sid, headers):
                await self._new_stream(sid, headers)
            case spdy.Data(sid, data, fin):
                stream = self._streams.get(sid)
                if stream is None or not stream.open:
                    return
                if data:
                    await stream.inbound.put(data)
                if fin:
                    await stream.inbound.put(None)
            case spdy.RstStream(sid):
                stream = self._streams.pop(sid, None)
                if stream is not None and stream.open:
                    stream.open = False
                    _drop_into(stream.inbound, None)
            case spdy.Ping(ping_id) if ping_id % 2 == 1:  # the client's (odd); this side sends none of its own
                await self.send(frame)
            case spdy.GoAway():
                self.gone_away = True
            case _:
                pass  # SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY and even PINGs change nothing here

    async def _new_stream(self, sid: int, headers: spdy.HeaderBlock) -> None:
        if (why := stream_refusal(headers)) is not None:
            log.debug("port-forward stream %d refused: %s", sid, why)
            await self.send(spdy.RstStream(sid, spdy.RstStatus.CANCEL))
            return
        stream = _Stream(sid, headers)
        self._streams[sid] = stream
        await self.send(spdy.SynReply(sid, {}))
        rid = request_id_of(sid, headers)
        pair = self._pairs.setdefault(rid, _Pair(rid))
        kind = spdy.header(headers, "streamType")
        if getattr(pair, kind) is not None:
            msg = f"error processing stream for request {rid}: {kind} stream already assigned"
            if pair.error is not None and pair.error is not stream:
                await self.send(spdy.Data(pair.error.sid, msg.encode()))
            return
        setattr(pair, kind, stream)
        if pair.error is not None and pair.data is not None:
            del self._pairs[rid]
            task = asyncio.create_task(self._forward(pair.error, pair.data), name=f"portforward-{rid}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _forward(self, error: _Stream, data: _Stream) -> None:
        port = int(spdy.header(data.headers, "port"))
        writer: asyncio.StreamWriter | None = None
        try:
            try:
                reader, writer = await self._opener(port)
            except OSError as exc:
                await self.send(spdy.Data(error.sid, str(exc).encode()))
                return
            up = asyncio.create_task(_to_pod(data, writer), name=f"portforward-up-{data.sid}")
            down = asyncio.create_task(self._to_client(reader, data), name=f"portforward-down-{data.sid}")
            tasks = {up, down}
            try:
                _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                if pending and data.open:  # one direction ended: the other gets LINGER_S to finish, as CRI's
                    await asyncio.wait(pending, timeout=LINGER_S)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, OSError):
                        await task
        finally:
            data.open = error.open = False
            _drop_into(data.inbound, None)  # frees a tunnel reader waiting for room in this queue
            if writer is not None:
                writer.close()
            for stream in (data, error):
                self._streams.pop(stream.sid, None)
                if not stream.sent_fin:
                    stream.sent_fin = True
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.send(spdy.Data(stream.sid, b"", fin=True))

    async def _to_client(self, reader: asyncio.StreamReader, data: _Stream) -> None:
        with contextlib.suppress(OSError):  # a reset by the pod ends the forward as its close does
            while chunk := await reader.read(CHUNK):
                await self.send(spdy.Data(data.sid, chunk))
        data.sent_fin = True
        await self.send(spdy.Data(data.sid, b"", fin=True))

    async def close(self) -> None:
        """End every forward of this connection (the tunnel is gone or going)."""
        for stream in self._streams.values():
            stream.open = False
            _drop_into(stream.inbound, None)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _drop_into(queue: asyncio.Queue[bytes | None], item: bytes | None) -> None:
    """Wake the reader of `queue` without waiting: replace what is queued by `item`."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(item)


async def _to_pod(data: _Stream, writer: asyncio.StreamWriter) -> None:
    while (chunk := await data.inbound.get()) is not None:
        writer.write(chunk)
        await writer.drain()
    if not data.open:
        writer.close()  # kubectl reset the stream: drop the pod connection now
    elif writer.can_write_eof():
        writer.write_eof()  # kubectl's FIN: the local client is done sending


# ---- the HTTP shell --------------------------------------------------------------------------------------


def pod_refusal(pod: dict[str, Any]) -> ApiError | None:
    """kube-apiserver's answer before it dials a kubelet: a pod bound to no node cannot be forwarded to."""
    if not (pod.get("spec") or {}).get("nodeName"):
        name = (pod.get("metadata") or {}).get("name", "")
        return bad_request(f"pod {name} does not have a host assigned")
    return None


async def serve(request: web.Request, pod: dict[str, Any],
                provider: PortForwardProvider | None) -> web.StreamResponse:
    """Answer the WebSocket upgrade and run the tunnel until kubectl or the server ends it (the caller has
    authorized the request and read the pod)."""
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    if (refusal := pod_refusal(pod)) is not None:
        raise refusal
    if provider is None:
        raise bad_request(f'unable to forward ports of pod "{name}": no node agent serves this cluster')
    if request.method == "POST":
        raise bad_request("the SPDY upgrade of pods/portforward is not served here: use kubectl 1.31 or newer, "
                          f"which opens a WebSocket ({TUNNEL_PROTOCOL})")
    if not is_websocket_request(request):
        raise bad_request(f"pods/portforward needs a WebSocket upgrade offering the subprotocol {TUNNEL_PROTOCOL}")
    ws = await upgrade(request, negotiate(request, (TUNNEL_PROTOCOL,)))

    async def opener(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await provider.open_port(namespace, name, port)

    session = Session(ws.send_bytes, opener)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                await session.feed(msg.data)
                if session.gone_away:
                    break
            elif msg.type is not WSMsgType.TEXT:
                break
    except spdy.SpdyError as exc:
        log.info("port-forward tunnel to %s/%s ended: %s", namespace, name, exc)
    except ConnectionError:
        pass
    finally:
        await session.close()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close()
    return ws
