"""ClusterRole aggregation: the stored rules of an aggregated ClusterRole follow the roles its selectors match."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.controllers.clusterroleaggregation import aggregation_updates

RBAC = "rbac.authorization.k8s.io"
GR = (RBAC, "clusterroles")
PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


def cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                 selectors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                           "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def test_aggregation_gathers_selected_rules_in_order_without_repeats() -> None:
    roles = [cluster_role("agg", [SECRETS], selectors=[{"matchLabels": {"a": "1"}}, {"matchLabels": {"b": "1"}}]),
             cluster_role("z-first", [PODS], {"a": "1"}),
             cluster_role("b-second", [SECRETS, PODS], {"b": "1"}),
             cluster_role("plain", [PODS])]
    (update,) = aggregation_updates(roles)
    assert update["metadata"]["name"] == "agg"
    assert update["rules"] == [{**PODS, "verbs": ["get"]}, SECRETS]
    assert aggregation_updates([{**r, "rules": update["rules"]} if r is roles[0] else r for r in roles]) == []


def test_empty_selector_matches_every_other_cluster_role() -> None:
    roles = [cluster_role("all", [], selectors=[{}]), cluster_role("x", [PODS])]
    assert aggregation_updates(roles)[0]["rules"] == [PODS]


@pytest.fixture
async def server() -> AsyncIterator[LocalApiServer]:
    s = LocalApiServer(port=0)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def until(server: LocalApiServer, check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    sub = server.store.subscribe(GR)
    try:
        async with asyncio.timeout(timeout_s):
            while not check():
                await sub.queue.get()
    finally:
        server.store.unsubscribe(sub)


async def test_stored_rules_follow_labelled_roles_as_they_come_and_go(server: LocalApiServer) -> None:
    rt = server.registry.lookup(RBAC, "v1", "clusterroles")
    assert rt is not None
    server.api.create(rt, "", cluster_role("monitoring", [], selectors=[{"matchLabels": {"agg": "monitoring"}}]))
    server.api.create(rt, "", cluster_role("pods-for-monitoring", [PODS], {"agg": "monitoring"}))

    def rules() -> list[dict[str, Any]]:
        obj = server.store.get(GR, "", "monitoring")
        return list((obj or {}).get("rules") or [])

    await until(server, lambda: rules() == [PODS])
    server.api.delete(rt, "", "pods-for-monitoring", {})
    await until(server, lambda: rules() == [])
    watch = server.store.subscribe(GR)
    try:
        server.api.create(rt, "", cluster_role("other", [SECRETS]))  # selected by nothing: no write for it
        server.api.create(rt, "", cluster_role("pods-again", [PODS], {"agg": "monitoring"}))
        await until(server, lambda: rules() == [PODS])
        writes = []
        while not watch.queue.empty():
            event = watch.queue.get_nowait()
            if event is not None and event.obj["metadata"]["name"] == "monitoring":
                writes.append(event.type)
        assert writes == ["MODIFIED"]
    finally:
        server.store.unsubscribe(watch)
