"""What keeps the node from harming the machine it runs on: one agent per prefix, CIDRs that hide nothing.

Guarantees:
1. `PrefixLock` is held by at most one process of this machine per prefix (an abstract Unix socket: nothing
   is left on disk and a crashed holder releases it at once); `acquire(wait_s)` waits up to `wait_s`, then
   raises `NetworkError` with a clear message.
2. `overlap_problem` (pure) names the first address, route or DNS server of this machine that a CIDR would
   hide behind the node's `unreachable` safety routes, or returns None.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from pathlib import Path


class NetworkError(OSError):
    pass


class PrefixLock:
    """Held by the one node agent of a prefix; also what tests hold while they look for leftovers."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._sock: socket.socket | None = None

    async def acquire(self, wait_s: float = 0.0) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                sock.bind(f"\0localcluster-node-{self.prefix}")
                self._sock = sock
                return
            except OSError:
                if time.monotonic() >= deadline:
                    sock.close()
                    raise NetworkError(f"another node agent with prefix {self.prefix!r} is running on this "
                                       "machine (use another --prefix and other CIDRs)") from None
            await asyncio.sleep(0.1)

    @property
    def held(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def overlap_problem(cidrs: Iterable[str], routes: str, addresses: str, resolv: str) -> str | None:
    """Why these CIDRs cannot be taken here (they would hide part of the machine's network), or None.

    `routes` is `ip -o route show`, `addresses` is `ip -o addr show`, `resolv` is /etc/resolv.conf.
    """
    used: list[tuple[str, str]] = []
    for line in routes.splitlines():
        words = line.split()
        target = words[1] if words and words[0] in ("unreachable", "blackhole", "prohibit") else (words or [""])[0]
        if target and target != "default":
            used.append((target, f"route {line.strip()}"))
    for line in addresses.splitlines():
        words = line.split()
        if len(words) > 3 and words[2] == "inet":
            used.append((words[3], f"address {words[3]} on {words[1]}"))
    used += [(w[1], f"DNS server {w[1]}") for w in (line.split() for line in resolv.splitlines())
             if len(w) > 1 and w[0] == "nameserver" and ":" not in w[1]]
    for cidr in cidrs:
        net = ipaddress.IPv4Network(cidr)
        for target, what in used:
            try:
                if ipaddress.IPv4Network(target, strict=False).overlaps(net):
                    return f"{cidr} overlaps the {what}: choose other CIDRs"
            except ValueError:
                continue
    return None


def read_resolv() -> str:
    try:
        return Path("/etc/resolv.conf").read_text()
    except OSError:
        return ""
