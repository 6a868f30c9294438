"""The node agent's tiny API client against the embedded API server (e2e/localcluster/node/client.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.node.client import ApiClient, ApiError, load_kubeconfig, reflect

CM_PATH = "/api/v1/namespaces/default/configmaps"


def config_map(name: str, size: int = 1) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "x" * size}}


async def test_load_kubeconfig_reads_the_current_contexts_server_and_token(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text("""
apiVersion: v1
kind: Config
current-context: b
clusters: [{name: c1, cluster: {server: "http://a:1/"}}, {name: c2, cluster: {server: "https://b:2"}}]
users: [{name: u, user: {token: secret}}]
contexts: [{name: a, context: {cluster: c1, user: u}}, {name: b, context: {cluster: c2, user: u}}]
""")
    cfg = load_kubeconfig(path)
    assert (cfg.server, cfg.token) == ("https://b:2", "secret")


async def test_a_non_2xx_answer_raises_api_error_from_the_status_body(apiserver: LocalApiServer,
                                                                       kubeconfig: Path) -> None:
    async with ApiClient(load_kubeconfig(kubeconfig)) as client:
        with pytest.raises(ApiError) as caught:
            await client.get(f"{CM_PATH}/missing")
    assert (caught.value.code, caught.value.reason) == (404, "NotFound")


async def test_reflect_lists_then_watches_and_relists_after_410(apiserver: LocalApiServer, kubeconfig: Path) -> None:
    syncs: list[list[str]] = []
    events: list[tuple[str, str]] = []
    changed = asyncio.Event()

    def on_sync(items: list[dict[str, Any]]) -> None:
        syncs.append(sorted(i["metadata"]["name"] for i in items if i["metadata"]["name"] != "kube-root-ca.crt"))
        changed.set()

    def on_event(kind: str, obj: dict[str, Any]) -> None:
        events.append((kind, obj["metadata"]["name"]))
        changed.set()

    async def until(check: Any) -> None:
        async with asyncio.timeout(10):
            while not check():
                changed.clear()
                await changed.wait()

    async with ApiClient(load_kubeconfig(kubeconfig)) as client:
        await client.post(CM_PATH, config_map("before"))
        task = asyncio.create_task(reflect(client, CM_PATH, on_sync=on_sync, on_event=on_event))
        try:
            await until(lambda: syncs == [["before"]])
            await client.post(CM_PATH, config_map("big", size=300_000))  # one watch line far over 64 KiB
            await client.delete(f"{CM_PATH}/before")
            await until(lambda: events == [("ADDED", "big"), ("DELETED", "before")])
            apiserver.faults.expire_next_watches = 1
            apiserver.store.drop_watches()
            await until(lambda: len(syncs) == 2)
            assert syncs[1] == ["big"]
        finally:
            task.cancel()
            await asyncio.wait({task})
