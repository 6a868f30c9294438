"""The controller runtime: reconcile results, the worker loop, controllers, leader election and the manager.

- ``result``: ``Result``, ``DONE``, ``TerminalError``: what a reconcile returns or raises.
- ``worker``: the worker loop, the one place that catches ``Exception``; binds ``controller``, ``key``
  and ``reconcile_id`` to every log line of a reconcile.
- ``controller``: ``Controller``: a reconcile function, its rate-limited queue and its workers.
- ``leader``: ``LeaderElector`` on a ``coordination.k8s.io/v1`` Lease written directly.
- ``manager``: ``Manager``: servers, then informers (waiting for their sync), then leader-gated
  controllers; clean shutdown; stops every worker at once when leadership is lost.
- ``health``: ``HealthServer``: ``/healthz``, ``/readyz``, ``/metrics``.
- ``placeholder``: the ConfigMap stamping controller ``rayservice run`` wires until the RayCluster and
  RayService controllers exist.

Import from here, not from the modules.
"""

from rayservice.controller.controller import Controller
from rayservice.controller.health import HealthServer
from rayservice.controller.leader import (
    NO_LEADER_METRICS,
    LeaderElectionConfig,
    LeaderElector,
    LeaderMetrics,
    LeadershipLost,
    LeaseApi,
    default_identity,
)
from rayservice.controller.manager import (
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    DEFAULT_SYNC_TIMEOUT_S,
    Cache,
    CacheSyncTimeout,
    Manager,
    Runnable,
    Server,
)
from rayservice.controller.placeholder import (
    MANAGED_BY_SELECTOR,
    STAMP_ANNOTATION,
    CacheLookup,
    Patcher,
    StampDeps,
    cache_lookup,
    reconcile_stamp,
    stamp_informers,
    stamp_of,
)
from rayservice.controller.result import DONE, Result, TerminalError
from rayservice.controller.worker import (
    NO_RECONCILE_METRICS,
    ReconcileMetrics,
    Reconciler,
    WorkerQueue,
    reconcile_key,
    run_worker,
)

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "DEFAULT_SYNC_TIMEOUT_S",
    "DONE",
    "MANAGED_BY_SELECTOR",
    "NO_LEADER_METRICS",
    "NO_RECONCILE_METRICS",
    "STAMP_ANNOTATION",
    "Cache",
    "CacheLookup",
    "CacheSyncTimeout",
    "Controller",
    "HealthServer",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeaderMetrics",
    "LeadershipLost",
    "LeaseApi",
    "Manager",
    "Patcher",
    "ReconcileMetrics",
    "Reconciler",
    "Result",
    "Runnable",
    "Server",
    "StampDeps",
    "TerminalError",
    "WorkerQueue",
    "cache_lookup",
    "default_identity",
    "reconcile_key",
    "reconcile_stamp",
    "run_worker",
    "stamp_informers",
    "stamp_of",
]
