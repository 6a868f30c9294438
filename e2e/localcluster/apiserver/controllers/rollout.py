"""The Deployment controller's arithmetic, pure: template hash, surge/unavailable fenceposts, revisions, status.

Guarantees (kube v1.36 pkg/controller/deployment/util and pkg/controller/controller_utils.go):
1. `pod_template_hash(template, collision_count)` is fnv-32a over the template, plus the collision count as
   8 little-endian bytes when set, rendered as kube's SafeEncodeString of the decimal hash (so 1 to 10
   characters of `bcdfghjklmnpqrstvwxz2456789`). kube hashes the Go struct as its deep printer writes it,
   which cannot be reproduced from JSON: here the template is hashed as canonical JSON (sorted keys, no
   spaces). Equal templates give equal hashes, and changing any field of the template changes it.
2. `scaled_value` is GetScaledValueFromIntOrPercent: an int as is, `"N%"` of the total rounded up (surge) or
   down (unavailable); anything else raises ValueError. `resolve_fenceposts` makes unavailable 1 when both are
   0; `max_unavailable` never exceeds the replicas.
3. `new_rs_new_replicas` is NewRSNewReplicas: Recreate scales the new ReplicaSet to the full count at once;
   RollingUpdate never takes the total of all ReplicaSets' `spec.replicas` above replicas + maxSurge.
4. `find_new_rs` is the oldest ReplicaSet whose template equals the Deployment's, the pod-template-hash label
   aside; revisions are the integer `deployment.kubernetes.io/revision` annotations.
5. `compute_status` is calculateStatus (counts summed over the ReplicaSets' status; `Available` True with
   MinimumReplicasAvailable once available >= replicas - maxUnavailable, else False with
   MinimumReplicasUnavailable); `set_condition` keeps lastTransitionTime while the status stays and changes
   nothing when status and reason stay (SetDeploymentCondition).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from e2e.localcluster.apiserver.storage.objects import meta, parse_rfc3339, rfc3339

from .workload import SAFE_ALPHABET, int_field

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                                 DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"})
MAX_INT32 = 2**31 - 1
Obj = dict[str, Any]


# ---- hash ---------------------------------------------------------------------------------------------------


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def pod_template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return safe_encode(str(fnv32a(data)))


# ---- strategy -----------------------------------------------------------------------------------------------


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")


def replicas_of(obj: Mapping[str, Any]) -> int:
    return int_field((obj.get("spec") or {}).get("replicas"), 1)


def is_rolling(d: Mapping[str, Any]) -> bool:
    return str(((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")) == "RollingUpdate"


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    surge = scaled_value("25%" if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value("25%" if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas_of(d))


def max_surge(d: Mapping[str, Any]) -> int:
    return _fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    return min(_fenceposts(d)[1], replicas_of(d))


def total_replicas(rss: Iterable[Mapping[str, Any]]) -> int:
    return sum(replicas_of(rs) for rs in rss)


def status_count(rs: Mapping[str, Any], field: str) -> int:
    return int_field((rs.get("status") or {}).get(field), 0)


def settled_available(rs: Mapping[str, Any]) -> int:
    """Available pods a decision may count on: never more than the ReplicaSet is being scaled to, so a
    scale-down its controller has not yet carried out is not counted twice."""
    return min(status_count(rs, "availableReplicas"), replicas_of(rs))


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Iterable[Mapping[str, Any]], new_rs: Mapping[str, Any]) -> int:
    if not is_rolling(d):
        return replicas_of(d)
    current = total_replicas(all_rss)
    max_total = replicas_of(d) + max_surge(d)
    if current >= max_total:
        return replicas_of(new_rs)
    return replicas_of(new_rs) + min(max_total - current, replicas_of(d) - replicas_of(new_rs))


# ---- revisions and templates --------------------------------------------------------------------------------


def revision(rs: Mapping[str, Any]) -> int:
    text = str(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION) or "0")
    return int(text) if text.isdigit() else 0


def without_hash(template: Mapping[str, Any]) -> Obj:
    out = json.loads(json.dumps(template))
    tmeta = out.get("metadata") or {}
    labels = {k: v for k, v in (tmeta.get("labels") or {}).items() if k != HASH_LABEL}
    tmeta = {k: v for k, v in tmeta.items() if k != "labels" and v not in (None, {}, [])}
    if labels:
        tmeta["labels"] = labels
    out["metadata"] = tmeta
    if not tmeta:
        out.pop("metadata")
    return dict(out)


def creation_order(rss: Iterable[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda rs: (str(meta(rs).get("creationTimestamp") or ""), str(meta(rs).get("name"))))


def find_new_rs(d: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    wanted = without_hash((d.get("spec") or {}).get("template") or {})
    for rs in creation_order(rss):
        if without_hash((rs.get("spec") or {}).get("template") or {}) == wanted:
            return rs
    return None


def new_rs_annotations(d: Obj, rs_annotations: Mapping[str, str], new_revision: int, *,
                       exists: bool) -> dict[str, str]:
    """SetNewReplicaSetAnnotations: the Deployment's annotations, the revision (and its history on a
    rollback), and for a new ReplicaSet the desired/max replicas."""
    out = dict(rs_annotations)
    for k, v in (meta(d).get("annotations") or {}).items():
        if k not in SKIPPED_ANNOTATIONS:
            out[k] = v
    old_text = out.get(REVISION, "")
    old = int(old_text) if old_text.isdigit() else (0 if not old_text else None)
    if old is not None and old < new_revision:
        out[REVISION] = str(new_revision)
        if old_text:
            history = out.get(REVISION_HISTORY, "")
            out[REVISION_HISTORY] = f"{history},{old_text}" if history else old_text
    if not exists:
        out.update(replicas_annotations(d))
    return out


def replicas_annotations(d: Mapping[str, Any]) -> dict[str, str]:
    return {DESIRED_REPLICAS: str(replicas_of(d)), MAX_REPLICAS: str(replicas_of(d) + max_surge(d))}


# ---- status -------------------------------------------------------------------------------------------------


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
