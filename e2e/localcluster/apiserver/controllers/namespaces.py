"""Namespace lifecycle and CRD cleanup, as kube-controller-manager and apiextensions-apiserver do them.

Guarantees:
1. Every namespace that is not terminating holds ConfigMap `kube-root-ca.crt` (key `ca.crt`: `root_ca_pem`, the
   cluster's CA with TLS, else a fixed PEM-shaped placeholder) and ServiceAccount `default`: both appear right
   after the namespace, and come back if deleted or (the ConfigMap) edited.
2. A namespace with deletionTimestamp shows phase Terminating; every object in it, of every resource type in
   the store (custom ones too), is deleted through the Api, so finalizers and pod grace periods hold it back.
   Once nothing is left, the `kubernetes` entry of spec.finalizers is removed and, with no finalizer left,
   the namespace is removed.
3. A namespace that vanished at once still has its content deleted.
4. A CRD with deletionTimestamp and the `customresourcecleanup.apiextensions.k8s.io` finalizer has all its
   custom resources deleted (through the Api while the kind is served); once none is left the finalizer is
   removed, and the CRD goes.
5. Progress is driven by store events (a deletion inside a terminating namespace re-examines it); no polling.
6. With `content_delay_s`, a terminating namespace's content is deleted only that long after the deletion
   began (the embedded cluster uses 1 s, as a real controller manager takes a moment): `kubectl delete -k`
   then deletes the namespace's objects itself instead of finding them gone.

Namespaces keep their finalizers in spec and are finalized through the `/finalize` subresource, which the Api
does not model: this controller writes the namespace's phase and spec.finalizers to the store directly.

Caller must: run each controller's `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.deletion import CRD_CLEANUP_FINALIZER
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj

NAMESPACES: GroupResource = ("", "namespaces")
CONFIGMAPS: GroupResource = ("", "configmaps")
SERVICEACCOUNTS: GroupResource = ("", "serviceaccounts")
CRDS: GroupResource = ("apiextensions.k8s.io", "customresourcedefinitions")
ROOT_CA_NAME = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters.")
ROOT_CA_PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdzCCAR2gAwIBAgIUbG9jYWxjbHVzdGVyLWVtYmVkZGVkLWNhMAoGCCqGSM49\n"
    "BAMCMBgxFjAUBgNVBAMMDWxvY2FsY2x1c3Rlci1jYTAeFw0yNjAxMDEwMDAwMDBa\n"
    "Fw0zNjAxMDEwMDAwMDBaMBgxFjAUBgNVBAMMDWxvY2FsY2x1c3Rlci1jYTBZMBMG\n"
    "-----END CERTIFICATE-----\n")


class NamespaceController:
    def __init__(self, api: Api, *, content_delay_s: float = 0.0) -> None:
        self.api = api
        self.root_ca_pem = ROOT_CA_PEM  # the server sets its real CA here before the controllers start
        self.content_delay_s = content_delay_s
        self._terminating: set[str] = set()
        self._since: dict[str, float] = {}  # terminating namespace -> loop time it was first seen deleting

    async def run(self) -> None:
        store = self.api.store
        loop = asyncio.get_running_loop()
        sub = store.subscribe(None)
        try:
            dirty = {meta(ns)["name"] for ns in store.list(NAMESPACES)}
            while True:
                for name in sorted(dirty):
                    self._sync(name)
                waiting = [t + self.content_delay_s for n, t in self._since.items() if n in self._terminating]
                timeout = max(0.0, min(waiting) - loop.time()) if waiting else None
                try:
                    batch = await asyncio.wait_for(sub.next_batch(), timeout)
                except TimeoutError:
                    dirty = set(self._terminating)  # a content delay ran out
                    continue
                if batch is None:
                    return
                dirty = set()
                for ev in batch:
                    dirty |= self._affected(ev)
        finally:
            store.unsubscribe(sub)

    def _affected(self, ev: Event) -> set[str]:
        m = meta(ev.obj)
        if ev.gr == NAMESPACES:
            return {m["name"]}
        namespace = m.get("namespace") or ""
        if ev.type == "DELETED" and namespace in self._terminating:
            return {namespace}
        if (ev.gr, m.get("name")) in ((CONFIGMAPS, ROOT_CA_NAME), (SERVICEACCOUNTS, "default")):
            return {namespace}
        return set()

    def _sync(self, name: str) -> None:
        ns = self.api.store.get(NAMESPACES, "", name)
        if ns is None:
            self._terminating.discard(name)
            self._since.pop(name, None)
            self._delete_content(name)
        elif meta(ns).get("deletionTimestamp"):
            self._terminating.add(name)
            self._finalize(ns)
        else:
            self._terminating.discard(name)
            self._ensure_defaults(name)

    def _ensure_defaults(self, namespace: str) -> None:
        store = self.api.store
        annotations = {"kubernetes.io/description": ROOT_CA_DESCRIPTION}
        root_ca = {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": ROOT_CA_NAME, "annotations": annotations}, "data": {"ca.crt": self.root_ca_pem}}
        current = store.get(CONFIGMAPS, namespace, ROOT_CA_NAME)
        if current is None:
            self._create(CONFIGMAPS, namespace, root_ca)
        elif current.get("data") != root_ca["data"] and not meta(current).get("deletionTimestamp"):
            self._update(CONFIGMAPS, namespace, {**current, "data": root_ca["data"]})
        if store.get(SERVICEACCOUNTS, namespace, "default") is None:
            self._create(SERVICEACCOUNTS, namespace,
                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})

    def _finalize(self, ns: Obj) -> None:
        store = self.api.store
        name = meta(ns)["name"]
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns = store.put(NAMESPACES, {**ns, "status": {**(ns.get("status") or {}), "phase": "Terminating"}})
        loop = asyncio.get_running_loop()
        first_seen = self._since.setdefault(name, loop.time())
        if loop.time() < first_seen + self.content_delay_s:
            return  # as kube's controller, start a moment later: clients deleting the content themselves win
        if self._delete_content(name):
            return
        finalizers = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
        if not finalizers and not meta(ns).get("finalizers"):
            store.remove(NAMESPACES, "", name)
            self._terminating.discard(name)
            self._since.pop(name, None)
        else:
            store.put(NAMESPACES, {**ns, "spec": {**(ns.get("spec") or {}), "finalizers": finalizers}})

    def _delete_content(self, namespace: str) -> bool:
        """Ask every object in the namespace to go; True while some remain."""
        for gr in list(self.api.store.resources()):
            for obj in self.api.store.list(gr, namespace):
                if not meta(obj).get("deletionTimestamp"):
                    _delete(self.api, gr, obj, {"propagationPolicy": "Background"})
        return any(self.api.store.count(gr, namespace) for gr in self.api.store.resources())

    def _create(self, gr: GroupResource, namespace: str, body: Obj) -> None:
        rt = next((rt for rt in self.api.registry if rt.group_resource == gr), None)
        if rt is not None:
            try:
                self.api.create(rt, namespace, body)
            except ApiError:
                pass  # created meanwhile, or the namespace began terminating

    def _update(self, gr: GroupResource, namespace: str, body: Obj) -> None:
        rt = next((rt for rt in self.api.registry if rt.group_resource == gr), None)
        if rt is not None:
            try:
                self.api.update(rt, namespace, meta(body)["name"], body)
            except ApiError:
                pass  # changed meanwhile: its event brings it back here


class CrdCleanupController:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._terminating: dict[GroupResource, str] = {}  # custom resource -> terminating CRD name

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(None)
        try:
            dirty = {meta(crd)["name"] for crd in store.list(CRDS)}
            while True:
                for name in sorted(dirty):
                    self._sync(name)
                batch = await sub.next_batch()
                if batch is None:
                    return
                dirty = set()
                for ev in batch:
                    if ev.gr == CRDS:
                        dirty.add(meta(ev.obj)["name"])
                    elif ev.type == "DELETED" and ev.gr in self._terminating:
                        dirty.add(self._terminating[ev.gr])
        finally:
            store.unsubscribe(sub)

    def _sync(self, name: str) -> None:
        crd = self.api.store.get(CRDS, "", name)
        if crd is None or not meta(crd).get("deletionTimestamp") or \
                CRD_CLEANUP_FINALIZER not in (meta(crd).get("finalizers") or []):
            self._terminating = {gr: n for gr, n in self._terminating.items() if n != name}
            return
        spec: dict[str, Any] = crd.get("spec") or {}
        gr: GroupResource = (str(spec.get("group") or ""), str((spec.get("names") or {}).get("plural") or ""))
        self._terminating[gr] = name
        for obj in self.api.store.list(gr):
            if not meta(obj).get("deletionTimestamp"):
                _delete(self.api, gr, obj, {})
        if self.api.store.count(gr) == 0:
            finalizers = [f for f in meta(crd).get("finalizers") or [] if f != CRD_CLEANUP_FINALIZER]
            rt = next((rt for rt in self.api.registry if rt.group_resource == CRDS), None)
            body = {**crd, "metadata": {**meta(crd), "finalizers": finalizers}}
            if rt is None:
                return
            try:
                self.api.update(rt, "", name, body)
            except ApiError:
                return  # changed meanwhile: its event brings it back here
            del self._terminating[gr]


def _delete(api: Api, gr: GroupResource, obj: Obj, options: dict[str, Any]) -> None:
    m = meta(obj)
    rt = next((rt for rt in api.registry if rt.group_resource == gr), None)
    if rt is None:  # not served any more: only the store still holds it
        api.store.remove(gr, m.get("namespace") or "", m["name"])
        return
    try:
        api.delete(rt, m.get("namespace") or "", m["name"], options)
    except ApiError:
        pass  # already gone
