"""The RayService controller: a Ray cluster plus a Serve config behind two stable Services, upgraded without downtime.

Pure decisions:
- ``validate``: ``check_service`` -> the Serve config to deploy, or the problems that stop everything.
- ``desired``: the RayCluster made for a RayService, ``<name>-head-svc`` and the serve Service.
- ``patches``: in-place scaling of a cluster (the Service patch is in ``rayservice.controller.objects``).
- ``plan``: ``plan(observed, now, rng)`` -> ``PassPlan``: every decision of one pass, made of the ones below.
- ``upgrade``: ``decide`` -> ``ClusterPlan``: active and pending clusters, creates, deletes, deadlines.
- ``serve_health``: when an unhealthy active cluster is due for replacement (thresholds, backoff).
- ``serve_diff``: ``decide_serve`` (PUT or not) and ``is_serving`` (may traffic switch).
- ``serve_labels``: ``serve_label_changes``: the ``ray.io/serve`` pod labels from proxy health.
- ``rollout``: ``decide_rollout`` -> ``RolloutOutcome``: rollout deadlines under ``rolloutPolicy``, when one is
  given up, and what a given-up rollout holds back (the pending cluster, or the new Serve config).
- ``pace``: ``pass_requeue_s``: when to look again; ``status_events``: the events a status write records.
- ``phase``: ``upgrade_phase``: the phase of a cluster upgrade, for the metrics.
- ``last_good``: the last good Serve config, as an annotation of the cluster it ran on.
- ``status``: ``compute_status`` (the only builder of RayService status) and ``requeue_after_s``.

The async shell: ``reconcile`` (one pass), ``observe`` (cache and dashboard reads), ``apply`` (carries out
a ``PassPlan``: cluster writes, the PUT, labels, Services and the switch), ``writes`` (cluster and pod
writes), ``memory`` (per-cluster notes kept in this process), ``deps`` (the interfaces), ``setup``
(``rayservice_controller``: the wiring).

Import from here, not from the modules.
"""

from rayservice.controller.objects import EventEmitter, KubeWriter
from rayservice.controller.rayservice.deps import (
    DEFAULT_DASHBOARD_TIMEOUT_S,
    NO_RAYSERVICE_METRICS,
    DashboardFactory,
    Deps,
    RayServiceMetrics,
    TokenSource,
)
from rayservice.controller.rayservice.desired import (
    REPLACEMENTS_ANNOTATION,
    desired_cluster,
    desired_head_service,
    desired_serve_service,
    owner_reference,
    serve_port,
    serve_service_name_of,
    without_worker_replicas,
)
from rayservice.controller.rayservice.gateway_objects import (
    cluster_serve_service_name,
    desired_gateway,
    desired_route,
    gateway_differs,
    gateway_name,
    gateway_ready,
    route_differs,
    route_name,
    route_ready,
    route_weight,
)
from rayservice.controller.rayservice.incremental import (
    Options,
    Side,
    Step,
    enabled,
    options,
    recorded,
    rollback_condition,
    serving_config,
    side,
    status_fields,
    step,
    with_capacity,
)
from rayservice.controller.rayservice.incremental_pass import (
    IncrementalPass,
    cluster_serve_service,
    decide_incremental,
    incremental_put,
    route,
    upgrade_requeue_s,
    with_status,
)
from rayservice.controller.rayservice.last_good import (
    LAST_GOOD_ANNOTATION,
    MAX_LAST_GOOD_BYTES,
    decode_last_good,
    encode_last_good,
    last_good_of,
)
from rayservice.controller.rayservice.memory import ClusterMemory
from rayservice.controller.rayservice.observe import head_address
from rayservice.controller.rayservice.pace import pass_requeue_s
from rayservice.controller.rayservice.pass_values import (
    Notes,
    Observed,
    PassPlan,
    ServePut,
    ServeState,
    StatusEvents,
    Submitted,
    Switch,
)
from rayservice.controller.rayservice.patches import scale_patch
from rayservice.controller.rayservice.phase import PHASES, Phase, upgrade_phase
from rayservice.controller.rayservice.plan import active_health, plan
from rayservice.controller.rayservice.reconcile import reconcile
from rayservice.controller.rayservice.rollout import (
    DEPLOY_FAILED_GRACE_S,
    RETRY_ANNOTATION,
    Policy,
    RolloutOutcome,
    decide_rollout,
    rollout_ended,
    rollout_policy,
    serve_config_hash,
)
from rayservice.controller.rayservice.serve_diff import (
    LastPut,
    ServeDecision,
    apps_missing,
    config_digest,
    decide_serve,
    desired_app_names,
    is_serving,
)
from rayservice.controller.rayservice.serve_health import (
    Health,
    replacement_backoff_s,
    replacement_due,
    unhealthy_since,
)
from rayservice.controller.rayservice.serve_labels import proxy_health_by_ip, serve_label_changes
from rayservice.controller.rayservice.setup import (
    CONTROLLER_NAME,
    ControllerMetrics,
    rayservice_controller,
    slice_owner,
)
from rayservice.controller.rayservice.status import (
    CONVERGING_REQUEUE_S,
    FAILING_REQUEUE_S,
    REASON_ROLLOUT_FAILED,
    REASON_SERVE_DEPLOY_FAILED,
    SCALING_REQUEUE_S,
    STARTING_REQUEUE_S,
    STEADY_REQUEUE_S,
    ClusterReport,
    compute_status,
    count_serve_endpoints,
    recorded_applications,
    requeue_after_s,
    rollout_failure_message,
)
from rayservice.controller.rayservice.status_events import status_events
from rayservice.controller.rayservice.submission import serve_put
from rayservice.controller.rayservice.upgrade import (
    ClusterFacts,
    ClusterPlan,
    NewCluster,
    cluster_facts,
    current_clusters,
    decide,
    deletion_deadline,
    recorded_clusters,
)
from rayservice.controller.rayservice.validate import ServiceCheck, check_service, ignored_fields, incremental_problems

