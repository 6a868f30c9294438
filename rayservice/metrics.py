"""Prometheus metrics under the names existing dashboards scrape (controller-runtime's and client-go's).

=============================================================  =========================================
metric                                                         fed by
=============================================================  =========================================
``controller_runtime_reconcile_total{controller,result}``      ``reconciled`` (result: success, error,
                                                               requeue, requeue_after)
``controller_runtime_reconcile_errors_total{controller}``      ``reconciled`` with result error
``controller_runtime_reconcile_time_seconds{controller}``      ``reconciled`` (histogram)
``controller_runtime_active_workers{controller}``              ``active_workers``
``controller_runtime_max_concurrent_reconciles{controller}``   ``max_workers``
``workqueue_depth{name}``                                      ``added``, ``started``
``workqueue_adds_total{name}``                                 ``added``
``workqueue_queue_duration_seconds{name}``                     ``started`` (histogram)
``workqueue_work_duration_seconds{name}``                      ``finished`` (histogram)
``workqueue_retries_total{name}``                              ``retried``
``workqueue_unfinished_work_seconds{name}``                    ``unfinished``
``workqueue_longest_running_processor_seconds{name}``          ``unfinished``
``leader_election_master_status{name}``                        ``leader_status`` (1 leading, 0 not)
``rest_client_requests_total{code,method}``                    ``on_request`` (HTTP method; code
                                                               ``<error>`` when no answer arrived)
``kuberay_cluster_info{name,namespace,owner_kind}``            ``cluster_info`` (1; owner_kind is the
                                                               controlling owner's kind or ``None``)
``kuberay_cluster_condition_provisioned{name,namespace,``      ``cluster_provisioned`` (1, on the one
``condition}``                                                 series ``condition="true"|"false"``)
``kuberay_cluster_provisioned_duration_seconds{name,``         ``cluster_provisioned_duration``
``namespace}``
``kuberay_service_info{name,namespace}``                       ``service_observed`` (1)
``kuberay_service_condition_ready{name,namespace,condition}``  ``service_observed`` (1, one series)
``kuberay_service_condition_upgrade_in_progress{name,``        ``service_observed`` (1, one series)
``namespace,condition}``
``rayservice_upgrade_duration_seconds{namespace}``             ``service_upgraded`` (histogram)
``rayservice_rollouts_total{namespace,kind,outcome}``          ``rollout_ended`` (kind Cluster|Serve;
                                                               outcome succeeded|rolled_back|failed)
``rayservice_rollout_duration_seconds{namespace,kind,``        ``rollout_ended`` (histogram, from the
``outcome}``                                                   rollout's start to its end)
``rayservice_upgrade_phase{name,namespace,phase}``             ``upgrade_phase`` (1, one series: idle,
                                                               pending_created, pods_ready, switched)
``rayservice_upgrade_phase_duration_seconds{namespace,phase}``  ``upgrade_phase`` (histogram: the time
                                                               spent in a phase other than idle)
=============================================================  =========================================

KubeRay v1.7 has no rollout metrics (its RayService series are ``kuberay_service_info`` and the two
condition gauges): the rollout series are ours, under ``rayservice_``.

Guarantees:
1. Nothing is registered at import: ``OperatorMetrics(registry)`` registers every metric above in the
   registry it is given (``new_registry()`` makes one with the process and platform collectors), so
   tests and the CLI each own theirs.
2. One ``OperatorMetrics`` serves every queue, controller, elector and client: it has the methods of
   ``rayservice.queue.QueueMetrics``, ``rayservice.controller``'s ``ReconcileMetrics`` and
   ``LeaderMetrics``, the RayCluster reconciler's ``RayClusterMetrics``, and ``on_request`` is a
   ``rayservice.kube.OnRequest`` callback.
3. A namespace's per-namespace rollout and upgrade series (the counter and the three histograms, for every
   kind, outcome and phase) exist at 0 from the first ``service_observed`` of a RayService of it: ``increase()``
   returns 0, not nothing, before the first rollout ends, and ``rate()`` sees the first observation (a series
   born at 1 shows no increase to Prometheus).
4. Histogram buckets are the upstream ones, so recorded quantiles line up with existing dashboards.
5. The ``kuberay_cluster_*`` series of a cluster are KubeRay's: each cluster has one ``info`` series and one
   ``condition_provisioned`` series (a change of owner kind or condition replaces it), and
   ``forget_cluster`` removes all of them once the cluster is gone.

Caller must:
- keep the registry for the process lifetime and serve it (``rayservice.controller.HealthServer``).

Every method is synchronous and cheap: they run inside queue operations and request callbacks.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

RECONCILE_TIME_BUCKETS_S: Final = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    *(1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0),
    *(30.0, 40.0, 50.0, 60.0),
)
"""controller-runtime's reconcile time buckets."""

