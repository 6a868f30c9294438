"""The WebSocket upgrade of the streaming subresources (exec, attach, port-forward), as kube's wsstream does it.

Guarantees:
1. `choose_protocol` is pure: the first subprotocol in the client's `Sec-WebSocket-Protocol` list (comma
   separated, in the client's order of preference, as golang.org/x/net/websocket reads it) that the server
   supports, else None.
2. `is_websocket_request` is true only for an HTTP/1.1 `GET` with `Upgrade: websocket` and a
   `Connection` header naming `upgrade` (any case), the request a WebSocket client opens with.
3. `negotiate()` returns the subprotocol to agree on; when the client offers none of the supported ones it
   raises a 400 `ApiError` naming both lists (kube refuses such a handshake: `requested protocol(s) are not
   supported`). `upgrade()` then answers 101 with exactly that subprotocol and returns the open
   `WebSocketResponse`; pings from the client are answered (autoping); nothing else is read or sent here.

Callers: the exec/attach handler (`remotecommand.py`) and any other streaming subresource (port-forward).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from e2e.localcluster.apiserver.errors import ApiError

PROTOCOL_HEADER = "Sec-WebSocket-Protocol"


def offered_protocols(header: str) -> list[str]:
    """The subprotocols of a `Sec-WebSocket-Protocol` header (several headers arrive joined by commas)."""
    return [p.strip() for p in header.split(",") if p.strip()]


def choose_protocol(header: str, supported: Sequence[str]) -> str | None:
    for proto in offered_protocols(header):
        if proto in supported:
            return proto
    return None


def is_websocket_request(request: web.BaseRequest) -> bool:
    connection = [t.strip().lower() for t in request.headers.get("Connection", "").split(",")]
    return (request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"
            and "upgrade" in connection)


def negotiate(request: web.BaseRequest, supported: Sequence[str]) -> str:
    """The subprotocol to answer with: the client's first choice among `supported`, else a 400 (guarantee 3)."""
    offered = ",".join(request.headers.getall(PROTOCOL_HEADER, []))
    protocol = choose_protocol(offered, supported)
    if protocol is None:
        raise ApiError(400, "BadRequest", f"requested protocol(s) are not supported: "
                       f"[{' '.join(offered_protocols(offered))}]; supports [{' '.join(supported)}]")
    return protocol


async def upgrade(request: web.BaseRequest, protocol: str, *,
                  heartbeat_s: float | None = None) -> web.WebSocketResponse:
    """Answer the handshake (101) with `protocol`, which `negotiate` chose."""
    ws = web.WebSocketResponse(protocols=(protocol,), autoping=True, heartbeat=heartbeat_s,
                               max_msg_size=16 * 1024 * 1024)
    await ws.prepare(request)
    return ws
