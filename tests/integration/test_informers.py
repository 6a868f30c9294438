"""Informers against the embedded API server: sync, live changes, dropped watches, 410 Gone, bookmarks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.api import ObjectKey
from rayservice.informers import EventHandlers, Informer, ListerWatcher, enqueue_by_label
from rayservice.kube import CONFIG_MAPS, KubeClient, ObjectList, Resource
from tests.wakeup import Signal

SECRETS = Resource("", "v1", "secrets", kind="Secret")
DEADLINE_S = 10.0
SUITE = "suite=informers"  # the server adds its own ConfigMaps (kube-root-ca.crt): follow only ours


class ObservedClient:
    """The real client as a ListerWatcher, signalling every event it passes on (bookmarks too)."""

    def __init__(self, client: KubeClient, signal: Signal) -> None:
        self._client = client
        self._signal = signal
        self.streams_with_events = 0

    async def watching(self) -> None:
        """Return once the current watch stream has delivered an event (a bookmark, at the latest)."""
        seen = self.streams_with_events
        await self._signal.until(lambda: self.streams_with_events > seen)

    async def list(self, resource: Resource, **kwargs: Any) -> ObjectList:
        return await self._client.list(resource, **kwargs)

    async def watch(self, resource: Resource, **kwargs: Any) -> AsyncGenerator[dict[str, Any], None]:
        first = True
        async with contextlib.aclosing(self._client.watch(resource, **kwargs)) as stream:
            async for event in stream:
                yield event
                if first:
                    self.streams_with_events += 1
                    first = False
                self._signal.notify()  # after the reflector handled the event


class Changes:
    """Handler calls as (kind, name, resourceVersion of the newest object)."""

    def __init__(self, signal: Signal) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._signal = signal

    def handlers(self) -> EventHandlers:
        return EventHandlers(
            on_add=lambda obj: self._record("add", obj),
            on_update=lambda old, new: self._record("update", new),
            on_delete=lambda obj: self._record("delete", obj),
        )

    def _record(self, kind: str, obj: Mapping[str, Any]) -> None:
        self.calls.append((kind, obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
        self._signal.notify()


def _cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "labels": labels or {"suite": "informers"}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


@pytest.fixture
async def client(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    async with await KubeClient.from_kubeconfig(kubeconfig) as kube:
        yield kube


@pytest.fixture
def signal() -> Signal:
    return Signal()


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[None]:
    task = asyncio.create_task(informer.run(), name=f"informer-{informer.resource}")
    try:
        async with asyncio.timeout(DEADLINE_S):
            await informer.wait_synced()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _server_state(apiserver: LocalApiServer) -> dict[ObjectKey, str]:
    """What the server stores, read without a request (so the request log counts only the informer's)."""
    stored = [o for o in apiserver.store.list(("", "configmaps"), "default") if _ours(o)]
    return {ObjectKey("default", o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in stored}


def _ours(obj: Mapping[str, Any]) -> bool:
    return bool((obj["metadata"].get("labels") or {}).get("suite") == "informers")


def _cache_state(informer: Informer) -> dict[ObjectKey, str]:
    return {ObjectKey("default", o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in informer.list()}


def _verbs(apiserver: LocalApiServer, verb: str) -> int:
    return sum(1 for r in apiserver.faults.log if r.verb == verb and r.resource == "configmaps")


async def test_the_initial_sync_caches_every_existing_object(
    client: KubeClient, signal: Signal, apiserver: LocalApiServer
) -> None:
    for name in ("a", "b", "c"):
        await client.create(CONFIG_MAPS, _cm(name))
    source: ListerWatcher = client  # the real client is what informers run on
    informer = Informer(source, CONFIG_MAPS, namespace="default", label_selector=SUITE)
    changes = Changes(signal)
    informer.add_handlers(changes.handlers())
    async with running(informer):
        assert informer.has_synced
        assert _cache_state(informer) == _server_state(apiserver)
    assert [(kind, name) for kind, name, _ in changes.calls] == [("add", "a"), ("add", "b"), ("add", "c")]


async def test_live_adds_updates_and_deletes_reach_the_cache_and_the_handlers(
    client: KubeClient, signal: Signal
) -> None:
    informer = Informer(ObservedClient(client, signal), CONFIG_MAPS, namespace="default", label_selector=SUITE)
    changes = Changes(signal)
    informer.add_handlers(changes.handlers())
    async with running(informer):
        created = await client.create(CONFIG_MAPS, _cm("a", v="1"))
        updated = await client.patch(CONFIG_MAPS, "a", {"data": {"v": "2"}}, namespace="default")
        await client.delete(CONFIG_MAPS, "a", namespace="default")
        await signal.until(lambda: len(changes.calls) == 3)
        assert informer.get(ObjectKey("default", "a")) is None
    assert [c[:2] for c in changes.calls] == [("add", "a"), ("update", "a"), ("delete", "a")]
    assert changes.calls[0][2] == created["metadata"]["resourceVersion"]
    assert changes.calls[1][2] == updated["metadata"]["resourceVersion"]


async def test_after_a_dropped_watch_the_informer_resumes_and_misses_nothing(
    client: KubeClient, signal: Signal, apiserver: LocalApiServer
) -> None:
    await client.create(CONFIG_MAPS, _cm("keep"))
    await client.create(CONFIG_MAPS, _cm("drop"))
    observed = ObservedClient(client, signal)
    informer = Informer(observed, CONFIG_MAPS, namespace="default", label_selector=SUITE)
    changes = Changes(signal)
    informer.add_handlers(changes.handlers())
    async with running(informer):
        await observed.watching()
        changes.calls.clear()
        assert apiserver.store.drop_watches() == 1
        updated = await client.patch(CONFIG_MAPS, "keep", {"data": {"v": "2"}}, namespace="default")
        await client.delete(CONFIG_MAPS, "drop", namespace="default")
        added = await client.create(CONFIG_MAPS, _cm("new"))
        server = _server_state(apiserver)
        await signal.until(lambda: _cache_state(informer) == server)
    assert changes.calls[0] == ("update", "keep", updated["metadata"]["resourceVersion"])
    assert changes.calls[1][:2] == ("delete", "drop")
    assert changes.calls[2] == ("add", "new", added["metadata"]["resourceVersion"])
    assert _verbs(apiserver, "list") == 1  # resumed from the last resourceVersion, no relist


async def test_after_a_forced_410_the_informer_relists_and_handlers_see_every_change(
    client: KubeClient, signal: Signal, apiserver: LocalApiServer
) -> None:
    await client.create(CONFIG_MAPS, _cm("keep"))
    await client.create(CONFIG_MAPS, _cm("drop"))
    observed = ObservedClient(client, signal)
    informer = Informer(observed, CONFIG_MAPS, namespace="default", label_selector=SUITE)
    changes = Changes(signal)
    informer.add_handlers(changes.handlers())
    async with running(informer):
        await observed.watching()
        changes.calls.clear()
        apiserver.faults.expire_next_watches += 1
        apiserver.store.drop_watches()
        updated = await client.patch(CONFIG_MAPS, "keep", {"data": {"v": "2"}}, namespace="default")
        await client.delete(CONFIG_MAPS, "drop", namespace="default")
        added = await client.create(CONFIG_MAPS, _cm("new"))
        server = _server_state(apiserver)
        await signal.until(lambda: _cache_state(informer) == server)
    assert _verbs(apiserver, "list") == 2  # the 410 made it list again
    assert sorted(c[:2] for c in changes.calls) == [("add", "new"), ("delete", "drop"), ("update", "keep")]
    assert ("update", "keep", updated["metadata"]["resourceVersion"]) in changes.calls
    assert ("add", "new", added["metadata"]["resourceVersion"]) in changes.calls
    assert apiserver.faults.expire_next_watches == 0


async def test_an_http_410_on_the_resumed_watch_also_leads_to_a_relist(
    client: KubeClient, signal: Signal, apiserver: LocalApiServer
) -> None:
    observed = ObservedClient(client, signal)
    informer = Informer(observed, CONFIG_MAPS, namespace="default", label_selector=SUITE)
    changes = Changes(signal)
    informer.add_handlers(changes.handlers())
    async with running(informer):
        await observed.watching()
        apiserver.faults.add(FaultRule(code=410, verb="watch", resource="configmaps"))
        apiserver.store.drop_watches()
        added = await client.create(CONFIG_MAPS, _cm("new"))
        await signal.until(lambda: _verbs(apiserver, "list") == 2 and len(informer) == 1)
        await observed.watching()
    assert changes.calls == [("add", "new", added["metadata"]["resourceVersion"])]
    assert 410 in [r.code for r in apiserver.faults.log if r.verb == "watch"]


async def test_bookmarks_advance_the_resume_point_while_no_object_changes(client: KubeClient, signal: Signal) -> None:
    informer = Informer(ObservedClient(client, signal), CONFIG_MAPS, namespace="default", label_selector=SUITE)
    changes = Changes(signal)
    informer.add_handlers(changes.handlers())
    async with running(informer):
        synced_rv = int(informer.last_resource_version)
        other = await client.create(SECRETS, {"metadata": {"name": "s", "namespace": "default"}})
        later = int(other["metadata"]["resourceVersion"])
        assert later > synced_rv
        await signal.until(lambda: int(informer.last_resource_version) >= later)
    assert changes.calls == []


async def test_a_label_filtered_informer_sees_only_matching_objects(client: KubeClient, signal: Signal) -> None:
    ray = {"ray.io/cluster": "c1"}
    await client.create(CONFIG_MAPS, _cm("ray", labels=ray))
    await client.create(CONFIG_MAPS, _cm("plain"))
    informer = Informer(
        ObservedClient(client, signal), CONFIG_MAPS, namespace="default", label_selector="ray.io/cluster"
    )
    enqueued: list[ObjectKey] = []
    changes = Changes(signal)
    informer.add_handlers(enqueue_by_label("ray.io/cluster").handlers(enqueued.append))
    informer.add_handlers(changes.handlers())
    async with running(informer):
        assert informer.keys() == [ObjectKey("default", "ray")]
        await client.patch(CONFIG_MAPS, "ray", {"metadata": {"labels": {"ray.io/cluster": None}}}, namespace="default")
        await signal.until(lambda: len(informer) == 0)
        await client.patch(CONFIG_MAPS, "plain", {"metadata": {"labels": ray}}, namespace="default")
        await signal.until(lambda: informer.keys() == [ObjectKey("default", "plain")])
    assert [c[:2] for c in changes.calls] == [("add", "ray"), ("delete", "ray"), ("add", "plain")]
    assert enqueued == [ObjectKey("default", "c1")] * 3
