"""The controller runtime against the embedded API server: no writes when converged, one leader at a time,
a leader that cannot renew stops writing, and the probes and metrics a cluster sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.api import ObjectKey
from rayservice.kube import KubeClient
from rayservice.runtime import LeadershipLost
from tests.integration.operator_harness import (
    CONTROLLER,
    DEADLINE_S,
    LEASE_DURATION_S,
    NAMESPACE,
    RENEW_DEADLINE_S,
    RETRY_PERIOD_S,
    Clients,
    ObservedSource,
    Operator,
    Signal,
    create_configmap,
    stamped,
    start_operator,
    writes_by,
)


@pytest.fixture
def signal() -> Signal:
    return Signal()


@pytest.fixture
async def clients(kubeconfig: Path) -> AsyncIterator[Clients]:
    made = Clients(kubeconfig)
    yield made
    await made.close()


@pytest.fixture
async def tests_client(clients: Clients) -> KubeClient:
    return await clients.new("tests")


@pytest.fixture
async def operators() -> AsyncIterator[list[Operator]]:
    made: list[Operator] = []
    with capture_logs():  # keep the test output readable; assertions use the request log
        yield made
        for op in made:
            if op.task is not None and not op.task.done():
                await op.crash()


async def test_a_converged_configmap_reconciled_again_makes_no_writes(
    apiserver: LocalApiServer, operators: list[Operator], clients: Clients, tests_client: KubeClient, signal: Signal
) -> None:
    op = await start_operator(operators, clients, signal, "manager-a", leader=False)
    await create_configmap(tests_client, "settings", colour="blue")
    key = ObjectKey(NAMESPACE, "settings")
    # The stamp's own update event brings the key back once: that second reconcile already finds it converged.
    await signal.until(lambda: stamped(apiserver, "settings") and op.reconciles[key] >= 2)
    assert len(writes_by(apiserver, "manager-a", resource="configmaps")) == 1
    mark = len(apiserver.faults.log)
    for round_ in range(3):
        op.controller.enqueue(key)
        await signal.until(lambda round_=round_: op.reconciles[key] >= 3 + round_)  # type: ignore[misc]
    assert writes_by(apiserver, "manager-a", since=mark) == []
    await op.stop()


async def test_with_two_managers_exactly_one_reconciles_and_a_stopped_leader_hands_over_within_the_lease(
    apiserver: LocalApiServer, operators: list[Operator], clients: Clients, tests_client: KubeClient, signal: Signal
) -> None:
    a = await start_operator(operators, clients, signal, "manager-a", leader=True)
    await signal.until(lambda: a.manager.is_leader)
    b = await start_operator(operators, clients, signal, "manager-b", leader=True)
    await signal.until(lambda: b.manager.is_ready, poll_s=0.05)
    assert b.elector is not None and not b.elector.is_leader and b.elector.holder == "manager-a"
    for name in ("one", "two", "three"):
        await create_configmap(tests_client, name, content=name)
    await signal.until(lambda: all(stamped(apiserver, n) for n in ("one", "two", "three")))
    assert len(writes_by(apiserver, "manager-a", resource="configmaps")) == 3
    assert writes_by(apiserver, "manager-b", resource="configmaps") == []
    assert sum(b.reconciles.values()) == 0

    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    await a.stop()  # SIGTERM: drains, releases the lease
    await signal.until(lambda: b.manager.is_leader)
    takeover_s = loop.time() - stopped_at
    print(f"takeover after a clean stop: {takeover_s:.3f} s")
    assert takeover_s < LEASE_DURATION_S

    await create_configmap(tests_client, "four", content="four")
    await signal.until(lambda: stamped(apiserver, "four"))
    assert [r.name for r in writes_by(apiserver, "manager-b", resource="configmaps")] == ["four"]
    await b.stop()


async def test_a_crashed_leader_is_replaced_once_its_lease_runs_out(
    apiserver: LocalApiServer, operators: list[Operator], clients: Clients, tests_client: KubeClient, signal: Signal
) -> None:
    a = await start_operator(operators, clients, signal, "manager-a", leader=True)
    await signal.until(lambda: a.manager.is_leader)
    b = await start_operator(operators, clients, signal, "manager-b", leader=True)
    await signal.until(lambda: b.manager.is_ready, poll_s=0.05)
    loop = asyncio.get_running_loop()
    crashed_at = loop.time()
    await a.crash()  # no release: b waits for the lease to expire
    await signal.until(lambda: b.manager.is_leader)
    takeover_s = loop.time() - crashed_at
    print(f"takeover after a crash: {takeover_s:.3f} s")
    assert takeover_s <= LEASE_DURATION_S + 1.2 * RETRY_PERIOD_S + 0.5
    await create_configmap(tests_client, "after", v="1")
    await signal.until(lambda: stamped(apiserver, "after"))
    assert writes_by(apiserver, "manager-a", resource="configmaps") == []
    await b.stop()


async def test_a_leader_that_cannot_renew_its_lease_stops_and_makes_no_further_writes(
    apiserver: LocalApiServer, operators: list[Operator], clients: Clients, tests_client: KubeClient, signal: Signal
) -> None:
    loop = asyncio.get_running_loop()
    a = await start_operator(operators, clients, signal, "manager-a", leader=True)
    held = a.gates["held"] = asyncio.Event()
    losses: list[tuple[int, float]] = []

    def on_lost() -> None:
        losses.append((len(apiserver.faults.log), loop.time()))
        held.set()  # a worker still running now would go on to write: the manager must have cancelled it

    assert a.elector is not None
    a.elector.add_callbacks(on_stopped=on_lost)
    await signal.until(lambda: a.manager.is_leader)
    await create_configmap(tests_client, "before", v="1")
    await signal.until(lambda: stamped(apiserver, "before"))

    failing = apiserver.faults.add(FaultRule(code=500, count=None, resource="leases", verb="update"))
    failing_since = loop.time()
    await create_configmap(tests_client, "during", v="1")  # still the leader until the renew deadline
    await signal.until(lambda: stamped(apiserver, "during"))
    await create_configmap(tests_client, "held", v="1")
    await signal.until(lambda: "held" in a.held)  # a reconcile is in flight when the lease is lost
    assert a.task is not None
    with pytest.raises(LeadershipLost):
        async with asyncio.timeout(DEADLINE_S):
            await a.task
    ((lost_at_entry, lost_at),) = losses
    print(f"stopped leading {lost_at - failing_since:.3f} s after renewals began to fail")
    assert failing.hits >= 1
    assert lost_at - failing_since <= RENEW_DEADLINE_S + 0.2
    assert writes_by(apiserver, "manager-a", since=lost_at_entry) == []
    assert not stamped(apiserver, "held")
    assert not a.manager.is_leader


async def test_metrics_expose_the_scraped_names_with_live_values_and_readyz_waits_for_the_sync(
    apiserver: LocalApiServer, operators: list[Operator], clients: Clients, tests_client: KubeClient, signal: Signal
) -> None:
    no_list = apiserver.faults.add(FaultRule(code=500, count=None, resource="configmaps", verb="list"))
    op = await start_operator(operators, clients, signal, "manager-d", leader=True, observed=True)
    observed = op.source
    assert isinstance(observed, ObservedSource)
    await signal.until(lambda: observed.failed_lists >= 1)
    assert await op.get("/readyz") == (503, "not ready")
    assert await op.get("/healthz") == (200, "ok")

    apiserver.faults.rules.remove(no_list)
    await signal.until(lambda: op.manager.is_ready, poll_s=0.05)
    assert await op.get("/readyz") == (200, "ok")
    await create_configmap(tests_client, "scraped", v="1")
    await signal.until(lambda: stamped(apiserver, "scraped"))

    status, text = await op.get("/metrics")
    assert status == 200
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    names = {name for name, _ in values}
    for name in (
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "workqueue_depth",
        "workqueue_adds_total",
        "workqueue_queue_duration_seconds_bucket",
        "workqueue_work_duration_seconds_bucket",
        "workqueue_retries_total",
        "workqueue_unfinished_work_seconds",
        "workqueue_longest_running_processor_seconds",
        "leader_election_master_status",
        "rest_client_requests_total",
    ):
        assert name in names, name

    def value(metric: str, /, **labels: str) -> float:
        return values.get((metric, tuple(sorted(labels.items()))), 0.0)

    assert value("controller_runtime_reconcile_total", controller=CONTROLLER, result="success") >= 1
    assert value("workqueue_adds_total", name=CONTROLLER) >= 1
    assert value("controller_runtime_reconcile_time_seconds_count", controller=CONTROLLER) >= 1
    assert value("leader_election_master_status", name="rayservice-operator") == 1
    assert value("rest_client_requests_total", code="500", method="GET") >= 1  # the failed lists
    assert value("rest_client_requests_total", code="200", method="PATCH") >= 1  # the stamp
    await op.stop()
