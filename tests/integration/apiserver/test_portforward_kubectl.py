"""kubectl 1.37 port-forward through the API server's pods/portforward tunnel, to ports of a stand-in provider.

The simulated node runs no processes, so the provider here connects each pod port to a server of the test;
the node tests (tests/localcluster_node/test_portforward.py) do the same against real pods.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from tests.kubectl import Kubectl
from tests.portforwarding import echo_round_trip, http_get, port_forward, run_port_forward

pytestmark = pytest.mark.kubectl
MiB = 1024 * 1024


class Ports:
    """A `PortForwardProvider`: pod port -> a local server; remembers what was asked; refuses other ports."""

    def __init__(self) -> None:
        self.targets: dict[int, int] = {}
        self.asked: list[tuple[str, str, int]] = []

    async def open_port(self, namespace: str, name: str, port: int) -> tuple[asyncio.StreamReader,
                                                                            asyncio.StreamWriter]:
        self.asked.append((namespace, name, port))
        if port not in self.targets:
            raise OSError(f"error forwarding port {port} to pod {name}, uid : failed to connect: connection refused")
        return await asyncio.open_connection("127.0.0.1", self.targets[port])


class Backends:
    """The servers behind the pods' ports: an HTTP answer naming the port, an echo, one that hangs up."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server] = []
        self.pod_side_closed = asyncio.Event()

    async def start(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from the pod\n")
        await writer.drain()
        writer.close()

    async def echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(64 * 1024):
            writer.write(data)
            await writer.drain()
        self.pod_side_closed.set()
        writer.close()

    async def hang_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def close(self) -> None:
        for server in self.servers:
            server.close()
            await server.wait_closed()


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[LocalApiServer, Ports, Backends]]:
    server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    await server.start()
    ports, backends = Ports(), Backends()
    server.portforward_provider = ports
    ports.targets = {8000: await backends.start(backends.http), 7000: await backends.start(backends.echo),
                     6000: await backends.start(backends.hang_up)}
    try:
        yield server, ports, backends
    finally:
        await server.stop()
        await backends.close()


@pytest.fixture
def kubeconfig(cluster: tuple[LocalApiServer, Ports, Backends], tmp_path: Path) -> Path:
    return cluster[0].write_kubeconfig(tmp_path / "kubeconfig")


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "python:3.11",
                                     "ports": [{"name": "http", "containerPort": 8000}]}]}}


async def running(server: LocalApiServer, name: str, timeout_s: float = 20.0) -> None:
    sub = server.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while ((server.store.get(("", "pods"), "default", name) or {}).get("status") or {}).get(
                    "phase") != "Running":
                await sub.queue.get()
    finally:
        server.store.unsubscribe(sub)


async def apply(kubectl_bin: str, kubeconfig: Path, *objs: dict[str, Any]) -> None:
    await Kubectl(kubectl_bin, kubeconfig).run("apply", "-f", "-", stdin=yaml.safe_dump_all(objs))


def tunnels(server: LocalApiServer) -> list[int]:
    """The codes of the pods/portforward requests the server has finished answering."""
    return [r.code for r in server.faults.log if r.subresource == "portforward"]


