"""The Deployment controller: Deployment -> ReplicaSets, rolled as kube-controller-manager rolls them.

Guarantees (kube v1.36 pkg/controller/deployment):
1. A Deployment controls ReplicaSets named `<deployment>-<pod-template-hash>`, whose template, labels and
   selector carry the `pod-template-hash` label, with a controller ownerReference, the Deployment's annotations
   and `deployment.kubernetes.io/revision` (the largest revision so far plus one for the current template; a
   template that comes back, as `kubectl rollout undo` does, takes its old ReplicaSet to a new revision and
   keeps the old numbers in `revision-history`), `desired-replicas` and `max-replicas`. The Deployment carries
   the current revision in the same annotation. Orphan ReplicaSets matching the selector are adopted,
   controlled ones that stop matching are released.
2. RollingUpdate: the ReplicaSets' `spec.replicas` never total more than replicas + maxSurge, and old ones are
   scaled down only while at least replicas - maxUnavailable pods stay available (fenceposts as kube resolves
   them, see rollout.py); unhealthy old pods go first. Recreate: old ReplicaSets go to 0 and the new one is
   created or scaled up only once no old pod is left.
3. A change of `spec.replicas` alone scales the active ReplicaSets (proportionally to the max-replicas
   annotation when several are active), without a new rollout; `spec.paused` stops rollouts but not scaling.
4. Once a rollout is complete, old ReplicaSets with no replicas beyond `revisionHistoryLimit` (oldest revision
   first) are deleted.
5. Status: replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas, observedGeneration,
   and the conditions `Available` (MinimumReplicasAvailable / MinimumReplicasUnavailable) and `Progressing`
   (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
   ProgressDeadlineExceeded once `progressDeadlineSeconds` pass without progress; DeploymentPaused /
   DeploymentResumed), with kube's messages. A rollout in progress is looked at again when its deadline
   passes (no polling). `ScalingReplicaSet` events record every scale.
6. Nothing is written when the Deployment and its ReplicaSets are converged.

Not guaranteed: the template hash is kube's algorithm over JSON, not over Go's struct printing (rollout.py), so
ReplicaSet names differ from a real cluster's for the same template; no ReplicaFailure condition.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj

from . import deploymentstatus as ds
from . import rollout as ro
from .replicasets import REPLICASETS, selector_matches
from .workload import PODS, Key, WorkloadController, controller_of, owner_reference, served

DEPLOYMENTS: GroupResource = ("apps", "deployments")


class DeploymentController(WorkloadController):
    name = "deployments"
    component = "deployment-controller"

    def initial_keys(self) -> Iterable[Key]:
        return [(meta(d).get("namespace") or "", meta(d)["name"]) for d in self.api.store.list(DEPLOYMENTS)]

    def affected(self, ev: Event) -> Iterable[Key]:
        m = meta(ev.obj)
        ns = m.get("namespace") or ""
        if ev.gr == DEPLOYMENTS:
            return [(ns, m["name"])]
        keys: set[Key] = set()
        if ev.gr == REPLICASETS:
            for obj in (ev.obj, ev.old):
                ref = controller_of(obj) if obj is not None else None
                if ref is not None and ref.get("kind") == "Deployment":
                    keys.add((ns, str(ref.get("name"))))
            if controller_of(ev.obj) is None and ev.type != "DELETED":
                keys.update((ns, meta(d)["name"]) for d in self.api.store.list(DEPLOYMENTS, ns)
                            if selector_matches(d, m.get("labels")))
        elif ev.gr == PODS and ev.type == "DELETED":  # Recreate waits for old pods to be gone
            ref = controller_of(ev.obj)
            rs = self.api.store.get(REPLICASETS, ns, str(ref.get("name"))) if ref and ref.get(
                "kind") == "ReplicaSet" else None
            owner = controller_of(rs) if rs is not None else None
            if owner is not None and owner.get("kind") == "Deployment":
                keys.add((ns, str(owner.get("name"))))
        return keys

    # ---- sync (kube's syncDeployment) -------------------------------------------------------------------

    def sync(self, key: Key) -> None:
        ns, name = key
        d = self.api.store.get(DEPLOYMENTS, ns, name)
        if d is None:
            return
        rss = self._claim_replicasets(d)
        if meta(d).get("deletionTimestamp"):
            new_rs, old_rss = self._split(d, rss)
            self._write_status(d, ds.compute_status(d, [*old_rss, *([new_rs] if new_rs else [])], new_rs,
                                                    self.now()))
            return
        d = self._check_paused_condition(d)
        spec = d.get("spec") or {}
        if spec.get("paused") or self._is_scaling_event(d, rss):
            self._scale_only(d, rss)
        elif ro.is_rolling(d):
            self._rollout_rolling(d, rss)
        else:
            self._rollout_recreate(d, rss)

    def _claim_replicasets(self, d: Obj) -> list[Obj]:
        uid = meta(d).get("uid")
        rs_rt = served(self.api, *REPLICASETS)
        out = []
        for rs in self.api.store.list(REPLICASETS, meta(d)["namespace"]):
            ref = controller_of(rs)
            matches = selector_matches(d, meta(rs).get("labels"))
            if ref is None and matches and not meta(d).get("deletionTimestamp"):
                refs = [*(meta(rs).get("ownerReferences") or []), owner_reference(d)]
                rs = self.api.update(rs_rt, meta(rs)["namespace"], meta(rs)["name"],
                                     {**rs, "metadata": {**meta(rs), "ownerReferences": refs}}).obj
            elif ref is None or ref.get("uid") != uid:
                continue
            elif not matches:
                refs = [r for r in meta(rs).get("ownerReferences") or [] if r.get("uid") != uid]
                body_meta = {k: v for k, v in meta(rs).items() if k != "ownerReferences"}
                if refs:
                    body_meta["ownerReferences"] = refs
                self.api.update(rs_rt, meta(rs)["namespace"], meta(rs)["name"], {**rs, "metadata": body_meta})
                continue
            out.append(rs)
        return out

    def _split(self, d: Obj, rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        new_rs = ro.find_new_rs(d, rss)
        return new_rs, [rs for rs in rss if rs is not new_rs]

    def _check_paused_condition(self, d: Obj) -> Obj:
        if ds.progress_deadline_s(d) is None:
            return d
        status = copy.deepcopy(d.get("status") or {})
        cond = ds.get_condition(status, "Progressing")
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and (cond is None or cond.get("reason") != "DeploymentPaused"):
            ds.set_condition(status, ds.condition("Progressing", "Unknown", "DeploymentPaused",
                                                  "Deployment is paused", self.now()))
        elif not paused and cond is not None and cond.get("reason") == "DeploymentPaused":
            ds.set_condition(status, ds.condition("Progressing", "Unknown", "DeploymentResumed",
                                                  "Deployment is resumed", self.now()))
        else:
            return d
        return self._write_status(d, status)

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        for rs in rss:
            desired = (meta(rs).get("annotations") or {}).get(ro.DESIRED_REPLICAS)
            if ro.replicas_of(rs) > 0 and desired is not None and desired != str(ro.replicas_of(d)):
                return True
        return False

    # ---- the new ReplicaSet (getAllReplicaSetsAndSyncRevision) ------------------------------------------

    def _new_and_old(self, d: Obj, rss: list[Obj], *, create: bool) -> tuple[Obj, Obj | None, list[Obj]]:
        existing, old_rss = self._split(d, rss)
        new_revision = max((ro.revision(rs) for rs in old_rss), default=0) + 1
        rs_rt = served(self.api, *REPLICASETS)
        if existing is not None:
            annotations = ro.new_rs_annotations(d, meta(existing).get("annotations") or {}, new_revision,
                                                exists=True)
            min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0
            if annotations != (meta(existing).get("annotations") or {}) or \
                    ((existing.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
                body = copy.deepcopy(existing)
                body["metadata"]["annotations"] = annotations
                body["spec"]["minReadySeconds"] = min_ready
                existing = self.api.update(rs_rt, meta(d)["namespace"], meta(existing)["name"], body).obj
            d = self._set_revision(d, str(ro.revision(existing)))
            status = copy.deepcopy(d.get("status") or {})
            if ds.progress_deadline_s(d) is not None and ds.get_condition(status, "Progressing") is None:
                ds.set_condition(status, ds.condition("Progressing", "True", "FoundNewReplicaSet",
                                                      f'Found new replica set "{meta(existing)["name"]}"',
                                                      self.now()))
                d = self._write_status(d, status)
            return d, existing, old_rss
        if not create:
            return d, None, old_rss
        new_rs = self._desired_new_rs(d, old_rss, new_revision)
        taken = self.api.store.get(REPLICASETS, meta(d)["namespace"], meta(new_rs)["name"])
        if taken is not None:  # a hash collision: count it and try another name on the next pass
            status = {**(d.get("status") or {}), "collisionCount": int((d.get("status") or {}).get(
                "collisionCount") or 0) + 1}
            self._write_status(d, status)
            return d, None, old_rss
        created = self.api.create(rs_rt, meta(d)["namespace"], new_rs).obj
        if ro.replicas_of(created) > 0:
            self._event(d, "ScalingReplicaSet",
                        f"Scaled up replica set {meta(created)['name']} from 0 to {ro.replicas_of(created)}")
        d = self._set_revision(d, str(new_revision))
        if ds.progress_deadline_s(d) is not None:
            status = copy.deepcopy(d.get("status") or {})
            ds.set_condition(status, ds.condition("Progressing", "True", "NewReplicaSetCreated",
                                                  f'Created new replica set "{meta(created)["name"]}"', self.now()))
            d = self._write_status(d, status)
        return d, created, old_rss

    def _desired_new_rs(self, d: Obj, old_rss: list[Obj], new_revision: int) -> Obj:
        spec = d.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = ro.pod_template_hash(template, collision if isinstance(collision, int) else None)
        template.setdefault("metadata", {})["labels"] = {**(template["metadata"].get("labels") or {}),
                                                         ro.HASH_LABEL: pod_hash}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), ro.HASH_LABEL: pod_hash}
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{meta(d)['name']}-{pod_hash}", "namespace": meta(d)["namespace"],
                                "labels": dict(template["metadata"]["labels"]),
                                "ownerReferences": [owner_reference(d)]},
                   "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0,
                            "selector": selector, "template": template}}
        rs["spec"]["replicas"] = ro.new_rs_new_replicas(d, [*old_rss, rs], rs)
        rs["metadata"]["annotations"] = ro.new_rs_annotations(d, {}, new_revision, exists=False)
        return rs

    def _set_revision(self, d: Obj, rev: str) -> Obj:
        annotations = meta(d).get("annotations") or {}
        if ro.revision({"metadata": {"annotations": annotations}}) >= int(rev or 0) and ro.REVISION in annotations:
            return d
        body = copy.deepcopy(d)
        body["metadata"]["annotations"] = {**annotations, ro.REVISION: rev}
        return self.api.update(served(self.api, *DEPLOYMENTS), meta(d)["namespace"], meta(d)["name"], body).obj

    # ---- strategies ---------------------------------------------------------------------------------------

    def _rollout_rolling(self, d: Obj, rss: list[Obj]) -> None:
        d, new_rs, old_rss = self._new_and_old(d, rss, create=True)
        if new_rs is None:
            return
        all_rss = [*old_rss, new_rs]
        if self._reconcile_new(d, all_rss, new_rs) or self._reconcile_old(d, all_rss, old_rss, new_rs):
            self._sync_rollout_status(d, new_rs)
            return
        if ds.is_complete(d, d.get("status") or {}):
            self._cleanup(d, old_rss)
        self._sync_rollout_status(d, new_rs)

    def _reconcile_new(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> bool:
        want = ro.replicas_of(d)
        if ro.replicas_of(new_rs) == want:
            return False
        if ro.replicas_of(new_rs) > want:
            return self._scale(d, new_rs, want)
        return self._scale(d, new_rs, ro.new_rs_new_replicas(d, all_rss, new_rs))

    def _reconcile_old(self, d: Obj, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj) -> bool:
        active_old = [rs for rs in old_rss if ro.replicas_of(rs) > 0]
        if not active_old:
            return False
        min_available = ro.replicas_of(d) - ro.max_unavailable(d)
        new_unavailable = ro.replicas_of(new_rs) - ro.settled_available(new_rs)
        max_scaled_down = ro.total_replicas(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        scaled = 0
        for rs in ro.creation_order(active_old):  # unhealthy replicas first (kube's cleanupUnhealthyReplicas)
            if scaled >= max_scaled_down:
                break
            unhealthy = ro.replicas_of(rs) - ro.settled_available(rs)
            if unhealthy <= 0:
                continue
            count = min(max_scaled_down - scaled, unhealthy)
            self._scale(d, rs, ro.replicas_of(rs) - count)
            scaled += count
        old_now = [self.api.store.get(REPLICASETS, meta(rs)["namespace"], meta(rs)["name"]) or rs
                   for rs in active_old]
        available = sum(ro.settled_available(rs) for rs in [*old_now, new_rs])
        can_remove = available - min_available
        removed = 0
        for rs in ro.creation_order(old_now):
            if removed >= can_remove:
                break
            if ro.replicas_of(rs) == 0:
                continue
            count = min(ro.replicas_of(rs), can_remove - removed)
            self._scale(d, rs, ro.replicas_of(rs) - count)
            removed += count
        return scaled + max(removed, 0) > 0

    def _rollout_recreate(self, d: Obj, rss: list[Obj]) -> None:
        d, new_rs, old_rss = self._new_and_old(d, rss, create=False)
        scaled_down = False
        for rs in old_rss:
            if ro.replicas_of(rs) > 0:
                scaled_down = self._scale(d, rs, 0) or scaled_down
        if scaled_down or self._old_pods_running(new_rs, old_rss):
            self._sync_rollout_status(d, new_rs)
            return
        if new_rs is None:
            d, new_rs, old_rss = self._new_and_old(d, rss, create=True)
            if new_rs is None:
                return
        self._scale(d, new_rs, ro.replicas_of(d))
        if ds.is_complete(d, d.get("status") or {}):
            self._cleanup(d, old_rss)
        self._sync_rollout_status(d, new_rs)

    def _old_pods_running(self, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if any(ro.status_count(rs, "replicas") > 0 for rs in old_rss):
            return True
        old_uids = {meta(rs).get("uid") for rs in old_rss}
        if new_rs is not None:
            old_uids.discard(meta(new_rs).get("uid"))
        for rs in old_rss:
            for pod in self.api.store.list(PODS, meta(rs)["namespace"]):
                ref = controller_of(pod)
                if ref is not None and ref.get("uid") in old_uids and \
                        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
            break  # every old ReplicaSet shares the namespace: one pass over its pods is enough
        return False

    def _scale_only(self, d: Obj, rss: list[Obj]) -> None:
        d, new_rs, old_rss = self._new_and_old(d, rss, create=False)
        self._proportional_scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            self._cleanup(d, old_rss)
        all_rss = [self.api.store.get(REPLICASETS, meta(rs)["namespace"], meta(rs)["name"]) or rs
                   for rs in [*old_rss, *([new_rs] if new_rs else [])]]
        current = self._fresh(d)
        new_now = next((rs for rs in all_rss if new_rs is not None and meta(rs)["uid"] == meta(new_rs)["uid"]), None)
        self._write_status(current, ds.compute_status(current, all_rss, new_now, self.now()))

    def _proportional_scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        for rs, size, refresh in ro.proportional_sizes(d, new_rs, old_rss):
            self._scale(d, rs, size, always_annotate=refresh)

    # ---- writes ---------------------------------------------------------------------------------------

    def _scale(self, d: Obj, rs: Obj, size: int, *, always_annotate: bool = False) -> bool:
        """Scale `rs` to `size` and refresh its replicas annotations; True when the size changed."""
        current = self.api.store.get(REPLICASETS, meta(rs)["namespace"], meta(rs)["name"]) or rs
        old_size = ro.replicas_of(current)
        if old_size == size and not always_annotate:
            return False
        annotations = {**(meta(current).get("annotations") or {}), **ro.replicas_annotations(d)}
        if old_size == size and annotations == (meta(current).get("annotations") or {}):
            return False
        body = copy.deepcopy(current)
        body["spec"]["replicas"] = size
        body["metadata"]["annotations"] = annotations
        self.api.update(served(self.api, *REPLICASETS), meta(current)["namespace"], meta(current)["name"], body)
        if old_size != size:
            direction = "up" if size > old_size else "down"
            self._event(d, "ScalingReplicaSet",
                        f"Scaled {direction} replica set {meta(current)['name']} from {old_size} to {size}")
        return old_size != size

    def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if not isinstance(limit, int):
            return
        alive = [rs for rs in old_rss if not meta(rs).get("deletionTimestamp")]
        extra = len(alive) - limit
        if extra <= 0:
            return
        for rs in sorted(alive, key=lambda rs: (ro.revision(rs), _created(rs)))[:extra]:
            current = self.api.store.get(REPLICASETS, meta(rs)["namespace"], meta(rs)["name"])
            if current is None or ro.status_count(current, "replicas") or ro.replicas_of(current) or \
                    int(meta(current).get("generation") or 1) > ro.status_count(current, "observedGeneration"):
                continue
            self.api.delete(served(self.api, *REPLICASETS), meta(rs)["namespace"], meta(rs)["name"],
                            {"preconditions": {"uid": meta(rs)["uid"]}})

    def _sync_rollout_status(self, d: Obj, new_rs: Obj | None) -> None:
        d = self._fresh(d)
        now = self.now()
        rss = [rs for rs in self.api.store.list(REPLICASETS, meta(d)["namespace"])
               if (ref := controller_of(rs)) is not None and ref.get("uid") == meta(d).get("uid")]
        new_now = next((rs for rs in rss if new_rs is not None and meta(rs)["uid"] == meta(new_rs)["uid"]), None)
        status = ds.rollout_status(d, ds.compute_status(d, rss, new_now, now), new_now, now)
        self._write_status(d, status)
        cond = ds.get_condition(status, "Progressing")
        if cond is not None and not ds.is_complete(d, status) and cond.get("reason") != "ProgressDeadlineExceeded":
            when = ds.deadline_of(d, status)
            if when is not None:  # kube's requeueStuckDeployment: a second after the deadline
                # a deadline already past (a complete Deployment that lost a pod keeps NewReplicaSetAvailable, which
                # never times out) is looked at again in a second, as kube requeues it rate-limited; waking at a
                # past time would sync it again at once, forever, and starve the event loop
                self.wake_at((meta(d)["namespace"], meta(d)["name"]),
                             max(when, now) + timedelta(seconds=1))

    def _fresh(self, d: Obj) -> Obj:
        return self.api.store.get(DEPLOYMENTS, meta(d)["namespace"], meta(d)["name"]) or d

    def _write_status(self, d: Obj, status: dict[str, Any]) -> Obj:
        current = self._fresh(d)
        if current.get("status") == status:
            return current
        return self.api.update(served(self.api, *DEPLOYMENTS), meta(d)["namespace"], meta(d)["name"],
                               {**current, "status": status}, subresource="status").obj

    def _event(self, d: Obj, reason: str, message: str) -> None:
        self.event(d, reason, message)



def _created(rs: Obj) -> tuple[str, str]:
    return (str(meta(rs).get("creationTimestamp") or ""), str(meta(rs).get("name")))
