"""The Deployment controller's status, pure: counts, the Available condition and the Progressing rules.

Guarantees (kube v1.36 pkg/controller/deployment/sync.go, progress.go and util):
1. `compute_status` is calculateStatus: counts summed over the ReplicaSets' status (unavailableReplicas is
   their `spec.replicas` less the available ones, never below 0), zero counts omitted as kube omits them;
   `Available` True with MinimumReplicasAvailable once available >= replicas - maxUnavailable, else False with
   MinimumReplicasUnavailable ("Deployment has minimum availability." / "... does not have ...").
2. `set_condition` is SetDeploymentCondition: nothing changes when status and reason stay, lastTransitionTime
   stays when only the reason changes.
3. `rollout_status` is syncRolloutStatus's Progressing rules, in kube's order: complete (NewReplicaSetAvailable,
   `ReplicaSet "x" has successfully progressed.`), else progressing (ReplicaSetUpdated, lastUpdateTime now,
   lastTransitionTime kept while True), else timed out once lastUpdateTime + progressDeadlineSeconds has passed
   (False, ProgressDeadlineExceeded, `... has timed out progressing.`). No deadline (unset or MaxInt32): no
   Progressing rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from e2e.localcluster.apiserver.storage.objects import meta, parse_rfc3339, rfc3339

from .rollout import Obj, max_unavailable, replicas_of, status_count, total_replicas
from .workload import int_field

MAX_INT32 = 2**31 - 1


def condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    stamp = rfc3339(now)
    return {"type": ctype, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def get_condition(status: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [*(c for c in status.get("conditions") or [] if c.get("type") != cond["type"]), cond]


def remove_condition(status: dict[str, Any], ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]


def compute_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, now: datetime) -> dict[str, Any]:
    available = sum(status_count(rs, "availableReplicas") for rs in all_rss)
    old = d.get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": int(meta(d).get("generation") or 1),
        "replicas": sum(status_count(rs, "replicas") for rs in all_rss),
        "updatedReplicas": status_count(new_rs, "replicas") if new_rs is not None else 0,
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total_replicas(all_rss) - available),
    }
    terminating = [status_count(rs, "terminatingReplicas") for rs in all_rss]
    if any(terminating):
        status["terminatingReplicas"] = sum(terminating)
    status = {k: v for k, v in status.items() if v}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    status["conditions"] = [dict(c) for c in old.get("conditions") or []]
    if available >= replicas_of(d) - max_unavailable(d):
        set_condition(status, condition("Available", "True", "MinimumReplicasAvailable",
                                        "Deployment has minimum availability.", now))
    else:
        set_condition(status, condition("Available", "False", "MinimumReplicasUnavailable",
                                        "Deployment does not have minimum availability.", now))
    return status


def progress_deadline_s(d: Mapping[str, Any]) -> int | None:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value if isinstance(value, int) and value != MAX_INT32 else None


def is_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    want = replicas_of(d)
    return (int_field(status.get("updatedReplicas"), 0) == want and int_field(status.get("replicas"), 0) == want
            and int_field(status.get("availableReplicas"), 0) == want
            and int_field(status.get("observedGeneration"), 0) >= int(meta(dict(d)).get("generation") or 1))


def is_progressing(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    def count(s: Mapping[str, Any], k: str) -> int:
        return int_field(s.get(k), 0)

    return (count(new, "updatedReplicas") > count(old, "updatedReplicas")
            or count(new, "replicas") - count(new, "updatedReplicas") < count(old, "replicas") - count(old,
                                                                                                        "updatedReplicas")
            or count(new, "readyReplicas") > count(old, "readyReplicas")
            or count(new, "availableReplicas") > count(old, "availableReplicas"))


def deadline_of(d: Mapping[str, Any], status: Mapping[str, Any]) -> datetime | None:
    """When the Progressing condition's lastUpdateTime plus the deadline passes (None: no deadline applies)."""
    deadline = progress_deadline_s(d)
    cond = get_condition(status, "Progressing")
    if deadline is None or cond is None or not cond.get("lastUpdateTime"):
        return None
    return parse_rfc3339(str(cond["lastUpdateTime"])) + timedelta(seconds=deadline)


def is_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: datetime) -> bool:
    cond = get_condition(status, "Progressing")
    if progress_deadline_s(d) is None or cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    when = deadline_of(d, status)
    return when is not None and when < now


def rollout_status(d: Obj, status: dict[str, Any], new_rs: Obj | None, now: datetime) -> dict[str, Any]:
    """syncRolloutStatus's conditions: complete, progressing, or timed out (kube's reasons and messages)."""
    if progress_deadline_s(d) is None:
        return status
    subject = f'ReplicaSet "{meta(new_rs)["name"]}"' if new_rs is not None else f'Deployment "{meta(d)["name"]}"'
    old = d.get("status") or {}
    current = get_condition(status, "Progressing")
    if is_complete(d, status):
        set_condition(status, condition("Progressing", "True", "NewReplicaSetAvailable",
                                        f"{subject} has successfully progressed.", now))
    elif is_progressing(old, status):
        cond = condition("Progressing", "True", "ReplicaSetUpdated", f"{subject} is progressing.", now)
        if current is not None:
            if current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            remove_condition(status, "Progressing")
        set_condition(status, cond)
    elif is_timed_out(d, status, now):
        set_condition(status, condition("Progressing", "False", "ProgressDeadlineExceeded",
                                        f"{subject} has timed out progressing.", now))
    return status
