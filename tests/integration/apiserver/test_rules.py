"""The embedded API server's rules (DESIGN §6 items 1-10, 12), driven through the official kubernetes.aio client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from kubernetes.aio import client
from kubernetes.aio.client.exceptions import ApiException

from e2e.localcluster.apiserver import FaultRule, LocalApiServer

from .conftest import eventually, widget

NS = "default"
G, V, P = "example.com", "v1", "widgets"
MERGE = "application/merge-patch+json"


def status_of(exc: ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    return body


async def create_w(api: client.CustomObjectsApi, name: str, size: int = 1, **meta: Any) -> dict[str, Any]:
    out: dict[str, Any] = await api.create_namespaced_custom_object(G, V, NS, P, widget(name, size, **meta))
    return out


async def get_w(api: client.CustomObjectsApi, name: str) -> dict[str, Any]:
    out: dict[str, Any] = await api.get_namespaced_custom_object(G, V, NS, P, name)
    return out


class TestResourceVersions:
    async def test_every_write_takes_a_higher_global_resource_version(
        self, widgets: client.CustomObjectsApi, core: client.CoreV1Api
    ) -> None:
        a = await create_w(widgets, "a")
        cm = await core.create_namespaced_config_map_without_preload_content(NS, {"metadata": {"name": "c"}})
        b = await create_w(widgets, "b")
        rv_cm = int(json.loads(await cm.read())["metadata"]["resourceVersion"])
        assert int(a["metadata"]["resourceVersion"]) < rv_cm < int(b["metadata"]["resourceVersion"])

    async def test_list_carries_the_current_resource_version(self, widgets: client.CustomObjectsApi) -> None:
        b = await create_w(widgets, "b")
        listed = await widgets.list_namespaced_custom_object(G, V, NS, P)
        assert int(listed["metadata"]["resourceVersion"]) >= int(b["metadata"]["resourceVersion"])

    async def test_write_that_changes_nothing_keeps_the_resource_version(
        self, widgets: client.CustomObjectsApi, apiserver: LocalApiServer
    ) -> None:
        w = await create_w(widgets, "a", labels={"x": "1"})
        writes = apiserver.store.write_count
        same = await widgets.patch_namespaced_custom_object(
            G, V, NS, P, "a", {"metadata": {"labels": {"x": "1"}}}, _content_type=MERGE
        )
        put = await widgets.replace_namespaced_custom_object(G, V, NS, P, "a", same)
        assert same["metadata"]["resourceVersion"] == w["metadata"]["resourceVersion"]
        assert put["metadata"]["resourceVersion"] == w["metadata"]["resourceVersion"]
        assert apiserver.store.write_count == writes


class TestCreate:
    async def test_create_sets_server_fields_and_generation_one(self, widgets: client.CustomObjectsApi) -> None:
        w = await create_w(widgets, "a")
        m = w["metadata"]
        assert m["uid"] and m["creationTimestamp"].endswith("Z") and m["resourceVersion"]
        assert m["generation"] == 1
        assert w["spec"]["color"] == "blue"  # defaulted from the schema

    async def test_generate_name_gets_a_random_suffix(self, widgets: client.CustomObjectsApi) -> None:
        body = widget("")
        body["metadata"] = {"generateName": "gen-"}
        w = await widgets.create_namespaced_custom_object(G, V, NS, P, body)
        assert w["metadata"]["name"].startswith("gen-") and len(w["metadata"]["name"]) == len("gen-") + 5

    async def test_status_is_dropped_on_create_with_status_subresource(self, widgets: client.CustomObjectsApi) -> None:
        body = widget("a")
        body["status"] = {"phase": "Done"}
        w = await widgets.create_namespaced_custom_object(G, V, NS, P, body)
        assert "status" not in w

    async def test_duplicate_create_is_409_already_exists(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a")
        with pytest.raises(ApiException) as err:
            await create_w(widgets, "a")
        assert err.value.status == 409
        assert status_of(err.value)["reason"] == "AlreadyExists"

    async def test_create_in_missing_namespace_is_404(self, core: client.CoreV1Api) -> None:
        with pytest.raises(ApiException) as err:
            await core.create_namespaced_config_map("nope", {"metadata": {"name": "c"}})
        assert err.value.status == 404


class TestUpdate:
    async def test_stale_resource_version_is_409_conflict(self, widgets: client.CustomObjectsApi) -> None:
        w = await create_w(widgets, "a")
        await widgets.patch_namespaced_custom_object(G, V, NS, P, "a", {"spec": {"size": 2}}, _content_type=MERGE)
        w["spec"]["size"] = 3
        with pytest.raises(ApiException) as err:
            await widgets.replace_namespaced_custom_object(G, V, NS, P, "a", w)
        assert err.value.status == 409 and status_of(err.value)["reason"] == "Conflict"

    async def test_put_without_resource_version_is_422_for_custom_resources(
        self, widgets: client.CustomObjectsApi
    ) -> None:
        w = await create_w(widgets, "a")
        del w["metadata"]["resourceVersion"]
        with pytest.raises(ApiException) as err:
            await widgets.replace_namespaced_custom_object(G, V, NS, P, "a", w)
        assert err.value.status == 422
        assert status_of(err.value)["details"]["causes"][0]["field"] == "metadata.resourceVersion"

    async def test_put_without_resource_version_is_allowed_for_configmaps(self, core: client.CoreV1Api) -> None:
        await core.create_namespaced_config_map(NS, {"metadata": {"name": "c"}, "data": {"k": "v"}})
        out = await core.replace_namespaced_config_map("c", NS, {"metadata": {"name": "c"}, "data": {"k": "w"}})
        assert out.data == {"k": "w"}

    async def test_put_never_creates_a_custom_resource(self, widgets: client.CustomObjectsApi) -> None:
        body = widget("ghost")
        body["metadata"]["resourceVersion"] = "5"
        with pytest.raises(ApiException) as err:
            await widgets.replace_namespaced_custom_object(G, V, NS, P, "ghost", body)
        assert err.value.status == 404


class TestPatch:
    async def test_merge_patch_null_deletes_and_objects_merge(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a", labels={"x": "1", "y": "2"})
        w = await widgets.patch_namespaced_custom_object(
            G, V, NS, P, "a", {"metadata": {"labels": {"x": None, "z": "3"}}}, _content_type=MERGE
        )
        assert w["metadata"]["labels"] == {"y": "2", "z": "3"}

    async def test_json_patch_applies_and_failed_test_op_is_422(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a")
        w = await widgets.patch_namespaced_custom_object(
            G,
            V,
            NS,
            P,
            "a",
            [{"op": "replace", "path": "/spec/size", "value": 7}],
            _content_type="application/json-patch+json",
        )
        assert w["spec"]["size"] == 7
        with pytest.raises(ApiException) as err:
            await widgets.patch_namespaced_custom_object(
                G,
                V,
                NS,
                P,
                "a",
                [{"op": "test", "path": "/spec/size", "value": 1}],
                _content_type="application/json-patch+json",
            )
        assert err.value.status == 422

    async def test_strategic_merge_on_a_custom_resource_is_415(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a")
        with pytest.raises(ApiException) as err:
            await widgets.patch_namespaced_custom_object(
                G, V, NS, P, "a", {"spec": {"size": 2}}, _content_type="application/strategic-merge-patch+json"
            )
        assert err.value.status == 415 and status_of(err.value)["reason"] == "UnsupportedMediaType"

    async def test_strategic_merge_on_a_pod_merges_containers_by_name(self, core: client.CoreV1Api) -> None:
        pod = {
            "metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c1", "image": "busybox:1"}, {"name": "c2", "image": "busybox:1"}]},
        }
        await core.create_namespaced_pod(NS, pod)
        out = await core.patch_namespaced_pod(
            "p",
            NS,
            {"spec": {"containers": [{"name": "c2", "image": "busybox:2"}]}},
            _content_type="application/strategic-merge-patch+json",
        )
        assert [(c.name, c.image) for c in out.spec.containers] == [("c1", "busybox:1"), ("c2", "busybox:2")]

    async def test_resource_version_inside_a_patch_is_a_precondition(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a")
        with pytest.raises(ApiException) as err:
            await widgets.patch_namespaced_custom_object(
                G, V, NS, P, "a", {"metadata": {"resourceVersion": "1"}, "spec": {"size": 3}}, _content_type=MERGE
            )
        assert err.value.status == 409


class TestStatusAndGeneration:
    async def test_main_endpoint_ignores_status_and_status_endpoint_ignores_spec(
        self, widgets: client.CustomObjectsApi
    ) -> None:
        await create_w(widgets, "a")
        w = await widgets.patch_namespaced_custom_object(
            G, V, NS, P, "a", {"status": {"phase": "X"}}, _content_type=MERGE
        )
        assert "status" not in w
        s = await widgets.patch_namespaced_custom_object_status(
            G, V, NS, P, "a", {"spec": {"size": 9}, "status": {"phase": "Done"}}, _content_type=MERGE
        )
        assert s["status"] == {"phase": "Done"} and s["spec"]["size"] == 1 and s["metadata"]["generation"] == 1

    async def test_generation_grows_only_on_spec_changes(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a")
        w = await widgets.patch_namespaced_custom_object(
            G, V, NS, P, "a", {"metadata": {"labels": {"l": "1"}}}, _content_type=MERGE
        )
        assert w["metadata"]["generation"] == 1
        w = await widgets.patch_namespaced_custom_object(G, V, NS, P, "a", {"spec": {"size": 4}}, _content_type=MERGE)
        assert w["metadata"]["generation"] == 2


class TestDelete:
    async def test_delete_without_finalizers_removes_at_once(self, widgets: client.CustomObjectsApi) -> None:
        await create_w(widgets, "a")
        out = await widgets.delete_namespaced_custom_object(G, V, NS, P, "a")
        assert out["status"] == "Success"
        with pytest.raises(ApiException) as err:
            await get_w(widgets, "a")
        assert err.value.status == 404

    async def test_finalizers_hold_the_object_and_no_new_ones_once_deleting(
        self, widgets: client.CustomObjectsApi
    ) -> None:
        await create_w(widgets, "a", finalizers=["example.com/hold"])
        out = await widgets.delete_namespaced_custom_object(G, V, NS, P, "a")
        assert out["metadata"]["deletionTimestamp"]
        with pytest.raises(ApiException) as err:
            await widgets.patch_namespaced_custom_object(
                G,
                V,
                NS,
                P,
                "a",
                {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}},
                _content_type=MERGE,
            )
        assert err.value.status == 422
        await widgets.patch_namespaced_custom_object(
            G, V, NS, P, "a", {"metadata": {"finalizers": None}}, _content_type=MERGE
        )
        with pytest.raises(ApiException):
            await get_w(widgets, "a")

    async def test_not_found_is_404_with_status(self, widgets: client.CustomObjectsApi) -> None:
        with pytest.raises(ApiException) as err:
            await widgets.delete_namespaced_custom_object(G, V, NS, P, "missing")
        assert err.value.status == 404 and status_of(err.value)["reason"] == "NotFound"


class TestGarbageCollection:
    async def _pair(self, core: client.CoreV1Api, suffix: str) -> None:
        owner = await core.create_namespaced_config_map(NS, {"metadata": {"name": f"owner-{suffix}"}})
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": owner.metadata.name,
            "uid": owner.metadata.uid,
            "blockOwnerDeletion": True,
            "controller": True,
        }
        await core.create_namespaced_config_map(NS, {"metadata": {"name": f"child-{suffix}", "ownerReferences": [ref]}})

    async def _exists(self, core: client.CoreV1Api, name: str) -> bool:
        try:
            await core.read_namespaced_config_map(name, NS)
            return True
        except ApiException as exc:
            assert exc.status == 404
            return False

    async def test_background_deletion_removes_children_after_the_owner(
        self, core: client.CoreV1Api, apiserver: LocalApiServer
    ) -> None:
        await self._pair(core, "bg")
        await core.delete_namespaced_config_map("owner-bg", NS, propagation_policy="Background")
        await eventually(apiserver, lambda: self._gone(core, "child-bg"))

    async def _gone(self, core: client.CoreV1Api, name: str) -> bool:
        return not await self._exists(core, name)

    async def test_foreground_deletion_keeps_the_owner_until_children_are_gone(
        self, core: client.CoreV1Api, apiserver: LocalApiServer
    ) -> None:
        apiserver.set_gc_paused(True)
        await self._pair(core, "fg")
        await core.delete_namespaced_config_map("owner-fg", NS, propagation_policy="Foreground")
        owner = await core.read_namespaced_config_map("owner-fg", NS)
        assert owner.metadata.finalizers == ["foregroundDeletion"] and owner.metadata.deletion_timestamp
        apiserver.set_gc_paused(False)
        await eventually(apiserver, lambda: self._gone(core, "owner-fg"))
        assert not await self._exists(core, "child-fg")

    async def test_orphan_deletion_keeps_children_without_the_owner_reference(
        self, core: client.CoreV1Api, apiserver: LocalApiServer
    ) -> None:
        await self._pair(core, "or")
        await core.delete_namespaced_config_map("owner-or", NS, propagation_policy="Orphan")
        await eventually(apiserver, lambda: self._gone(core, "owner-or"))
        child = await core.read_namespaced_config_map("child-or", NS)
        assert not child.metadata.owner_references


class TestSelectors:
    async def test_label_selectors_support_every_operator(self, core: client.CoreV1Api) -> None:
        for name, labels in (("a", {"env": "prod", "tier": "web"}), ("b", {"env": "dev"}), ("c", {})):
            await core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": labels}})

        async def names(sel: str) -> list[str]:
            out = await core.list_namespaced_config_map(NS, label_selector=sel)
            return [i.metadata.name for i in out.items if i.metadata.name in ("a", "b", "c")]

        assert await names("env=prod") == ["a"]
        assert await names("env==dev") == ["b"]
        assert await names("env!=prod") == ["b", "c"]
        assert await names("env in (prod,dev)") == ["a", "b"]
        assert await names("env notin (prod)") == ["b", "c"]
        assert await names("tier") == ["a"]
        assert await names("!env") == ["c"]

    async def test_field_selectors_and_sorted_output(self, core: client.CoreV1Api) -> None:
        for name in ("zeta", "alpha", "mid"):
            await core.create_namespaced_config_map(NS, {"metadata": {"name": name}})
        out = await core.list_namespaced_config_map(NS, field_selector="metadata.name!=mid")
        names = [i.metadata.name for i in out.items]
        assert names == sorted(names) and "mid" not in names and "alpha" in names

    async def test_bad_selector_is_400(self, core: client.CoreV1Api) -> None:
        with pytest.raises(ApiException) as err:
            await core.list_namespaced_config_map(NS, label_selector="a in (b")
        assert err.value.status == 400
        with pytest.raises(ApiException) as err:
            await core.list_namespaced_config_map(NS, field_selector="data.k=v")
        assert err.value.status == 400


class TestFaults:
    async def test_fault_rule_fails_matching_requests_with_status(
        self, core: client.CoreV1Api, apiserver: LocalApiServer
    ) -> None:
        apiserver.faults.add(FaultRule(code=500, count=2, verb="list", resource="configmaps"))
        for _ in range(2):
            with pytest.raises(ApiException) as err:
                await core.list_namespaced_config_map(NS)
            assert err.value.status == 500
        await core.list_namespaced_config_map(NS)

    async def test_429_carries_retry_after(self, core: client.CoreV1Api, apiserver: LocalApiServer) -> None:
        apiserver.faults.add(FaultRule(code=429, count=1, retry_after_s=3))
        with pytest.raises(ApiException) as err:
            await core.list_namespaced_config_map(NS)
        assert err.value.status == 429 and err.value.headers["Retry-After"] == "3"

    async def test_request_log_records_verb_resource_and_code(
        self, core: client.CoreV1Api, apiserver: LocalApiServer
    ) -> None:
        await core.create_namespaced_config_map(NS, {"metadata": {"name": "c"}})
        rec = [r for r in apiserver.faults.log if r.resource == "configmaps" and r.verb == "create"]
        assert rec and rec[-1].code == 201 and rec[-1].namespace == NS

    async def test_paused_garbage_collector_leaves_children(
        self, core: client.CoreV1Api, apiserver: LocalApiServer
    ) -> None:
        apiserver.set_gc_paused(True)
        owner = await core.create_namespaced_config_map(NS, {"metadata": {"name": "o"}})
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": owner.metadata.uid}
        await core.create_namespaced_config_map(NS, {"metadata": {"name": "ch", "ownerReferences": [ref]}})
        await core.delete_namespaced_config_map("o", NS)
        await asyncio.sleep(0.2)  # the paused collector must not act; nothing to await on here
        assert (await core.read_namespaced_config_map("ch", NS)).metadata.name == "ch"
        apiserver.set_gc_paused(False)

    async def test_delay_rule_slows_but_does_not_fail(self, core: client.CoreV1Api, apiserver: LocalApiServer) -> None:
        apiserver.faults.add(FaultRule(code=0, count=1, delay_s=0.3, verb="list"))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await core.list_namespaced_config_map(NS)
        assert loop.time() - t0 >= 0.3


class TestServerSurvivesBadInput:
    async def test_malformed_json_is_400_and_server_keeps_serving(self, apiserver: LocalApiServer) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{apiserver.url}/api/v1/namespaces/default/configmaps",
                data=b"{not json",
                headers={"Content-Type": "application/json"},
            ) as r:
                assert r.status == 400 and (await r.json())["kind"] == "Status"
            async with s.get(f"{apiserver.url}/api/v1/namespaces/default/nothings") as r:
                assert r.status == 404
            async with s.get(f"{apiserver.url}/apis/nope.example.com/v1/things") as r:
                assert r.status == 404
            async with s.get(f"{apiserver.url}/api/v1/namespaces") as r:
                assert r.status == 200

    async def test_schema_violation_is_422_naming_the_field(self, widgets: client.CustomObjectsApi) -> None:
        with pytest.raises(ApiException) as err:
            await create_w(widgets, "a", size=0)
        st = status_of(err.value)
        assert err.value.status == 422 and st["details"]["causes"][0]["field"] == "spec.size"
        assert "spec.size" in st["message"]
