"""The ServiceAccount controller: a `default` ServiceAccount in every namespace that is not terminating."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers.serviceaccounts import (
    ServiceAccountController,
    missing_service_accounts,
)
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

SA = ("", "serviceaccounts")


def rt(api: Api, plural: str) -> ResourceType:
    found = api.registry.lookup("", "v1", plural)
    assert found is not None
    return found


async def wait_for(api: Api, condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    sub = api.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                assert await sub.queue.get() is not None
    finally:
        api.store.unsubscribe(sub)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    api = Api(Store(), Registry(), builtin_hooks("10.96.0.0/16"))
    api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}})
    task = asyncio.create_task(ServiceAccountController(api).run())
    try:
        yield api
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sa_uid(api: Api, namespace: str) -> str | None:
    obj = api.store.get(SA, namespace, "default")
    return None if obj is None else str(obj["metadata"]["uid"])


async def test_a_namespace_that_existed_before_the_controller_gets_its_default_service_account(api: Api) -> None:
    await wait_for(api, lambda: sa_uid(api, "old") is not None)


async def test_a_new_namespace_gets_a_default_service_account(api: Api) -> None:
    api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    await wait_for(api, lambda: sa_uid(api, "team") is not None)


async def test_a_deleted_default_service_account_comes_back_with_a_new_uid(api: Api) -> None:
    await wait_for(api, lambda: sa_uid(api, "old") is not None)
    first = sa_uid(api, "old")
    api.delete(rt(api, "serviceaccounts"), "old", "default", {})
    await wait_for(api, lambda: sa_uid(api, "old") not in (None, first))


def test_a_terminating_or_missing_namespace_gets_none() -> None:
    ns: dict[str, Any] = {"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert missing_service_accounts(ns, set(), ["default"]) == []
    assert missing_service_accounts(None, set(), ["default"]) == []
    assert missing_service_accounts({"metadata": {"name": "x"}}, {"default"}, ["default", "builder"]) == ["builder"]
