"""The RayCluster controller's decisions: pure functions over raw objects (``Mapping[str, Any]``).

- ``validate``: ``validate_cluster`` -> ``list[Problem]``: what makes a spec impossible to act on.
- ``desired``: the head and worker pods, ``<cluster>-head-svc``, ``<cluster>-dashboard-svc``, and
  ``desired_worker_counts``.
- ``plan``: ``plan_pass`` -> ``ClusterPassPlan``: the whole decision of a pass (the Services, and
  ``plan_pods`` -> ``PodPlan``: the creates and deletes that reach one head and the desired workers, never
  creating twice from a stale cache).
- ``status``: ``compute_status`` (the only builder of RayCluster status) and ``requeue_after_s``.

Names and the config hash live in ``rayservice.controller.names``. Import from here, not from the modules.
"""

from rayservice.controller.raycluster.desired import (
    desired_dashboard_service,
    desired_head_pod,
    desired_head_service,
    desired_worker_counts,
    desired_worker_pod,
    owner_reference,
)
from rayservice.controller.raycluster.plan import ClusterObserved, ClusterPassPlan, PodPlan, plan_pass, plan_pods
from rayservice.controller.raycluster.status import (
    CONDITION_REPLICA_FAILURE,
    REASON_VALIDATION_FAILED,
    STARTING_REQUEUE_S,
    compute_status,
    requeue_after_s,
)
from rayservice.controller.raycluster.validate import Problem, validate_cluster

__all__ = [
    "CONDITION_REPLICA_FAILURE",
    "REASON_VALIDATION_FAILED",
    "STARTING_REQUEUE_S",
    "ClusterObserved",
    "ClusterPassPlan",
    "PodPlan",
    "Problem",
    "compute_status",
    "desired_dashboard_service",
    "desired_head_pod",
    "desired_head_service",
    "desired_worker_counts",
    "desired_worker_pod",
    "owner_reference",
    "plan_pass",
    "plan_pods",
    "requeue_after_s",
    "validate_cluster",
]
