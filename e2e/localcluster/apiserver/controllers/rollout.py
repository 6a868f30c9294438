"""The Deployment controller's arithmetic, pure: template hash, surge/unavailable fenceposts, revisions, scaling.

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
5. `proportional_sizes` is scale()'s split of a replicas change among several active ReplicaSets: by their
   share of the `max-replicas` annotation, larger ones first (newer first when growing, older first when
   shrinking), leftovers to the first, never below 0; with one active ReplicaSet it takes the whole count, and a
   saturated new ReplicaSet leaves the old ones at 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from e2e.localcluster.apiserver.storage.objects import meta

from .workload import SAFE_ALPHABET, int_field

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                                 DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"})
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


# ---- scaling ------------------------------------------------------------------------------------------------


def _created(rs: Obj) -> tuple[str, str]:
    return (str(meta(rs).get("creationTimestamp") or ""), str(meta(rs).get("name")))


def _fraction(rs: Obj, d: Mapping[str, Any]) -> int:
    """getReplicaSetFraction: what `rs` gains (or loses) of a change to the Deployment's size."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    text = str((meta(rs).get("annotations") or {}).get(MAX_REPLICAS) or "")
    before = int(text) if text.isdigit() and int(text) > 0 else int((d.get("status") or {}).get("replicas") or 0)
    if before == 0:
        return 0
    exact = replicas_of(rs) * (replicas_of(d) + max_surge(d)) / before
    return int(exact + 0.5) - replicas_of(rs)  # Go's math.Round, for a non-negative value


def proportional_sizes(d: Mapping[str, Any], new_rs: Obj | None, old_rss: list[Obj]) -> list[tuple[Obj, int, bool]]:
    """(ReplicaSet, size, refresh its replicas annotations even if the size stays) for every ReplicaSet to scale."""
    want = replicas_of(d)
    everything = [*([new_rs] if new_rs else []), *reversed(creation_order(old_rss))]
    active = [rs for rs in everything if replicas_of(rs) > 0]
    if len(active) <= 1:
        target = active[0] if active else (everything[0] if everything else None)
        return [] if target is None or replicas_of(target) == want else [(target, want, False)]
    if new_rs is not None and replicas_of(new_rs) == want and status_count(new_rs, "availableReplicas") == want \
            and (meta(new_rs).get("annotations") or {}).get(DESIRED_REPLICAS) == str(want):
        return [(rs, 0, False) for rs in active if rs is not new_rs]
    if not is_rolling(d):
        return []
    to_add = (want + max_surge(d) if want > 0 else 0) - total_replicas(active)
    if to_add > 0:
        active.sort(key=lambda rs: (-replicas_of(rs), tuple(-ord(ch) for ch in "".join(_created(rs)))))
    elif to_add < 0:
        active.sort(key=lambda rs: (-replicas_of(rs), _created(rs)))
    added = 0
    sizes: list[int] = []
    for rs in active:
        proportion = 0
        if to_add not in (0, added):
            fraction = _fraction(rs, d)
            proportion = min(fraction, to_add - added) if to_add > 0 else max(fraction, to_add - added)
        sizes.append(replicas_of(rs) + proportion)
        added += proportion
    if to_add != 0:
        sizes[0] = max(0, sizes[0] + to_add - added)
    return [(rs, size, True) for rs, size in zip(active, sizes, strict=True)]
