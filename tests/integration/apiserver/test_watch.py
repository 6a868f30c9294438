"""Watch semantics (DESIGN §6 item 9) through HTTP and the kubernetes.aio watch helper."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kubernetes.aio import client, watch

from e2e.localcluster.apiserver import LocalApiServer

from .conftest import widget

NS = "default"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def http(apiserver: LocalApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=apiserver.url) as session:
        yield session


CMS = f"/api/v1/namespaces/{NS}/configmaps"


async def events(
    http: aiohttp.ClientSession, params: dict[str, str], n: int | None = None, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """Read watch events until the server closes the stream, or until n arrived."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s), http.get(CMS, params={"watch": "true", **params}) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/json"
        async for line in r.content:
            out.append(json.loads(line))
            if n is not None and len(out) >= n:
                break
    return out


async def make(http: aiohttp.ClientSession, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    async with http.post(CMS, json={"metadata": {"name": name, "labels": labels or {}}}) as r:
        assert r.status == 201
        body: dict[str, Any] = await r.json()
        return body


async def patch(http: aiohttp.ClientSession, name: str, body: dict[str, Any]) -> None:
    async with http.patch(f"{CMS}/{name}", data=json.dumps(body), headers=MERGE) as r:
        assert r.status == 200


async def test_watch_from_a_resource_version_sends_only_newer_events(http: aiohttp.ClientSession) -> None:
    await make(http, "old")
    async with http.get(CMS) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    await make(http, "new")
    await patch(http, "new", {"data": {"k": "v"}})
    async with http.delete(f"{CMS}/new") as r:
        assert r.status == 200
    got = await events(http, {"resourceVersion": rv}, n=3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "new"),
        ("MODIFIED", "new"),
        ("DELETED", "new"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in got]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


async def test_watch_without_resource_version_starts_with_synthetic_added(http: aiohttp.ClientSession) -> None:
    await make(http, "b")
    await make(http, "a")
    got = await events(http, {"timeoutSeconds": "1"})
    names = [e["object"]["metadata"]["name"] for e in got if e["type"] == "ADDED"]
    assert names == sorted(names) and {"a", "b"} <= set(names)


async def test_too_old_resource_version_is_200_then_one_410_error_event(http: aiohttp.ClientSession) -> None:
    got = await events(http, {"resourceVersion": "1", "timeoutSeconds": "5"})
    assert len(got) == 1 and got[0]["type"] == "ERROR"
    assert got[0]["object"]["code"] == 410 and got[0]["object"]["reason"] == "Expired"


async def test_history_is_bounded_and_compacted_versions_expire(
    apiserver: LocalApiServer, http: aiohttp.ClientSession
) -> None:
    apiserver.store._history_size = 5  # a small window for this test
    first = await make(http, "x0")
    for i in range(1, 8):
        await make(http, f"x{i}")
    got = await events(http, {"resourceVersion": first["metadata"]["resourceVersion"], "timeoutSeconds": "5"})
    assert got[0]["type"] == "ERROR" and got[0]["object"]["code"] == 410


async def test_bookmarks_carry_the_current_resource_version(
    apiserver: LocalApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(CMS) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    got = await events(http, {"resourceVersion": rv, "allowWatchBookmarks": "true"}, n=1)
    assert got[0]["type"] == "BOOKMARK"
    assert int(got[0]["object"]["metadata"]["resourceVersion"]) == apiserver.store.current_rv


async def test_timeout_seconds_ends_the_stream(http: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await events(http, {"timeoutSeconds": "1"})
    assert 0.9 <= loop.time() - t0 < 5


async def test_objects_leaving_and_entering_a_selector_become_deleted_and_added(http: aiohttp.ClientSession) -> None:
    await make(http, "f", {"flip": "in"})
    async with http.get(CMS) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    await patch(http, "f", {"metadata": {"labels": {"flip": "out"}}})
    await patch(http, "f", {"data": {"while": "out"}})
    await patch(http, "f", {"metadata": {"labels": {"flip": "in"}}})
    got = await events(http, {"resourceVersion": rv, "labelSelector": "flip=in"}, n=2)
    assert [e["type"] for e in got] == ["DELETED", "ADDED"]
    assert got[0]["object"]["metadata"]["labels"] == {"flip": "in"}  # the last state that matched


async def test_initial_events_end_with_a_bookmark(http: aiohttp.ClientSession) -> None:
    await make(http, "i")
    got = await events(
        http,
        {
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "1",
        },
    )
    marks = [e for e in got if e["type"] == "BOOKMARK"]
    assert marks and marks[0]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_dropped_watches_end_and_a_forced_410_is_served(
    apiserver: LocalApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(CMS) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    async with asyncio.timeout(10), http.get(CMS, params={"watch": "true", "resourceVersion": rv}) as r:
        assert r.status == 200  # headers arrive once the watch is registered
        assert apiserver.store.drop_watches() >= 1
        assert [line async for line in r.content] == []
    apiserver.faults.expire_next_watches = 1
    got = await events(http, {"resourceVersion": rv})
    assert got[0]["type"] == "ERROR" and got[0]["object"]["code"] == 410


async def test_kubernetes_client_watch_streams_custom_objects(widgets: client.CustomObjectsApi) -> None:
    await widgets.create_namespaced_custom_object("example.com", "v1", NS, "widgets", widget("w1"))
    w = watch.Watch()
    seen = []
    async with asyncio.timeout(10):
        async for ev in w.stream(
            widgets.list_namespaced_custom_object, "example.com", "v1", NS, "widgets", timeout_seconds=1
        ):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
    await w.close()
    assert ("ADDED", "w1") in seen
