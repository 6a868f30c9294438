"""The reflector: list, watch, resume, relist and back off (rayservice.informers.reflector)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import structlog

from rayservice.informers import Reflector
from rayservice.informers.reflector import backoff_delay_s
from rayservice.kube import Conflict, Gone, KubeTransportError, ServerError, TooManyRequests
from rayservice.testing import FakeClock, settle
from tests.unit.informers.informer_fakes import PODS, FakeSource


class ZeroRandom(random.Random):
    """No jitter: every delay is its base value, every watch timeout the minimum."""

    def random(self) -> float:
        return 0.0


class Sink:
    def __init__(self) -> None:
        self.lists: list[tuple[list[str], str]] = []
        self.events: list[tuple[str, str]] = []
        self.objects: list[Mapping[str, Any]] = []

    def on_list(self, objects: list[Mapping[str, Any]], rv: str) -> None:
        self.lists.append(([o["metadata"]["name"] for o in objects], rv))
        self.objects.extend(objects)

    def on_event(self, kind: str, obj: Mapping[str, Any]) -> None:
        self.events.append((kind, obj["metadata"]["name"]))
        self.objects.append(obj)


@contextlib.asynccontextmanager
async def reflecting(source: FakeSource, **kwargs: Any) -> AsyncIterator[tuple[Reflector, Sink, FakeClock]]:
    sink = Sink()
    clock = kwargs.pop("clock", FakeClock())
    reflector = Reflector(
        source,
        PODS,
        on_list=sink.on_list,
        on_event=sink.on_event,
        clock=clock,
        rng=kwargs.pop("rng", ZeroRandom()),
        **kwargs,
    )
    task = asyncio.create_task(reflector.run())
    await settle()
    try:
        yield reflector, sink, clock
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "code": code, "reason": reason, "message": reason}


async def test_the_first_delivery_is_the_complete_list_then_watch_events_in_order() -> None:
    source = FakeSource()
    source.put("a")
    source.put("b")
    async with reflecting(source) as (reflector, sink, _):
        source.put("c")
        source.put("a", spec={"x": 1})
        source.remove("b")
        await settle()
    assert sink.lists == [(["a", "b"], "102")]
    assert sink.events == [("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert reflector.last_resource_version == "105"


async def test_each_watch_asks_for_bookmarks_and_resumes_from_the_list_resource_version() -> None:
    source = FakeSource()
    source.put("a")
    async with reflecting(source):
        pass
    assert source.watch_calls[0]["resource_version"] == "101"
    assert source.watch_calls[0]["allow_watch_bookmarks"] is True


async def test_bookmarks_advance_the_resume_point_without_delivering_anything() -> None:
    source = FakeSource()
    async with reflecting(source) as (reflector, sink, _):
        source.bookmark()
        await settle()
        assert reflector.last_resource_version == "101"
        source.end_streams()
        await settle()
    assert sink.events == []
    assert [c["resource_version"] for c in source.watch_calls] == ["100", "101"]


async def test_a_broken_stream_resumes_from_the_last_resource_version_without_relisting() -> None:
    source = FakeSource()
    async with reflecting(source) as (_, sink, _):
        source.put("a")
        await settle()
        source.send(KubeTransportError("connection reset"))
        source.put("b")  # happens while disconnected: the resumed watch must replay it
        await settle()
    assert len(source.list_calls) == 1
    assert [c["resource_version"] for c in source.watch_calls] == ["100", "101"]
    assert sink.events == [("ADDED", "a"), ("ADDED", "b")]


async def test_an_http_410_when_the_watch_opens_leads_to_a_relist() -> None:
    source = FakeSource()
    source.watch_open_errors.append(Gone(410, "Expired", "too old resource version"))
    source.put("a")
    async with reflecting(source) as (_, sink, _):
        pass
    assert len(source.list_calls) == 2
    assert sink.lists == [(["a"], "101"), (["a"], "101")]


async def test_an_error_event_carrying_a_410_status_leads_to_a_relist() -> None:
    source = FakeSource()
    async with reflecting(source) as (_, sink, _):
        source.put_silently("a")
        source.send({"type": "ERROR", "object": _status(410, "Expired")})
        await settle()
    assert len(source.list_calls) == 2
    assert sink.lists[-1] == (["a"], "101")


async def test_an_error_event_with_another_status_resumes_the_watch_without_relisting() -> None:
    source = FakeSource()
    async with reflecting(source):
        source.send({"type": "ERROR", "object": _status(500, "InternalError")})
        await settle()
    assert len(source.list_calls) == 1
    assert len(source.watch_calls) == 2


async def test_consecutive_failures_back_off_exponentially_on_the_clock() -> None:
    source = FakeSource()
    source.watch_open_errors.extend(ServerError(500, "InternalError", "boom") for _ in range(4))
    async with reflecting(source) as (reflector, _, clock):
        assert len(source.watch_calls) == 2  # the first retry is immediate
        for delay in (0.8, 1.6, 3.2):
            clock.step(delay - 0.01)
            await settle()
            calls = len(source.watch_calls)
            clock.step(0.02)
            await settle()
            assert len(source.watch_calls) == calls + 1
        assert reflector.consecutive_failures == 4
        assert len(source.streams) == 1  # the fifth attempt is watching


async def test_a_delivered_event_resets_the_backoff() -> None:
    source = FakeSource()
    source.watch_open_errors.extend(ServerError(500, "InternalError", "boom") for _ in range(2))
    async with reflecting(source) as (reflector, _, clock):
        clock.step(0.8)
        await settle()
        assert reflector.consecutive_failures == 2
        source.put("a")
        await settle()
        assert reflector.consecutive_failures == 0
        source.send(KubeTransportError("reset"))
        await settle()
        assert len(source.streams) == 1  # resumed at once: the failure count restarted at one


async def test_a_stream_that_ends_without_delivering_anything_counts_as_a_failure() -> None:
    source = FakeSource()
    async with reflecting(source) as (reflector, _, clock):
        source.end_streams()
        await settle()
        source.end_streams()
        await settle()
        assert reflector.consecutive_failures == 2
        assert source.streams == []
        assert clock.sleepers == 1


async def test_a_relist_loop_against_a_server_that_keeps_answering_410_backs_off() -> None:
    source = FakeSource()
    source.watch_open_errors.extend(Gone(410, "Expired", "too old") for _ in range(3))
    async with reflecting(source) as (_, _, clock):
        assert len(source.list_calls) == 2
        clock.step(0.8)
        await settle()
        assert len(source.list_calls) == 3


async def test_a_429_waits_at_least_its_retry_after_even_on_the_first_retry() -> None:
    source = FakeSource()
    source.list_errors.append(TooManyRequests(429, "TooManyRequests", "slow down", retry_after_s=5.0))
    async with reflecting(source) as (_, sink, clock):
        clock.step(4.9)
        await settle()
        assert sink.lists == []
        clock.step(0.2)
        await settle()
        assert len(sink.lists) == 1


async def test_a_failed_list_is_retried_with_backoff() -> None:
    source = FakeSource()
    source.list_errors.extend([KubeTransportError("refused"), KubeTransportError("refused")])
    async with reflecting(source) as (_, sink, clock):
        assert sink.lists == []
        clock.step(0.8)
        await settle()
        assert len(sink.lists) == 1


async def test_managed_fields_are_dropped_from_listed_and_watched_objects() -> None:
    source = FakeSource()
    source.put("a", metadata={"managedFields": [{"manager": "kubectl"}], "labels": {"x": "y"}})
    async with reflecting(source) as (_, sink, _):
        source.put("b", metadata={"managedFields": [{"manager": "kubectl"}]})
        await settle()
    assert all("managedFields" not in o["metadata"] for o in sink.objects)
    assert sink.objects[0]["metadata"]["labels"] == {"x": "y"}
    assert "managedFields" in source.objects[("ns", "a")]["metadata"]  # the source's object is untouched


async def test_watch_timeouts_are_randomized_between_five_and_ten_minutes() -> None:
    source = FakeSource()
    async with reflecting(source, rng=random.Random(7)):
        for _ in range(20):
            source.bookmark()
            source.end_streams()
            await settle()
    timeouts = [c["timeout_seconds"] for c in source.watch_calls]
    assert len(timeouts) == 21
    assert all(300 <= t < 600 for t in timeouts)
    assert len(set(timeouts)) > 10


async def test_the_label_selector_applies_to_both_list_and_watch() -> None:
    source = FakeSource()
    async with reflecting(source, label_selector="ray.io/is-ray-node=yes"):
        pass
    assert source.list_calls[0]["label_selector"] == "ray.io/is-ray-node=yes"
    assert source.watch_calls[0]["label_selector"] == "ray.io/is-ray-node=yes"


async def test_run_ends_with_an_exception_raised_by_a_callback() -> None:
    source = FakeSource()
    source.put("a")

    def broken(objects: list[Mapping[str, Any]], rv: str) -> None:
        raise RuntimeError("handler bug")

    reflector = Reflector(source, PODS, on_list=broken, on_event=lambda *_: None, clock=FakeClock())
    with pytest.raises(RuntimeError, match="handler bug"):
        await reflector.run()


def test_backoff_is_immediate_first_then_doubles_from_point_eight_seconds_up_to_thirty() -> None:
    rng = ZeroRandom()
    assert [backoff_delay_s(n, rng) for n in range(0, 8)] == [0.0, 0.0, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6]
    assert backoff_delay_s(20, rng) == 30.0
    jittered = [backoff_delay_s(3, random.Random(seed)) for seed in range(50)]
    assert all(1.6 <= d <= 3.2 for d in jittered)


async def test_a_failed_list_is_a_warning_but_a_409_only_a_debug_line() -> None:
    source = FakeSource()
    source.list_errors.extend([Conflict(409, "Conflict", "injected"), ServerError(500, "InternalError", "boom")])
    with structlog.testing.capture_logs() as logs:
        async with reflecting(source) as (_, sink, clock):
            clock.step(0.8)
            await settle()
            clock.step(1.6)
            await settle()
            assert len(sink.lists) == 1
    levels = [(entry["log_level"], entry["error"].split(":")[0]) for entry in logs if entry["event"] == "watch_failed"]
    assert [level for level, _ in levels] == ["debug", "warning"]
