"""The ServiceAccount controller, as kube-controller-manager's `serviceaccount-controller` runs it.

Guarantees:
1. Every namespace that is not terminating holds the ServiceAccounts named in `names` (kube's default: just
   `default`); one appears right after its namespace is created and comes back when deleted.
2. A terminating namespace gets none (its content is going away), and nothing is written for a namespace
   that already holds them: the controller makes no write without a change.
3. Progress is driven by store events on namespaces and ServiceAccounts; no polling.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

from collections.abc import Sequence

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import GroupResource, Obj

NAMESPACES: GroupResource = ("", "namespaces")
SERVICEACCOUNTS: GroupResource = ("", "serviceaccounts")


def missing_service_accounts(namespace_obj: Obj | None, present: set[str],
                             names: Sequence[str]) -> list[str]:
    """Which of `names` to create in a namespace (none for a missing or terminating one)."""
    if namespace_obj is None or meta(namespace_obj).get("deletionTimestamp"):
        return []
    return [n for n in names if n not in present]


class ServiceAccountController:
    def __init__(self, api: Api, *, names: Sequence[str] = ("default",)) -> None:
        self.api = api
        self.names = tuple(names)

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(None)
        try:
            dirty = {meta(ns)["name"] for ns in store.list(NAMESPACES)}
            while True:
                for namespace in sorted(dirty):
                    self._sync(namespace)
                batch = await sub.next_batch()
                if batch is None:
                    return
                dirty = set()
                for ev in batch:
                    if ev.gr == NAMESPACES and ev.type != "DELETED":
                        dirty.add(meta(ev.obj)["name"])
                    elif ev.gr == SERVICEACCOUNTS and ev.type == "DELETED" and meta(ev.obj)["name"] in self.names:
                        dirty.add(meta(ev.obj).get("namespace") or "")
        finally:
            store.unsubscribe(sub)

    def _sync(self, namespace: str) -> None:
        store = self.api.store
        present = {n for n in self.names if store.get(SERVICEACCOUNTS, namespace, n) is not None}
        todo = missing_service_accounts(store.get(NAMESPACES, "", namespace), present, self.names)
        rt = next((rt for rt in self.api.registry if rt.group_resource == SERVICEACCOUNTS), None)
        if rt is None:
            return
        for name in todo:
            try:
                self.api.create(rt, namespace, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                "metadata": {"name": name}})
            except ApiError:
                pass  # created meanwhile, or the namespace began terminating: its event brings us back
