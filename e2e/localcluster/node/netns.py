"""The node's network: a bridge, one network namespace per pod (veth to the bridge), safety routes, hosts files.

Guarantees:
1. `setup()` first installs `unreachable` routes for the pod and service CIDRs in the root namespace (so no
   packet for them leaves the machine), then the bridge `<prefix>br0` with the gateway address (the first
   host of the node's /24, a more specific route that still works); the bridge never forwards packets
   (its `forwarding` sysctl is 0), so pods reach only the node, each other and ClusterIPs on the bridge.
   `setup()` refuses CIDRs that overlap an address, a route or a DNS server this machine already uses.
2. Everything is named from a unique prefix (`<prefix>br0`, veths `<prefix><8 hex>`, namespaces
   `<prefix>-...`, `/etc/netns/<prefix>-...`, `<state_root>/<prefix>`; routes are recorded there);
   `setup()` removes what a crashed run with the same prefix left (SIGKILL to the processes still inside
   its namespaces, waiting up to 2 s for them to exit), and `teardown()` removes everything this one made,
   routes included, and the state root when it is left empty.
3. A pod gets its own namespace with `lo` up, `eth0` holding a free address of the node's /24 and a default
   route via the gateway; its `/etc/netns/<name>/hosts` and `resolv.conf` are what `ip netns exec` shows it
   as `/etc/hosts` and `/etc/resolv.conf`. Hosts files are rewritten in place (same inode), so a running
   pod sees new service names; unknown names fail at once (the resolver points at the pod's loopback).
4. One agent per prefix on this machine (guards.PrefixLock): a second one waits up to `lock_wait_s`, then
   fails with a clear message; `teardown()` of one that never got the lock touches nothing.

Command builders are pure (`*_cmds`, `pod_names`); `run()` is the only place that starts `ip`. Hosts file
contents come from dns.py, the lock and the CIDR check from guards.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import shutil
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .dns import resolv_conf
from .guards import NetworkError, PrefixLock, overlap_problem, read_resolv

Cmd = list[str]
NETNS_ETC = Path("/etc/netns")
log = logging.getLogger(__name__)
_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,4}$")


@dataclass(frozen=True)
class PodNames:
    netns: str
    host_veth: str
    peer_veth: str


def pod_names(prefix: str, namespace: str, name: str, uid: str) -> PodNames:
    digest = hashlib.sha1(uid.encode()).hexdigest()[:8]
    netns = re.sub(r"[^a-zA-Z0-9_.-]", "_", f"{prefix}-{namespace}-{name}-{digest}")[:120]
    return PodNames(netns=netns, host_veth=f"{prefix}{digest}", peer_veth=f"{prefix}{digest}p")


def node_subnet(pod_cidr: str) -> ipaddress.IPv4Network:
    """The node's share of the pod CIDR: its first /24 (the whole CIDR when that is smaller)."""
    net = ipaddress.IPv4Network(pod_cidr)
    return net if net.prefixlen >= 24 else next(net.subnets(new_prefix=24))


def node_gateway(pod_cidr: str) -> str:
    """The bridge's address (the first of the node's subnet): the pods' gateway, and where they reach the node."""
    return str(node_subnet(pod_cidr).network_address + 1)


def safety_route_cmds(cidrs: Iterable[str], *, remove: bool = False) -> list[Cmd]:
    return [["ip", "route", "del" if remove else "add", "unreachable", c] for c in cidrs]


def bridge_cmds(bridge: str, gateway: str, prefixlen: int) -> list[Cmd]:
    return [["ip", "link", "add", bridge, "type", "bridge"],
            ["ip", "addr", "add", f"{gateway}/{prefixlen}", "dev", bridge],
            ["ip", "link", "set", bridge, "up"]]


def pod_network_cmds(names: PodNames, bridge: str, address: str, prefixlen: int, gateway: str) -> list[Cmd]:
    ns = names.netns
    return [["ip", "netns", "add", ns],
            ["ip", "link", "add", names.host_veth, "type", "veth", "peer", "name", names.peer_veth],
            ["ip", "link", "set", names.peer_veth, "netns", ns],
            ["ip", "-n", ns, "link", "set", names.peer_veth, "name", "eth0"],
            ["ip", "-n", ns, "addr", "add", f"{address}/{prefixlen}", "dev", "eth0"],
            ["ip", "-n", ns, "link", "set", "eth0", "up"],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", ns, "route", "add", "default", "via", gateway],
            ["ip", "link", "set", names.host_veth, "master", bridge],
            ["ip", "link", "set", names.host_veth, "up"]]


async def run(cmd: Cmd, *, check: bool = True, timeout_s: float = 10.0) -> str:
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise NetworkError(f"{' '.join(cmd)}: timed out after {timeout_s} s") from None
    if proc.returncode != 0:
        message = f"{' '.join(cmd)}: {err.decode(errors='replace').strip()}"
        if check:
            raise NetworkError(message)
        log.debug("command_failed %s", message)
    return out.decode()


