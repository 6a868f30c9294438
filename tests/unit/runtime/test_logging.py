"""Logging configuration: JSON lines by default, console for humans, levels, reconcile context on every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from rayservice.api import ObjectKey
from rayservice.logging import configure_logging
from rayservice.queue import ShutDown
from rayservice.runtime import DONE, Result, run_worker


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class OneKeyQueue:
    def __init__(self) -> None:
        self._key: ObjectKey | None = ObjectKey("default", "a")

    async def get(self) -> ObjectKey:
        key, self._key = self._key, None
        if key is None:
            raise ShutDown
        return key

    def done(self, key: ObjectKey) -> None:
        pass

    def forget(self, key: ObjectKey) -> None:
        pass

    def add_after(self, key: ObjectKey, delay_s: float) -> None:
        pass

    def add_rate_limited(self, key: ObjectKey) -> None:
        pass


async def test_every_line_of_a_reconcile_is_one_json_object_with_controller_key_and_reconcile_id() -> None:
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    log = structlog.get_logger("rayservice.controller.test")

    async def reconcile(key: ObjectKey) -> Result:
        log.info("cluster_created", cluster="c-1")
        return DONE

    await run_worker(OneKeyQueue(), reconcile, controller="rayservice")
    records = lines(stream)
    assert [r["event"] for r in records] == ["cluster_created", "reconciled"]
    for record in records:
        assert record["controller"] == "rayservice" and record["key"] == "default/a"
        assert isinstance(record["reconcile_id"], str) and record["reconcile_id"]
        assert {"timestamp", "level", "logger"} <= record.keys()
    assert records[0]["reconcile_id"] == records[1]["reconcile_id"]
    assert str(records[0]["timestamp"]).endswith("Z")


def test_exceptions_become_one_json_line_with_the_traceback_in_a_field() -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("t").error("reconcile_failed", exc_info=True)
    (record,) = lines(stream)
    assert "RuntimeError: boom" in str(record["exception"])


def test_lines_below_the_level_are_dropped_and_library_loggers_use_the_same_format() -> None:
    stream = io.StringIO()
    configure_logging("json", "warning", stream=stream)
    structlog.get_logger("t").info("routine")
    structlog.get_logger("t").warning("surprise")
    logging.getLogger("aiohttp.client").warning("library says %s", "hi")
    assert [(r["event"], r["logger"]) for r in lines(stream)] == [
        ("surprise", "t"),
        ("library says hi", "aiohttp.client"),
    ]


def test_console_format_is_for_humans_and_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", "info", stream=first)
    configure_logging("console", "info", stream=second)
    structlog.get_logger("t").info("switched_traffic", old="a", new="b")
    assert first.getvalue() == ""
    text = second.getvalue()
    assert "switched_traffic" in text and "old=a" in text and not text.startswith("{")


def test_unknown_levels_and_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        configure_logging("json", "verbose")
    with pytest.raises(ValueError, match="format"):
        configure_logging("xml", "info")  # type: ignore[arg-type]
