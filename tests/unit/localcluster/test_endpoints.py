"""The EndpointSlice and Endpoints controllers against the in-memory API, compared with S07's recorded answers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers.endpoints import EndpointSliceController, desired_slice, resolve_port
from e2e.localcluster.apiserver.controllers.runner import Controllers, run_controllers
from e2e.localcluster.apiserver.schema.builtins import bind_pod, builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store
from rayservice.testing import settle

Obj = dict[str, Any]
NS = "s07"
NODE = "s07-node"
SLICES = ("discovery.k8s.io", "endpointslices")


def rt(api: Api, plural: str, group: str = "") -> ResourceType:
    found = api.registry.lookup(group, "v1", plural)
    assert found is not None
    return found


async def wait_for(api: Api, condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Wait until `condition` holds, re-checking after every store write."""
    sub = api.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                assert await sub.queue.get() is not None
    finally:
        api.store.unsubscribe(sub)


def slices(api: Api, service: str = "web") -> list[Obj]:
    return [s for s in api.store.list(SLICES, NS)
            if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == service]


def endpoints_of(api: Api, svc: str = "web") -> list[Obj]:
    [only] = slices(api, svc)
    found: list[Obj] = only["endpoints"]
    return found


def create_service(api: Api, name: str = "web", **spec: Any) -> Obj:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "s07-web"}, "ports": [{"name": "http", "port": 80}], **spec}}
    return api.create(rt(api, "services"), NS, body).obj


