"""Services: pods reach ClusterIPs and service names; the proxy forwards only to ready endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Cluster, requires_root
from .test_pods import web_pod

pytestmark = [pytest.mark.node, requires_root]

BACKEND = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code = 200 if self.path != "/ready" or os.path.exists("/tmp/ready") else 503
        body = os.environ["POD_NAME"].encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
if os.environ.get("START_READY"):
    open("/tmp/ready", "w").close()
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
"""

CLIENT = """
import sys, time, urllib.request
for url in sys.argv[1:]:
    for attempt in range(50):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                print(url, resp.status, flush=True)
                break
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    else:
        print(url, "failed:", last, flush=True)
        sys.exit(1)
"""


def service(name: str, selector: dict[str, str], port: int = 80, target: Any = 8080) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"selector": selector,
                                                  "ports": [{"name": "http", "port": port, "targetPort": target}]}}


def backend(name: str, ready: bool) -> dict[str, Any]:
    env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    if ready:
        env.append({"name": "START_READY", "value": "1"})
    return {"metadata": {"name": name, "labels": {"app": "echo"}}, "spec": {"containers": [{
        "name": "echo", "image": "python:3.11", "command": ["python", "-c", BACKEND], "env": env,
        "readinessProbe": {"httpGet": {"port": 8080, "path": "/ready"}, "periodSeconds": 1,
                           "failureThreshold": 1}}]}}


async def get(host: str, port: int, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None) -> str:
    """One HTTP/1.1 GET on a new connection (or on `conn`, kept open); the body."""
    reader, writer = conn or await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            body = await reader.readexactly(length)
    finally:
        if conn is None:
            writer.close()
    return body.decode()


async def test_a_pod_reaches_another_through_the_cluster_ip_and_the_service_dns_name(cluster: Cluster) -> None:
    cluster.create("pods", web_pod("web"))
    svc = cluster.create("services", service("web", {"app": "web"}))
    ip = svc["spec"]["clusterIP"]
    await cluster.until(lambda: cluster.pod_condition("web", "Ready") == "True", what="web Ready")
    urls = [f"http://{ip}/", "http://web.default.svc.cluster.local/", "http://web/"]
    cluster.create("pods", {"metadata": {"name": "client"}, "spec": {"restartPolicy": "Never", "containers": [
        {"name": "curl", "image": "curlimages/curl", "command": ["python", "-c", CLIENT, *urls]}]}})
    phase = await cluster.until(lambda: (p := cluster.get("pods", "client")) and p["status"].get("phase")
                                in ("Succeeded", "Failed") and p["status"]["phase"], what="client done")
    runner = cluster.node.agent.runner_for("default", "client")
    assert runner is not None
    c = runner.container(None)
    assert c is not None
    output = runner.log_path(c, 0).read_text()
    assert phase == "Succeeded", output
    assert output.splitlines() == [f"{url} 200" for url in urls]
    code, out = await cluster.node.agent.exec_in_pod("default", "web", [
        "python", "-c", "import socket; print(socket.gethostbyname('web.default.svc.cluster.local'))"])
    assert (code, out.decode().strip()) == (0, ip)


async def test_the_proxy_forwards_only_to_ready_endpoints_and_an_endpoint_change_affects_new_connections_only(
        cluster: Cluster) -> None:
    ip = cluster.create("services", service("echo", {"app": "echo"}))["spec"]["clusterIP"]
    a = cluster.create("pods", backend("a", ready=True))
    b = cluster.create("pods", backend("b", ready=False))

    def ready_endpoints() -> set[str]:
        slices = [s for s in cluster.server.store.list(("discovery.k8s.io", "endpointslices"), "default")
                  if s["metadata"]["labels"].get("kubernetes.io/service-name") == "echo"]
        return {e["targetRef"]["name"] for s in slices for e in s.get("endpoints") or []
                if e["conditions"]["ready"]}

    def running(name: str) -> bool:
        return ((cluster.get("pods", name) or {}).get("status") or {}).get("phase") == "Running"

    await cluster.until(lambda: ready_endpoints() == {"a"} and running("b"), what="a ready, b running")
    first = await answer_when(ip, lambda body: body == "a")
    assert first == "a"
    assert {await get(ip, 80) for _ in range(10)} == {"a"}  # b runs but is not ready: never chosen

    kept = await asyncio.wait_for(asyncio.open_connection(ip, 80), 2)
    assert await get(ip, 80, kept) == "a"
    tmp = cluster.node.config.state_path / "pods"
    (tmp / a["metadata"]["uid"] / "tmp" / "ready").unlink()
    (tmp / b["metadata"]["uid"] / "tmp" / "ready").write_text("")
    await cluster.until(lambda: ready_endpoints() == {"b"}, what="only b ready")
    await answer_when(ip, lambda body: body == "b")
    assert {await get(ip, 80) for _ in range(10)} == {"b"}
    assert await get(ip, 80, kept) == "a"  # the established connection keeps its backend
    kept[1].close()

    (tmp / a["metadata"]["uid"] / "tmp" / "ready").write_text("")
    await cluster.until(lambda: ready_endpoints() == {"a", "b"}, what="both ready")
    await answer_when(ip, lambda body: body == "a")
    assert sorted([await get(ip, 80) for _ in range(10)]) == ["a"] * 5 + ["b"] * 5  # round robin


async def answer_when(ip: str, wanted: Any, timeout_s: float = 10.0) -> str:
    """New connections until one answers as `wanted` (the proxy learns of changes through its watch)."""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                body = await get(ip, 80)
                if wanted(body):
                    return body
            except (OSError, asyncio.IncompleteReadError):
                pass
            await asyncio.sleep(0.05)
