"""The `kubernetes` Service, Endpoints and EndpointSlice as kube-apiserver keeps them
(e2e/localcluster/apiserver/controllers/kubernetes_service.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers.endpoints import EndpointSliceController
from e2e.localcluster.apiserver.controllers.kubernetes_service import KubernetesServiceController, first_service_ip
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store
from rayservice.testing import settle

Obj = dict[str, Any]
SLICES = ("discovery.k8s.io", "endpointslices")
CIDR = "10.97.0.0/16"


def rt(api: Api, plural: str, group: str = "") -> ResourceType:
    found = api.registry.lookup(group, "v1", plural)
    assert found is not None
    return found


async def wait_for(api: Api, condition: Callable[[], Any], timeout_s: float = 2.0) -> None:
    sub = api.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                assert await sub.queue.get() is not None
    finally:
        api.store.unsubscribe(sub)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    api = Api(Store(), Registry(), builtin_hooks(CIDR))
    api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    yield api


@pytest.fixture
async def controller(api: Api) -> AsyncIterator[KubernetesServiceController]:
    ctl = KubernetesServiceController(api, service_cidr=CIDR)
    others = EndpointSliceController(api)  # the selector controller runs beside it in the server and must not interfere
    tasks = [asyncio.create_task(ctl.run(), name="test-kubernetes-service"),
             asyncio.create_task(others.run(), name="test-endpointslices")]
    try:
        yield ctl
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def the(api: Api, gr: tuple[str, str]) -> Obj | None:
    return api.store.get(gr, "default", "kubernetes")


def all_three(api: Api) -> bool:
    return all(the(api, gr) is not None for gr in (("", "services"), ("", "endpoints"), SLICES))


async def test_the_service_its_endpoints_and_its_slice_are_written_as_kube_apiserver_writes_them(
        api: Api, controller: KubernetesServiceController) -> None:
    controller.serve_at("10.244.0.1", 6443)
    await wait_for(api, lambda: all_three(api))
    svc, eps, eslice = the(api, ("", "services")), the(api, ("", "endpoints")), the(api, SLICES)
    assert svc is not None and eps is not None and eslice is not None
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert svc["spec"]["clusterIP"] == "10.97.0.1" and svc["spec"]["type"] == "ClusterIP"
    assert "selector" not in svc["spec"]
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    assert eps["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert eps["subsets"] == [{"addresses": [{"ip": "10.244.0.1"}],
                               "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    assert eslice["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert "ownerReferences" not in eslice["metadata"]
    assert eslice["addressType"] == "IPv4"
    assert eslice["endpoints"] == [{"addresses": ["10.244.0.1"], "conditions": {"ready": True}}]
    assert eslice["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    assert [s["metadata"]["name"] for s in api.store.list(SLICES, "default")] == ["kubernetes"]  # nothing else


async def test_a_deleted_or_edited_object_is_put_back_and_a_matching_one_is_never_rewritten(
        api: Api, controller: KubernetesServiceController) -> None:
    controller.serve_at("10.244.0.1", 6443)
    await wait_for(api, lambda: all_three(api))
    api.delete(rt(api, "endpointslices", "discovery.k8s.io"), "default", "kubernetes", {})
    await wait_for(api, lambda: the(api, SLICES) is not None)
    eps = the(api, ("", "endpoints"))
    assert eps is not None
    api.update(rt(api, "endpoints"), "default", "kubernetes", {**eps, "subsets": []})
    await wait_for(api, lambda: (the(api, ("", "endpoints")) or {}).get("subsets") == eps["subsets"])
    svc = the(api, ("", "services"))
    assert svc is not None
    api.update(rt(api, "services"), "default", "kubernetes",
               {**svc, "spec": {**svc["spec"], "selector": {"app": "x"},
                                "ports": [{"name": "https", "port": 8443, "targetPort": 1}]}})
    await wait_for(api, lambda: (the(api, ("", "services")) or {})["spec"].get("selector") is None)
    svc = the(api, ("", "services"))
    assert svc is not None and svc["spec"]["ports"][0]["port"] == 443 and svc["spec"]["clusterIP"] == "10.97.0.1"
    before = api.store.current_rv
    controller.sync("10.244.0.1", 6443)
    assert api.store.current_rv == before  # converged: no write


async def test_serving_at_another_address_moves_the_endpoints(api: Api,
                                                              controller: KubernetesServiceController) -> None:
    controller.serve_at("10.244.0.1", 6443)
    await wait_for(api, lambda: all_three(api))
    controller.serve_at("10.250.0.1", 7443)
    eslice, svc = the(api, SLICES), the(api, ("", "services"))
    assert eslice is not None and svc is not None
    assert eslice["endpoints"][0]["addresses"] == ["10.250.0.1"] and eslice["ports"][0]["port"] == 7443
    assert svc["spec"]["ports"][0]["targetPort"] == 7443


@pytest.mark.parametrize(("address", "why"), [("127.0.0.1", "loopback"), ("0.0.0.0", "unspecified"),
                                              ("169.254.1.1", "link-local"), ("224.0.0.5", "multicast"),
                                              ("fe80::1", "not an IPv4")])
def test_an_address_kube_refuses_in_endpoints_is_refused_with_the_reason(api: Api, address: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        KubernetesServiceController(api).serve_at(address, 6443)


def test_the_cluster_ip_is_the_first_address_of_the_service_range() -> None:
    assert first_service_ip("10.96.0.0/16") == "10.96.0.1"
    assert first_service_ip("10.251.0.0/16") == "10.251.0.1"


async def test_nothing_is_written_before_the_server_says_where_it_listens(
        api: Api, controller: KubernetesServiceController) -> None:
    api.create(rt(api, "configmaps"), "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    await settle()
    assert the(api, ("", "services")) is None
    controller.serve_at("10.244.0.1", 6443)
    assert all_three(api)  # at once, while the controller runs