def create_pod(api: Api, name: str = "p-web", *, labels: Obj | None = None, node: str | None = NODE,
               ip: str | None = "10.244.0.7", ready: bool = True, ports: list[Obj] | None = None) -> Obj:
    container: Obj = {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}
    if ports:
        container["ports"] = ports
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "s07-web"}},
            "spec": {"containers": [container]}}
    api.create(rt(api, "pods"), NS, body)
    if node:
        bind_pod(api, NS, name, {"target": {"name": node}})
    if ip:
        set_status(api, name, {"phase": "Running", "podIP": ip,
                               "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]})
    return api.get(rt(api, "pods"), NS, name)


def set_status(api: Api, name: str, status: Obj) -> None:
    api.patch(rt(api, "pods"), NS, name, "application/merge-patch+json", {"status": status}, subresource="status")


def create_node(api: Api, name: str = NODE, labels: Obj | None = None) -> None:
    api.create(rt(api, "nodes"), "", {"apiVersion": "v1", "kind": "Node",
                                      "metadata": {"name": name, "labels": labels or {}}})


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    api = Api(Store(), Registry(), builtin_hooks())
    api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    task = asyncio.create_task(EndpointSliceController(api).run(), name="test-endpointslices")
    try:
        yield api
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def barrier(api: Api) -> None:
    """Return once the controller has handled every earlier event: a new Service got its slice."""
    name = f"barrier-{api.store.current_rv}"
    create_service(api, name, selector={"barrier": name})
    await wait_for(api, lambda: len(slices(api, name)) == 1)


class TestSlices:
    async def test_a_ready_pod_gives_the_recorded_slice(self, api: Api) -> None:
        create_node(api)
        svc = create_service(api)
        pod = create_pod(api)
        await wait_for(api, lambda: len(slices(api)) == 1 and bool(endpoints_of(api)))
        [got] = slices(api)
        assert re.fullmatch(r"web-[a-z0-9]{5}", got["metadata"]["name"])
        assert got["metadata"]["generateName"] == "web-"
        assert got["metadata"]["labels"] == {
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            "kubernetes.io/service-name": "web"}
        assert got["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                       "uid": svc["metadata"]["uid"], "controller": True,
                                                       "blockOwnerDeletion": True}]
        assert got["addressType"] == "IPv4"
        assert got["endpoints"] == [{"addresses": ["10.244.0.7"],
                                     "conditions": {"ready": True, "serving": True, "terminating": False},
                                     "targetRef": {"kind": "Pod", "namespace": NS, "name": "p-web",
                                                   "uid": pod["metadata"]["uid"]},
                                     "nodeName": NODE}]
        assert got["ports"] == [{"name": "http", "protocol": "TCP", "port": 80}]

    async def test_a_not_ready_pod_is_neither_ready_nor_serving(self, api: Api) -> None:
        create_node(api)
        create_service(api)
        create_pod(api)
        await wait_for(api, lambda: len(slices(api)) == 1 and bool(endpoints_of(api)))
        set_status(api, "p-web", {"conditions": [{"type": "Ready", "status": "False"}]})
        await wait_for(api, lambda: endpoints_of(api)[0]["conditions"] == {"ready": False, "serving": False,
                                                                           "terminating": False})

    async def test_a_pod_whose_node_does_not_exist_is_left_out_until_the_node_appears(self, api: Api) -> None:
        create_service(api)
        create_pod(api)
        await wait_for(api, lambda: len(slices(api)) == 1)
        await barrier(api)
        assert endpoints_of(api) == []
        create_node(api, labels={"topology.kubernetes.io/zone": "z1"})
        await wait_for(api, lambda: len(endpoints_of(api)) == 1)
        assert endpoints_of(api)[0]["zone"] == "z1"

    async def test_pods_without_an_ip_or_in_a_terminal_phase_are_left_out(self, api: Api) -> None:
        create_node(api)
        create_service(api)
        create_pod(api, "no-ip", ip=None)
        create_pod(api, "done", ip="10.244.0.8")
        set_status(api, "done", {"phase": "Succeeded"})
        create_pod(api, "ok", ip="10.244.0.9")
        await wait_for(api, lambda: len(slices(api)) == 1 and bool(endpoints_of(api)))
        await barrier(api)
        assert [e["targetRef"]["name"] for e in endpoints_of(api)] == ["ok"]

    async def test_a_terminating_ready_pod_is_serving_and_terminating_but_not_ready(self, api: Api) -> None:
        create_node(api)
        create_service(api)
        create_pod(api)
        api.delete(rt(api, "pods"), NS, "p-web", {})  # bound: stays for its grace period
        await wait_for(api, lambda: len(slices(api)) == 1 and bool(endpoints_of(api))
                       and endpoints_of(api)[0]["conditions"]["terminating"])
        assert endpoints_of(api)[0]["conditions"] == {"ready": False, "serving": True, "terminating": True}

    async def test_publish_not_ready_addresses_marks_every_pod_ready(self, api: Api) -> None:
        create_service(api, publishNotReadyAddresses=True)
        create_pod(api, ready=False, node="missing-node")
        await wait_for(api, lambda: len(slices(api)) == 1 and bool(endpoints_of(api)))
        assert endpoints_of(api)[0]["conditions"] == {"ready": True, "serving": False, "terminating": False}

    async def test_a_named_target_port_resolves_to_the_container_port(self, api: Api) -> None:
        create_node(api)
        create_service(api, "headless", clusterIP="None", ports=[{"port": 8265, "targetPort": "dashboard"}])
        create_pod(api, ports=[{"name": "dashboard", "containerPort": 8266}])
        await wait_for(api, lambda: len(slices(api, "headless")) == 1 and bool(endpoints_of(api, "headless")))
        [got] = slices(api, "headless")
        assert got["ports"] == [{"name": "", "protocol": "TCP", "port": 8266}]
        assert got["metadata"]["labels"]["service.kubernetes.io/headless"] == ""

    async def test_selector_and_label_changes_move_pods_in_and_out(self, api: Api) -> None:
        create_node(api)
        create_service(api, selector={"app": "s07-old"})
        create_pod(api)
        await wait_for(api, lambda: len(slices(api)) == 1)
        await barrier(api)
        assert endpoints_of(api) == []
        api.patch(rt(api, "services"), NS, "web", "application/merge-patch+json",
                  {"spec": {"selector": {"app": "s07-web"}}})
        await wait_for(api, lambda: len(endpoints_of(api)) == 1)
        api.patch(rt(api, "pods"), NS, "p-web", "application/merge-patch+json",
                  {"metadata": {"labels": {"app": "elsewhere"}}})
        await wait_for(api, lambda: endpoints_of(api) == [])

    async def test_a_service_without_selector_gets_no_slice(self, api: Api) -> None:
        create_service(api, selector=None)
        await barrier(api)
        assert slices(api) == []
        assert api.store.get(("", "endpoints"), NS, "web") is None

    async def test_a_deleted_slice_is_recreated(self, api: Api) -> None:
        create_service(api)
        await wait_for(api, lambda: len(slices(api)) == 1)
        [first] = slices(api)
        api.delete(rt(api, "endpointslices", "discovery.k8s.io"), NS, first["metadata"]["name"], {})
        await wait_for(api, lambda: len(slices(api)) == 1 and slices(api)[0]["metadata"]["uid"]
                       != first["metadata"]["uid"])

    async def test_changes_that_do_not_matter_write_nothing(self, api: Api) -> None:
        create_node(api)
        create_service(api)
        create_pod(api)
        await wait_for(api, lambda: len(slices(api)) == 1 and bool(endpoints_of(api)))
        await barrier(api)
        before = slices(api)[0]["metadata"]["resourceVersion"]
        set_status(api, "p-web", {"containerStatuses": [{"name": "main", "ready": True}]})
        api.patch(rt(api, "services"), NS, "web", "application/merge-patch+json",
                  {"metadata": {"annotations": {"note": "x"}}})
        await barrier(api)
        assert slices(api)[0]["metadata"]["resourceVersion"] == before

    async def test_state_present_before_the_controller_starts_is_published(self) -> None:
        api = Api(Store(), Registry(), builtin_hooks())
        api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        create_node(api)
        create_service(api)
        create_pod(api)
        task = asyncio.create_task(EndpointSliceController(api).run())
        try:
            await wait_for(api, lambda: len(slices(api)) == 1 and len(endpoints_of(api)) == 1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class TestEndpointsV1:
    async def test_ready_pods_give_the_recorded_endpoints(self, api: Api) -> None:
        create_node(api)
        create_service(api)
        pod = create_pod(api)
        await wait_for(api, lambda: bool((api.store.get(("", "endpoints"), NS, "web") or {}).get("subsets")))
        got = api.get(rt(api, "endpoints"), NS, "web")
        assert got["metadata"]["labels"] == {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}
        assert got["subsets"] == [{"addresses": [{"ip": "10.244.0.7", "nodeName": NODE, "targetRef": {
            "kind": "Pod", "namespace": NS, "name": "p-web", "uid": pod["metadata"]["uid"]}}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]

    async def test_not_ready_pods_are_listed_apart_and_terminating_ones_left_out(self, api: Api) -> None:
        create_node(api)
        create_service(api)
        create_pod(api, "a", ip="10.244.0.7", ready=False)
        create_pod(api, "b", ip="10.244.0.8")
        api.delete(rt(api, "pods"), NS, "b", {})
        await wait_for(api, lambda: [list(s) for s in (api.store.get(("", "endpoints"), NS, "web") or {})
                                     .get("subsets", [])] == [["notReadyAddresses", "ports"]])
        [subset] = api.get(rt(api, "endpoints"), NS, "web")["subsets"]
        assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.244.0.7"]

    async def test_endpoints_go_with_their_service(self, api: Api) -> None:
        create_service(api)
        await wait_for(api, lambda: api.store.get(("", "endpoints"), NS, "web") is not None)
        api.delete(rt(api, "services"), NS, "web", {})
        await wait_for(api, lambda: api.store.get(("", "endpoints"), NS, "web") is None)


class TestPureParts:
    @pytest.mark.parametrize(("target", "expected"), [(8080, 8080), ("8080", 8080), ("dash", 8265), ("nope", None)])
    def test_target_ports_resolve_by_number_or_container_port_name(self, target: Any, expected: int | None) -> None:
        pod = {"spec": {"containers": [{"ports": [{"name": "dash", "containerPort": 8265, "protocol": "TCP"},
                                                  {"name": "udp", "containerPort": 53, "protocol": "UDP"}]}]}}
        assert resolve_port({"port": 80, "targetPort": target, "protocol": "TCP"}, pod) == expected

    def test_a_named_port_must_match_the_protocol(self) -> None:
        pod = {"spec": {"containers": [{"ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]}}
        assert resolve_port({"port": 53, "targetPort": "dns", "protocol": "TCP"}, pod) is None

    def test_a_pod_with_the_services_subdomain_publishes_its_hostname(self) -> None:
        svc = {"metadata": {"name": "web", "namespace": NS, "uid": "u"}, "spec": {"selector": {"a": "b"}}}
        pod = {"metadata": {"name": "p", "namespace": NS, "uid": "p"},
               "spec": {"hostname": "h", "subdomain": "web", "nodeName": "n"},
               "status": {"podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}
        [endpoint] = desired_slice(svc, [pod], lambda name: {})["endpoints"]
        assert endpoint["hostname"] == "h"

    def test_a_slice_without_pods_has_empty_endpoints_and_ports(self) -> None:
        svc = {"metadata": {"name": "web", "namespace": NS, "uid": "u"},
               "spec": {"selector": {"a": "b"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
        got = desired_slice(svc, [], lambda name: {})
        assert (got["endpoints"], got["ports"]) == ([], [])


class TestAllControllers:
    def make_api(self) -> Api:
        api = Api(Store(), Registry(), builtin_hooks())
        api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        return api

    async def test_a_deleted_service_loses_its_slice_through_the_garbage_collector(self) -> None:
        api = self.make_api()
        controllers = Controllers(api)
        await controllers.start()
        try:
            create_service(api)
            await wait_for(api, lambda: len(slices(api)) == 1
                           and api.store.get(("", "endpoints"), NS, "web") is not None)
            api.delete(rt(api, "services"), NS, "web", {})
            await wait_for(api, lambda: slices(api) == [] and api.store.get(("", "endpoints"), NS, "web") is None)
        finally:
            await controllers.stop()

    async def test_a_paused_garbage_collector_leaves_the_slice_until_resumed(self) -> None:
        api = self.make_api()
        controllers = Controllers(api)
        await controllers.start()
        try:
            create_service(api)
            await wait_for(api, lambda: len(slices(api)) == 1)
            controllers.set_gc_paused(True)
            api.delete(rt(api, "services"), NS, "web", {})
            await wait_for(api, lambda: api.store.get(("", "endpoints"), NS, "web") is None)
            await barrier(api)
            assert len(slices(api)) == 1
            controllers.set_gc_paused(False)
            await wait_for(api, lambda: slices(api) == [])
        finally:
            await controllers.stop()

    async def test_run_controllers_serves_until_stopped_and_leaves_no_task(self) -> None:
        api = self.make_api()
        stop = asyncio.Event()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_controllers(api, stop=stop))
        await wait_for(api, lambda: api.store.get(("", "serviceaccounts"), NS, "default") is not None)
        stop.set()
        async with asyncio.timeout(2):
            await task
        assert asyncio.all_tasks() - before - {task} == set()
        assert api.store.subscriber_count == 0

    async def test_a_failing_controller_stops_the_others_and_its_error_comes_out(self) -> None:
        api = self.make_api()
        controllers = Controllers(api)

        async def broken() -> None:
            raise RuntimeError("boom")

        controllers.endpoints.run = broken  # type: ignore[method-assign]
        await controllers.start()
        await settle()
        with pytest.raises(ExceptionGroup) as exc:
            await controllers.stop()
        assert exc.group_contains(RuntimeError, match="boom")
        assert api.store.subscriber_count == 0
