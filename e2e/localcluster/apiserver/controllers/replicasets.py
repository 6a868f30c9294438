"""The ReplicaSet controller: keeps `spec.replicas` pods matching the selector, as kube-controller-manager does.

Guarantees (kube v1.36 pkg/controller/replicaset):
1. A ReplicaSet has exactly `spec.replicas` active pods (not terminal, not being deleted) that it controls:
   missing ones are created from the template (generateName `<rs>-`, so `<rs>-<5 random>`, the template's
   labels and annotations, a controller ownerReference with blockOwnerDeletion), extra ones are deleted.
2. Extra pods are chosen as kube's ActivePods ordering does: unscheduled before scheduled, Pending before
   Unknown before Running, not Ready before Ready, Ready for less time before longer, more restarts before
   fewer, newer before older.
3. Adoption and release: an active orphan pod in the namespace whose labels match the selector is adopted
   (controller ownerReference added) unless the ReplicaSet is being deleted; a controlled pod whose labels no
   longer match is released (its reference removed).
4. Status: `replicas` (active controlled pods), `fullyLabeledReplicas` (those carrying all template labels),
   `readyReplicas`, `availableReplicas` (Ready for `minReadySeconds`), `terminatingReplicas` (being deleted),
   `observedGeneration`; written only when it changes. A pod that will become available later makes the
   controller look again at that moment (no polling).
5. A ReplicaSet being deleted creates nothing (the garbage collector takes its pods).
6. Every pod created or deleted is recorded as an Event on the ReplicaSet (SuccessfulCreate `Created pod: x`,
   SuccessfulDelete `Deleted pod: x`, from replicaset-controller).

Not guaranteed: kube's slow-start batches and burst limit (every missing pod is created in one pass); the
ReplicaFailure condition; rank by co-located pods.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.selectors import label_selector_from_dict
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj

from .workload import (
    PODS,
    Key,
    WorkloadController,
    available_at,
    controller_of,
    int_field,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    owner_reference,
    ready_since,
    served,
)

REPLICASETS: GroupResource = ("apps", "replicasets")


# ---- decisions (pure) ---------------------------------------------------------------------------------------


def selector_matches(rs: Mapping[str, Any], labels: Mapping[str, str] | None) -> bool:
    """An empty or missing selector matches nothing (kube's LabelSelectorAsSelector of a controller)."""
    raw = (rs.get("spec") or {}).get("selector")
    if not raw or not (raw.get("matchLabels") or raw.get("matchExpressions")):
        return False
    return label_selector_from_dict(raw).matches(labels or {})


def pod_from_template(rs: Obj) -> Obj:
    """The pod the ReplicaSet creates (kube's GetPodFromTemplate)."""
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {"generateName": f"{meta(rs)['name']}-", "ownerReferences": [owner_reference(rs)]}
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = dict(tmeta[key]) if isinstance(tmeta[key], dict) else list(tmeta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


def _restarts(pod: Mapping[str, Any]) -> int:
    return sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def deletion_order(pods: Iterable[Obj]) -> list[Obj]:
    """Pods sorted so that the ones to delete first come first (guarantee 2)."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}

    def key(pod: Obj) -> tuple[Any, ...]:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        since = ready_since(pod)
        created = str(meta(pod).get("creationTimestamp") or "")
        return (1 if spec.get("nodeName") else 0, phase_rank.get(str(status.get("phase")), 0),
                1 if is_pod_ready(pod) else 0, -(since.timestamp()) if since else 0.0, -_restarts(pod),
                _negate(created), str(meta(pod).get("name")))

    return sorted(pods, key=key)


def _negate(text: str) -> tuple[int, ...]:
    """Sorts newer timestamps first."""
    return tuple(-ord(ch) for ch in text)


def compute_status(rs: Obj, pods: list[Obj], terminating: int, now: datetime) -> dict[str, Any]:
    spec = rs.get("spec") or {}
    min_ready = int_field(spec.get("minReadySeconds"), 0)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    old = rs.get("status") or {}
    status: dict[str, Any] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(
            1 for p in pods if all((meta(p).get("labels") or {}).get(k) == v for k, v in template_labels.items())),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
        "terminatingReplicas": terminating,
        "observedGeneration": int(meta(rs).get("generation") or 1),
    }
    status = {k: v for k, v in status.items() if v or k == "replicas"}  # kube omits empty counts
    if old.get("conditions"):
        status["conditions"] = old["conditions"]
    return status


def desired_replicas(rs: Mapping[str, Any]) -> int:
    return int_field((rs.get("spec") or {}).get("replicas"), 1)


# ---- the controller -----------------------------------------------------------------------------------------


class ReplicaSetController(WorkloadController):
    name = "replicasets"
    component = "replicaset-controller"

    def initial_keys(self) -> Iterable[Key]:
        return [(meta(rs).get("namespace") or "", meta(rs)["name"]) for rs in self.api.store.list(REPLICASETS)]

    def affected(self, ev: Event) -> Iterable[Key]:
        m = meta(ev.obj)
        ns = m.get("namespace") or ""
        if ev.gr == REPLICASETS:
            return [(ns, m["name"])]
        if ev.gr != PODS:
            return []
        keys: set[Key] = set()
        for obj in (ev.obj, ev.old):
            ref = controller_of(obj) if obj is not None else None
            if ref is not None and ref.get("kind") == "ReplicaSet":
                keys.add((ns, str(ref.get("name"))))
        if controller_of(ev.obj) is None and ev.type != "DELETED":  # an orphan: who may adopt it?
            labels = m.get("labels") or {}
            for rs in self.api.store.list(REPLICASETS, ns):
                if selector_matches(rs, labels):
                    keys.add((ns, meta(rs)["name"]))
        return keys

    def sync(self, key: Key) -> None:
        ns, name = key
        rs = self.api.store.get(REPLICASETS, ns, name)
        if rs is None:
            return
        pods_rt = served(self.api, "", "pods")
        uid = meta(rs).get("uid")
        deleting = bool(meta(rs).get("deletionTimestamp"))
        owned: list[Obj] = []
        terminating = 0
        for pod in self.api.store.list(PODS, ns):
            ref = controller_of(pod)
            labels = meta(pod).get("labels") or {}
            matches = selector_matches(rs, labels)
            if ref is None:
                if matches and not deleting and is_pod_active(pod):
                    pod = self._adopt(pod, rs)
                else:
                    continue
            elif ref.get("uid") != uid:
                continue
            elif not matches:
                self._release(pod, str(uid))
                continue
            if meta(pod).get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
                    "Succeeded", "Failed"):
                terminating += 1
            if is_pod_active(pod):
                owned.append(pod)
        if not deleting:
            diff = len(owned) - desired_replicas(rs)
            if diff < 0:
                for _ in range(-diff):
                    created = self.api.create(pods_rt, ns, pod_from_template(rs)).obj
                    owned.append(created)
                    self.event(rs, "SuccessfulCreate", f"Created pod: {meta(created)['name']}")
            elif diff > 0:
                for pod in deletion_order(owned)[:diff]:
                    self.api.delete(pods_rt, ns, meta(pod)["name"], {"preconditions": {"uid": meta(pod)["uid"]}})
                    self.event(rs, "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")
                    owned.remove(pod)
                    terminating += 1
        now = self.now()
        status = compute_status(rs, owned, terminating, now)
        min_ready = int_field((rs.get("spec") or {}).get("minReadySeconds"), 0)
        if min_ready > 0:
            later = [when for p in owned if not is_pod_available(p, min_ready, now)
                     and (when := available_at(p, min_ready)) is not None]
            if later:
                self.wake_at(key, min(later))
        self._write_status(rs, status)

    def _adopt(self, pod: Obj, rs: Obj) -> Obj:
        refs = [*(meta(pod).get("ownerReferences") or []), owner_reference(rs)]
        body = {**pod, "metadata": {**meta(pod), "ownerReferences": refs}}
        return self.api.update(served(self.api, "", "pods"), meta(pod)["namespace"], meta(pod)["name"], body).obj

    def _release(self, pod: Obj, uid: str) -> None:
        refs = [r for r in meta(pod).get("ownerReferences") or [] if r.get("uid") != uid]
        m = {k: v for k, v in meta(pod).items() if k != "ownerReferences"}
        if refs:
            m["ownerReferences"] = refs
        self.api.update(served(self.api, "", "pods"), meta(pod)["namespace"], meta(pod)["name"],
                        {**pod, "metadata": m})

    def _write_status(self, rs: Obj, status: dict[str, Any]) -> None:
        if rs.get("status") == status:
            return
        self.api.update(served(self.api, *REPLICASETS), meta(rs)["namespace"], meta(rs)["name"],
                        {**rs, "status": status}, subresource="status")

