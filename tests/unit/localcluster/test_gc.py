"""The garbage collector against the in-memory API, following kube's propagation policies as recorded in S05."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers.gc import GarbageCollector
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store
from rayservice.testing import settle

Obj = dict[str, Any]
NS = "s05"
CM = ("", "configmaps")


@dataclass
class Cluster:
    api: Api
    gc: GarbageCollector

    @property
    def configmaps(self) -> ResourceType:
        found = self.api.registry.lookup("", "v1", "configmaps")
        assert found is not None
        return found

    def cm(self, name: str, *owners: Obj, block: bool = True, finalizers: list[str] | None = None,
           owner_kind: str = "ConfigMap", namespace: str = NS) -> Obj:
        m: Obj = {"name": name}
        if owners:
            m["ownerReferences"] = [ref(o, block=block, kind=owner_kind, controller=i == 0)
                                    for i, o in enumerate(owners)]
        if finalizers:
            m["finalizers"] = finalizers
        return self.api.create(self.configmaps, namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m,
                                                            "data": {"k": "v"}}).obj

    def get(self, name: str, namespace: str = NS) -> Obj | None:
        return self.api.store.get(CM, namespace, name)

    def delete(self, name: str, policy: str | None = None) -> Obj:
        options = {} if policy is None else {"propagationPolicy": policy}
        body, _ = self.api.delete(self.configmaps, NS, name, options)
        return body

    def release(self, name: str) -> None:
        """Remove a test finalizer, as the controller that set it would."""
        obj = self.get(name)
        assert obj is not None
        self.api.patch(self.configmaps, NS, name, "application/merge-patch+json", {"metadata": {"finalizers": None}})

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
        """Wait until `condition` holds, re-checking after every store write."""
        sub = self.api.store.subscribe(None)
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    assert await sub.queue.get() is not None
        finally:
            self.api.store.unsubscribe(sub)

    async def gone(self, name: str) -> None:
        await self.wait_for(lambda: self.get(name) is None)

    async def barrier(self) -> None:
        """Return once the collector has handled every earlier event: it collected a sentinel child."""
        owner = self.cm(f"sentinel-{self.api.store.current_rv}")
        child = self.cm(f"{owner['metadata']['name']}-child", owner)
        self.delete(owner["metadata"]["name"])
        await self.gone(child["metadata"]["name"])


def ref(owner: Obj, *, block: bool = True, kind: str = "ConfigMap", api_version: str = "v1",
        controller: bool = True) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


def make_api() -> Api:
    api = Api(Store(), Registry(), builtin_hooks())
    namespaces = api.registry.lookup("", "v1", "namespaces")
    assert namespaces is not None
    api.create(namespaces, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return api


@contextlib.asynccontextmanager
async def running(api: Api) -> AsyncIterator[Cluster]:
    gc = GarbageCollector(api)
    task = asyncio.create_task(gc.run(), name="test-gc")
    try:
        yield Cluster(api, gc)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with running(make_api()) as c:
        yield c


class TestBackground:
    async def test_children_go_once_their_owner_is_deleted(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner-bg")
        cluster.cm("child-bg", owner)
        assert cluster.delete("owner-bg", "Background")["status"] == "Success"
        await cluster.gone("child-bg")

    async def test_a_child_with_a_live_owner_is_kept(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        cluster.cm("child", owner)
        await cluster.barrier()
        assert cluster.get("child") is not None

    async def test_a_child_with_one_live_owner_loses_only_the_reference_to_the_deleted_one(
            self, cluster: Cluster) -> None:
        alive, doomed = cluster.cm("alive"), cluster.cm("doomed")
        cluster.cm("child", alive, doomed)
        cluster.delete("doomed")
        await cluster.wait_for(lambda: len((cluster.get("child") or {})["metadata"]["ownerReferences"]) == 1)
        child = cluster.get("child")
        assert child is not None
        assert [r["uid"] for r in child["metadata"]["ownerReferences"]] == [alive["metadata"]["uid"]]

    async def test_a_child_whose_owner_never_existed_is_deleted(self, cluster: Cluster) -> None:
        ghost = {"metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000001"}}
        cluster.cm("orphaned", ghost)
        await cluster.gone("orphaned")

    async def test_owners_are_matched_by_uid_not_by_name(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        cluster.cm("child", owner)
        cluster.gc.pause()
        cluster.delete("owner")
        cluster.cm("owner")  # same name, new uid
        cluster.gc.resume()
        await cluster.gone("child")

    async def test_a_child_with_a_finalizer_is_deleted_gracefully(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        cluster.cm("child", owner, finalizers=["example.com/hold"])
        cluster.delete("owner")
        await cluster.wait_for(lambda: bool((cluster.get("child") or {})["metadata"].get("deletionTimestamp")))
        cluster.release("child")
        await cluster.gone("child")

    async def test_cluster_scoped_owners_collect_namespaced_children(self, cluster: Cluster) -> None:
        nodes = cluster.api.registry.lookup("", "v1", "nodes")
        assert nodes is not None
        node = cluster.api.create(nodes, "", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}).obj
        cluster.cm("child", node, owner_kind="Node")
        await cluster.barrier()
        assert cluster.get("child") is not None
        cluster.api.delete(nodes, "", "n1", {})
        await cluster.gone("child")

    async def test_an_owner_of_a_kind_that_is_not_served_keeps_its_children(self, cluster: Cluster) -> None:
        widget = {"metadata": {"name": "w1", "uid": "00000000-0000-0000-0000-000000000002"}}
        cluster.cm("child")
        cluster.api.patch(cluster.configmaps, NS, "child", "application/merge-patch+json", {"metadata": {
            "ownerReferences": [ref(widget, kind="Widget", api_version="example.com/v1")]}})
        await cluster.barrier()
        assert cluster.get("child") is not None


class TestForeground:
    async def test_owner_waits_for_a_blocking_child_held_by_a_finalizer(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner-fg")
        cluster.cm("child-fg", owner, finalizers=["example.com/hold"])
        answer = cluster.delete("owner-fg", "Foreground")
        assert answer["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert answer["metadata"]["deletionTimestamp"]
        await cluster.wait_for(lambda: bool((cluster.get("child-fg") or {})["metadata"].get("deletionTimestamp")))
        child = cluster.get("child-fg")
        assert child is not None and child["metadata"]["finalizers"] == ["example.com/hold"]
        await cluster.barrier()
        assert cluster.get("owner-fg") is not None
        cluster.release("child-fg")
        await cluster.gone("owner-fg")

    async def test_owner_goes_right_after_its_plain_children(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner-fg2")
        cluster.cm("child-fg2", owner)
        cluster.delete("owner-fg2", "Foreground")
        await cluster.gone("owner-fg2")
        assert cluster.get("child-fg2") is None

    async def test_a_child_that_does_not_block_does_not_hold_the_owner(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        cluster.cm("child", owner, block=False, finalizers=["example.com/hold"])
        cluster.delete("owner", "Foreground")
        await cluster.gone("owner")
        child = cluster.get("child")
        assert child is not None and child["metadata"].get("deletionTimestamp")

    async def test_a_child_with_children_of_its_own_is_deleted_in_foreground_too(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        child = cluster.cm("child", owner)
        cluster.cm("grandchild", child, finalizers=["example.com/hold"])
        cluster.delete("owner", "Foreground")
        await cluster.wait_for(lambda: "foregroundDeletion" in ((cluster.get("child") or {})["metadata"]
                                                                .get("finalizers") or []))
        await cluster.barrier()
        assert cluster.get("owner") is not None
        cluster.release("grandchild")
        await cluster.gone("owner")
        assert cluster.get("child") is None


class TestOrphan:
    async def test_children_lose_the_reference_and_stay(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner-or")
        cluster.cm("child-or", owner)
        answer = cluster.delete("owner-or", "Orphan")
        assert answer["metadata"]["finalizers"] == ["orphan"]
        await cluster.gone("owner-or")
        child = cluster.get("child-or")
        assert child is not None and "ownerReferences" not in child["metadata"]

    async def test_other_owner_references_are_kept(self, cluster: Cluster) -> None:
        owner, other = cluster.cm("owner"), cluster.cm("other")
        cluster.cm("child", owner, other)
        cluster.delete("owner", "Orphan")
        await cluster.gone("owner")
        child = cluster.get("child")
        assert child is not None
        assert [r["name"] for r in child["metadata"]["ownerReferences"]] == ["other"]


class TestIndexAndControl:
    async def test_dependents_are_indexed_by_owner_uid_from_store_events(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        cluster.cm("a", owner)
        cluster.cm("b", owner)
        await cluster.barrier()
        uid = owner["metadata"]["uid"]
        assert cluster.gc.dependents_of(uid) == {(CM, NS, "a"), (CM, NS, "b")}
        cluster.api.delete(cluster.configmaps, NS, "a", {})
        await cluster.barrier()
        assert cluster.gc.dependents_of(uid) == {(CM, NS, "b")}

    async def test_the_collector_never_lists_the_store_once_started(self, monkeypatch: pytest.MonkeyPatch) -> None:
        api = make_api()
        async with running(api) as cluster:
            await settle()

            def no_scans(*_: object, **__: object) -> list[Obj]:
                raise AssertionError("the garbage collector scanned the store")

            monkeypatch.setattr(api.store, "list", no_scans)
            owner = cluster.cm("owner")
            cluster.cm("child", owner)
            cluster.delete("owner")
            await cluster.gone("child")

    async def test_a_paused_collector_writes_nothing_and_catches_up_on_resume(self, cluster: Cluster) -> None:
        owner = cluster.cm("owner")
        cluster.cm("child", owner)
        cluster.gc.pause()
        writes = cluster.api.store.write_count
        cluster.delete("owner")
        await settle()
        assert cluster.gc.paused and cluster.get("child") is not None
        assert cluster.api.store.write_count == writes + 1
        cluster.gc.resume()
        await cluster.gone("child")

    async def test_garbage_left_before_the_collector_started_is_collected(self) -> None:
        api = make_api()
        configmaps = api.registry.lookup("", "v1", "configmaps")
        assert configmaps is not None
        owner = api.create(configmaps, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}}).obj
        api.create(configmaps, NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "c", "ownerReferences": [ref(owner)]}})
        api.delete(configmaps, NS, "o", {})
        async with running(api) as cluster:
            await cluster.gone("c")
