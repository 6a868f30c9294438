"""pods/portforward's refusals over plain HTTP, each a kube Status before any upgrade."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.http.portforward import TUNNEL_PROTOCOL

WS_HEADERS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": TUNNEL_PROTOCOL}


class NoPorts:
    async def open_port(self, namespace: str, name: str, port: int) -> tuple[asyncio.StreamReader,
                                                                            asyncio.StreamWriter]:
        raise OSError("unused")


@pytest.fixture
async def server() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0)
    await server.start()
    rt = server.registry.lookup("", "v1", "pods")
    assert rt is not None
    for name, node in (("bound", "n1"), ("unbound", "")):
        server.api.create(rt, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                          "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}})
    try:
        yield server
    finally:
        await server.stop()


async def call(server: LocalApiServer, method: str, pod: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, f"{server.url}/api/v1/namespaces/default/pods/{pod}/portforward", headers=headers) as resp:
        return resp.status, await resp.json()


async def test_unknown_pods_are_kubes_not_found(server: LocalApiServer) -> None:
    server.portforward_provider = NoPorts()
    code, body = await call(server, "GET", "nope", WS_HEADERS)
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'pods "nope" not found')


async def test_a_pod_without_a_node_has_no_host_to_forward_to(server: LocalApiServer) -> None:
    server.portforward_provider = NoPorts()
    code, body = await call(server, "GET", "unbound", WS_HEADERS)
    assert (code, body["message"]) == (400, "pod unbound does not have a host assigned")


async def test_without_a_node_agent_the_answer_says_so(server: LocalApiServer) -> None:
    code, body = await call(server, "GET", "bound", WS_HEADERS)
    assert code == 400
    assert body["message"] == 'unable to forward ports of pod "bound": no node agent serves this cluster'


@pytest.mark.parametrize(("method", "headers", "words"), [
    ("GET", {}, "needs a WebSocket upgrade offering the subprotocol SPDY/3.1+portforward.k8s.io"),
    ("GET", {**WS_HEADERS, "Sec-WebSocket-Protocol": "v5.channel.k8s.io"},
     "requested protocol(s) are not supported: [v5.channel.k8s.io]; supports [SPDY/3.1+portforward.k8s.io]"),
    ("POST", {"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "portforward.k8s.io"},
     "the SPDY upgrade of pods/portforward is not served here"),
])
async def test_requests_that_are_not_the_websocket_tunnel_are_bad_requests(
        server: LocalApiServer, method: str, headers: dict[str, str], words: str) -> None:
    server.portforward_provider = NoPorts()
    code, body = await call(server, method, "bound", headers)
    assert (code, body["reason"]) == (400, "BadRequest")
    assert words in body["message"]
