"""The garbage collector: removes objects whose owners are gone, following kube's three propagation policies.

Guarantees (as recorded against kube-controller-manager v1.36, S05):
1. Background: an object none of whose ownerReferences names a live owner (same uid) is deleted through the
   Api, right after its last owner goes; its own finalizers and grace period are honoured.
2. Foreground: an owner with deletionTimestamp and the `foregroundDeletion` finalizer has its dependents
   deleted; the finalizer is removed (and the owner goes) once no dependent whose reference has
   `blockOwnerDeletion: true` exists any more. A dependent that has dependents itself is deleted in Foreground.
3. Orphan: an owner with deletionTimestamp and the `orphan` finalizer has its reference removed from every
   dependent, then the finalizer is removed.
4. An object with a live owner keeps living; references to owners that are gone (or being deleted in
   Foreground) are removed from it.
5. Owners are matched by uid. Dependents are found through an index by owner uid kept from store events; the
   store is read per object, never scanned per event.
6. While paused nothing is written; what was missed is done after `resume()`.

Caller must: run `run()` as a task on the loop that owns the store, and cancel it to stop.
Not guaranteed: an ownerReference to a kind that is not served counts as a live owner (nothing is deleted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import GroupResource, Obj

Key = tuple[GroupResource, str, str]  # (group resource, namespace or "", name)
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class GarbageCollector:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._dependents: dict[str, set[Key]] = {}  # owner uid -> dependents
        self._owners: dict[Key, frozenset[str]] = {}  # dependent -> owner uids
        self._key_of_uid: dict[str, Key] = {}
        self._dirty: set[Key] = set()
        self._resumed = asyncio.Event()
        self._resumed.set()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    def dependents_of(self, owner_uid: str) -> set[Key]:
        """What the index knows about an owner's dependents (read-only view, for diagnostics)."""
        return set(self._dependents.get(owner_uid, ()))

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(None)
        try:
            for gr in list(store.resources()):
                for obj in store.list(gr):
                    self._observe(gr, None, obj)
            while True:
                await self._resumed.wait()
                self._collect()
                batch = await sub.next_batch()
                if batch is None:
                    return
                for ev in batch:
                    self._observe(ev.gr, ev.old, None if ev.type == "DELETED" else ev.obj)
        finally:
            store.unsubscribe(sub)

    # ---- index ----------------------------------------------------------------------------------

    def _observe(self, gr: GroupResource, old: Obj | None, new: Obj | None) -> None:
        current = new if new is not None else old
        assert current is not None
        m = meta(current)
        key: Key = (gr, m.get("namespace") or "", m.get("name") or "")
        uid = str(m.get("uid") or "")
        before = self._owners.get(key, frozenset())
        after = frozenset() if new is None else _owner_uids(new)
        for owner in before - after:
            self._dependents.get(owner, set()).discard(key)
            if not self._dependents.get(owner):
                self._dependents.pop(owner, None)
        for owner in after - before:
            self._dependents.setdefault(owner, set()).add(key)
        if after:
            self._owners[key] = after
        else:
            self._owners.pop(key, None)
        if new is None:
            if self._key_of_uid.get(uid) == key:
                del self._key_of_uid[uid]
            self._dirty.update(self._dependents.get(uid, ()))
        else:
            self._key_of_uid[uid] = key
            finalizers = meta(new).get("finalizers") or []
            owned_anew = bool(after) and (old is None or after != before)
            deleting = bool(meta(new).get("deletionTimestamp")) and (FOREGROUND in finalizers or ORPHAN in finalizers)
            if owned_anew or deleting:
                self._dirty.add(key)
        # an owner waiting in Foreground may be free once a dependent goes or lets go of it
        for owner in before - after:
            owner_key = self._key_of_uid.get(owner)
            if owner_key is not None:
                self._dirty.add(owner_key)

    # ---- decisions ------------------------------------------------------------------------------

    def _collect(self) -> None:
        while self._dirty and not self.paused:
            key = self._dirty.pop()
            obj = self.api.store.get(*key)
            if obj is None:
                continue
            m = meta(obj)
            finalizers = m.get("finalizers") or []
            if m.get("deletionTimestamp"):
                if ORPHAN in finalizers:
                    self._orphan_dependents(key, obj)
                elif FOREGROUND in finalizers:
                    self._delete_dependents(key, obj)
            elif m.get("ownerReferences"):
                self._check_owners(key, obj)

    def _check_owners(self, key: Key, obj: Obj) -> None:
        m = meta(obj)
        states = [(ref, self._owner_state(ref, key[1])) for ref in m.get("ownerReferences") or []]
        gone = {ref.get("uid") for ref, state in states if state in ("dangling", "waiting")}
        if any(state == "solid" for _, state in states):
            if gone:
                refs = [ref for ref, _ in states if ref.get("uid") not in gone]
                self._write_meta(key, obj, "ownerReferences", refs)
            return
        finalizers = m.get("finalizers") or []
        waiting = any(state == "waiting" for _, state in states)
        if (waiting and self._dependents.get(str(m.get("uid")))) or FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Orphan" if ORPHAN in finalizers else "Background"
        self._delete(key, obj, policy)

    def _owner_state(self, ref: Mapping[str, Any], namespace: str) -> str:
        """solid (alive), dangling (gone or another uid) or waiting (being deleted in Foreground)."""
        api_version = str(ref.get("apiVersion") or "")
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        rt = self.api.registry.by_group_kind(group, str(ref.get("kind") or ""))
        if rt is None:
            return "solid"
        owner = self.api.store.get(rt.group_resource, namespace if rt.namespaced else "", str(ref.get("name")))
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            return "dangling"
        om = meta(owner)
        return "waiting" if om.get("deletionTimestamp") and FOREGROUND in (om.get("finalizers") or []) else "solid"

    def _delete_dependents(self, key: Key, owner: Obj) -> None:
        uid = str(meta(owner).get("uid"))
        blocked = False
        for dep_key in sorted(self._dependents.get(uid, ())):
            dep = self.api.store.get(*dep_key)
            if dep is None:
                continue
            refs = [r for r in meta(dep).get("ownerReferences") or [] if r.get("uid") == uid]
            blocked = blocked or any(r.get("blockOwnerDeletion") for r in refs)
            if not meta(dep).get("deletionTimestamp"):
                self._check_owners(dep_key, dep)
        if not blocked:
            self._remove_finalizer(key, owner, FOREGROUND)

    def _orphan_dependents(self, key: Key, owner: Obj) -> None:
        uid = str(meta(owner).get("uid"))
        for dep_key in sorted(self._dependents.get(uid, ())):
            dep = self.api.store.get(*dep_key)
            if dep is not None:
                refs = [r for r in meta(dep).get("ownerReferences") or [] if r.get("uid") != uid]
                self._write_meta(dep_key, dep, "ownerReferences", refs)
        current = self.api.store.get(*key)
        if current is not None:
            self._remove_finalizer(key, current, ORPHAN)

    # ---- writes ---------------------------------------------------------------------------------

    def _remove_finalizer(self, key: Key, obj: Obj, finalizer: str) -> None:
        self._write_meta(key, obj, "finalizers", [f for f in meta(obj).get("finalizers") or [] if f != finalizer])

    def _write_meta(self, key: Key, obj: Obj, field: str, value: list[Any]) -> None:
        m = {k: v for k, v in meta(obj).items() if k != field}
        if value:
            m[field] = value
        body = {**obj, "metadata": m}
        rt = self._served(key[0])
        if rt is None:  # the kind is no longer served: nothing but the store knows it
            if m.get("deletionTimestamp") and not m.get("finalizers"):
                self.api.store.remove(*key)
            else:
                self.api.store.put(key[0], body)
            return
        try:
            self.api.update(rt, key[1], key[2], body)
        except ApiError:
            pass  # gone or changed meanwhile: its next event brings it back here

    def _delete(self, key: Key, obj: Obj, policy: str) -> None:
        rt = self._served(key[0])
        if rt is None:
            self.api.store.remove(*key)
            return
        options = {"propagationPolicy": policy, "preconditions": {"uid": meta(obj).get("uid")}}
        try:
            self.api.delete(rt, key[1], key[2], options)
        except ApiError:
            pass  # already gone, or replaced by a new object of the same name

    def _served(self, gr: GroupResource) -> ResourceType | None:
        return next((rt for rt in self.api.registry if rt.group_resource == gr), None)


def _owner_uids(obj: Obj) -> frozenset[str]:
    return frozenset(str(r.get("uid")) for r in meta(obj).get("ownerReferences") or [] if r.get("uid"))
