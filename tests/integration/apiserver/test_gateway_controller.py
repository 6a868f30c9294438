"""The local cluster's Gateway controller (e2e/localcluster/apiserver/controllers/gateways.py) on the embedded API
server, driven with kubectl 1.37: the Gateway API CRDs and the `localcluster` GatewayClass are there from the
start, KubeRay's `istio` GatewayClass is served, and Gateways and HTTPRoutes get the spec's statuses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

GROUP = "gateway.networking.k8s.io"
# kuberay ray-operator/config/samples/gateway-api/istio-class.yaml, unchanged
ISTIO_CLASS = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: istio
spec:
  controllerName: istio.io/gateway-controller
"""
OBJECTS = """\
apiVersion: v1
kind: Service
metadata:
  name: active-serve-svc
spec:
  selector: {app: active}
  ports: [{name: serve, port: 8000, targetPort: 8000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: sample-gateway
spec:
  gatewayClassName: istio
  listeners:
    - {name: http, protocol: HTTP, port: 80}
    - {name: tcp, protocol: TCP, port: 9000}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: weighted
spec:
  parentRefs: [{name: sample-gateway}]
  rules:
    - backendRefs:
        - {name: active-serve-svc, port: 8000, weight: 75}
        - {name: pending-serve-svc, port: 8000, weight: 25}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: no-such-listener
spec:
  parentRefs: [{name: sample-gateway, sectionName: nope}, {name: elsewhere-gateway}]
  rules: [{backendRefs: [{name: active-serve-svc, port: 8000}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: on-the-tcp-listener
spec:
  parentRefs: [{name: sample-gateway, sectionName: tcp}]
  rules: [{backendRefs: [{name: active-serve-svc, port: 8000, namespace: kube-system}]}]
"""


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig)


