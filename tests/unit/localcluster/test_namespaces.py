"""The namespace controller and the CRD cleanup controller against the in-memory API (S03, S05, S06)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers.namespaces import (
    CRD_CLEANUP_FINALIZER,
    ROOT_CA_DESCRIPTION,
    CrdCleanupController,
    NamespaceController,
)
from e2e.localcluster.apiserver.schema import crds
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

Obj = dict[str, Any]
NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
WIDGET_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def rt(api: Api, plural: str, group: str = "", version: str = "v1") -> ResourceType:
    found = api.registry.lookup(group, version, plural)
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


def create_namespace(api: Api, name: str, finalizers: list[str] | None = None) -> None:
    body: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    if finalizers:
        body["spec"] = {"finalizers": finalizers}
    api.create(rt(api, "namespaces"), "", body)


def begin_deletion(api: Api, name: str) -> None:
    """What kube-apiserver's DELETE of a namespace does: stamp deletionTimestamp, keep spec.finalizers."""
    ns = copy.deepcopy(api.store.get(NAMESPACES, "", name))
    assert ns is not None
    ns["metadata"]["deletionTimestamp"] = api.now()
    api.store.put(NAMESPACES, ns)


def configmap(api: Api, namespace: str, name: str, finalizers: list[str] | None = None) -> None:
    m: Obj = {"name": name, **({"finalizers": finalizers} if finalizers else {})}
    api.create(rt(api, "configmaps"), namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m})


def release(api: Api, plural: str, namespace: str, name: str, group: str = "", version: str = "v1") -> None:
    api.patch(rt(api, plural, group, version), namespace, name, "application/merge-patch+json",
              {"metadata": {"finalizers": None}})


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    api = Api(Store(), Registry(), builtin_hooks())
    tasks = [asyncio.create_task(NamespaceController(api).run(), name="test-namespaces"),
             asyncio.create_task(CrdCleanupController(api).run(), name="test-crd-cleanup")]
    try:
        yield api
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def has(api: Api, gr: tuple[str, str], namespace: str, name: str) -> bool:
    return api.store.get(gr, namespace, name) is not None


class TestNewNamespaces:
    async def test_a_new_namespace_gets_the_root_ca_configmap_and_the_default_service_account(self, api: Api) -> None:
        create_namespace(api, "team")
        await wait_for(api, lambda: has(api, ("", "configmaps"), "team", "kube-root-ca.crt")
                       and has(api, ("", "serviceaccounts"), "team", "default"))
        root_ca = api.get(rt(api, "configmaps"), "team", "kube-root-ca.crt")
        assert root_ca["metadata"]["annotations"] == {"kubernetes.io/description": ROOT_CA_DESCRIPTION}
        pem = root_ca["data"]["ca.crt"]
        assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.endswith("-----END CERTIFICATE-----\n")
        account = api.get(rt(api, "serviceaccounts"), "team", "default")
        assert set(account) == {"apiVersion", "kind", "metadata"}

    async def test_namespaces_that_existed_before_the_controller_started_get_them_too(self) -> None:
        api = Api(Store(), Registry(), builtin_hooks())
        create_namespace(api, "early")
        task = asyncio.create_task(NamespaceController(api).run())
        try:
            await wait_for(api, lambda: has(api, ("", "serviceaccounts"), "early", "default"))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def test_a_deleted_default_service_account_comes_back(self, api: Api) -> None:
        create_namespace(api, "team")
        await wait_for(api, lambda: has(api, ("", "serviceaccounts"), "team", "default"))
        uid = api.get(rt(api, "serviceaccounts"), "team", "default")["metadata"]["uid"]
        api.delete(rt(api, "serviceaccounts"), "team", "default", {})
        await wait_for(api, lambda: has(api, ("", "serviceaccounts"), "team", "default"))
        assert api.get(rt(api, "serviceaccounts"), "team", "default")["metadata"]["uid"] != uid

    async def test_an_edited_root_ca_configmap_is_restored(self, api: Api) -> None:
        create_namespace(api, "team")
        await wait_for(api, lambda: has(api, ("", "configmaps"), "team", "kube-root-ca.crt"))
        original = api.get(rt(api, "configmaps"), "team", "kube-root-ca.crt")["data"]
        api.patch(rt(api, "configmaps"), "team", "kube-root-ca.crt", "application/merge-patch+json",
                  {"data": {"ca.crt": "tampered"}})
        await wait_for(api, lambda: api.get(rt(api, "configmaps"), "team", "kube-root-ca.crt")["data"] == original)