async def test_pod_form_forwards_a_local_port_to_the_pods_port_and_kubectl_says_so(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, ports, _ = cluster
    await apply(kubectl_bin, kubeconfig, pod("web"))
    await running(server, "web")
    async with port_forward(kubectl_bin, kubeconfig, "pod/web", "0:8000") as pf:
        assert pf.stdout[-1] == f"Forwarding from 127.0.0.1:{pf.local_port} -> 8000"
        assert await http_get(pf.local_port) == (200, b"hello from the pod\n")
        assert await http_get(pf.local_port) == (200, b"hello from the pod\n")
    assert pf.exit_code == 0, pf.stderr
    assert ports.asked == [("default", "web", 8000)] * 2
    assert "Handling connection for" in "\n".join(pf.stdout)


async def test_several_connections_at_once_each_carry_a_mebibyte_each_way_intact(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, _ = cluster
    await apply(kubectl_bin, kubeconfig, pod("echo"))
    await running(server, "echo")
    async with port_forward(kubectl_bin, kubeconfig, "pod/echo", ":7000") as pf:
        results = await asyncio.gather(*(echo_round_trip(pf.local_port, MiB) for _ in range(4)))
        for sent, received in results:
            assert received == sent
        assert await http_get_after_echo(pf.local_port)
    assert pf.exit_code == 0, pf.stderr


async def http_get_after_echo(port: int) -> bool:
    """The tunnel still takes new connections after big transfers."""
    sent, received = await echo_round_trip(port, 10)
    return sent == received


async def test_a_pod_that_hangs_up_closes_the_local_connection(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, _ = cluster
    await apply(kubectl_bin, kubeconfig, pod("web"))
    await running(server, "web")
    async with port_forward(kubectl_bin, kubeconfig, "pod/web", ":6000") as pf:
        reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
        async with asyncio.timeout(20):
            assert await reader.read() == b""
        writer.close()
    assert pf.exit_code == 0, pf.stderr


async def test_a_local_client_that_closes_closes_the_pods_connection(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, backends = cluster
    await apply(kubectl_bin, kubeconfig, pod("echo"))
    await running(server, "echo")
    async with port_forward(kubectl_bin, kubeconfig, "pod/echo", ":7000") as pf:
        reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        writer.close()
        async with asyncio.timeout(20):
            await backends.pod_side_closed.wait()
    assert pf.exit_code == 0, pf.stderr


async def test_service_and_deployment_forms_resolve_to_a_pod_and_the_target_port(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, ports, _ = cluster
    labels = {"app": "web"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                           "template": {"metadata": {"labels": labels}, "spec": pod("x")["spec"]}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-svc"},
           "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    await apply(kubectl_bin, kubeconfig, deployment, svc)
    sub = server.store.subscribe(None)
    try:
        async with asyncio.timeout(30):
            while len([p for p in server.store.list(("", "pods"), "default")
                       if p.get("status", {}).get("phase") == "Running"]) < 2:
                await sub.queue.get()
    finally:
        server.store.unsubscribe(sub)
    web_pods = {p["metadata"]["name"] for p in server.store.list(("", "pods"), "default")}
    async with port_forward(kubectl_bin, kubeconfig, "service/web-svc", ":80") as pf:
        assert pf.remote_port == 8000  # the Service's port 80 is the pods' named port http
        assert await http_get(pf.local_port) == (200, b"hello from the pod\n")
    async with port_forward(kubectl_bin, kubeconfig, "deploy/web", ":8000") as pf:
        assert await http_get(pf.local_port) == (200, b"hello from the pod\n")
    assert [(ns, port) for ns, _, port in ports.asked] == [("default", 8000)] * 2
    assert {name for _, name, _ in ports.asked} <= web_pods


async def test_a_port_the_pod_refuses_is_kubelets_error_and_kubectl_ends(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, _ = cluster
    await apply(kubectl_bin, kubeconfig, pod("web"))
    await running(server, "web")
    pf = await run_port_forward(kubectl_bin, kubeconfig, "pod/web", ":9999")
    reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
    async with asyncio.timeout(20):
        assert await reader.read() == b""
    writer.close()
    assert await pf.wait() == 1
    assert ('"An error occurred forwarding" err="error forwarding port 9999 to pod web, uid : failed to connect: '
            f'connection refused" localPort={pf.local_port} remotePort=9999') in pf.stderr
    assert "error: lost connection to pod" in pf.stderr


async def test_a_pod_that_is_not_running_is_refused_with_kubectls_message(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, ports, _ = cluster
    await apply(kubectl_bin, kubeconfig, pod("done"))
    await running(server, "done")
    assert server.sim_node is not None
    server.sim_node.fail_pod("default", "done")
    code, _, err = await Kubectl(kubectl_bin, kubeconfig).run("port-forward", "pod/done", ":8000", ok=False)
    assert code == 1
    assert err.strip() == "error: unable to forward port because pod is not running. Current status=Failed"
    assert ports.asked == []
    assert tunnels(server) == []


async def test_ctrl_c_ends_kubectl_and_the_tunnel_cleanly(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, backends = cluster
    await apply(kubectl_bin, kubeconfig, pod("echo"))
    await running(server, "echo")
    pf = await run_port_forward(kubectl_bin, kubeconfig, "pod/echo", ":7000")
    reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
    writer.write(b"open")
    assert await reader.readexactly(4) == b"open"
    assert tunnels(server) == []  # the tunnel is still open
    assert await pf.interrupt() == 0, pf.stderr
    async with asyncio.timeout(20):
        assert await reader.read() == b""  # kubectl is gone, and so is its local connection
        await backends.pod_side_closed.wait()  # and the tunnel's connection to the pod
    writer.close()


VIEWER = "system:serviceaccount:default:viewer"


def role(name: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name},
             "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
             "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]}]


async def test_port_forward_needs_create_on_pods_portforward_as_kube_asks_for_the_websocket_too(
        kubectl_bin: str, tmp_path: Path) -> None:
    server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    enable_rbac(server)
    await server.start()
    backends = Backends()
    try:
        ports = Ports()
        ports.targets = {8000: await backends.start(backends.http)}
        server.portforward_provider = ports
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        read_only = {"apiGroups": [""], "resources": ["pods", "pods/portforward"], "verbs": ["get", "list"]}
        await apply(kubectl_bin, kubeconfig, pod("web"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                                          "metadata": {"name": "viewer"}},
                    *role("viewer", [read_only]))
        await running(server, "web")
        code, _, err = await Kubectl(kubectl_bin, kubeconfig).run("port-forward", f"--as={VIEWER}", "pod/web",
                                                                  ":8000", ok=False)
        assert code == 1
        assert (f'pods "web" is forbidden: User "{VIEWER}" cannot create resource "pods/portforward" in API group '
                '"" in the namespace "default"') in err
        assert ports.asked == []
        await apply(kubectl_bin, kubeconfig, *role("forwarder", [
            {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]}]))
        async with port_forward(kubectl_bin, kubeconfig, f"--as={VIEWER}", "pod/web", ":8000") as pf:
            assert await http_get(pf.local_port) == (200, b"hello from the pod\n")
        assert pf.exit_code == 0, pf.stderr
    finally:
        await server.stop()
        await backends.close()


async def test_a_killed_kubectl_leaves_no_connection_to_the_pod(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, backends = cluster
    await apply(kubectl_bin, kubeconfig, pod("echo"))
    await running(server, "echo")
    pf = await run_port_forward(kubectl_bin, kubeconfig, "pod/echo", ":7000")
    reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
    writer.write(b"open")
    assert await reader.readexactly(4) == b"open"
    pf.proc.kill()
    assert await pf.wait() == -9
    async with asyncio.timeout(20):
        await backends.pod_side_closed.wait()
    writer.close()


async def test_a_server_that_stops_ends_kubectl_with_lost_connection_and_logs_no_error(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str,
        caplog: pytest.LogCaptureFixture) -> None:
    server, _, backends = cluster
    await apply(kubectl_bin, kubeconfig, pod("echo"))
    await running(server, "echo")
    pf = await run_port_forward(kubectl_bin, kubeconfig, "pod/echo", ":7000")
    reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
    writer.write(b"open")
    assert await reader.readexactly(4) == b"open"
    await server.stop()
    assert await pf.wait() == 1
    assert "error: lost connection to pod" in pf.stderr
    async with asyncio.timeout(20):
        await backends.pod_side_closed.wait()
    writer.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_without_a_node_agent_kubectl_reports_that_and_not_the_spdy_refusal(
        cluster: tuple[LocalApiServer, Ports, Backends], kubeconfig: Path, kubectl_bin: str) -> None:
    server, _, _ = cluster
    server.portforward_provider = None
    await apply(kubectl_bin, kubeconfig, pod("web"))
    await running(server, "web")
    code, _, err = await Kubectl(kubectl_bin, kubeconfig).run("port-forward", "pod/web", ":8000", ok=False)
    assert code == 1
    assert err.strip() == ('error: error upgrading connection: unable to upgrade connection: unable to forward '
                           'ports of pod "web": no node agent serves this cluster')
    assert tunnels(server) == [400, 400]  # the WebSocket GET, then the SPDY POST kubectl falls back to
