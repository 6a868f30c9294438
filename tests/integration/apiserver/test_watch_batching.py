"""Watch events written in batches (watch.py guarantee 6): what a burst of writes looks like on the wire.

Each write of a watch response is one HTTP chunk (the stream is chunked), so the chunks a client reads show how
the server grouped the events: a burst queued before the watcher wakes is one chunk, in order, nothing lost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.http.watch import MAX_BATCH

NS = "default"
CMS = f"/api/v1/namespaces/{NS}/configmaps"
BURST = {"burst": "yes"}  # the test's objects, apart from the namespace's kube-root-ca.crt


@pytest.fixture
async def http(apiserver: LocalApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=apiserver.url) as session:
        yield session


def create_burst(server: LocalApiServer, names: list[str]) -> None:
    """Create ConfigMaps through the storage layer in one synchronous step: no watcher runs in between."""
    rt = server.registry.lookup("", "v1", "configmaps")
    assert rt is not None
    for name in names:
        server.api.create(rt, NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": name, "labels": BURST}})


async def read_chunks(r: aiohttp.ClientResponse, events: int) -> list[list[dict[str, Any]]]:
    """The events of each HTTP chunk until `events` arrived."""
    chunks: list[list[dict[str, Any]]] = []
    pending = b""
    got = 0
    async with asyncio.timeout(10):
        while got < events:
            data, end_of_chunk = await r.content.readchunk()
            assert data or end_of_chunk, "the stream ended early"
            pending += data
            if end_of_chunk and pending:
                assert pending.endswith(b"\n"), "a chunk ends between events"
                batch = [json.loads(line) for line in pending.splitlines()]
                chunks.append(batch)
                got += len(batch)
                pending = b""
    return chunks


async def open_watch(http: aiohttp.ClientSession) -> aiohttp.ClientResponse:
    """A watch from the current resourceVersion; the server subscribes before it sends the headers, so once
    this returns every later write reaches the watcher."""
    async with http.get(CMS) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    return await http.get(CMS, params={"watch": "true", "resourceVersion": rv})


async def test_a_burst_of_writes_reaches_a_watcher_as_one_write_in_order(
        apiserver: LocalApiServer, http: aiohttp.ClientSession) -> None:
    r = await open_watch(http)
    try:
        names = [f"cm-{i:03d}" for i in range(50)]
        create_burst(apiserver, names)
        chunks = await read_chunks(r, len(names))
    finally:
        r.close()
    assert len(chunks) == 1
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in chunks[0]] == [("ADDED", n) for n in names]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in chunks[0]]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)


async def test_a_burst_larger_than_a_batch_is_split_without_losing_or_reordering_events(
        apiserver: LocalApiServer, http: aiohttp.ClientSession) -> None:
    r = await open_watch(http)
    try:
        names = [f"cm-{i:04d}" for i in range(MAX_BATCH + 44)]
        create_burst(apiserver, names)
        chunks = await read_chunks(r, len(names))
    finally:
        r.close()
    assert [len(c) for c in chunks] == [MAX_BATCH, 44]
    assert [e["object"]["metadata"]["name"] for c in chunks for e in c] == names


async def test_initial_events_arrive_in_batches_of_at_most_max_batch(
        apiserver: LocalApiServer, http: aiohttp.ClientSession) -> None:
    names = [f"cm-{i:04d}" for i in range(MAX_BATCH + 3)]
    create_burst(apiserver, names)
    async with http.get(CMS, params={"watch": "true", "labelSelector": "burst=yes"}) as r:
        chunks = await read_chunks(r, len(names))
    assert [len(c) for c in chunks] == [MAX_BATCH, 3]
    assert [e["object"]["metadata"]["name"] for c in chunks for e in c] == names


async def test_events_queued_before_a_dropped_watch_ends_are_still_delivered(
        apiserver: LocalApiServer, http: aiohttp.ClientSession) -> None:
    r = await open_watch(http)
    try:
        create_burst(apiserver, ["a", "b", "c"])
        apiserver.store.drop_watches()
        async with asyncio.timeout(10):
            lines = [json.loads(line) async for line in r.content]
    finally:
        r.close()
    assert [e["object"]["metadata"]["name"] for e in lines] == ["a", "b", "c"]
