"""The local Gateway data plane: HTTP on a Gateway's data-plane Service, routed by its attached HTTPRoutes.

The service proxy (proxy.py) hands this module the ClusterIP:ports of Services labelled
`gateway.localcluster.rayservice.io/data-plane: "true"` (made by the API server's Gateway controller); it serves
HTTP/1.1 there itself instead of forwarding TCP. Decisions (attachment, matching, backends, weights) are the
pure ones of `e2e.localcluster.gateway`, the same the controller writes statuses with.

Guarantees:
1. Each request (also each one on a keep-alive connection) is routed on its own: `select` picks the rule
   (hostname, path, method, headers, query params), then the rule's smooth weighted round robin picks the
   backendRef, so shares are exact over every `sum(weights)` consecutive requests of a rule.
2. The request goes to the backend Service's ClusterIP:port (the service proxy then picks a ready endpoint),
   over one pooled client session, with its method, path, query and headers (hop-by-hop headers dropped;
   `X-Forwarded-For` and `X-Forwarded-Proto` added); request and response bodies are streamed.
3. No matching rule: 404. The picked backendRef unresolvable (see backends.py), or every weight 0: 500.
   Connecting to the backend fails: 502, never retried, so a failed request shows up as failed.
4. A change of a Gateway, HTTPRoute, Service or Namespace takes effect from the next request on: the route
   table is recompiled after each change, and a rule whose backends or weights changed starts its sequence
   afresh.
5. `close()` stops listening, ends open connections and the client session; no task is left and no
   cancelled request is logged as an error.

Not guaranteed: HTTPRoute filters (redirects, rewrites, header modifiers, mirrors), timeouts and retries,
TLS, HTTP/2, WebSocket upgrades, 503 for backends without ready endpoints (they fail as 502).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from e2e.localcluster.gateway import DATA_PLANE_LABEL, Entry, GatewayKey, SmoothWeighted, compile_port, select

from .client import ApiClient, reflect

Obj = dict[str, Any]
ListenKey = tuple[str, int]
log = logging.getLogger(__name__)
GATEWAYS_PATH = "/apis/gateway.networking.k8s.io/v1/gateways"
HTTPROUTES_PATH = "/apis/gateway.networking.k8s.io/v1/httproutes"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection"})


def gateway_of(service: Obj) -> GatewayKey | None:
    """The Gateway a data-plane Service belongs to (its controller ownerReference), or None for others."""
    meta = service.get("metadata") or {}
    if (meta.get("labels") or {}).get(DATA_PLANE_LABEL) != "true":
        return None
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Gateway"), None)
    return (str(meta.get("namespace")), str(owner.get("name"))) if owner else None


def forward_headers(items: list[tuple[str, str]], peer: str | None) -> list[tuple[str, str]]:
    """The request headers a backend gets: hop-by-hop ones (and those `Connection` names) dropped,
    X-Forwarded-For (appended to) and X-Forwarded-Proto set."""
    named = [h.strip().lower() for k, v in items if k.lower() == "connection" for h in v.split(",")]
    dropped = HOP_BY_HOP | set(named) | {"x-forwarded-proto", "x-forwarded-for"}
    prior = ", ".join(v for k, v in items if k.lower() == "x-forwarded-for")
    out = [(k, v) for k, v in items if k.lower() not in dropped]
    if peer:
        out.append(("X-Forwarded-For", f"{prior}, {peer}" if prior else peer))
    out.append(("X-Forwarded-Proto", "http"))
    return out


class GatewayDataPlane:
    def __init__(self, client: ApiClient, services: Mapping[tuple[str, str], Obj], *,
                 connect_timeout_s: float = 2.0) -> None:
        self.client = client
        self.services = services  # the service proxy's cache of every Service, kept current by it
        self.connect_timeout_s = connect_timeout_s
        self._gateways: dict[tuple[str, str], Obj] = {}
        self._routes: dict[tuple[str, str], Obj] = {}
        self._namespaces: dict[tuple[str, str], Obj] = {}
        self._tables: dict[tuple[GatewayKey, int], tuple[Entry, ...]] = {}
        self._weights = SmoothWeighted()
        self._servers: list[web.Server] = []
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Follow Gateways, HTTPRoutes and Namespaces until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for path, cache in ((GATEWAYS_PATH, self._gateways), (HTTPROUTES_PATH, self._routes),
                                ("/api/v1/namespaces", self._namespaces)):
                tg.create_task(reflect(self.client, path, on_sync=functools.partial(self._sync, cache),
                                       on_event=functools.partial(self._event, cache)))

    def changed(self) -> None:
        """Something the route tables depend on changed: recompile before the next request."""
        self._tables.clear()

    def _sync(self, cache: dict[tuple[str, str], Obj], items: list[Obj]) -> None:
        cache.clear()
        for obj in items:
            self._event(cache, "ADDED", obj)

    def _event(self, cache: dict[tuple[str, str], Obj], kind: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name")))
        if kind == "DELETED":
            cache.pop(key, None)
        else:
            cache[key] = obj
        self.changed()

    async def listen(self, key: ListenKey, gateway: GatewayKey) -> asyncio.Server:
        """Serve HTTP for `gateway`'s listeners on port `key[1]` at `key`; the caller closes the listener."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=False),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
        handler = functools.partial(self._route, gateway, key[1])
        server = web.Server(handler, access_log=None, handler_cancellation=True)
        self._servers.append(server)
        return await asyncio.get_running_loop().create_server(server, host=key[0], port=key[1],
                                                              reuse_address=True)

    async def close(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            await server.shutdown(0.5)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def table(self, gateway: GatewayKey, port: int) -> tuple[Entry, ...]:
        entries = self._tables.get((gateway, port))
        if entries is None:
            gw = self._gateways.get(gateway)
            labels = {name: dict((ns.get("metadata") or {}).get("labels") or {})
                      for (_, name), ns in self._namespaces.items()}
            entries = () if gw is None else compile_port(gw, port, self._routes.values(), self.services, labels)
            self._tables[(gateway, port)] = entries
            self._weights.forget_except({e.rule_id for t in self._tables.values() for e in t})
        return entries

    async def _route(self, gateway: GatewayKey, port: int, request: web.BaseRequest) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in reversed(list(request.headers.items()))}
        entry = select(self.table(gateway, port), request.host, request.method, request.path, headers,
                       {k: v for k, v in reversed(list(request.query.items()))})
        if entry is None:
            return web.Response(status=404, text="no HTTPRoute rule matches\n")
        backend = self._weights.pick(f"{gateway[0]}/{gateway[1]}:{port}/{entry.rule_id}",
                                     [(b, b.weight) for b in entry.backends])
        if backend is None or backend.address is None:
            why = backend.message if backend is not None else "every backendRef has weight 0"
            return web.Response(status=500, text=f"{why}\n")
        return await self._forward(request, backend.address)

    async def _forward(self, request: web.BaseRequest, address: tuple[str, int]) -> web.StreamResponse:
        assert self._session is not None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        out_headers = forward_headers(list(request.headers.items()), peer[0] if peer else None)
        body = _stream(request.content) if request.body_exists else None
        response: web.StreamResponse | None = None
        try:
            async with self._session.request(request.method, f"http://{address[0]}:{address[1]}{request.raw_path}",
                                             headers=out_headers, data=body, allow_redirects=False,
                                             skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding",
                                                                "Content-Type")) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for k, v in upstream.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        response.headers.add(k, v)
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if response is not None and response.prepared:
                if request.transport is not None:
                    request.transport.abort()  # the status is sent: only a cut connection tells the client
                return response
            log.debug("gateway_backend_failed %s:%s: %s", address[0], address[1], exc)
            return web.Response(status=502, text=f"backend {address[0]}:{address[1]} failed: {exc}\n")


async def _stream(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    with contextlib.suppress(aiohttp.ClientPayloadError):
        async for chunk in content.iter_any():
            yield chunk
