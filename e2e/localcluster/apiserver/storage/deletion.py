"""Deletion as kube-apiserver does it: preconditions, propagation policies, finalizers and grace periods.

Guarantees:
1. Preconditions (uid, resourceVersion) are checked first; a mismatch is 409 Conflict.
2. Orphan and Foreground add their finalizer; an object with finalizers (or a bound pod in its grace
   period, or a namespace with spec finalizers) gets deletionTimestamp and stays; otherwise it goes at once.
3. A CRD is never removed directly: it gets the cleanup finalizer and a Terminating condition, and the
   cleanup controller removes its custom resources first.
4. Pods, Services and Namespaces are answered with the object; other kinds with a success Status.

Caller must: pass a `DeletingApi` (the REST layer's `Api` is one); this module does not import the REST layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import ApiError, Cause
from e2e.localcluster.apiserver.schema.resources import ResourceType

from .fieldowners import FieldOwners
from .objects import meta
from .store import Obj, Store

CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
RETURNS_DELETED_OBJECT = {("", "pods"), ("", "services"), ("", "namespaces")}


class DeletingApi(Protocol):
    """What deletion needs of the REST layer: its store, field owners, clock, lookup and output version."""

    store: Store
    owners: FieldOwners
    now: Callable[[], str]

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj: ...

    def output(self, rt: ResourceType, obj: Obj) -> Obj: ...


def delete(api: DeletingApi, rt: ResourceType, namespace: str, name: str,
           options: Mapping[str, Any]) -> tuple[Obj, bool]:
    """Returns (body, is_object): the remaining/deleted object, or a success Status."""
    old = api.get(rt, namespace, name)
    m = meta(old)
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != m.get("uid"):
        raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.kind} "{name}": the UID in the '
                       f'precondition ({pre["uid"]}) does not match the UID in record ({m.get("uid")}). '
                       "The object might have been deleted and then recreated", {"name": name, "kind": rt.kind})
    if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
        raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.kind} "{name}": the '
                       f'ResourceVersion in the precondition ({pre["resourceVersion"]}) does not match the '
                       f'ResourceVersion in record ({m.get("resourceVersion")}). The object might have been '
                       "modified", {"name": name, "kind": rt.kind})
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is not None:
        policy = "Orphan" if options["orphanDependents"] else "Background"
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise errors.invalid_options("DeleteOptions", [Cause(
            "propagationPolicy", "FieldValueNotSupported",
            f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"')])
    finalizers = list(m.get("finalizers") or [])
    deleting = bool(m.get("deletionTimestamp"))
    if policy == "Orphan" and "orphan" not in finalizers and not deleting:
        finalizers.append("orphan")
    if policy == "Foreground" and "foregroundDeletion" not in finalizers and not deleting:
        finalizers.append("foregroundDeletion")
    if rt.group_resource == CRD_GR and not deleting:
        return _delete_crd(api, rt, old, finalizers), True
    grace = _grace_period(rt, old, options)
    if spec_finalizers(rt, old):  # a namespace: Terminating until its controller finalizes it
        if deleting and finalizers == list(m.get("finalizers") or []):
            return old, True
        ns_meta = {k: v for k, v in m.items() if k != "finalizers"}
        if finalizers:
            ns_meta["finalizers"] = finalizers
        ns_meta.setdefault("deletionTimestamp", api.now())
        status = {**(old.get("status") or {}), "phase": "Terminating"}
        stored = api.store.put(rt.group_resource, {**old, "metadata": ns_meta, "status": status})
        return api.output(rt, stored), True
    if finalizers or grace > 0:
        if deleting and finalizers == list(m.get("finalizers") or []) and grace > 0:
            return old, True
        new_meta = {**m, "finalizers": finalizers} if finalizers else {k: v for k, v in m.items()
                                                                         if k != "finalizers"}
        if not deleting:
            new_meta["deletionTimestamp"] = api.now()
            new_meta["deletionGracePeriodSeconds"] = grace
            if rt.has_generation:
                new_meta["generation"] = int(m.get("generation") or 0) + 1
        stored = api.store.put(rt.group_resource, {**old, "metadata": new_meta})
        return api.output(rt, stored), True
    if rt.group_resource == ("", "pods"):
        # kube first records the deletion (stamped, grace 0, generation bumped), then removes the pod,
        # and answers with the recorded state
        final_meta = {**m, "deletionGracePeriodSeconds": 0}
        final_meta.setdefault("deletionTimestamp", api.now())
        if not deleting:
            final_meta["generation"] = int(m.get("generation") or 0) + 1
        final = api.store.put(rt.group_resource, {**old, "metadata": final_meta})
        api.store.remove(rt.group_resource, m.get("namespace", ""), name)
        api.owners.forget(m["uid"])
        return api.output(rt, final), True
    gone = api.store.remove(rt.group_resource, m.get("namespace", ""), name) or old
    api.owners.forget(m["uid"])
    if rt.group_resource in RETURNS_DELETED_OBJECT:
        return api.output(rt, gone), True
    details: dict[str, Any] = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    details["uid"] = m.get("uid")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}, False

def _delete_crd(api: DeletingApi, rt: ResourceType, crd: Obj, finalizers: list[str]) -> Obj:
    """A CRD stays, Terminating, until its custom resources are gone (the cleanup controller's job)."""
    m = meta(crd)
    if CRD_CLEANUP_FINALIZER not in finalizers:
        finalizers.append(CRD_CLEANUP_FINALIZER)
    now = api.now()
    status = dict(crd.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Terminating"]
    conditions.append({"type": "Terminating", "status": "True", "lastTransitionTime": now,
                       "reason": "InstanceDeletionPending",
                       "message": "CustomResourceDefinition marked for deletion; CustomResource deletion "
                                  "will begin soon"})
    status["conditions"] = conditions
    new_meta = {**m, "finalizers": finalizers, "deletionTimestamp": now, "deletionGracePeriodSeconds": 0,
                "generation": int(m.get("generation") or 0) + 1}
    return api.output(rt, api.store.put(rt.group_resource, {**crd, "metadata": new_meta, "status": status}))

def _grace_period(rt: ResourceType, obj: Obj, options: Mapping[str, Any]) -> int:
    """Only bound pods wait for their kubelet; everything else is deleted at once."""
    if rt.group_resource != ("", "pods") or not (obj.get("spec") or {}).get("nodeName"):
        return 0
    if options.get("gracePeriodSeconds") is not None:
        return max(0, int(options["gracePeriodSeconds"]))
    if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    return int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))


def spec_finalizers(rt: ResourceType, obj: Obj) -> bool:
    """Namespaces also wait for the finalizers in their spec before they go."""
    return rt.group_resource == ("", "namespaces") and bool((obj.get("spec") or {}).get("finalizers"))
