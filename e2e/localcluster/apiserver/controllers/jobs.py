"""The Job controller: runs pods to completion, counts them once, and finishes the Job as kube v1.36 does.

Guarantees (kube v1.36 pkg/controller/job and pkg/controller/ttlafterfinished):
1. A running Job keeps min(parallelism, completions - succeeded) active pods (parallelism alone when
   completions is unset, and no new pod once one succeeded), named `<job>-<5 random>`, with the template's
   labels (the server adds `batch.kubernetes.io/job-name`, `job-name`, `controller-uid`,
   `batch.kubernetes.io/controller-uid`), a controller ownerReference and the `batch.kubernetes.io/job-tracking`
   finalizer. Extra active pods are deleted.
2. Every finished pod is counted exactly once: its uid goes to `status.uncountedTerminatedPods`, its finalizer
   is removed, then it moves into `succeeded` or `failed`. A pod deleted before it succeeded counts as failed
   (podReplacementPolicy TerminatingOrFailed), and is replaced at once.
3. A failed pod is replaced after kube's backoff: 10 s doubled per failure since the last success, at most
   6 minutes (woken by the injected clock).
4. More failures than `backoffLimit` (counting container restarts of active pods with restartPolicy
   OnFailure): FailureTarget, then Failed, reason BackoffLimitExceeded, "Job has reached the specified backoff
   limit". `activeDeadlineSeconds` after startTime: reason DeadlineExceeded, "Job was active longer than
   specified deadline". Enough successes: SuccessCriteriaMet, then Complete, reason CompletionsReached,
   "Reached expected number of succeeded pods", with completionTime. The final condition (Failed / Complete)
   is added only once no pod of the Job is active or terminating; active pods of a finishing Job are deleted.
5. Status: startTime (first sync), active, ready, terminating, succeeded, failed, uncountedTerminatedPods,
   completionTime, conditions; written only when it changes. `spec.suspend` deletes the active pods and sets
   Suspended (JobSuspended); resuming resets startTime.
6. `ttlSecondsAfterFinished`: the Job is deleted (Foreground propagation) that long after it finished.
7. Pods of a Job that is gone or being deleted, and pods orphaned from their Job (Orphan propagation), lose the
   tracking finalizer, so they never stay stuck.
8. Events from job-controller: SuccessfulCreate / SuccessfulDelete per pod, Completed `Job completed`, and a
   Warning with the failure's reason and message when the Job fails.

Not guaranteed: Indexed completion mode, podFailurePolicy, successPolicy, backoffLimitPerIndex, managedBy.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from e2e.localcluster.apiserver.storage.objects import meta, parse_rfc3339
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj

from .replicasets import deletion_order
from .workload import PODS, Key, WorkloadController, controller_of, int_field, is_pod_ready, owner_reference, served

JOBS: GroupResource = ("batch", "jobs")
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 360.0
BACKOFF_LIMIT = "Job has reached the specified backoff limit"
DEADLINE = "Job was active longer than specified deadline"
COMPLETIONS = "Reached expected number of succeeded pods"


# ---- decisions (pure) ---------------------------------------------------------------------------------------


def is_finished_pod(pod: Obj) -> str | None:
    """'succeeded', 'failed', or None while the pod still counts as active."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return "succeeded"
    if phase == "Failed" or meta(pod).get("deletionTimestamp"):
        return "failed"
    return None


def job_condition(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype and cond.get("status") == "True":
            return dict(cond)
    return None


def with_condition(status: dict[str, Any], ctype: str, reason: str, message: str, now: str,
                   state: str = "True") -> dict[str, Any]:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == ctype), None)
    if old is not None and old.get("status") == state and old.get("reason") == reason:
        return status
    conditions.append({"type": ctype, "status": state, "lastProbeTime": now, "lastTransitionTime": now,
                       "reason": reason, "message": message})
    return {**status, "conditions": conditions}


def wanted_active(job: Obj, succeeded: int, active: int) -> int:
    spec = job.get("spec") or {}
    parallelism = int_field(spec.get("parallelism"), 1)
    completions = spec.get("completions")
    if isinstance(completions, int):
        return max(0, min(parallelism, completions - succeeded))
    return active if succeeded > 0 else parallelism