class TestTerminatingNamespaces:
    async def test_a_deleting_namespace_shows_terminating_until_its_content_is_gone(self, api: Api) -> None:
        create_namespace(api, "team")
        configmap(api, "team", "held", finalizers=["example.com/hold"])
        begin_deletion(api, "team")
        await wait_for(api, lambda: (api.get(rt(api, "namespaces"), "", "team").get("status") or {})
                       .get("phase") == "Terminating")
        await wait_for(api, lambda: bool(api.get(rt(api, "configmaps"), "team", "held")["metadata"]
                                         .get("deletionTimestamp")))
        assert has(api, NAMESPACES, "", "team")
        release(api, "configmaps", "team", "held")
        await wait_for(api, lambda: not has(api, NAMESPACES, "", "team"))

    async def test_every_namespaced_object_is_deleted_custom_resources_included(self, api: Api) -> None:
        for widget_rt in crds.resource_types_for(WIDGET_CRD):
            api.registry.add(widget_rt)
        create_namespace(api, "team")
        create_namespace(api, "other")
        configmap(api, "team", "cm")
        configmap(api, "other", "cm")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        api.create(rt(api, "pods"), "team", pod)
        api.create(rt(api, "widgets", "example.com"), "team",
                   {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
        begin_deletion(api, "team")
        await wait_for(api, lambda: not has(api, NAMESPACES, "", "team"))
        left = [gr for gr in api.store.resources() if api.store.count(gr, "team")]
        assert left == []
        assert has(api, ("", "configmaps"), "other", "cm")

    async def test_a_bound_pod_holds_the_namespace_until_its_kubelet_removes_it(self, api: Api) -> None:
        create_namespace(api, "team")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}
        api.create(rt(api, "pods"), "team", pod)
        begin_deletion(api, "team")
        await wait_for(api, lambda: bool(api.get(rt(api, "pods"), "team", "p")["metadata"].get("deletionTimestamp")))
        assert api.get(rt(api, "pods"), "team", "p")["metadata"]["deletionGracePeriodSeconds"] == 30
        assert has(api, NAMESPACES, "", "team")
        api.delete(rt(api, "pods"), "team", "p", {"gracePeriodSeconds": 0})  # what the kubelet does at the end
        await wait_for(api, lambda: not has(api, NAMESPACES, "", "team"))

    async def test_other_spec_finalizers_keep_the_namespace_once_kubernetes_is_done(self, api: Api) -> None:
        create_namespace(api, "team", finalizers=["example.com/dns"])
        begin_deletion(api, "team")
        await wait_for(api, lambda: api.get(rt(api, "namespaces"), "", "team")["spec"]["finalizers"]
                       == ["example.com/dns"])
        assert api.store.count(("", "configmaps"), "team") == 0

    async def test_defaults_are_not_recreated_in_a_terminating_namespace(self, api: Api) -> None:
        create_namespace(api, "team", finalizers=["example.com/dns"])
        await wait_for(api, lambda: has(api, ("", "serviceaccounts"), "team", "default"))
        begin_deletion(api, "team")
        await wait_for(api, lambda: api.get(rt(api, "namespaces"), "", "team")["spec"]["finalizers"]
                       == ["example.com/dns"])
        assert not has(api, ("", "serviceaccounts"), "team", "default")
        assert not has(api, ("", "configmaps"), "team", "kube-root-ca.crt")

    async def test_a_namespace_deleted_through_the_api_ends_with_its_content_gone(self, api: Api) -> None:
        create_namespace(api, "team")
        configmap(api, "team", "cm")
        api.delete(rt(api, "namespaces"), "", "team", {})
        await wait_for(api, lambda: not has(api, NAMESPACES, "", "team")
                       and api.store.count(("", "configmaps"), "team") == 0)

    async def test_content_of_a_namespace_removed_at_once_is_deleted(self, api: Api) -> None:
        create_namespace(api, "team")
        configmap(api, "team", "cm")
        api.store.remove(NAMESPACES, "", "team")
        await wait_for(api, lambda: api.store.count(("", "configmaps"), "team") == 0)


class TestCrdCleanup:
    def install(self, api: Api, finalizers: list[str], plural: str = "widgets", kind: str = "Widget") -> None:
        crd = copy.deepcopy(WIDGET_CRD)
        crd["metadata"] = {"name": f"{plural}.example.com", "finalizers": finalizers}
        crd["spec"]["names"] = {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"}
        stored = api.create(rt(api, "customresourcedefinitions", "apiextensions.k8s.io"), "", crd).obj
        for served in crds.resource_types_for(stored):
            api.registry.add(served)
        for ns in ("a", "b"):
            if not has(api, NAMESPACES, "", ns):
                create_namespace(api, ns)
            api.create(rt(api, plural, "example.com"), ns,
                       {"apiVersion": "example.com/v1", "kind": kind, "metadata": {"name": "w"}})

    def delete_crd(self, api: Api, plural: str = "widgets") -> None:
        api.delete(rt(api, "customresourcedefinitions", "apiextensions.k8s.io"), "", f"{plural}.example.com", {})

    async def test_custom_resources_are_deleted_then_the_finalizer_is_removed(self, api: Api) -> None:
        self.install(api, [CRD_CLEANUP_FINALIZER])
        self.delete_crd(api)
        await wait_for(api, lambda: not has(api, CRDS, "", "widgets.example.com"))
        assert api.store.count(("example.com", "widgets")) == 0

    async def test_a_custom_resource_finalizer_holds_the_crd(self, api: Api) -> None:
        self.install(api, [CRD_CLEANUP_FINALIZER])
        api.patch(rt(api, "widgets", "example.com"), "a", "w", "application/merge-patch+json",
                  {"metadata": {"finalizers": ["example.com/hold"]}})
        self.delete_crd(api)
        await wait_for(api, lambda: not has(api, ("example.com", "widgets"), "b", "w"))
        assert has(api, CRDS, "", "widgets.example.com")
        release(api, "widgets", "a", "w", "example.com")
        await wait_for(api, lambda: not has(api, CRDS, "", "widgets.example.com"))

    async def test_another_finalizer_keeps_the_crd_after_cleanup(self, api: Api) -> None:
        self.install(api, ["example.com/other"])
        self.delete_crd(api)  # deletion adds the cleanup finalizer, as kube-apiserver does
        await wait_for(api, lambda: api.store.count(("example.com", "widgets")) == 0)
        await wait_for(api, lambda: (api.store.get(CRDS, "", "widgets.example.com") or {})
                       .get("metadata", {}).get("finalizers") == ["example.com/other"])
        assert has(api, CRDS, "", "widgets.example.com")