__all__ = [
    "CONTROLLER_NAME",
    "CONVERGING_REQUEUE_S",
    "DEFAULT_DASHBOARD_TIMEOUT_S",
    "DEPLOY_FAILED_GRACE_S",
    "FAILING_REQUEUE_S",
    "LAST_GOOD_ANNOTATION",
    "MAX_LAST_GOOD_BYTES",
    "NO_RAYSERVICE_METRICS",
    "PHASES",
    "REASON_ROLLOUT_FAILED",
    "REASON_SERVE_DEPLOY_FAILED",
    "REPLACEMENTS_ANNOTATION",
    "RETRY_ANNOTATION",
    "SCALING_REQUEUE_S",
    "STARTING_REQUEUE_S",
    "STEADY_REQUEUE_S",
    "ClusterFacts",
    "ClusterMemory",
    "ClusterPlan",
    "ClusterReport",
    "ControllerMetrics",
    "DashboardFactory",
    "Deps",
    "EventEmitter",
    "Health",
    "IncrementalPass",
    "KubeWriter",
    "LastPut",
    "NewCluster",
    "Notes",
    "Observed",
    "Options",
    "PassPlan",
    "Phase",
    "Policy",
    "RayServiceMetrics",
    "RolloutOutcome",
    "ServeDecision",
    "ServePut",
    "ServeState",
    "ServiceCheck",
    "Side",
    "StatusEvents",
    "Step",
    "Submitted",
    "Switch",
    "TokenSource",
    "active_health",
    "apps_missing",
    "check_service",
    "cluster_facts",
    "cluster_serve_service",
    "cluster_serve_service_name",
    "compute_status",
    "config_digest",
    "count_serve_endpoints",
    "current_clusters",
    "decide",
    "decide_incremental",
    "decide_rollout",
    "decide_serve",
    "decode_last_good",
    "deletion_deadline",
    "desired_app_names",
    "desired_cluster",
    "desired_gateway",
    "desired_head_service",
    "desired_route",
    "desired_serve_service",
    "enabled",
    "encode_last_good",
    "gateway_differs",
    "gateway_name",
    "gateway_ready",
    "head_address",
    "ignored_fields",
    "incremental_problems",
    "incremental_put",
    "is_serving",
    "last_good_of",
    "options",
    "owner_reference",
    "pass_requeue_s",
    "plan",
    "proxy_health_by_ip",
    "rayservice_controller",
    "reconcile",
    "recorded",
    "recorded_applications",
    "recorded_clusters",
    "replacement_backoff_s",
    "replacement_due",
    "requeue_after_s",
    "rollback_condition",
    "rollout_ended",
    "rollout_failure_message",
    "rollout_policy",
    "route",
    "route_differs",
    "route_name",
    "route_ready",
    "route_weight",
    "scale_patch",
    "serve_config_hash",
    "serve_label_changes",
    "serve_port",
    "serve_put",
    "serve_service_name_of",
    "serving_config",
    "side",
    "slice_owner",
    "status_events",
    "status_fields",
    "step",
    "unhealthy_since",
    "upgrade_phase",
    "upgrade_requeue_s",
    "with_capacity",
    "with_status",
    "without_worker_replicas",
]
