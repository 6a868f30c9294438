"""kubectl port-forward to real pods of the local node: pod/, service/ and deploy/ forms, big transfers, refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.kubectl import Kubectl
from tests.portforwarding import echo_round_trip, http_get, port_forward, run_port_forward

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, pytest.mark.kubectl, requires_root]
MiB = 1024 * 1024

# An HTTP server naming its pod on 8080 and a byte echo on 7000, both on all of the pod's addresses, and an echo
# on 7001 bound to the pod's loopback only.
SERVER = """
import http.server, os, socketserver, threading
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["POD_NAME"] + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
threading.Thread(target=socketserver.ThreadingTCPServer(("", 7000), Echo).serve_forever, daemon=True).start()
threading.Thread(target=socketserver.ThreadingTCPServer(("127.0.0.1", 7001), Echo).serve_forever,
                 daemon=True).start()
http.server.ThreadingHTTPServer(("", 8080), Hello).serve_forever()
"""


def server_spec(image: str = "python:3.11") -> dict[str, Any]:
    return {"containers": [{
        "name": "server", "image": image, "command": ["python", "-c", SERVER],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": "http", "containerPort": 8080}, {"name": "echo", "containerPort": 7000}],
        "readinessProbe": {"tcpSocket": {"port": 7000}, "periodSeconds": 1}}]}


async def ready(cluster: Cluster, name: str) -> None:
    await cluster.until(lambda: cluster.pod_condition(name, "Ready") == "True", timeout_s=60, what=f"{name} Ready")


async def test_pod_form_reaches_the_pods_http_server_and_carries_mebibytes_over_several_connections(
        cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("pods", {"metadata": {"name": "web"}, "spec": server_spec()})
    await ready(cluster, "web")
    async with port_forward(kubectl_bin, cluster.kubeconfig, "pod/web", "0:8080", "0:7000") as pf:
        assert pf.remote_port == 8080
        assert await http_get(pf.local_port) == (200, b"hello from web\n")
    assert pf.exit_code == 0, pf.stderr
    async with port_forward(kubectl_bin, cluster.kubeconfig, "pod/web", ":7000") as pf:
        results = await asyncio.gather(*(echo_round_trip(pf.local_port, MiB) for _ in range(3)))
        assert all(sent == received for sent, received in results)
    assert pf.exit_code == 0, pf.stderr
    async with port_forward(kubectl_bin, cluster.kubeconfig, "pod/web", ":7001") as pf:
        sent, received = await echo_round_trip(pf.local_port, 1000)  # inside the pod: its localhost counts
        assert received == sent
    assert pf.exit_code == 0, pf.stderr


async def test_service_and_deployment_forms_forward_to_one_of_the_deployments_pods(
        cluster: Cluster, kubectl_bin: str) -> None:
    labels = {"app": "hello"}
    cluster.server.api.create(cluster.rt("deployments", "apps"), "default", {"metadata": {"name": "hello"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": server_spec()}}})
    cluster.create("services", {"metadata": {"name": "hello-svc"}, "spec": {
        "selector": labels, "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]}})
    [pod] = await cluster.until(lambda: [p for p in cluster.server.store.list(("", "pods"), "default")
                                         if cluster.pod_condition(p["metadata"]["name"], "Ready") == "True"],
                                timeout_s=60, what="the Deployment's pod Ready")
    name = pod["metadata"]["name"]
    async with port_forward(kubectl_bin, cluster.kubeconfig, "service/hello-svc", ":8000") as pf:
        assert pf.remote_port == 8080  # the Service's port 8000 is the pod's port "http"
        assert await http_get(pf.local_port) == (200, f"hello from {name}\n".encode())
    assert pf.exit_code == 0, pf.stderr
    async with port_forward(kubectl_bin, cluster.kubeconfig, "deploy/hello", ":8080") as pf:
        assert await http_get(pf.local_port) == (200, f"hello from {name}\n".encode())
    assert pf.exit_code == 0, pf.stderr


async def test_a_port_nothing_listens_on_inside_the_pod_is_kubelets_error_naming_its_network_namespace(
        cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("pods", {"metadata": {"name": "web"}, "spec": server_spec()})
    await ready(cluster, "web")
    pf = await run_port_forward(kubectl_bin, cluster.kubeconfig, "pod/web", ":9")
    reader, writer = await asyncio.open_connection("127.0.0.1", pf.local_port)
    async with asyncio.timeout(30):
        assert await reader.read() == b""
    writer.close()
    assert await pf.wait() == 1
    netns = next(r.sandbox.names.netns for r in cluster.node.agent.runners.values()
                 if r.pod["metadata"]["name"] == "web")
    assert (f'err="error forwarding port 9 to pod {netns}, uid : failed to execute portforward in network namespace '
            f'\\"/var/run/netns/{netns}\\": failed to connect to localhost:9 inside namespace \\"{netns}\\", IPv4: '
            'dial tcp4 127.0.0.1:9: connect: connection refused IPv6 dial tcp6 [::1]:9: connect: ') in pf.stderr
    assert "error: lost connection to pod" in pf.stderr


async def test_a_pod_that_is_not_running_is_refused_with_kubectls_message(cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("pods", {"metadata": {"name": "pending"}, "spec": server_spec(image="nginx:1.27")})
    await cluster.until(lambda: ((cluster.get("pods", "pending") or {}).get("status") or {}).get("phase"),
                        what="pending has a phase")
    code, _, err = await Kubectl(kubectl_bin, cluster.kubeconfig).run("port-forward", "pod/pending", ":8080",
                                                                       ok=False)
    assert code == 1
    assert err.strip() == "error: unable to forward port because pod is not running. Current status=Pending"
