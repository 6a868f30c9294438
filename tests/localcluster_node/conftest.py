"""The local node against the in-process embedded API server (the `up` stack), with a test-only prefix and CIDRs.

Every test gets a fresh stack and, when it ends, checks that nothing the node made is left: no namespace,
link, /etc/netns entry, route or directory with the test prefix. Runs of this suite on one machine at the same
time take turns per test (the node's prefix lock).
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from e2e.localcluster.node import LocalNode, NodeConfig, PrefixLock, load_kubeconfig, missing_requirements, node_gateway
from e2e.localcluster.node.portforward import PodPorts

PREFIX = "lct"
POD_CIDR = "10.250.0.0/16"
SERVICE_CIDR = "10.251.0.0/16"
STATE_ROOT = Path("/var/lib/localcluster")
GATEWAY = node_gateway(POD_CIDR)  # the node bridge's address, where pods reach the API server

_problem = missing_requirements("up --kubeconfig PATH")
requires_root = pytest.mark.skipif(
    _problem is not None,
    reason=f"the node agent {_problem} (for tests: sudo .venv/bin/pytest tests/localcluster_node)")


@dataclass
class Cluster:
    server: LocalApiServer
    node: LocalNode
    kubeconfig: Path

    def rt(self, plural: str, group: str = "", version: str = "v1") -> Any:
        rt = self.server.registry.lookup(group, version, plural)
        assert rt is not None
        return rt

    def create(self, plural: str, body: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        return self.server.api.create(self.rt(plural), namespace, body).obj

    def get(self, plural: str, name: str, namespace: str = "default", group: str = "") -> dict[str, Any] | None:
        return self.server.store.get((group, plural), namespace, name)

    async def until(self, check: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
        """Re-check after every write the API server makes, until `check()` is truthy or the deadline passes."""
        sub = self.server.store.subscribe(None)
        try:
            async with asyncio.timeout(timeout_s):
                while not (result := check()):
                    await sub.queue.get()
                return result
        except TimeoutError:
            raise AssertionError(f"{what} not reached within {timeout_s} s") from None
        finally:
            self.server.store.unsubscribe(sub)

    def pod_condition(self, name: str, ctype: str, namespace: str = "default") -> str | None:
        pod = self.get("pods", name, namespace) or {}
        return next((c["status"] for c in (pod.get("status") or {}).get("conditions") or []
                     if c["type"] == ctype), None)


def ip(*args: str) -> str:
    """The output of an `ip` listing command (quick and local, so tests call it directly)."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=10).stdout


def leftovers(prefix: str = PREFIX, cidrs: tuple[str, str] = (POD_CIDR, SERVICE_CIDR)) -> list[str]:
    """Everything on this machine that carries `prefix` or lies in `cidrs`."""
    found = []
    found += [f"netns {line.split()[0]}" for line in ip("netns", "list").splitlines() if line.startswith(prefix + "-")]
    found += [f"link {line.split(':')[1].strip()}" for line in ip("-o", "link", "show").splitlines()
              if line.split(":")[1].strip().startswith(prefix)]
    routes = ip("route", "show")
    nets = [ipaddress.IPv4Network(c) for c in cidrs]
    for line in routes.splitlines():
        words = line.split()
        target = words[1] if words[0] in ("unreachable", "blackhole") else words[0]
        if target != "default" and any(ipaddress.IPv4Network(target).overlaps(n) for n in nets):
            found.append(f"route {line}")
    etc = Path("/etc/netns")
    if etc.is_dir():
        found += [f"/etc/netns/{p.name}" for p in etc.iterdir() if p.name.startswith(prefix + "-")]
    if (STATE_ROOT / prefix).exists():
        found.append(str(STATE_ROOT / prefix))
    return found


async def assert_nothing_left(prefix: str = PREFIX, cidrs: tuple[str, str] = (POD_CIDR, SERVICE_CIDR)) -> None:
    """Checked while holding the prefix's lock, so a concurrent run of these tests is not mistaken for ours."""
    lock = PrefixLock(prefix)
    await lock.acquire(wait_s=120)
    try:
        assert leftovers(prefix, cidrs) == []
    finally:
        lock.release()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Plain HTTP without authorization; pods find the API server through the `kubernetes` Service."""
    server = LocalApiServer(port=0, service_cidr=SERVICE_CIDR, bookmark_interval_s=0.5,
                            advertise_address=GATEWAY)
    async for c in _run_node(server, tmp_path):
        yield c


@pytest.fixture
async def incluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """As `up` runs it: HTTPS with its own CA, authentication and RBAC, the node's bridge address advertised."""
    server = LocalApiServer(port=0, service_cidr=SERVICE_CIDR, bookmark_interval_s=0.5, tls=True,
                            state_dir=tmp_path / "state", extra_sans=[GATEWAY], advertise_address=GATEWAY)
    enable_rbac(server)
    async for c in _run_node(server, tmp_path):
        yield c


async def _run_node(server: LocalApiServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    await server.start()
    node = LocalNode(load_kubeconfig(server.write_kubeconfig(tmp_path / "kubeconfig")),
                     NodeConfig(node_name="test-node", prefix=PREFIX, pod_cidr=POD_CIDR, service_cidr=SERVICE_CIDR,
                                backoff_s=0.2, max_backoff_s=1.0, shutdown_grace_s=2.0, lock_wait_s=120))
    try:
        await node.start()
        server.log_provider = node.agent.serve_logs
        server.exec_provider = node.agent
        server.portforward_provider = PodPorts(node.agent)
        async with asyncio.timeout(10):
            await node.agent.registered.wait()
        yield Cluster(server, node, tmp_path / "kubeconfig")
    finally:
        await node.stop()
        await server.stop()
    await assert_nothing_left()
