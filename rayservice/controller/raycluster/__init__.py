"""The RayCluster controller's decisions: pure functions over raw objects (``Mapping[str, Any]``).

- ``validate``: ``validate_cluster`` -> ``list[Problem]``: what makes a spec impossible to act on.
- ``desired``: the head and worker pods, ``<cluster>-head-svc``, ``<cluster>-dashboard-svc``, and
  ``desired_worker_counts``.
- ``plan``: ``plan_pass`` -> ``ClusterPassPlan``: the whole decision of a pass (the Services, and
  ``plan_pods`` -> ``PodPlan``: the creates and deletes that reach one head and the desired workers, never
  creating twice from a stale cache).
- ``status``: ``compute_status`` (the only builder of RayCluster status) and ``requeue_after_s``.
- ``autoscaler``: what ``enableInTreeAutoscaling`` adds to the pods (the ``autoscaler`` sidecar, KubeRay v1.7's)
  and its checks; ``rbac``: the autoscaler's ServiceAccount, Role and RoleBinding (``desired_rbac``);
  ``scaling``: how the autoscaler's ``replicas`` and ``workersToDelete`` are followed.
- ``auth``: what ``authOptions.mode: token`` adds to the pods, the Secret made for the token, its checks;
  ``auth_apply`` makes that Secret; ``auth_tokens``: ``ClusterTokens``, each cluster's token for the
  operator's dashboard calls.

Names and the config hash live in ``rayservice.controller.names``. Import from here, not from the modules.
"""

from rayservice.controller.raycluster.auth import (
    auth_secret_name,
    generated_secret_name,
    is_token_auth,
    rayservice_auth_problems,
)
from rayservice.controller.raycluster.auth_tokens import AuthTokenUnavailable, ClusterTokens
from rayservice.controller.raycluster.autoscaler import (
    AUTOSCALER_CONTAINER,
    autoscaler_container,
    is_autoscaling,
    service_account_name,
)
from rayservice.controller.raycluster.desired import (
    desired_dashboard_service,
    desired_head_pod,
    desired_head_service,
    desired_worker_counts,
    desired_worker_pod,
    owner_reference,
)
from rayservice.controller.raycluster.plan import ClusterObserved, ClusterPassPlan, PodPlan, plan_pass, plan_pods
from rayservice.controller.raycluster.rbac import ROLE_RULES, RbacObject, desired_rbac, rbac_patch
from rayservice.controller.raycluster.scaling import clear_patch
from rayservice.controller.raycluster.status import (
    CONDITION_REPLICA_FAILURE,
    REASON_VALIDATION_FAILED,
    STARTING_REQUEUE_S,
    compute_status,
    requeue_after_s,
)
from rayservice.controller.raycluster.validate import Problem, validate_cluster

__all__ = [
    "AUTOSCALER_CONTAINER",
    "CONDITION_REPLICA_FAILURE",
    "REASON_VALIDATION_FAILED",
    "ROLE_RULES",
    "STARTING_REQUEUE_S",
    "AuthTokenUnavailable",
    "ClusterObserved",
    "ClusterPassPlan",
    "ClusterTokens",
    "PodPlan",
    "Problem",
    "RbacObject",
    "auth_secret_name",
    "autoscaler_container",
    "clear_patch",
    "compute_status",
    "desired_dashboard_service",
    "desired_head_pod",
    "desired_head_service",
    "desired_rbac",
    "desired_worker_counts",
    "desired_worker_pod",
    "generated_secret_name",
    "is_autoscaling",
    "is_token_auth",
    "owner_reference",
    "plan_pass",
    "plan_pods",
    "rayservice_auth_problems",
    "rbac_patch",
    "requeue_after_s",
    "service_account_name",
    "validate_cluster",
]
