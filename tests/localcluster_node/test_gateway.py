"""The local Gateway data plane with real pods and real HTTP: an HTTPRoute's weighted backendRefs split
keep-alive requests per request, exactly; a weight change applies while requests flow, and none fails."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

import aiohttp
import pytest

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]
GROUP = "gateway.networking.k8s.io"

ECHO = """
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"pod": os.environ["POD_NAME"], "path": self.path,
                           "xff": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
"""


def echo_pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": {"containers": [{
        "name": "echo", "image": "python:3.11", "command": ["python", "-c", ECHO],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}


def echo_service(name: str, app: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"selector": {"app": app},
                                                 "ports": [{"name": "http", "port": 8000, "targetPort": 8080}]}}


def route(weights: tuple[int, int]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute", "metadata": {"name": "split"}, "spec": {
        "parentRefs": [{"name": "gw"}],
        "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/echo"}}],
             "backendRefs": [{"name": "svc-a", "port": 8000, "weight": weights[0]},
                             {"name": "svc-b", "port": 8000, "weight": weights[1]}]},
            {"matches": [{"path": {"type": "Exact", "value": "/missing"}}],
             "backendRefs": [{"name": "no-such-svc", "port": 8000}]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/down"}}],
             "backendRefs": [{"name": "svc-down", "port": 8000}]}]}}


async def test_weighted_backendrefs_split_keepalive_requests_exactly_and_a_weight_change_fails_no_request(
        cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for name in ("a", "b"):
        cluster.create("pods", echo_pod(name))
        cluster.create("services", echo_service(f"svc-{name}", name))
    cluster.create("services", echo_service("svc-down", "nobody"))
    gateways, routes = cluster.rt("gateways", GROUP), cluster.rt("httproutes", GROUP)
    cluster.server.api.create(gateways, "default", {
        "apiVersion": f"{GROUP}/v1", "kind": "Gateway", "metadata": {"name": "gw"},
        "spec": {"gatewayClassName": "localcluster", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}})
    cluster.server.api.create(routes, "default", route((75, 25)))

    def address() -> str | None:
        gw = cluster.get("gateways", "gw", group=GROUP) or {}
        return next((a["value"] for a in (gw.get("status") or {}).get("addresses") or []), None)

    ip = await cluster.until(address, what="the Gateway's address")
    await cluster.until(lambda: all(cluster.pod_condition(n, "Ready") == "True" for n in ("a", "b")),
                        what="both backends Ready")
    base = f"http://{ip}:80"
    connector = aiohttp.TCPConnector(limit=1)  # one keep-alive connection carries every request
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=5)) as http:

        async def get(path: str = "/echo") -> tuple[int, str]:
            async with http.get(base + path) as resp:
                return resp.status, await resp.text()

        seen: set[str] = set()
        for _ in range(100):  # the proxy's listeners come up after the Services: no API event tells when
            try:
                status, body = await get()
                if status == 200:
                    seen.add(json.loads(body)["pod"])
            except aiohttp.ClientError:
                pass
            if seen == {"a", "b"}:
                break
            await asyncio.sleep(0.1)
        assert seen == {"a", "b"}

        status, body = await get("/echo/x?q=1")
        answer = json.loads(body)
        assert (status, answer["path"]) == (200, "/echo/x?q=1")
        assert answer["xff"]  # the gateway names the client
        assert (await get("/elsewhere"))[0] == 404
        assert (await get("/missing"))[0] == 500
        assert (await get("/down"))[0] == 502

        pods = []
        for _ in range(200):
            status, body = await get()
            assert status == 200, body
            pods.append(json.loads(body)["pod"])
        shares = Counter(pods)
        print("shares over 200 keep-alive requests at 75/25:", dict(shares))
        assert shares == {"a": 150, "b": 50}  # smooth weighted round robin: exact over every 100 requests
        assert max(len(run) for run in "".join(pods).split("b")) <= 3  # spread, not in blocks

    results: list[tuple[int, str]] = []
    progress = asyncio.Event()
    stop = asyncio.Event()

    async def load() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                         timeout=aiohttp.ClientTimeout(total=5)) as client:
            for _ in range(3000):
                if stop.is_set():
                    return
                try:
                    async with client.get(base + "/echo") as resp:
                        body = await resp.text()
                        results.append((resp.status, json.loads(body)["pod"] if resp.status == 200 else body))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    results.append((0, repr(exc)))
                progress.set()

    async def wait_for(check: Any) -> None:
        while not check():
            progress.clear()
            await progress.wait()

    async with asyncio.timeout(90), asyncio.TaskGroup() as tg:
        workers = [tg.create_task(load()) for _ in range(2)]
        await wait_for(lambda: len(results) >= 40)
        current = cluster.get("httproutes", "split", group=GROUP)
        assert current is not None
        cluster.server.api.update(routes, "default", "split", {**current, "spec": route((0, 100))["spec"]})
        changed_at = len(results)
        await wait_for(lambda: len(results) >= changed_at + 200 and all(
            pod == "b" for _, pod in results[-150:]))
        stop.set()
        await asyncio.wait(workers)
    failed = [r for r in results if r[0] != 200]
    assert failed == []
    last_a = max(i for i, (_, pod) in enumerate(results) if pod == "a")
    print(f"weights 75/25 -> 0/100 at request {changed_at}; last request to a: {last_a}; total {len(results)}")
    assert all(pod == "b" for _, pod in results[last_a + 1:])
    assert len(results) - last_a > 150
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