UPGRADE_BUCKETS_S: Final = (5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
ROLLOUT_KINDS: Final = ("Cluster", "Serve")  # status.rollout.kind
ROLLOUT_OUTCOMES: Final = ("succeeded", "rolled_back", "failed")
UPGRADE_PHASES: Final = ("pending_created", "pods_ready", "switched")  # those with a duration (not idle)
QUEUE_BUCKETS_S: Final = tuple(1e-8 * 10**exponent for exponent in range(10))
"""client-go's workqueue buckets: 10 ns to 10 s, by powers of ten."""

_METHODS: Final = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}


def new_registry() -> CollectorRegistry:
    """A fresh registry with the process, platform and garbage-collector collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class OperatorMetrics:
    """Every operator metric, registered in one registry (see the module docstring for the mapping)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._queues: set[str] = set()
        ctl, wq = ("controller",), ("name",)
        self._reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Total reconciliations per controller and result.",
            ("controller", "result"),
            registry=registry,
        )
        self._reconcile_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total reconciliation errors per controller.",
            ctl,
            registry=registry,
        )
        self._reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller.",
            ctl,
            buckets=RECONCILE_TIME_BUCKETS_S,
            registry=registry,
        )
        self._active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of workers currently reconciling, per controller.",
            ctl,
            registry=registry,
        )
        self._max_workers = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller.",
            ctl,
            registry=registry,
        )
        self._depth = Gauge("workqueue_depth", "Current depth of workqueue.", wq, registry=registry)
        self._adds = Counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue.", wq, registry=registry
        )
        self._queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            wq,
            buckets=QUEUE_BUCKETS_S,
            registry=registry,
        )
        self._work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            wq,
            buckets=QUEUE_BUCKETS_S,
            registry=registry,
        )
        self._retries = Counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue.", wq, registry=registry
        )
        self._unfinished = Gauge(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads.",
            wq,
            registry=registry,
        )
        self._longest = Gauge(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            wq,
            registry=registry,
        )
        self._leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates "
            "master. 'name' is the string used to identify the lease.",
            ("name",),
            registry=registry,
        )
        self._requests = Counter(
            "rest_client_requests_total",
            "Number of HTTP requests, partitioned by status code and method.",
            ("code", "method"),
            registry=registry,
        )
        cluster = ("name", "namespace")
        self._cluster_info = Gauge(
            "kuberay_cluster_info",
            "Metadata information about RayCluster custom resources",
            (*cluster, "owner_kind"),
            registry=registry,
        )
        self._cluster_provisioned = Gauge(
            "kuberay_cluster_condition_provisioned",
            "Indicates whether the RayCluster is provisioned",
            (*cluster, "condition"),
            registry=registry,
        )
        self._cluster_provisioned_s = Gauge(
            "kuberay_cluster_provisioned_duration_seconds",
            "The time, in seconds, when a RayCluster's `RayClusterProvisioned` status transitions from false "
            "(or unset) to true",
            cluster,
            registry=registry,
        )
        self._cluster_labels: dict[tuple[str, str], tuple[str, str]] = {}  # (name, ns) -> (owner kind, condition)
        service = ("name", "namespace")
        self._service_info = Gauge(
            "kuberay_service_info",
            "Metadata information about RayService custom resources",
            service,
            registry=registry,
        )
        self._service_ready = Gauge(
            "kuberay_service_condition_ready",
            "Describes whether the RayService is ready. Ready means users can send requests to the underlying "
            "cluster and the number of serve endpoints is greater than 0.",
            (*service, "condition"),
            registry=registry,
        )
        self._service_upgrading = Gauge(
            "kuberay_service_condition_upgrade_in_progress",
            "Describes whether the RayService is performing a zero-downtime upgrade.",
            (*service, "condition"),
            registry=registry,
        )
        self._upgrade_duration = Histogram(
            "rayservice_upgrade_duration_seconds",
            "Seconds from the creation of a RayService's pending RayCluster to the switch of traffic to it.",
            ("namespace",),
            buckets=UPGRADE_BUCKETS_S,
            registry=registry,
        )
        rollout = ("namespace", "kind", "outcome")
        self._rollouts = Counter(
            "rayservice_rollouts",
            "Rollouts under spec.rolloutPolicy that ended, by outcome.",
            rollout,
            registry=registry,
        )
        self._rollout_duration = Histogram(
            "rayservice_rollout_duration_seconds",
            "Seconds from the start of a rollout under spec.rolloutPolicy to its success or its being given up.",
            rollout,
            buckets=UPGRADE_BUCKETS_S,
            registry=registry,
        )
        self._phase = Gauge(
            "rayservice_upgrade_phase",
            "1 on the series of the phase of a RayService's cluster upgrade (idle when none is under way).",
            (*service, "phase"),
            registry=registry,
        )
        self._phase_duration = Histogram(
            "rayservice_upgrade_phase_duration_seconds",
            "Seconds a RayService's cluster upgrade spent in a phase: pending_created (to its head ready), "
            "pods_ready (to the switch), switched (to the old cluster gone).",
            ("namespace", "phase"),
            buckets=UPGRADE_BUCKETS_S,
            registry=registry,
        )
        self._phases: dict[tuple[str, str], tuple[str, float]] = {}  # (name, ns) -> (phase, since, monotonic)
        self._service_labels: dict[tuple[str, str], tuple[str, str]] = {}  # (name, ns) -> (ready, upgrading)
        self._rollout_namespaces: set[str] = set()  # namespaces whose rollout series exist (guarantee 3)

    # ---- rayservice.controller ReconcileMetrics -------------------------------------------------

    def reconciled(self, controller: str, result: str, duration_s: float) -> None:
        self._reconcile_total.labels(controller, result).inc()
        if result == "error":
            self._reconcile_errors.labels(controller).inc()
        self._reconcile_time.labels(controller).observe(duration_s)

    def active_workers(self, controller: str, count: int) -> None:
        self._active_workers.labels(controller).set(count)

    def max_workers(self, controller: str, count: int) -> None:
        self._max_workers.labels(controller).set(count)
        for result in ("success", "error", "requeue", "requeue_after"):
            self._reconcile_total.labels(controller, result)  # zero-valued series exist before the first event
        self._reconcile_errors.labels(controller)

    # ---- rayservice.queue QueueMetrics -----------------------------------------------------------

    def added(self, queue: str, depth: int) -> None:
        self._known_queue(queue)
        self._adds.labels(queue).inc()
        self._depth.labels(queue).set(depth)

    def started(self, queue: str, depth: int, queued_s: float) -> None:
        self._depth.labels(queue).set(depth)
        self._queue_duration.labels(queue).observe(queued_s)

    def finished(self, queue: str, work_s: float) -> None:
        self._work_duration.labels(queue).observe(work_s)

    def unfinished(self, queue: str, unfinished_s: float, longest_s: float) -> None:
        self._known_queue(queue)
        self._unfinished.labels(queue).set(unfinished_s)
        self._longest.labels(queue).set(longest_s)

    def retried(self, queue: str) -> None:
        self._retries.labels(queue).inc()

    def _known_queue(self, queue: str) -> None:
        # client-go creates a queue's series with the queue: zero-valued series exist before the first event.
        if queue not in self._queues:
            self._queues.add(queue)
            for metric in (self._depth, self._adds, self._queue_duration, self._work_duration, self._retries):
                metric.labels(queue)
            self._unfinished.labels(queue)
            self._longest.labels(queue)

    # ---- rayservice.controller LeaderMetrics -----------------------------------------------------

    def leader_status(self, name: str, leading: bool) -> None:
        self._leader.labels(name).set(1 if leading else 0)

    # ---- RayCluster reconciler RayClusterMetrics -------------------------------------------------

    def cluster_info(self, name: str, namespace: str, owner_kind: str) -> None:
        owner, condition = self._cluster_labels.get((name, namespace), ("", ""))
        if owner == owner_kind:
            return
        if owner:
            self._cluster_info.remove(name, namespace, owner)
        self._cluster_info.labels(name, namespace, owner_kind).set(1)
        self._cluster_labels[(name, namespace)] = (owner_kind, condition)

    def cluster_provisioned(self, name: str, namespace: str, provisioned: bool) -> None:
        owner, condition = self._cluster_labels.get((name, namespace), ("", ""))
        value = "true" if provisioned else "false"
        if condition == value:
            return
        if condition:
            self._cluster_provisioned.remove(name, namespace, condition)
        self._cluster_provisioned.labels(name, namespace, value).set(1)
        self._cluster_labels[(name, namespace)] = (owner, value)

    def cluster_provisioned_duration(self, name: str, namespace: str, duration_s: float) -> None:
        self._cluster_provisioned_s.labels(name, namespace).set(duration_s)

    def forget_cluster(self, name: str, namespace: str) -> None:
        owner, condition = self._cluster_labels.pop((name, namespace), ("", ""))
        if owner:
            self._cluster_info.remove(name, namespace, owner)
        if condition:
            self._cluster_provisioned.remove(name, namespace, condition)
        self._cluster_provisioned_s.remove(name, namespace)

    # ---- RayService reconciler RayServiceMetrics -------------------------------------------------

    def service_observed(self, name: str, namespace: str, *, ready: bool, upgrading: bool) -> None:
        if namespace not in self._rollout_namespaces:
            self._rollout_namespaces.add(namespace)
            self._upgrade_duration.labels(namespace)
            for phase in UPGRADE_PHASES:
                self._phase_duration.labels(namespace, phase)
            for kind in ROLLOUT_KINDS:
                for outcome in ROLLOUT_OUTCOMES:
                    self._rollouts.labels(namespace, kind, outcome)
                    self._rollout_duration.labels(namespace, kind, outcome)
        new = ("true" if ready else "false", "true" if upgrading else "false")
        old = self._service_labels.get((name, namespace))
        if old == new:
            return
        self._service_info.labels(name, namespace).set(1)
        if old is not None:
            self._service_ready.remove(name, namespace, old[0])
            self._service_upgrading.remove(name, namespace, old[1])
        self._service_ready.labels(name, namespace, new[0]).set(1)
        self._service_upgrading.labels(name, namespace, new[1]).set(1)
        self._service_labels[(name, namespace)] = new

    def forget_service(self, name: str, namespace: str) -> None:
        phase = self._phases.pop((name, namespace), None)
        if phase is not None:
            self._phase.remove(name, namespace, phase[0])
        old = self._service_labels.pop((name, namespace), None)
        if old is None:
            return
        self._service_info.remove(name, namespace)
        self._service_ready.remove(name, namespace, old[0])
        self._service_upgrading.remove(name, namespace, old[1])

    def service_upgraded(self, name: str, namespace: str, duration_s: float) -> None:
        del name  # one series per namespace: a histogram per object would multiply series
        self._upgrade_duration.labels(namespace).observe(duration_s)

    def rollout_ended(self, name: str, namespace: str, *, kind: str, outcome: str, duration_s: float) -> None:
        del name  # per namespace, as the upgrade histogram
        self._rollouts.labels(namespace, kind, outcome).inc()
        self._rollout_duration.labels(namespace, kind, outcome).observe(duration_s)

    def upgrade_phase(self, name: str, namespace: str, phase: str, at_s: float) -> None:
        old = self._phases.get((name, namespace))
        if old is not None and old[0] == phase:
            return
        if old is not None:
            self._phase.remove(name, namespace, old[0])
            if old[0] != "idle":
                self._phase_duration.labels(namespace, old[0]).observe(max(at_s - old[1], 0.0))
        self._phase.labels(name, namespace, phase).set(1)
        self._phases[(name, namespace)] = (phase, at_s)

    # ---- rayservice.kube OnRequest ---------------------------------------------------------------

    def on_request(self, verb: str, resource: str, code: int) -> None:
        del resource  # client-go labels by method and code only; resources would multiply series
        method = _METHODS.get(verb, verb.upper())
        self._requests.labels(str(code) if code else "<error>", method).inc()
