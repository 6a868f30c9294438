"""One RayCluster pass, decided: the Services to ensure and which pods to create and delete so the cluster has
one head and its desired workers.

Guarantees:
0. ``plan_pass`` is the whole decision of a pass over what ``ClusterObserved`` holds: an invalid spec
   (``validate_cluster``) plans nothing but its problems; otherwise the head and dashboard Services, the
   pod plan below, and whether the pass must wait for pods its cache does not show yet (``waiting``: it
   creates pods, or earlier creates are still in flight). For an autoscaling cluster also the autoscaler's
   ServiceAccount, Role and RoleBinding (``rbac.desired_rbac``) and, once the pods named in
   ``workersToDelete`` are gone, the patch that clears those lists (``scaling.clear_patch``). In token
   authentication mode without a ``secretName``, the name of the Secret the operator makes for the cluster's
   token (``auth.generated_secret_name``).
1. Exactly one head: a missing head, or one that Failed or Succeeded, gets a replacement; of several live
   heads the best (Ready, then Running, then oldest) is kept and the others are deleted.
2. Per worker group, ``desired_worker_counts``: pods named in ``scaleStrategy.workersToDelete`` are deleted
   first, then Failed or Succeeded pods, then, to scale down, in-flight pods (they have not started yet) and
   the newest pods; the missing pods are created. With ``enableInTreeAutoscaling`` the autoscaler alone
   picks the pods that leave (``scaling.chooses_pods``): surplus pods not in ``workersToDelete`` stay.
3. Pods with a ``deletionTimestamp`` neither count nor are deleted again.
4. ``in_flight`` holds names the caller created that its cache may not show yet: an in-flight name of the
   head or of a group counts toward it, so a stale cache never causes a second create, and never makes the
   live pods of a group outnumber its desired count after the plan is applied. A name the cache already
   shows counts once.
5. Worker pods of groups no longer in the spec are deleted; pods of other clusters, or of an earlier
   cluster with the same name, are ignored.
6. A suspended cluster: every live pod is deleted and none is created.
7. Given the same inputs and ``rng`` state the plan is the same; new names differ from every observed,
   in-flight and planned name.

Caller must: pass the pods of this cluster's namespace (more is fine); keep the names it created in
``in_flight`` until its cache shows them or it deletes them (and drop them after a timeout, in case the
cache never shows a pod that came and went); treat NotFound on delete as done.

Pure.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rayservice.api.labels import NODE_TYPE_HEAD, NODE_TYPE_WORKER
from rayservice.controller import names
from rayservice.controller.objects import (
    RawObject,
    age_key,
    belongs_to,
    group_name,
    group_of,
    is_deleting,
    is_finished,
    is_suspended,
    name_of,
    node_type_of,
    pick_head,
    worker_groups,
)
from rayservice.controller.raycluster import scaling
from rayservice.controller.raycluster.auth import generated_secret_name
from rayservice.controller.raycluster.desired import (
    desired_dashboard_service,
    desired_head_pod,
    desired_head_service,
    desired_worker_counts,
    desired_worker_pod,
)
from rayservice.controller.raycluster.rbac import RbacObject, desired_rbac
from rayservice.controller.raycluster.validate import Problem, validate_cluster


@dataclass(frozen=True, slots=True)
class PodPlan:
    """Pods to create (full objects) and pod names to delete, in the order to apply them."""

    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing to do: the pods match the spec as far as the cache shows."""
        return not self.create and not self.delete


@dataclass(frozen=True, slots=True)
class ClusterObserved:
    """What a pass read: the cluster, the pods of its namespace the cache shows, the names still in flight."""

    cluster: RawObject
    pods: list[RawObject]
    in_flight: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ClusterPassPlan:
    """The writes of one pass (guarantee 0); ``heads`` names the head pods among those to delete."""

    problems: tuple[Problem, ...] = ()
    services: tuple[dict[str, Any], ...] = ()
    pods: PodPlan = field(default_factory=lambda: PodPlan())
    heads: frozenset[str] = frozenset()
    waiting: bool = False
    rbac: tuple[RbacObject, ...] = ()
    clear_workers_to_delete: dict[str, Any] | None = None
    auth_secret: str | None = None


