"""Port-forward's node half: a TCP connection to a port of a pod this node runs (the kubelet's runtime part).

The API server's `pods/portforward` tunnel (apiserver/http/portforward.py) asks `PodPorts.open_port` for one
connection per forwarded local connection. The pod's network namespace is reached at the pod's IP through
the node bridge (netns.py), so the connection is made from the root namespace to `podIP:port`.

Guarantees:
1. `open_port` returns an open (reader, writer) to `podIP:port` of the named pod when it runs here.
2. Otherwise it raises `OSError` whose message is what the kubelet writes on the error stream:
   `error forwarding port P to pod SANDBOX, uid : CAUSE` (the CRI names the sandbox, here the pod's network
   namespace, and passes no uid), CAUSE naming the namespace, the address and the system's reason
   (`connect: connection refused`), or that the pod's sandbox does not run on this node.
3. A connect that does not complete within `connect_timeout_s` is such an error too (`i/o timeout`).

Not guaranteed: a server bound only to 127.0.0.1 inside the pod is not reached (the kubelet dials localhost
inside the namespace; this node dials the pod's address).
"""

from __future__ import annotations

import asyncio
import os
from typing import Protocol

from .pods import PodRunner


class _Runners(Protocol):
    def runner_for(self, namespace: str, name: str) -> PodRunner | None: ...


def forward_error(port: int, sandbox: str, cause: str) -> str:
    """kubelet's httpstream.go wording; the CRI streaming server passes the sandbox id as pod and no uid."""
    return f"error forwarding port {port} to pod {sandbox}, uid : {cause}"


def connect_failure(netns: str, ip: str, port: int, reason: str) -> str:
    """containerd's wording for a dial that failed inside the pod's network namespace."""
    return (f'failed to execute portforward in network namespace "/var/run/netns/{netns}": failed to connect to '
            f'{ip}:{port} inside namespace "{netns}", IPv4: dial tcp4 {ip}:{port}: connect: {reason}')


def reason_of(exc: OSError) -> str:
    """Go's lower-case text of a socket error (`connection refused`), from Python's."""
    text = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


class PodPorts:
    """The `PortForwardProvider` of the API server, for the pods of one node agent."""

    def __init__(self, agent: _Runners, *, connect_timeout_s: float = 5.0) -> None:
        self._agent = agent
        self._timeout_s = connect_timeout_s

    async def open_port(self, namespace: str, name: str, port: int) -> tuple[asyncio.StreamReader,
                                                                            asyncio.StreamWriter]:
        runner = self._agent.runner_for(namespace, name)
        if runner is None or not runner.sandbox.running or not runner.sandbox.ip:
            raise OSError(forward_error(port, f"{namespace}/{name}",
                                        "the pod's sandbox does not run on this node"))
        sandbox = runner.sandbox
        try:
            async with asyncio.timeout(self._timeout_s):
                return await asyncio.open_connection(sandbox.ip, port)
        except TimeoutError:
            reason = "i/o timeout"
        except OSError as exc:
            reason = reason_of(exc)
        raise OSError(forward_error(port, sandbox.names.netns,
                                    connect_failure(sandbox.names.netns, sandbox.ip, port, reason)))