class NodeNetwork:
    def __init__(self, *, prefix: str, pod_cidr: str, service_cidr: str, state_root: Path,
                 lock_wait_s: float = 0.0) -> None:
        if not _PREFIX.match(prefix):
            raise ValueError(f"prefix {prefix!r}: 2-5 characters, a lowercase letter then [a-z0-9]")
        self.prefix = prefix
        self.cidrs = (str(ipaddress.IPv4Network(pod_cidr)), str(ipaddress.IPv4Network(service_cidr)))
        self.subnet = node_subnet(pod_cidr)
        self.gateway = node_gateway(pod_cidr)
        self.bridge = f"{prefix}br0"
        self.state_root = state_root
        self.state_dir = state_root / prefix
        self._free = [str(h) for h in self.subnet.hosts()][1:]
        self._used: dict[str, str] = {}  # uid -> address
        self.lock_wait_s = lock_wait_s
        self._lock = PrefixLock(prefix)
        self._service_ips: set[str] = set()

    async def setup(self) -> None:
        await self._lock.acquire(self.lock_wait_s)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        await self._remove_leftovers()
        problem = overlap_problem(self.cidrs, await run(["ip", "-o", "route", "show"]),
                                  await run(["ip", "-o", "addr", "show"]), read_resolv())
        if problem is not None:
            await self.teardown()
            raise NetworkError(problem)
        for cmd in safety_route_cmds(self.cidrs):
            await run(cmd)
            self._record_route(cmd[-1])
        for cmd in bridge_cmds(self.bridge, self.gateway, self.subnet.prefixlen):
            await run(cmd)
        self._no_forwarding()

    async def teardown(self) -> None:
        if not self._lock.held:  # never touch what another agent with this prefix owns
            return
        await self._remove_leftovers()
        self._remove_state_dir()
        self._lock.release()

    async def _remove_leftovers(self) -> None:
        for line in (await run(["ip", "netns", "list"])).splitlines():
            ns = line.split()[0] if line.strip() else ""
            if ns.startswith(self.prefix + "-"):
                await self._kill_netns_processes(ns)
                await run(["ip", "netns", "del", ns], check=False)
        veth = re.compile(rf"^{self.prefix}[0-9a-f]{{8}}p?$")
        for line in (await run(["ip", "-o", "link", "show"])).splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name == self.bridge or veth.match(name):
                await run(["ip", "link", "del", name], check=False)
        for cmd in safety_route_cmds(self._recorded_routes(), remove=True):
            await run(cmd, check=False)
        self._remove_files()
        self._service_ips.clear()

    # small local file operations, kept synchronous

    def _remove_state_dir(self) -> None:
        for made in (self.state_dir, self.state_root):  # only when empty
            with contextlib.suppress(OSError):
                made.rmdir()

    def _record_route(self, cidr: str) -> None:
        with (self.state_dir / "routes").open("a") as f:
            f.write(cidr + "\n")

    def _recorded_routes(self) -> list[str]:
        routes = self.state_dir / "routes"
        return routes.read_text().split() if routes.exists() else []

    def _no_forwarding(self) -> None:
        Path(f"/proc/sys/net/ipv4/conf/{self.bridge}/forwarding").write_text("0\n")

    def _remove_files(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "routes").unlink()
        if NETNS_ETC.is_dir():
            for entry in NETNS_ETC.iterdir():
                if entry.name.startswith(self.prefix + "-"):
                    shutil.rmtree(entry, ignore_errors=True)
            with contextlib.suppress(OSError):
                NETNS_ETC.rmdir()  # only when empty
        shutil.rmtree(self.state_dir / "pods", ignore_errors=True)

    async def _kill_netns_processes(self, netns: str) -> None:
        """SIGKILL what still runs in a namespace of ours and wait (at most 2 s) until it has exited."""
        pids = [int(p) for p in (await run(["ip", "netns", "pids", netns], check=False)).split() if p.isdigit()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not any(is_running(pid) for pid in pids):
                return
            await asyncio.sleep(0.02)

    # ---- pods ------------------------------------------------------------------------------------

    def allocate_ip(self, uid: str) -> str:
        if uid not in self._used:
            if not self._free:
                raise NetworkError(f"no free pod address left in {self.subnet}")
            self._used[uid] = self._free.pop(0)
        return self._used[uid]

    def release_ip(self, uid: str) -> None:
        address = self._used.pop(uid, None)
        if address is not None:
            self._free.append(address)

    async def add_pod(self, names: PodNames, address: str, hosts: str, namespace: str) -> None:
        _write_etc(names, hosts, namespace)
        for cmd in pod_network_cmds(names, self.bridge, address, self.subnet.prefixlen, self.gateway):
            await run(cmd)

    async def remove_pod(self, names: PodNames) -> None:
        await self._kill_netns_processes(names.netns)
        await run(["ip", "link", "del", names.host_veth], check=False)
        await run(["ip", "netns", "del", names.netns], check=False)
        shutil.rmtree(NETNS_ETC / names.netns, ignore_errors=True)

    def write_hosts(self, names: PodNames, content: str) -> None:
        path = NETNS_ETC / names.netns / "hosts"
        if path.exists() and path.read_text() != content:
            with path.open("r+") as f:  # in place: `ip netns exec` bind-mounted this very inode
                f.write(content)
                f.truncate()

    # ---- service addresses -------------------------------------------------------------------------

    async def add_service_ip(self, address: str) -> None:
        if address not in self._service_ips:
            await run(["ip", "addr", "replace", f"{address}/32", "dev", self.bridge])
            self._service_ips.add(address)

    async def remove_service_ip(self, address: str) -> None:
        if address in self._service_ips:
            self._service_ips.discard(address)
            await run(["ip", "addr", "del", f"{address}/32", "dev", self.bridge], check=False)


def _write_etc(names: PodNames, hosts: str, namespace: str) -> None:
    etc = NETNS_ETC / names.netns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hosts").write_text(hosts)
    (etc / "resolv.conf").write_text(resolv_conf(namespace))



def is_running(pid: int) -> bool:
    """True while `pid` exists and has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")
