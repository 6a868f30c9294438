"""KubeClient against the embedded API server: raw CRUD, watch, typed errors, request counting, rate limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.kube import (
    CONFIG_MAPS,
    LEASES,
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    KubeClient,
    KubeConfigError,
    KubeTransportError,
    LeaseRecord,
    NotFound,
    PatchType,
    Preconditions,
    PropagationPolicy,
    Resource,
    ServerError,
    TooManyRequests,
    UnsupportedMediaType,
    lease_body,
    lease_record,
)
from rayservice.testing import FakeClock, settle

CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
WIDGETS = Resource("example.com", "v1", "widgets", kind="Widget")
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


SUITE = "suite=kube-client"  # the server adds its own ConfigMaps (kube-root-ca.crt): list only ours


def _cm(name: str, **data: str) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "default", "labels": {"suite": "kube-client"}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


@pytest.fixture
async def client(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    async with await KubeClient.from_kubeconfig(kubeconfig) as kube:
        yield kube


@pytest.fixture
async def widgets(client: KubeClient) -> Resource:
    await client.create(CRDS, WIDGET_CRD)
    return WIDGETS


async def test_an_object_survives_create_get_list_patch_replace_and_delete(client: KubeClient) -> None:
    created = await client.create(CONFIG_MAPS, _cm("a", k="1"))
    assert created["metadata"]["uid"]
    assert (await client.get(CONFIG_MAPS, "a", namespace="default"))["data"] == {"k": "1"}

    listed = await client.list(CONFIG_MAPS, namespace="default", label_selector=SUITE)
    assert [item["metadata"]["name"] for item in listed.items] == ["a"]
    assert listed.items[0]["kind"] == "ConfigMap" and listed.items[0]["apiVersion"] == "v1"
    assert int(listed.resource_version) >= int(created["metadata"]["resourceVersion"])

    merged = await client.patch(CONFIG_MAPS, "a", {"data": {"j": "2"}}, namespace="default")
    assert merged["data"] == {"k": "1", "j": "2"}
    ops = [{"op": "remove", "path": "/data/k"}]
    patched = await client.patch(CONFIG_MAPS, "a", ops, namespace="default", patch_type=PatchType.JSON)
    assert patched["data"] == {"j": "2"}

    replaced = await client.replace(CONFIG_MAPS, "a", {**patched, "data": {"z": "9"}}, namespace="default")
    assert replaced["data"] == {"z": "9"}

    await client.delete(CONFIG_MAPS, "a", namespace="default", propagation_policy=PropagationPolicy.BACKGROUND)
    with pytest.raises(NotFound):
        await client.get(CONFIG_MAPS, "a", namespace="default")


async def test_a_missing_object_raises_not_found(client: KubeClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.get(CONFIG_MAPS, "nope", namespace="default")
    assert caught.value.status == 404
    assert caught.value.reason == "NotFound"


async def test_creating_an_existing_object_raises_already_exists(client: KubeClient) -> None:
    await client.create(CONFIG_MAPS, _cm("a"))
    with pytest.raises(AlreadyExists) as caught:
        await client.create(CONFIG_MAPS, _cm("a"))
    assert caught.value.status == 409


async def test_a_write_based_on_a_stale_resource_version_raises_conflict(client: KubeClient) -> None:
    first = await client.create(CONFIG_MAPS, _cm("a", v="1"))
    await client.patch(CONFIG_MAPS, "a", {"data": {"v": "2"}}, namespace="default")
    with pytest.raises(Conflict) as caught:
        await client.replace(CONFIG_MAPS, "a", {**first, "data": {"v": "3"}}, namespace="default")
    assert caught.value.status == 409
    assert not isinstance(caught.value, AlreadyExists)


async def test_a_delete_whose_uid_precondition_fails_raises_conflict(client: KubeClient) -> None:
    await client.create(CONFIG_MAPS, _cm("a"))
    with pytest.raises(Conflict):
        await client.delete(CONFIG_MAPS, "a", namespace="default", preconditions=Preconditions(uid="not-it"))
    assert await client.get(CONFIG_MAPS, "a", namespace="default")


async def test_an_unconditional_lease_update_raises_invalid(client: KubeClient) -> None:
    record = LeaseRecord(holder_identity="op-1", lease_duration_s=15)
    await client.create(LEASES, lease_body("default", "lock", record))
    with pytest.raises(Invalid) as caught:
        await client.replace(LEASES, "lock", lease_body("default", "lock", record), namespace="default")
    assert caught.value.status == 422


async def test_lease_times_written_by_lease_body_are_accepted_and_read_back(client: KubeClient) -> None:
    now = FakeClock().now()
    record = LeaseRecord("op-1", 15, now, now, 0)
    created = await client.create(LEASES, lease_body("default", "lock", record))
    assert created["spec"]["renewTime"].endswith(".000000Z")
    assert lease_record(await client.get(LEASES, "lock", namespace="default")) == record


async def test_a_strategic_merge_patch_on_a_custom_resource_raises_unsupported_media_type(
    client: KubeClient, widgets: Resource
) -> None:
    await client.create(
        widgets,
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {"size": 1},
        },
    )
    with pytest.raises(UnsupportedMediaType) as caught:
        await client.patch(widgets, "w", {"spec": {"size": 2}}, namespace="default", patch_type=PatchType.STRATEGIC)
    assert caught.value.status == 415
    merged = await client.patch(widgets, "w", {"spec": {"size": 2}}, namespace="default")
    assert merged["spec"] == {"size": 2}


async def test_status_is_written_only_through_the_status_subresource(client: KubeClient, widgets: Resource) -> None:
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"size": 1},
    }
    await client.create(widgets, body)
    ignored = await client.patch(widgets, "w", {"status": {"ready": True}}, namespace="default")
    assert "ready" not in (ignored.get("status") or {})
    patched = await client.patch_status(widgets, "w", {"status": {"ready": True}}, namespace="default")
    assert patched["status"] == {"ready": True}
    replaced = await client.replace_status(widgets, "w", {**patched, "status": {"ready": False}}, namespace="default")
    assert replaced["status"] == {"ready": False}
    assert replaced["spec"] == {"size": 1}


async def test_list_pages_through_continue_tokens_to_the_end(client: KubeClient) -> None:
    for i in range(5):
        await client.create(CONFIG_MAPS, _cm(f"cm-{i}"))
    listed = await client.list(CONFIG_MAPS, namespace="default", label_selector=SUITE, limit=2)
    assert [item["metadata"]["name"] for item in listed.items] == [f"cm-{i}" for i in range(5)]


async def test_label_selectors_filter_lists(client: KubeClient) -> None:
    await client.create(
        CONFIG_MAPS,
        {**_cm("ray"), "metadata": {"name": "ray", "namespace": "default", "labels": {"ray.io/is-ray-node": "yes"}}},
    )
    await client.create(CONFIG_MAPS, _cm("other"))
    listed = await client.list(CONFIG_MAPS, namespace="default", label_selector="ray.io/is-ray-node=yes")
    assert [item["metadata"]["name"] for item in listed.items] == ["ray"]


async def test_a_watch_delivers_changes_in_order_then_bookmarks(client: KubeClient) -> None:
    start = (await client.list(CONFIG_MAPS, namespace="default")).resource_version
    await client.create(CONFIG_MAPS, _cm("a"))
    await client.patch(CONFIG_MAPS, "a", {"data": {"x": "1"}}, namespace="default")
    await client.delete(CONFIG_MAPS, "a", namespace="default")
    seen: list[str] = []
    async with (
        asyncio.timeout(10),
        contextlib.aclosing(
            client.watch(CONFIG_MAPS, namespace="default", resource_version=start, timeout_seconds=30)
        ) as stream,
    ):
        async for event in stream:
            seen.append(event["type"])
            if event["type"] == "BOOKMARK":
                assert int(event["object"]["metadata"]["resourceVersion"]) > int(start)
                break
    assert seen == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]


async def test_a_watch_from_an_expired_resource_version_raises_gone(
    client: KubeClient, apiserver: LocalApiServer
) -> None:
    start = (await client.list(CONFIG_MAPS, namespace="default")).resource_version
    apiserver.faults.expire_next_watches += 1
    with pytest.raises(Gone) as caught:
        async with (
            asyncio.timeout(10),
            contextlib.aclosing(client.watch(CONFIG_MAPS, namespace="default", resource_version=start)) as stream,
        ):
            async for _ in stream:
                pass
    assert caught.value.status == 410


async def test_every_request_is_counted_with_its_verb_resource_and_code(
    kubeconfig: Path, apiserver: LocalApiServer
) -> None:
    calls: list[tuple[str, str, int]] = []
    async with await KubeClient.from_kubeconfig(kubeconfig, on_request=lambda *c: calls.append(c)) as kube:
        await kube.create(CONFIG_MAPS, _cm("a"))
        with pytest.raises(NotFound):
            await kube.get(CONFIG_MAPS, "b", namespace="default")
        apiserver.faults.add(FaultRule(code=429, verb="list", resource="configmaps", retry_after_s=3))
        with pytest.raises(TooManyRequests) as caught:
            await kube.list(CONFIG_MAPS, namespace="default")
        apiserver.faults.add(FaultRule(code=500, verb="patch", resource="configmaps"))
        with pytest.raises(ServerError):
            await kube.patch(CONFIG_MAPS, "a", {"data": {}}, namespace="default")
    assert caught.value.retry_after_s == 3.0
    assert calls == [
        ("create", "configmaps", 201),
        ("get", "configmaps", 404),
        ("list", "configmaps", 429),
        ("patch", "configmaps", 500),
    ]


async def _until_done(tasks: list[asyncio.Task[Any]], count: int) -> None:
    async with asyncio.timeout(10):
        while sum(t.done() for t in tasks) < count:
            await asyncio.wait([t for t in tasks if not t.done()], return_when=asyncio.FIRST_COMPLETED)


async def test_the_client_rate_limit_holds_at_the_server(kubeconfig: Path, apiserver: LocalApiServer) -> None:
    clock = FakeClock()
    async with await KubeClient.from_kubeconfig(kubeconfig, qps=2.0, burst=3, clock=clock) as kube:
        before = len(apiserver.faults.log)
        tasks = [asyncio.create_task(kube.list(CONFIG_MAPS, namespace="default")) for _ in range(7)]
        await _until_done(tasks, 3)
        await settle()
        assert clock.sleepers == 4  # the rest wait on the limiter, not on the server
        assert len(apiserver.faults.log) - before == 3
        for sent in (4, 5, 6, 7):
            clock.step(0.5)  # one token per 1/qps seconds
            await _until_done(tasks, sent)
            await settle()
            assert len(apiserver.faults.log) - before == sent
        await asyncio.gather(*tasks)


async def test_an_unreachable_server_is_a_transport_error(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    async with await KubeClient.from_kubeconfig(config, timeout_s=5.0) as kube:
        with pytest.raises(KubeTransportError):
            await kube.get(CONFIG_MAPS, "a", namespace="default")


async def test_a_missing_kubeconfig_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError):
        await KubeClient.from_kubeconfig(tmp_path / "missing")
