"""KubeClient's request plumbing against a fake ``kubernetes.aio`` ApiClient (no sockets)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from kubernetes.aio import client as k8s
from kubernetes.aio.client.exceptions import ApiException
from kubernetes.aio.config import ConfigException

from rayservice.kube import (
    PODS,
    RAY_SERVICES,
    AlreadyExists,
    Gone,
    KubeClient,
    KubeConfigError,
    KubeError,
    KubeTransportError,
    NotFound,
    NotLeader,
    PatchType,
    TooManyRequests,
    translate_errors,
)
from rayservice.kube.client import _environment_read_once
from rayservice.testing import FakeClock, settle


class FakeResponse:
    def __init__(
        self, status: int, body: Any = None, *, chunks: list[bytes] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.reason = "Reason"
        self.headers = headers or {}
        self._body = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        self._chunks = deque([*(chunks or []), b""])
        self.content = SimpleNamespace(readany=self._readany)
        self.closed = False

    async def _readany(self) -> bytes:
        return self._chunks.popleft()

    async def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


class FakeApiClient:
    def __init__(self) -> None:
        self.user_agent = ""
        self.sent: list[dict[str, Any]] = []
        self.answers: deque[FakeResponse | BaseException] = deque()

    async def param_serialize(
        self,
        *,
        method: str,
        resource_path: str,
        query_params: list[tuple[str, str]],
        header_params: dict[str, str],
        body: Any,
        auth_settings: list[str],
    ) -> Any:
        query = "&".join(f"{k}={v}" for k, v in query_params)
        return method, f"http://fake{resource_path}?{query}", dict(header_params), body, []

    async def call_api(
        self, method: str, url: str, *, header_params: dict[str, str], body: Any, _request_timeout: Any
    ) -> Any:
        parts = urlsplit(url)
        self.sent.append(
            {
                "method": method,
                "path": parts.path,
                "query": dict(parse_qsl(parts.query)),
                "headers": header_params,
                "body": body,
                "timeout": _request_timeout,
            }
        )
        answer = self.answers.popleft() if self.answers else FakeResponse(200, {})
        if isinstance(answer, BaseException):
            raise answer
        return SimpleNamespace(response=answer)

    async def close(self) -> None:
        pass


def _status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "code": code, "reason": reason, "message": f"{reason} happened"}


@pytest.fixture
def api() -> FakeApiClient:
    return FakeApiClient()


@pytest.fixture
def calls() -> list[tuple[str, str, int]]:
    return []


@pytest.fixture
def client(api: FakeApiClient, calls: list[tuple[str, str, int]]) -> KubeClient:
    return KubeClient(api, clock=FakeClock(), on_request=lambda *call: calls.append(call))


async def test_an_http_error_answer_raises_its_typed_error_chained_to_the_library_exception(
    client: KubeClient, api: FakeApiClient
) -> None:
    api.answers.append(FakeResponse(404, _status(404, "NotFound")))
    with pytest.raises(NotFound) as caught:
        await client.get(PODS, "p", namespace="ns")
    assert isinstance(caught.value.__cause__, ApiException)
    assert caught.value.message == "NotFound happened"


async def test_a_429_answer_carries_the_servers_retry_after(client: KubeClient, api: FakeApiClient) -> None:
    api.answers.append(FakeResponse(429, _status(429, "TooManyRequests"), headers={"Retry-After": "4"}))
    with pytest.raises(TooManyRequests) as caught:
        await client.create(PODS, {"metadata": {"name": "p", "namespace": "ns"}})
    assert caught.value.retry_after_s == 4.0


async def test_a_connection_failure_is_a_transport_error(client: KubeClient, api: FakeApiClient) -> None:
    api.answers.append(aiohttp.ClientConnectionError("refused"))
    with pytest.raises(KubeTransportError) as caught:
        await client.get(PODS, "p", namespace="ns")
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectionError)


def test_translate_errors_maps_timeouts_and_configuration_problems() -> None:
    with pytest.raises(KubeTransportError), translate_errors():
        raise TimeoutError
    with pytest.raises(KubeConfigError), translate_errors():
        raise ConfigException("no current context")
    with pytest.raises(AlreadyExists), translate_errors():
        raise ApiException(status=409, reason="Conflict", body=json.dumps(_status(409, "AlreadyExists")))


async def test_every_request_is_counted_once_with_its_verb_resource_and_code(
    client: KubeClient, api: FakeApiClient, calls: list[tuple[str, str, int]]
) -> None:
    api.answers.extend(
        [
            FakeResponse(200, {"metadata": {}}),
            FakeResponse(404, _status(404, "NotFound")),
            aiohttp.ClientConnectionError("refused"),
        ]
    )
    await client.patch_status(RAY_SERVICES, "s", {"status": {}}, namespace="ns")
    with pytest.raises(NotFound):
        await client.delete(PODS, "p", namespace="ns")
    with pytest.raises(KubeTransportError):
        await client.list(PODS)
    assert calls == [("patch", "rayservices.ray.io/status", 200), ("delete", "pods", 404), ("list", "pods", 0)]


async def test_patches_always_send_an_explicit_content_type(client: KubeClient, api: FakeApiClient) -> None:
    await client.patch(RAY_SERVICES, "s", {"spec": {}}, namespace="ns")
    await client.patch(PODS, "p", [{"op": "remove", "path": "/x"}], namespace="ns", patch_type=PatchType.JSON)
    await client.replace(PODS, "p", {"metadata": {}}, namespace="ns")
    types = [sent["headers"]["Content-Type"] for sent in api.sent]
    assert types == ["application/merge-patch+json", "application/json-patch+json", "application/json"]
    assert all(sent["query"]["fieldManager"] == "rayservice-operator" for sent in api.sent)


async def test_every_request_has_a_timeout(client: KubeClient, api: FakeApiClient) -> None:
    await client.get(PODS, "p", namespace="ns")
    timeout = api.sent[0]["timeout"]
    assert isinstance(timeout, aiohttp.ClientTimeout)
    assert timeout.total == 30.0


async def test_list_follows_continue_tokens_and_fills_item_kinds(client: KubeClient, api: FakeApiClient) -> None:
    page = {"kind": "PodList", "apiVersion": "v1"}
    api.answers.extend(
        [
            FakeResponse(
                200,
                {
                    **page,
                    "metadata": {"resourceVersion": "9", "continue": "t1"},
                    "items": [{"metadata": {"name": "a"}}],
                },
            ),
            FakeResponse(200, {**page, "metadata": {"resourceVersion": "9"}, "items": [{"metadata": {"name": "b"}}]}),
        ]
    )
    result = await client.list(PODS, namespace="ns", label_selector="ray.io/is-ray-node=yes", limit=1)
    assert [i["metadata"]["name"] for i in result.items] == ["a", "b"]
    assert all(i["kind"] == "Pod" and i["apiVersion"] == "v1" for i in result.items)
    assert result.resource_version == "9"
    assert [s["query"].get("continue") for s in api.sent] == [None, "t1"]
    assert api.sent[0]["query"]["labelSelector"] == "ray.io/is-ray-node=yes"


async def test_a_watch_error_event_raises_gone_and_closes_the_stream(client: KubeClient, api: FakeApiClient) -> None:
    error = {"type": "ERROR", "object": _status(410, "Expired")}
    added = {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}}
    response = FakeResponse(200, chunks=[json.dumps(added).encode() + b"\n", json.dumps(error).encode() + b"\n"])
    api.answers.append(response)
    stream = client.watch(PODS, resource_version="4", timeout_seconds=60)
    assert await anext(stream) == added
    with pytest.raises(Gone):
        await anext(stream)
    assert response.closed
    query = api.sent[0]["query"]
    assert query == {"watch": "true", "resourceVersion": "4", "allowWatchBookmarks": "true", "timeoutSeconds": "60"}


async def test_requests_beyond_the_burst_wait_on_the_clock(api: FakeApiClient) -> None:
    clock = FakeClock()
    client = KubeClient(api, clock=clock, qps=1, burst=2)
    tasks = [asyncio.create_task(client.get(PODS, f"p{i}", namespace="ns")) for i in range(4)]
    await settle()
    assert len(api.sent) == 2
    clock.step(1.0)
    await settle()
    assert len(api.sent) == 3
    clock.step(1.0)
    await settle()
    assert len(api.sent) == 4
    await asyncio.gather(*tasks)


async def test_a_namespaced_object_without_namespace_is_refused_before_sending(
    client: KubeClient, api: FakeApiClient
) -> None:
    with pytest.raises(ValueError, match="namespace"):
        await client.get(PODS, "p")
    assert api.sent == []


def test_the_environment_proxy_is_read_once_when_the_client_is_built_and_never_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    configuration = k8s.Configuration(host="https://10.96.0.1:443")
    _environment_read_once(configuration)
    assert configuration.proxy == "http://proxy.example:3128"
    assert configuration.proxy_headers == {"Proxy-Authorization": "Basic dXNlcjpzZWNyZXQ="}
    assert configuration.client_session_kwargs == {"trust_env": False}
    monkeypatch.setenv("NO_PROXY", "10.96.0.1")
    bypassed = k8s.Configuration(host="https://10.96.0.1:443")
    assert _environment_read_once(bypassed).proxy is None
    named = k8s.Configuration(host="https://10.96.0.1:443")
    named.proxy = "http://from-kubeconfig:1"
    assert _environment_read_once(named).proxy == "http://from-kubeconfig:1"


class _GatedApiClient(FakeApiClient):
    """Closes the gate while serializing: the last await before sending, where a lost lease can slip in."""

    def __init__(self, gate: list[bool]) -> None:
        super().__init__()
        self.gate = gate

    async def param_serialize(self, **kwargs: Any) -> Any:
        serialized = await super().param_serialize(**kwargs)
        if kwargs["method"] != "GET":
            self.gate[0] = False
        return serialized


async def test_the_write_gate_is_asked_last_before_each_write_and_a_closed_gate_sends_nothing() -> None:
    gate = [True]
    api = _GatedApiClient(gate)
    calls: list[tuple[str, str, int]] = []
    client = KubeClient(api, clock=FakeClock(), on_request=lambda *call: calls.append(call), write_gate=lambda: gate[0])
    body = {"metadata": {"name": "p", "namespace": "ns"}}
    writes = [
        lambda: client.create(PODS, body),
        lambda: client.replace(PODS, "p", body, namespace="ns"),
        lambda: client.replace_status(RAY_SERVICES, "s", body, namespace="ns"),
        lambda: client.patch(PODS, "p", {"metadata": {}}, namespace="ns"),
        lambda: client.patch_status(RAY_SERVICES, "s", {"status": {}}, namespace="ns"),
        lambda: client.delete(PODS, "p", namespace="ns"),
    ]
    for write in writes:
        gate[0] = True  # open when the write starts, closed by the time it would be sent
        with pytest.raises(NotLeader) as caught:
            await write()
        assert isinstance(caught.value, KubeError)
    assert api.sent == [] and calls == []
    gate[0] = False
    await client.get(PODS, "p", namespace="ns")  # reads are never gated
    await client.list(PODS, namespace="ns")
    assert [sent["method"] for sent in api.sent] == ["GET", "GET"]


async def test_an_open_write_gate_lets_writes_through(api: FakeApiClient) -> None:
    client = KubeClient(api, clock=FakeClock(), write_gate=lambda: True)
    await client.create(PODS, {"metadata": {"name": "p", "namespace": "ns"}})
    await client.delete(PODS, "p", namespace="ns")
    assert [sent["method"] for sent in api.sent] == ["POST", "DELETE"]