def failure_reason(job: Obj, failed: int, restarts: int, start: datetime | None, now: datetime) -> str | None:
    spec = job.get("spec") or {}
    limit = int_field(spec.get("backoffLimit"), 6)
    on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
    if failed > limit or (on_failure and failed + restarts > limit):
        return "BackoffLimitExceeded"
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and start is not None and start + timedelta(seconds=deadline) <= now:
        return "DeadlineExceeded"
    return None


def is_success(job: Obj, succeeded: int, active: int) -> bool:
    completions = (job.get("spec") or {}).get("completions")
    if isinstance(completions, int):
        return succeeded >= completions
    return succeeded > 0 and active == 0


def backoff_delay_s(failures: int) -> float:
    return 0.0 if failures <= 0 else min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (failures - 1))


def pod_for(job: Obj) -> Obj:
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {"generateName": f"{meta(job)['name']}-", "ownerReferences": [owner_reference(job)],
                                "finalizers": [*(tmeta.get("finalizers") or []), TRACKING_FINALIZER]}
    for key in ("labels", "annotations"):
        if tmeta.get(key):
            pod_meta[key] = dict(tmeta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


def _parse(text: Any) -> datetime | None:
    return parse_rfc3339(text) if isinstance(text, str) and text else None


@dataclass
class _Backoff:
    failures: int = 0
    last_failure: datetime | None = None


# ---- the controller -----------------------------------------------------------------------------------------


class JobController(WorkloadController):
    name = "jobs"
    component = "job-controller"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backoff: dict[str, _Backoff] = {}  # job uid -> failures since the last success

    def initial_keys(self) -> Iterable[Key]:
        keys = {(meta(j).get("namespace") or "", meta(j)["name"]) for j in self.api.store.list(JOBS)}
        for pod in self.api.store.list(PODS):
            ref = controller_of(pod)
            if ref is not None and ref.get("kind") == "Job":
                keys.add((meta(pod).get("namespace") or "", str(ref.get("name"))))
        return keys

    def affected(self, ev: Event) -> Iterable[Key]:
        m = meta(ev.obj)
        ns = m.get("namespace") or ""
        if ev.gr == JOBS:
            return [(ns, m["name"])]
        if ev.gr != PODS:
            return []
        ref = controller_of(ev.obj)
        if ref is not None:
            return [(ns, str(ref.get("name")))] if ref.get("kind") == "Job" else []
        orphan = TRACKING_FINALIZER in (m.get("finalizers") or []) and JOB_NAME_LABEL in (m.get("labels") or {})
        return [(ns, str(m["labels"][JOB_NAME_LABEL]))] if orphan and ev.type != "DELETED" else []

    def sync(self, key: Key) -> None:
        ns, name = key
        job = self.api.store.get(JOBS, ns, name)
        uid = meta(job).get("uid") if job is not None else None
        pods = [p for p in self.api.store.list(PODS, ns) if (ref := controller_of(p)) is not None
                and ref.get("kind") == "Job" and ref.get("name") == name]
        for pod in self.api.store.list(PODS, ns):  # orphaned (say by Orphan propagation): nobody counts them
            if controller_of(pod) is None and (meta(pod).get("labels") or {}).get(JOB_NAME_LABEL) == name:
                self._strip_finalizer(pod)
        if job is None or meta(job).get("deletionTimestamp"):
            for pod in pods:
                self._strip_finalizer(pod)
            if job is None:
                self._backoff = {k: v for k, v in self._backoff.items() if k != uid}
            return
        pods = [p for p in pods if (controller_of(p) or {}).get("uid") == uid]
        job = self._account(job, pods)
        pods = [p for p in (self.api.store.get(PODS, ns, meta(p)["name"]) for p in pods) if p is not None]
        self._drive(job, pods)

    # ---- counting (trackJobStatusAndRemoveFinalizers) -----------------------------------------------------

    def _account(self, job: Obj, pods: list[Obj]) -> Obj:
        status = copy.deepcopy(job.get("status") or {})
        uncounted = status.get("uncountedTerminatedPods") or {}
        lists = {"succeeded": list(uncounted.get("succeeded") or []), "failed": list(uncounted.get("failed") or [])}
        finishing = job_condition(status, "SuccessCriteriaMet") or job_condition(status, "FailureTarget") or \
            job_condition(status, "Complete") or job_condition(status, "Failed")
        fresh = False
        for pod in pods:
            outcome = is_finished_pod(pod)
            uid = meta(pod)["uid"]
            if outcome is None or TRACKING_FINALIZER not in (meta(pod).get("finalizers") or []):
                continue
            if uid in lists["succeeded"] or uid in lists["failed"] or (finishing and outcome == "failed"):
                continue
            lists[outcome].append(uid)
            fresh = True
        if fresh:
            job = self._write_status(job, {**status, "uncountedTerminatedPods": _uncounted(lists)})
        held = set(lists["succeeded"]) | set(lists["failed"])
        for pod in pods:
            if meta(pod)["uid"] in held or (finishing and is_finished_pod(pod)):
                self._strip_finalizer(pod)
        still = {meta(p)["uid"] for p in (self.api.store.get(PODS, meta(p)["namespace"], meta(p)["name"])
                                          for p in pods)
                 if p is not None and TRACKING_FINALIZER in (meta(p).get("finalizers") or [])}
        moved = {k: [u for u in v if u not in still] for k, v in lists.items()}
        if not moved["succeeded"] and not moved["failed"]:
            return job
        status = copy.deepcopy(job.get("status") or {})
        for k in ("succeeded", "failed"):
            status[k] = int_field(status.get(k), 0) + len(moved[k])
        status["uncountedTerminatedPods"] = _uncounted({k: [u for u in v if u in still] for k, v in lists.items()})
        record = self._backoff.setdefault(str(meta(job)["uid"]), _Backoff())
        if moved["succeeded"]:
            record.failures = 0
        if moved["failed"]:
            record.failures += len(moved["failed"])
            record.last_failure = self.now()
        return self._write_status(job, _compact(status))

    # ---- driving the Job ----------------------------------------------------------------------------------

    def _drive(self, job: Obj, pods: list[Obj]) -> None:
        key = (meta(job)["namespace"], meta(job)["name"])
        now, now_text = self.now(), self.now_text()
        status = copy.deepcopy(job.get("status") or {})
        active = [p for p in pods if is_finished_pod(p) is None]
        terminating = [p for p in pods if meta(p).get("deletionTimestamp")
                       and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        if job_condition(status, "Complete") or job_condition(status, "Failed"):
            self._delete_pods(job, active)
            self._expire(job, status, now)
            return
        spec = job.get("spec") or {}
        if spec.get("suspend"):
            self._delete_pods(job, active)
            status = with_condition(status, "Suspended", "JobSuspended", "Job suspended", now_text)
            status.pop("startTime", None)
            self._write_status(job, self._counts(status, [], terminating))
            return
        if job_condition(status, "Suspended"):
            status = with_condition(status, "Suspended", "JobResumed", "Job resumed", now_text, "False")
        status.setdefault("startTime", now_text)
        start = _parse(status.get("startTime"))
        uncounted = status.get("uncountedTerminatedPods") or {}
        succeeded = int_field(status.get("succeeded"), 0) + len(uncounted.get("succeeded") or [])
        failed = int_field(status.get("failed"), 0) + len(uncounted.get("failed") or [])
        restarts = sum(int(c.get("restartCount") or 0) for p in active
                       for c in (p.get("status") or {}).get("containerStatuses") or [])
        target = job_condition(status, "FailureTarget") or job_condition(status, "SuccessCriteriaMet")
        if target is None:
            reason = failure_reason(job, failed, restarts, start, now)
            if reason is not None:
                status = with_condition(status, "FailureTarget", reason,
                                        BACKOFF_LIMIT if reason == "BackoffLimitExceeded" else DEADLINE, now_text)
            elif is_success(job, succeeded, len(active)):
                status = with_condition(status, "SuccessCriteriaMet", "CompletionsReached", COMPLETIONS, now_text)
            target = job_condition(status, "FailureTarget") or job_condition(status, "SuccessCriteriaMet")
        if target is not None:
            self._delete_pods(job, active)
            if not active and not terminating:
                final = "Failed" if target["type"] == "FailureTarget" else "Complete"
                status = with_condition(status, final, target["reason"], target["message"], now_text)
                if final == "Complete":
                    status["completionTime"] = now_text
                    self.event(job, "Completed", "Job completed")
                else:
                    self.event(job, target["reason"], target["message"], "Warning")
            self._write_status(job, self._counts(status, [], [*terminating, *active]))
            return
        want = wanted_active(job, succeeded, len(active))
        if len(active) < want:
            wait_until = self._backoff_until(job)
            if wait_until is not None and wait_until > now:
                self.wake_at(key, wait_until)
            else:
                pods_rt = served(self.api, "", "pods")
                for _ in range(want - len(active)):
                    created = self.api.create(pods_rt, meta(job)["namespace"], pod_for(job)).obj
                    active.append(created)
                    self.event(job, "SuccessfulCreate", f"Created pod: {meta(created)['name']}")
        elif len(active) > want:
            extra = deletion_order(active)[:len(active) - want]
            self._delete_pods(job, extra)
            active = [p for p in active if p not in extra]
        deadline = spec.get("activeDeadlineSeconds")
        if isinstance(deadline, int) and start is not None:
            self.wake_at(key, start + timedelta(seconds=deadline))
        self._write_status(job, self._counts(status, active, terminating))

    def _counts(self, status: dict[str, Any], active: list[Obj], terminating: list[Obj]) -> dict[str, Any]:
        out = {**status, "active": len(active), "ready": sum(1 for p in active if is_pod_ready(p)),
               "terminating": len(terminating)}
        out.setdefault("uncountedTerminatedPods", {})
        return _compact(out)

    def _backoff_until(self, job: Obj) -> datetime | None:
        record = self._backoff.get(str(meta(job)["uid"]))
        if record is None or record.last_failure is None or record.failures <= 0:
            return None
        return record.last_failure + timedelta(seconds=backoff_delay_s(record.failures))

    def _expire(self, job: Obj, status: dict[str, Any], now: datetime) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if not isinstance(ttl, int):
            return
        done = _parse(status.get("completionTime")) or _parse(
            (job_condition(status, "Complete") or job_condition(status, "Failed") or {}).get("lastTransitionTime"))
        if done is None:
            return
        expires = done + timedelta(seconds=ttl)
        if expires <= now:
            self.api.delete(served(self.api, *JOBS), meta(job)["namespace"], meta(job)["name"],
                            {"propagationPolicy": "Foreground", "preconditions": {"uid": meta(job)["uid"]}})
        else:
            self.wake_at((meta(job)["namespace"], meta(job)["name"]), expires)

    # ---- writes -------------------------------------------------------------------------------------------

    def _delete_pods(self, job: Obj, pods: list[Obj]) -> None:
        pods_rt = served(self.api, "", "pods")
        for pod in pods:
            if not meta(pod).get("deletionTimestamp"):
                self.api.delete(pods_rt, meta(pod)["namespace"], meta(pod)["name"],
                                {"preconditions": {"uid": meta(pod)["uid"]}})
                self.event(job, "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")

    def _strip_finalizer(self, pod: Obj) -> None:
        current = self.api.store.get(PODS, meta(pod)["namespace"], meta(pod)["name"])
        if current is None or TRACKING_FINALIZER not in (meta(current).get("finalizers") or []):
            return
        finalizers = [f for f in meta(current).get("finalizers") or [] if f != TRACKING_FINALIZER]
        body = copy.deepcopy(current)
        if finalizers:
            body["metadata"]["finalizers"] = finalizers
        else:
            body["metadata"].pop("finalizers", None)
        self.api.update(served(self.api, "", "pods"), meta(current)["namespace"], meta(current)["name"], body)

    def _write_status(self, job: Obj, status: dict[str, Any]) -> Obj:
        current = self.api.store.get(JOBS, meta(job)["namespace"], meta(job)["name"]) or job
        if current.get("status") == status:
            return current
        return self.api.update(served(self.api, *JOBS), meta(job)["namespace"], meta(job)["name"],
                               {**current, "status": status}, subresource="status").obj


def _uncounted(lists: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in lists.items() if v}


def _compact(status: dict[str, Any]) -> dict[str, Any]:
    """kube omits zero `active`, `succeeded` and `failed` (ready and terminating are always shown)."""
    return {k: v for k, v in status.items() if not (k in ("active", "succeeded", "failed") and not v)}

