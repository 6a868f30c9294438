"""The controller runtime: reconcile results, the worker loop, controllers, leader election, the manager.

It knows nothing of Ray: it runs any reconcile function over keys of any Kubernetes objects. An import-linter
contract (``pyproject.toml``) keeps it that way: nothing in ``rayservice.runtime`` imports ``rayservice.api``
or ``rayservice.ray``, directly or through another package.

- ``result``: ``Result``, ``DONE``, ``TerminalError``: what a reconcile returns or raises.
- ``worker``: the worker loop, the one place that catches ``Exception``; binds ``controller``, ``key``
  and ``reconcile_id`` to every log line of a reconcile.
- ``controller``: ``Controller``: a reconcile function, its rate-limited queue and its workers.
- ``leader``: ``LeaderElector`` on a ``coordination.k8s.io/v1`` Lease written directly.
- ``manager``: ``Manager``: servers, then informers (waiting for their sync), then leader-gated
  controllers; clean shutdown; stops every worker at once when leadership is lost.
- ``healthserver``: ``HealthServer``: the operator's ``/healthz``, ``/readyz`` and ``/metrics``.
- ``written``: ``WrittenVersions``: the resourceVersions a reconciler's own status writes replaced, and the
  informer predicate that ignores their echo.

Import from here, not from the modules.
"""

from rayservice.runtime.controller import Controller
from rayservice.runtime.healthserver import HealthServer
from rayservice.runtime.leader import (
    NO_LEADER_METRICS,
    LeaderElectionConfig,
    LeaderElector,
    LeaderMetrics,
    LeadershipLost,
    LeaseApi,
    default_identity,
)
from rayservice.runtime.manager import (
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    DEFAULT_SYNC_TIMEOUT_S,
    Cache,
    CacheSyncTimeout,
    Manager,
    Runnable,
    Server,
)
from rayservice.runtime.result import DONE, Result, TerminalError
from rayservice.runtime.worker import (
    NO_RECONCILE_METRICS,
    ReconcileMetrics,
    Reconciler,
    WorkerQueue,
    reconcile_key,
    run_worker,
)
from rayservice.runtime.written import WrittenVersions, ignore_own_echo

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "DEFAULT_SYNC_TIMEOUT_S",
    "DONE",
    "NO_LEADER_METRICS",
    "NO_RECONCILE_METRICS",
    "Cache",
    "CacheSyncTimeout",
    "Controller",
    "HealthServer",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeaderMetrics",
    "LeadershipLost",
    "LeaseApi",
    "Manager",
    "ReconcileMetrics",
    "Reconciler",
    "Result",
    "Runnable",
    "Server",
    "TerminalError",
    "WorkerQueue",
    "WrittenVersions",
    "default_identity",
    "ignore_own_echo",
    "reconcile_key",
    "run_worker",
]