def plan_pass(observed: ClusterObserved, *, rng: random.Random) -> ClusterPassPlan:
    """Guarantee 0."""
    cluster = observed.cluster
    if problems := validate_cluster(cluster):
        return ClusterPassPlan(problems=tuple(problems))
    pods = plan_pods(cluster, observed.pods, in_flight=observed.in_flight, rng=rng)
    heads = frozenset(name_of(pod) for pod in observed.pods if node_type_of(pod) == NODE_TYPE_HEAD)
    live = {name_of(pod) for pod in observed.pods if belongs_to(pod, cluster) and not is_deleting(pod)}
    return ClusterPassPlan(
        services=(desired_head_service(cluster), desired_dashboard_service(cluster)),
        pods=pods,
        heads=heads & set(pods.delete),
        waiting=bool(pods.create or observed.in_flight),
        rbac=desired_rbac(cluster),
        clear_workers_to_delete=scaling.clear_patch(cluster, live),
        auth_secret=generated_secret_name(cluster),
    )


def plan_pods(
    cluster: RawObject,
    observed_pods: Iterable[RawObject],
    *,
    in_flight: Collection[str],
    rng: random.Random,
) -> PodPlan:
    """The creates and deletes that move the cluster's pods one step toward its spec (see the guarantees)."""
    pods = [pod for pod in observed_pods if belongs_to(pod, cluster)]
    seen = {name_of(pod) for pod in pods}
    pending = [name for name in in_flight if name not in seen]
    live = [pod for pod in pods if not is_deleting(pod)]
    if is_suspended(cluster):
        return PodPlan(delete=sorted(name_of(pod) for pod in live))
    taken = seen | set(pending)
    plan = PodPlan()
    _plan_head(
        cluster, live, pending, plan, partial(_fresh, taken, partial(names.head_pod_name, name_of(cluster), rng))
    )
    _plan_workers(cluster, live, pending, plan, taken, rng)
    return plan


def _plan_head(
    cluster: RawObject,
    live: list[RawObject],
    pending: list[str],
    plan: PodPlan,
    new_name: Callable[[], str],
) -> None:
    heads = [pod for pod in live if node_type_of(pod) == NODE_TYPE_HEAD]
    running = [pod for pod in heads if not is_finished(pod)]
    keep = pick_head(running)
    plan.delete.extend(sorted(name_of(pod) for pod in heads if is_finished(pod)))
    plan.delete.extend(sorted(name_of(pod) for pod in running if pod is not keep))
    prefix = names.head_pod_prefix(name_of(cluster))
    if keep is None and not any(_has_prefix(name, prefix) for name in pending):
        plan.create.append(desired_head_pod(cluster, name=new_name()))


def _plan_workers(
    cluster: RawObject,
    live: list[RawObject],
    pending: list[str],
    plan: PodPlan,
    taken: set[str],
    rng: random.Random,
) -> None:
    cluster_name = name_of(cluster)
    counts = desired_worker_counts(cluster)
    workers = [pod for pod in live if node_type_of(pod) == NODE_TYPE_WORKER]
    planned: set[str] = set()
    for spec in worker_groups(cluster):
        group = group_name(spec)
        if group in planned:
            continue  # a duplicate group name: validation reports it, the first spec wins
        planned.add(group)
        to_delete = set(scaling.workers_to_delete(spec))
        members = [pod for pod in workers if group_of(pod) == group]
        named = sorted(name_of(pod) for pod in members if name_of(pod) in to_delete)
        rest = [pod for pod in members if name_of(pod) not in to_delete]
        failed = sorted(name_of(pod) for pod in rest if is_finished(pod))
        healthy = [pod for pod in rest if not is_finished(pod)]
        prefix = names.worker_pod_prefix(cluster_name, group)
        flying = sorted((name for name in pending if _has_prefix(name, prefix)), reverse=True)
        excess = len(healthy) + len(flying) - counts[group]
        newest = [name_of(pod) for pod in sorted(healthy, key=age_key, reverse=True)]
        surplus = max(excess, 0) if scaling.chooses_pods(cluster) else 0
        plan.delete.extend(named + failed + (flying + newest)[:surplus])
        for _ in range(-excess):
            name = _fresh(taken, partial(names.worker_pod_name, cluster_name, group, rng))
            plan.create.append(desired_worker_pod(cluster, group, name=name))
    plan.delete.extend(sorted(name_of(pod) for pod in workers if group_of(pod) not in counts))


def _has_prefix(name: str, prefix: str) -> bool:
    """``name`` is ``prefix``, ``-`` and a random suffix."""
    return len(name) == len(prefix) + 1 + names.RANDOM_SUFFIX_LENGTH and name.startswith(f"{prefix}-")


def _fresh(taken: set[str], make: Callable[[], str]) -> str:
    """A name from ``make`` that is not in ``taken``; it is added to ``taken``."""
    name = make()
    while name in taken:
        name = make()
    taken.add(name)
    return name
