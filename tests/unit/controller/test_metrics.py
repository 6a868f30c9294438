"""Prometheus metrics: the names users already scrape, live values, and no registration at import."""

from __future__ import annotations

import asyncio

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rayservice.api import ObjectKey
from rayservice.kube import OnRequest
from rayservice.metrics import OperatorMetrics, new_registry
from rayservice.queue import QueueMetrics, RateLimitingQueue
from rayservice.runtime import LeaderMetrics, ReconcileMetrics
from rayservice.testing import FakeClock, settle

NAMES = [
    "controller_runtime_reconcile_total",
    "controller_runtime_reconcile_errors_total",
    "controller_runtime_reconcile_time_seconds",
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_queue_duration_seconds",
    "workqueue_work_duration_seconds",
    "workqueue_retries_total",
    "workqueue_unfinished_work_seconds",
    "workqueue_longest_running_processor_seconds",
    "leader_election_master_status",
    "rest_client_requests_total",
]


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(registry: CollectorRegistry, metric: str, /, **labels: str) -> float | None:
    return samples(registry).get((metric, tuple(sorted(labels.items()))))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_scraped_name_is_exposed_with_its_labels(registry: CollectorRegistry) -> None:
    metrics = OperatorMetrics(registry)
    metrics.reconciled("stamp", "error", 0.2)
    metrics.added("stamp", 1)
    metrics.started("stamp", 0, 0.01)
    metrics.finished("stamp", 0.02)
    metrics.unfinished("stamp", 0.5, 0.3)
    metrics.retried("stamp")
    metrics.leader_status("rayservice-operator", True)
    metrics.on_request("get", "configmaps", 200)
    exposed = {name for name, _ in samples(registry)}
    for name in NAMES:
        assert name in exposed or f"{name}_bucket" in exposed, name
    assert value(registry, "controller_runtime_reconcile_total", controller="stamp", result="error") == 1
    assert value(registry, "controller_runtime_reconcile_errors_total", controller="stamp") == 1
    assert value(registry, "controller_runtime_reconcile_time_seconds_count", controller="stamp") == 1
    assert value(registry, "workqueue_unfinished_work_seconds", name="stamp") == 0.5
    assert value(registry, "workqueue_longest_running_processor_seconds", name="stamp") == 0.3
    assert value(registry, "leader_election_master_status", name="rayservice-operator") == 1
    assert value(registry, "rest_client_requests_total", code="200", method="GET") == 1


def test_reconcile_results_use_controller_runtimes_labels_and_exist_before_the_first_reconcile(
    registry: CollectorRegistry,
) -> None:
    metrics = OperatorMetrics(registry)
    metrics.max_workers("stamp", 4)
    for result in ("success", "error", "requeue", "requeue_after"):
        assert value(registry, "controller_runtime_reconcile_total", controller="stamp", result=result) == 0
    assert value(registry, "controller_runtime_max_concurrent_reconciles", controller="stamp") == 4


@pytest.mark.parametrize(
    ("verb", "code", "method", "label"),
    [
        ("list", 200, "GET", "200"),
        ("watch", 200, "GET", "200"),
        ("create", 201, "POST", "201"),
        ("update", 409, "PUT", "409"),
        ("patch", 200, "PATCH", "200"),
        ("delete", 404, "DELETE", "404"),
        ("get", 0, "GET", "<error>"),
    ],
)
def test_rest_client_requests_are_counted_by_http_method_and_code(
    registry: CollectorRegistry, verb: str, code: int, method: str, label: str
) -> None:
    OperatorMetrics(registry).on_request(verb, "configmaps", code)
    assert value(registry, "rest_client_requests_total", code=label, method=method) == 1