async def until(server: LocalApiServer, check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Re-check after every write the API server makes, until `check()` is truthy or the deadline passes."""
    sub = server.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not (result := check()):
                await sub.queue.get()
            return result
    finally:
        server.store.unsubscribe(sub)


def conditions(obj: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in ((obj or {}).get("status") or {}).get("conditions") or []}


async def get_json(kubectl: Kubectl, *args: str) -> Any:
    _, out, _ = await kubectl.run("get", *args, "-o", "json")
    return json.loads(out)


async def test_a_fresh_local_cluster_serves_the_gateway_api_and_accepts_its_localcluster_gatewayclass(
    kubectl: Kubectl, apiserver: LocalApiServer
) -> None:
    await until(apiserver, lambda: conditions(apiserver.store.get((GROUP, "gatewayclasses"), "", "localcluster")))
    gc = await get_json(kubectl, "gatewayclass", "localcluster")
    assert gc["spec"]["controllerName"] == "localcluster.rayservice.io/gateway-controller"
    assert conditions(gc)["Accepted"] == ("True", "Accepted")
    assert all(c["observedGeneration"] == 1 for c in gc["status"]["conditions"])
    _, out, _ = await kubectl.run("get", "crd", "-o", "name")
    assert {f"customresourcedefinition.apiextensions.k8s.io/{p}.{GROUP}"
            for p in ("gatewayclasses", "gateways", "httproutes")} <= set(out.split())


async def test_a_restarted_server_keeps_its_gateway_api_crds_and_class(apiserver: LocalApiServer) -> None:
    crd = "gateways.gateway.networking.k8s.io"
    before = apiserver.store.get(("apiextensions.k8s.io", "customresourcedefinitions"), "", crd)
    await apiserver.stop()
    await apiserver.start()
    after = apiserver.store.get(("apiextensions.k8s.io", "customresourcedefinitions"), "", crd)
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert apiserver.registry.lookup(GROUP, "v1", "gateways") is not None
    assert conditions(apiserver.store.get((GROUP, "gatewayclasses"), "", "localcluster"))["Accepted"][0] == "True"


async def test_kuberays_istio_class_gateway_and_routes_get_the_spec_statuses(
    kubectl: Kubectl, apiserver: LocalApiServer
) -> None:
    await kubectl.run("apply", "-f", "-", stdin=ISTIO_CLASS)
    await kubectl.run("apply", "-f", "-", stdin=OBJECTS)

    def programmed() -> dict[str, Any] | None:
        gw = apiserver.store.get((GROUP, "gateways"), "default", "sample-gateway")
        route = apiserver.store.get((GROUP, "httproutes"), "default", "weighted")
        listeners = ((gw or {}).get("status") or {}).get("listeners") or []
        if conditions(gw).get("Programmed", ("",))[0] == "True" and listeners[0]["attachedRoutes"] == 1 and (
                (route or {}).get("status") or {}).get("parents"):
            return gw
        return None

    await until(apiserver, programmed)
    gc = await get_json(kubectl, "gatewayclass", "istio")
    assert conditions(gc)["Accepted"] == ("True", "Accepted")

    gw = await get_json(kubectl, "gateway", "sample-gateway")
    svc = await get_json(kubectl, "service", "sample-gateway-localgw")
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": svc["spec"]["clusterIP"]}]
    assert svc["metadata"]["ownerReferences"][0]["uid"] == gw["metadata"]["uid"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [80]
    assert conditions(gw) == {"Accepted": ("True", "ListenersNotValid"), "Programmed": ("True", "Programmed")}
    http, tcp = gw["status"]["listeners"]
    assert (http["name"], http["attachedRoutes"], http["supportedKinds"]) == (
        "http", 1, [{"group": GROUP, "kind": "HTTPRoute"}])
    assert {c["type"]: (c["status"], c["reason"]) for c in http["conditions"]} == {
        "Accepted": ("True", "Accepted"), "Programmed": ("True", "Programmed"),
        "ResolvedRefs": ("True", "ResolvedRefs"), "Conflicted": ("False", "NoConflicts")}
    assert {c["type"]: (c["status"], c["reason"]) for c in tcp["conditions"]}["Accepted"] == (
        "False", "UnsupportedProtocol")
    _, out, _ = await kubectl.run("get", "gateway", "sample-gateway", "--no-headers")
    assert out.split()[:4] == ["sample-gateway", "istio", svc["spec"]["clusterIP"], "True"], out

    (parent,) = (await get_json(kubectl, "httproute", "weighted"))["status"]["parents"]
    assert parent["controllerName"] == "istio.io/gateway-controller"
    assert parent["parentRef"] == {"group": GROUP, "kind": "Gateway", "name": "sample-gateway"}
    assert conditions({"status": parent}) == {"Accepted": ("True", "Accepted"),
                                              "ResolvedRefs": ("False", "BackendNotFound")}
    (parent,) = (await get_json(kubectl, "httproute", "no-such-listener"))["status"]["parents"]  # not elsewhere
    assert conditions({"status": parent}) == {"Accepted": ("False", "NoMatchingParent"),
                                              "ResolvedRefs": ("True", "ResolvedRefs")}
    (parent,) = (await get_json(kubectl, "httproute", "on-the-tcp-listener"))["status"]["parents"]
    assert conditions({"status": parent}) == {"Accepted": ("False", "NotAllowedByListeners"),
                                              "ResolvedRefs": ("False", "RefNotPermitted")}

    await kubectl.run("apply", "-f", "-", stdin="apiVersion: v1\nkind: Service\nmetadata: {name: pending-serve-svc}\n"
                      "spec: {selector: {app: pending}, ports: [{name: serve, port: 8000}]}\n")
    await until(apiserver, lambda: conditions({"status": (apiserver.store.get(
        (GROUP, "httproutes"), "default", "weighted") or {})["status"]["parents"][0]})["ResolvedRefs"][0] == "True")

    await kubectl.run("delete", "gateway", "sample-gateway")
    await until(apiserver, lambda: apiserver.store.get(("", "services"), "default", "sample-gateway-localgw") is None)


async def test_converged_gateway_objects_get_no_more_writes(kubectl: Kubectl, apiserver: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=ISTIO_CLASS)
    await kubectl.run("apply", "-f", "-", stdin=OBJECTS)
    keys = [("gatewayclasses", "", "istio"), ("gateways", "default", "sample-gateway"),
            ("httproutes", "default", "weighted"), ("httproutes", "default", "on-the-tcp-listener")]

    def versions() -> list[str]:
        return [(apiserver.store.get((GROUP, p), ns, n) or {})["metadata"]["resourceVersion"] for p, ns, n in keys]

    await until(apiserver, lambda: all((apiserver.store.get((GROUP, p), ns, n) or {}).get("status", {}).get(
        "parents" if p == "httproutes" else "conditions") for p, ns, n in keys))
    await until(apiserver, lambda: conditions(apiserver.store.get((GROUP, "gateways"), "default", "sample-gateway"))
                .get("Programmed", ("",))[0] == "True")
    settled = versions()
    for i in range(3):  # each write wakes the controller for a full pass
        await kubectl.run("create", "configmap", f"unrelated-{i}")
        await kubectl.run("label", "service", "active-serve-svc", f"touched={i}", "--overwrite")
    await kubectl.run("get", "configmap", "unrelated-2")
    assert versions() == settled


async def test_a_gateway_of_a_class_nobody_serves_is_left_alone(kubectl: Kubectl, apiserver: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=ISTIO_CLASS.replace("istio", "other").replace(
        "other.io/gateway-controller", "example.com/other-controller"))
    await kubectl.run("apply", "-f", "-", stdin=OBJECTS.replace("gatewayClassName: istio", "gatewayClassName: other"))
    await kubectl.run("create", "configmap", "after")  # the controller has seen everything before this write
    await until(apiserver, lambda: apiserver.store.get(("", "configmaps"), "default", "after"))
    for _ in range(3):
        await kubectl.run("get", "gateway", "sample-gateway")
    assert "status" not in (apiserver.store.get((GROUP, "gatewayclasses"), "", "other") or {})
    assert "status" not in (apiserver.store.get((GROUP, "gateways"), "default", "sample-gateway") or {})
    assert apiserver.store.get(("", "services"), "default", "sample-gateway-localgw") is None
    route = apiserver.store.get((GROUP, "httproutes"), "default", "weighted") or {}
    assert not route.get("status", {}).get("parents")
