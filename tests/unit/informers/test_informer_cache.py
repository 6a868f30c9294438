"""The informer: cache convergence, handler delivery and relist diffs (rayservice.informers.informer)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from rayservice.api import ObjectKey
from rayservice.informers import NAMESPACE_INDEX, OWNER_UID_INDEX, EventHandlers, Informer
from rayservice.testing import FakeClock, settle
from tests.unit.informers.informer_fakes import PODS, FakeSource, Recorder, running


def _informer(source: FakeSource) -> tuple[Informer, Recorder]:
    informer = Informer(source, PODS, clock=FakeClock())
    recorder = Recorder(informer)
    informer.add_handlers(recorder.handlers())
    return informer, recorder


def _expire_watch(source: FakeSource) -> None:
    source.send({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "x"}})


async def test_the_initial_sync_fills_the_cache_and_then_reports_synced() -> None:
    source = FakeSource()
    source.put("a")
    source.put("b", namespace="other")
    informer, recorder = _informer(source)
    assert not informer.has_synced
    async with running(informer):
        async with asyncio.timeout(1):
            await informer.wait_synced()
        assert informer.has_synced
        assert informer.keys() == [ObjectKey("ns", "a"), ObjectKey("other", "b")]
        assert informer.get(ObjectKey("ns", "a")) == source.objects[("ns", "a")]
        assert informer.get(ObjectKey("ns", "missing")) is None
    assert recorder.calls == [("add", "a@101"), ("add", "b@102")]


async def test_handlers_see_live_adds_updates_and_deletes() -> None:
    source = FakeSource()
    informer, recorder = _informer(source)
    async with running(informer):
        await settle()
        source.put("a")
        source.put("a", spec={"v": 2})
        source.remove("a")
        await settle()
        assert len(informer) == 0
    assert recorder.calls == [("add", "a@101"), ("update", "a@101", "a@102"), ("delete", "a@103")]


async def test_handlers_run_after_the_cache_reflects_the_change() -> None:
    source = FakeSource()
    source.put("a")
    source.put("b")
    informer, recorder = _informer(source)
    async with running(informer):
        await settle()
        source.put("c")
        source.remove("a")
        await settle()
    # both listed objects were cached before the first add ran; then 3 after c's add, 2 after a's delete
    assert recorder.cache_sizes == [2, 2, 3, 2]


async def test_an_update_whose_resource_version_did_not_change_is_not_delivered() -> None:
    source = FakeSource()
    obj = source.put("a")
    informer, recorder = _informer(source)
    async with running(informer):
        await settle()
        source.send({"type": "MODIFIED", "object": obj})
        source.send({"type": "ADDED", "object": obj})
        await settle()
    assert recorder.calls == [("add", "a@101")]


async def test_a_delete_carries_the_last_known_object() -> None:
    source = FakeSource()
    source.put("a", spec={"v": 1})
    informer = Informer(source, PODS, clock=FakeClock())
    deleted: list[Mapping[str, Any]] = []
    informer.add_handlers(EventHandlers(on_delete=deleted.append))
    async with running(informer):
        await settle()
        source.remove("a")
        await settle()
    assert deleted[0]["spec"] == {"v": 1}


async def test_a_delete_of_an_object_never_cached_is_not_delivered() -> None:
    source = FakeSource()
    informer, recorder = _informer(source)
    async with running(informer):
        await settle()
        source.send(
            {"type": "DELETED", "object": {"metadata": {"name": "x", "namespace": "ns", "resourceVersion": "5"}}}
        )
        await settle()
    assert recorder.calls == []


async def test_a_relist_emits_adds_updates_and_deletes_for_what_changed_unseen() -> None:
    source = FakeSource()
    source.put("keep")
    source.put("change")
    source.put("drop")
    informer, recorder = _informer(source)
    async with running(informer):
        await settle()
        recorder.calls.clear()
        source.put_silently("change", spec={"v": 2})
        source.remove_silently("drop")
        source.put_silently("new")
        _expire_watch(source)
        await settle()
        assert informer.keys() == [ObjectKey("ns", "change"), ObjectKey("ns", "keep"), ObjectKey("ns", "new")]
    assert recorder.calls == [("add", "new@106"), ("update", "change@102", "change@104"), ("delete", "drop@103")]


async def test_handlers_added_after_sync_first_get_an_add_for_every_cached_object() -> None:
    source = FakeSource()
    source.put("a")
    informer = Informer(source, PODS, clock=FakeClock())
    async with running(informer):
        await informer.wait_synced()
        late = Recorder()
        informer.add_handlers(late.handlers())
        assert late.calls == [("add", "a@101")]
        source.put("b")
        await settle()
    assert late.calls == [("add", "a@101"), ("add", "b@102")]


def test_coroutine_handlers_are_refused() -> None:
    async def on_add(obj: Mapping[str, Any]) -> None:
        del obj

    informer = Informer(FakeSource(), PODS, clock=FakeClock())
    with pytest.raises(TypeError, match="coroutine"):
        informer.add_handlers(EventHandlers(on_add=on_add))  # type: ignore[arg-type]


async def test_an_exception_from_a_handler_ends_run_with_it() -> None:
    source = FakeSource()
    source.put("a")
    informer = Informer(source, PODS, clock=FakeClock())

    def on_add(obj: Mapping[str, Any]) -> None:
        raise RuntimeError("handler bug")

    informer.add_handlers(EventHandlers(on_add=on_add))
    with pytest.raises(RuntimeError, match="handler bug"):
        await informer.run()


async def test_indexes_follow_the_cache_through_updates_and_deletes() -> None:
    source = FakeSource()
    owner_a = {"ownerReferences": [{"uid": "uid-a", "kind": "RayCluster", "name": "a", "controller": True}]}
    owner_b = {"ownerReferences": [{"uid": "uid-b", "kind": "RayCluster", "name": "b", "controller": True}]}
    source.put("p1", metadata=owner_a)
    source.put("p2", namespace="other", metadata=owner_a)
    informer = Informer(source, PODS, clock=FakeClock())
    async with running(informer):
        await settle()
        assert [o["metadata"]["name"] for o in informer.by_index(OWNER_UID_INDEX, "uid-a")] == ["p1", "p2"]
        assert [o["metadata"]["name"] for o in informer.by_index(NAMESPACE_INDEX, "other")] == ["p2"]
        source.put("p1", metadata=owner_b)
        source.remove("p2", namespace="other")
        await settle()
        assert informer.by_index(OWNER_UID_INDEX, "uid-a") == []
        assert [o["metadata"]["name"] for o in informer.by_index(OWNER_UID_INDEX, "uid-b")] == ["p1"]
        assert informer.by_index(NAMESPACE_INDEX, "other") == []


async def test_cancelling_run_stops_the_informer_and_closes_its_watch() -> None:
    source = FakeSource()
    informer = Informer(source, PODS, clock=FakeClock())
    async with running(informer) as task:
        await settle()
        assert len(source.streams) == 1
    assert task.cancelled()
    assert source.streams == []


async def test_the_last_resource_version_follows_events_and_bookmarks() -> None:
    source = FakeSource()
    informer = Informer(source, PODS, clock=FakeClock())
    async with running(informer):
        await settle()
        assert informer.last_resource_version == "100"
        source.put("a")
        source.bookmark()
        await settle()
        assert informer.last_resource_version == "102"


async def test_with_a_transform_the_cache_handlers_and_deletes_hold_only_transformed_objects() -> None:
    def slim(obj: Mapping[str, Any]) -> Mapping[str, Any]:
        return {key: value for key, value in obj.items() if key != "spec"}

    seen: list[Mapping[str, Any]] = []
    source = FakeSource()
    source.put("a", spec={"containers": [{"name": "big"}]}, metadata={"managedFields": [{"manager": "x"}]})
    informer = Informer(source, PODS, clock=FakeClock(), transform=slim)
    informer.add_handlers(
        EventHandlers(on_add=seen.append, on_update=lambda old, new: seen.extend((old, new)), on_delete=seen.append)
    )
    async with running(informer):
        async with asyncio.timeout(1):
            await informer.wait_synced()
        source.put("b", spec={"containers": []})
        source.put("b", spec={"containers": [{"name": "more"}]})
        source.remove("a")
        await settle()
        cached = informer.get(ObjectKey("ns", "b"))
        assert cached is not None and "spec" not in cached
    assert len(seen) == 5  # add a, add b, update b (old and new), delete a
    assert all("spec" not in obj and "managedFields" not in obj["metadata"] for obj in seen)
    assert "spec" in source.objects[("ns", "b")]  # the source's object is untouched