async def test_a_real_queue_feeds_the_workqueue_metrics(registry: CollectorRegistry) -> None:
    metrics = OperatorMetrics(registry)
    clock = FakeClock()
    async with RateLimitingQueue[ObjectKey](name="stamp", clock=clock, metrics=metrics) as queue:
        queue.add(ObjectKey("default", "a"))
        queue.add(ObjectKey("default", "b"))
        assert value(registry, "workqueue_depth", name="stamp") == 2
        key = await queue.get()
        clock.step(0.75)
        await settle()
        assert value(registry, "workqueue_longest_running_processor_seconds", name="stamp") == 0.75
        queue.add_rate_limited(key)
        queue.done(key)
        await asyncio.sleep(0)
    assert value(registry, "workqueue_adds_total", name="stamp") == 2
    assert value(registry, "workqueue_retries_total", name="stamp") == 1
    assert value(registry, "workqueue_work_duration_seconds_count", name="stamp") == 1


def test_one_adapter_serves_the_queue_the_workers_the_elector_and_the_client(registry: CollectorRegistry) -> None:
    metrics = OperatorMetrics(registry)
    as_queue: QueueMetrics = metrics  # mypy checks that one object fits every protocol
    as_workers: ReconcileMetrics = metrics
    as_elector: LeaderMetrics = metrics
    on_request: OnRequest = metrics.on_request
    as_queue.retried("q")
    as_workers.reconciled("c", "success", 0.1)
    as_elector.leader_status("lease", False)
    on_request("patch", "configmaps", 200)
    assert value(registry, "workqueue_retries_total", name="q") == 1
    assert value(registry, "controller_runtime_reconcile_total", controller="c", result="success") == 1
    assert value(registry, "leader_election_master_status", name="lease") == 0
    assert value(registry, "rest_client_requests_total", code="200", method="PATCH") == 1


def test_nothing_is_registered_at_import_and_each_registry_is_independent() -> None:
    default_names = {name for metric in prometheus_client.REGISTRY.collect() for name in [metric.name]}
    assert not any(name.startswith(("controller_runtime", "workqueue")) for name in default_names)
    first, second = new_registry(), new_registry()
    OperatorMetrics(first).retried("q")
    OperatorMetrics(second)
    assert value(first, "workqueue_retries_total", name="q") == 1
    assert value(second, "workqueue_retries_total", name="q") is None
    assert any(name.startswith("process_") for name, _ in samples(first))


def test_a_namespaces_rollout_and_upgrade_series_exist_at_zero_from_its_first_rayservice_and_count_from_there(
    registry: CollectorRegistry,
) -> None:
    metrics = OperatorMetrics(registry)
    assert value(registry, "rayservice_rollouts_total", namespace="ns", kind="Cluster", outcome="failed") is None
    metrics.service_observed("svc", "ns", ready=True, upgrading=False)
    for kind in ("Cluster", "Serve"):
        for outcome in ("succeeded", "rolled_back", "failed"):
            assert value(registry, "rayservice_rollouts_total", namespace="ns", kind=kind, outcome=outcome) == 0
            assert value(registry, "rayservice_rollout_duration_seconds_count", namespace="ns", kind=kind,
                         outcome=outcome) == 0
    assert value(registry, "rayservice_upgrade_duration_seconds_count", namespace="ns") == 0
    for phase in ("pending_created", "pods_ready", "switched"):
        assert value(registry, "rayservice_upgrade_phase_duration_seconds_count", namespace="ns", phase=phase) == 0
    metrics.rollout_ended("svc", "ns", kind="Serve", outcome="rolled_back", duration_s=40.0)
    metrics.service_observed("other", "ns", ready=False, upgrading=True)  # a second RayService resets nothing
    assert value(registry, "rayservice_rollouts_total", namespace="ns", kind="Serve", outcome="rolled_back") == 1
    assert value(registry, "rayservice_rollouts_total", namespace="elsewhere", kind="Serve", outcome="failed") is None


def test_the_metrics_know_every_upgrade_phase_that_has_a_duration() -> None:
    from rayservice.controller.rayservice.phase import PHASES
    from rayservice.metrics import UPGRADE_PHASES

    assert tuple(p for p in PHASES if p != "idle") == UPGRADE_PHASES
