"""The local service proxy (a kube-proxy): each Service's ClusterIP:port, forwarded to its ready endpoints.

Guarantees:
1. For every Service with a ClusterIP and TCP ports, the ClusterIP is added to the node's bridge (pods reach
   it through their gateway, the root namespace locally) and the proxy listens on ClusterIP:port.
2. A new connection goes to the next ready endpoint of that Service port, round robin: EndpointSlice
   endpoints whose `ready` is not false, the port matched by name, the address inside the allowed networks
   (any address for the `kubernetes` Service of `default`: the API server may live outside them, as it does
   when the node serves a real cluster).
   If that endpoint refuses (or does not answer within the connect timeout) the client's connection is reset,
   as with kube-proxy's iptables mode, which never retries another endpoint: a serve endpoint that refuses
   shows up as a failed request, never hidden by a retry.
3. An endpoint change affects new connections only: an established connection keeps its backend until one
   side closes it (half-closes are passed on).
4. A Service that goes (or loses a port) stops listening there at once; its address is removed when no
   port uses it any more. Established connections stay.
5. When run() ends (cancelled), listeners and connections are closed, addresses removed, no task is left, and
   nothing is logged as an error (no traceback of a cancelled connection).
6. A Gateway's data-plane Service (label `gateway.localcluster.rayservice.io/data-plane: "true"`, owned by its
   Gateway) is served as HTTP by the Gateway data plane (gatewayproxy.py) on the same ClusterIP:ports
   instead of being forwarded; guarantees 1, 4 and 5 hold for it too.

Not guaranteed: UDP/SCTP ports, NodePorts, sessionAffinity, traffic policies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .client import ApiClient, reflect
from .gatewayproxy import GatewayDataPlane, gateway_of

Obj = dict[str, Any]
ListenKey = tuple[str, int]  # (ClusterIP, port)
PortRef = tuple[str, str, str]  # (namespace, service, port name)
log = logging.getLogger(__name__)
_ANYWHERE = (ipaddress.IPv4Network("0.0.0.0/0"),)


class ServiceAddresses(Protocol):
    async def add_service_ip(self, address: str) -> None: ...

    async def remove_service_ip(self, address: str) -> None: ...


def desired_listeners(services: Iterable[Obj]) -> dict[ListenKey, PortRef]:
    out: dict[ListenKey, PortRef] = {}
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        for port in spec.get("ports") or []:
            if (port.get("protocol") or "TCP") == "TCP" and port.get("port"):
                out[(str(ip), int(port["port"]))] = (str(meta.get("namespace")), str(meta.get("name")),
                                                     str(port.get("name") or ""))
    return out


def networks_for(ref: PortRef, allowed: Sequence[ipaddress.IPv4Network]) -> Sequence[ipaddress.IPv4Network]:
    """Where a Service's endpoints may be: the allowed networks, or anywhere for the API server's Service."""
    return _ANYWHERE if ref[:2] == ("default", "kubernetes") else allowed


def ready_backends(slices: Iterable[Obj], port_name: str,
                   allowed: Sequence[ipaddress.IPv4Network]) -> list[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for s in slices:
        numbers = [int(p["port"]) for p in s.get("ports") or []
                   if str(p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == "TCP" and p.get("port")]
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for address in ep.get("addresses") or []:
                try:
                    ok = any(ipaddress.IPv4Address(address) in net for net in allowed)
                except ValueError:
                    ok = False
                found.update((str(address), n) for n in numbers if ok)
    return sorted(found)


class ServiceProxy:
    def __init__(self, client: ApiClient, addresses: ServiceAddresses, *, allowed_networks: Sequence[str],
                 connect_timeout_s: float = 2.0) -> None:
        self.client = client
        self.addresses = addresses
        self.allowed = [ipaddress.IPv4Network(n) for n in allowed_networks]
        self.connect_timeout_s = connect_timeout_s
        self._services: dict[tuple[str, str], Obj] = {}
        self._slices: dict[tuple[str, str], Obj] = {}
        self._routes: dict[ListenKey, PortRef] = {}
        self._servers: dict[ListenKey, asyncio.Server] = {}
        self._ips: set[str] = set()
        self._next: dict[ListenKey, int] = {}
        self._conns: set[asyncio.Task[Any]] = set()
        self._dirty = asyncio.Event()
        self.gateway = GatewayDataPlane(client, self._services, connect_timeout_s=connect_timeout_s)

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(reflect(self.client, "/api/v1/services",
                                       on_sync=functools.partial(self._sync, self._services),
                                       on_event=functools.partial(self._event, self._services)))
                tg.create_task(reflect(self.client, "/apis/discovery.k8s.io/v1/endpointslices",
                                       on_sync=functools.partial(self._sync, self._slices),
                                       on_event=functools.partial(self._event, self._slices)))
                tg.create_task(self.gateway.run())
                while True:
                    await self._dirty.wait()
                    self._dirty.clear()
                    await self._apply()
        finally:
            await self._close_all()

    def _sync(self, cache: dict[tuple[str, str], Obj], items: list[Obj]) -> None:
        cache.clear()
        for obj in items:
            self._event(cache, "ADDED", obj)

    def _event(self, cache: dict[tuple[str, str], Obj], kind: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace")), str(meta.get("name")))
        if kind == "DELETED":
            cache.pop(key, None)
        else:
            cache[key] = obj
        if cache is self._services:
            self._dirty.set()
            self.gateway.changed()

    async def _apply(self) -> None:
        desired = desired_listeners(self._services.values())
        self._routes = desired
        for key in [k for k in self._servers if k not in desired]:
            self._servers.pop(key).close()
        for key in sorted(set(desired) - set(self._servers)):
            ip, port = key
            try:
                await self.addresses.add_service_ip(ip)
                self._ips.add(ip)
                self._servers[key] = await self._listen(key)
            except OSError as exc:  # includes the address helper's errors: retried on the next change
                log.warning("listen_failed %s:%s: %s", ip, port, exc)
        for ip in self._ips - {k[0] for k in self._servers}:
            self._ips.discard(ip)
            await self.addresses.remove_service_ip(ip)

    async def _listen(self, key: ListenKey) -> asyncio.Server:
        ns, name, _ = self._routes[key]
        gateway = gateway_of(self._services.get((ns, name)) or {})
        if gateway is not None:
            return await self.gateway.listen(key, gateway)
        return await asyncio.start_server(functools.partial(self._handle, key), host=key[0], port=key[1],
                                          reuse_address=True)

    def backends(self, key: ListenKey) -> list[tuple[str, int]]:
        ref = self._routes.get(key)
        if ref is None:
            return []
        ns, name, port_name = ref
        slices = [s for s in self._slices.values() if (s.get("metadata") or {}).get("namespace") == ns and
                  ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") == name]
        return ready_backends(slices, port_name, networks_for(ref, self.allowed))

    async def _handle(self, key: ListenKey, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._forward(key, reader, writer)
        except asyncio.CancelledError:
            # only _close_all cancels a connection (the proxy stops): it ends here, quietly; the stream server's
            # done-callback would otherwise log the cancelled task as an unhandled error with its traceback
            return

    async def _forward(self, key: ListenKey, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            targets = self.backends(key)
            start = self._next.get(key, 0)
            self._next[key] = start + 1
            if targets:
                ip, port = targets[start % len(targets)]
                try:
                    async with asyncio.timeout(self.connect_timeout_s):
                        upstream = await asyncio.open_connection(ip, port)
                except (OSError, TimeoutError):
                    upstream = None
            if upstream is None:
                writer.transport.abort()
                return
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_pipe(reader, upstream[1], (writer, upstream[1])))
                tg.create_task(_pipe(upstream[0], writer, (writer, upstream[1])))
        finally:
            for w in (writer, *(upstream[1:] if upstream else ())):
                w.close()
            self._conns.discard(task)

    async def _close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        for task in list(self._conns):
            task.cancel()
        if self._conns:
            await asyncio.wait(list(self._conns))
        await self.gateway.close()
        for ip in sorted(self._ips):
            with contextlib.suppress(OSError):
                await self.addresses.remove_service_ip(ip)
        self._ips.clear()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, both: Sequence[asyncio.StreamWriter]) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except OSError:  # a reset on either side ends the whole connection
        for w in both:
            w.transport.abort()
