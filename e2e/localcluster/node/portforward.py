"""Port-forward's node half: a TCP connection to localhost:PORT inside a pod's network namespace, as CRI makes it.

The API server's `pods/portforward` tunnel (apiserver/http/portforward.py) asks `PodPorts.open_port` for one
connection per forwarded local connection. Like containerd's port-forward, the node dials `localhost:PORT`
inside the pod's network namespace (`/var/run/netns/NAME`, made by `ip netns`), IPv4 first and then IPv6;
so a server the pod binds to 127.0.0.1 only is reached too, and one bound to the pod's address only is not,
exactly as on a real node.

Guarantees:
1. `open_port` returns an open (reader, writer) to 127.0.0.1:PORT (else [::1]:PORT) in the namespace of the
   named pod when its sandbox runs here.
2. Otherwise it raises `OSError` whose message is what the kubelet writes on the error stream:
   `error forwarding port P to pod SANDBOX, uid : CAUSE` (the CRI names the sandbox, here the pod's network
   namespace, and passes no uid), CAUSE in containerd's words: `failed to execute portforward in network
   namespace "...": failed to connect to localhost:P inside namespace "...", IPv4: dial tcp4 127.0.0.1:P:
   connect: connection refused IPv6 dial tcp6 [::1]:P: connect: ...`; or that the pod's sandbox does not
   run on this node.
3. A dial that does not complete within `connect_timeout_s` is such an error too (`i/o timeout`).
4. The event loop's threads never change namespace: each socket is made by a short-lived thread of its own
   that enters the pod's namespace and ends (a socket stays in the namespace it was made in).

Caller must: run as root (CAP_SYS_ADMIN for setns), as the node agent does.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading
from typing import Protocol

from .pods import PodRunner

_CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"


class _Runners(Protocol):
    def runner_for(self, namespace: str, name: str) -> PodRunner | None: ...


def forward_error(port: int, sandbox: str, cause: str) -> str:
    """kubelet's httpstream.go wording; the CRI streaming server passes the sandbox id as pod and no uid."""
    return f"error forwarding port {port} to pod {sandbox}, uid : {cause}"


def connect_failure(netns: str, port: int, ipv4: str, ipv6: str) -> str:
    """containerd's wording for dials of localhost that failed inside the pod's network namespace."""
    return (f'failed to execute portforward in network namespace "{NETNS_DIR}/{netns}": failed to connect to '
            f'localhost:{port} inside namespace "{netns}", IPv4: dial tcp4 127.0.0.1:{port}: connect: {ipv4} '
            f"IPv6 dial tcp6 [::1]:{port}: connect: {ipv6} ")


def reason_of(exc: BaseException) -> str:
    """Go's lower-case text of a socket error (`connection refused`), from Python's."""
    if isinstance(exc, TimeoutError):
        return "i/o timeout"
    errno = getattr(exc, "errno", None)
    text = os.strerror(errno) if errno else str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


async def socket_in_netns(path: str, family: socket.AddressFamily) -> socket.socket:
    """A non-blocking TCP socket made inside the network namespace at `path` (guarantee 4)."""
    loop = asyncio.get_running_loop()
    made: asyncio.Future[socket.socket] = loop.create_future()

    def settle(sock: socket.socket | None, exc: BaseException | None) -> None:
        if made.cancelled():
            if sock is not None:
                sock.close()
        elif exc is not None:
            made.set_exception(exc)
        else:
            assert sock is not None
            made.set_result(sock)

    def make() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
        except OSError as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, sock, None)

    threading.Thread(target=make, name="portforward-netns", daemon=True).start()
    return await made


class PodPorts:
    """The `PortForwardProvider` of the API server, for the pods of one node agent."""

    def __init__(self, agent: _Runners, *, connect_timeout_s: float = 5.0) -> None:
        self._agent = agent
        self._timeout_s = connect_timeout_s

    async def open_port(self, namespace: str, name: str, port: int) -> tuple[asyncio.StreamReader,
                                                                            asyncio.StreamWriter]:
        runner = self._agent.runner_for(namespace, name)
        if runner is None or not runner.sandbox.running:
            raise OSError(forward_error(port, f"{namespace}/{name}", "the pod's sandbox does not run on this node"))
        netns = runner.sandbox.names.netns
        reasons = []
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            try:
                return await self._dial(f"{NETNS_DIR}/{netns}", family, host, port)
            except (OSError, TimeoutError) as exc:
                reasons.append(reason_of(exc))
        raise OSError(forward_error(port, netns, connect_failure(netns, port, *reasons)))

    async def _dial(self, path: str, family: socket.AddressFamily, host: str,
                    port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = await socket_in_netns(path, family)
        connected = None
        try:
            async with asyncio.timeout(self._timeout_s):
                await asyncio.get_running_loop().sock_connect(sock, (host, port))
            connected = await asyncio.open_connection(sock=sock)
            return connected
        finally:
            if connected is None:
                sock.close()
