"""Probe parsing and the prober's thresholds (e2e/localcluster/node/probes.py)."""

from __future__ import annotations

import asyncio

import pytest

from e2e.localcluster.node.probes import Probe, ProbeError, parse_probe, run_prober

CONTAINER = {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}


def test_parse_probe_applies_kubelets_defaults_and_resolves_named_ports() -> None:
    probe = parse_probe({"httpGet": {"port": "http", "path": "/healthz"}}, CONTAINER)
    assert probe == Probe("httpGet", initial_delay_s=0, period_s=10, timeout_s=1, success_threshold=1,
                          failure_threshold=3, port=8080, path="/healthz")
    assert parse_probe(None, CONTAINER) is None
    with pytest.raises(ProbeError):
        parse_probe({"tcpSocket": {"port": "nope"}}, CONTAINER)


def test_a_grpc_probe_is_checked_as_a_tcp_connection_to_its_port() -> None:
    probe = parse_probe({"grpc": {"port": 9000}}, CONTAINER)
    assert probe is not None and (probe.kind, probe.port) == ("tcpSocket", 9000)


async def test_the_prober_reports_only_flips_after_the_thresholds() -> None:
    results = iter([False, False, True, True, False, False, False, True])
    seen: list[bool] = []
    done = asyncio.Event()

    async def attempt() -> tuple[bool, str]:
        try:
            return next(results), "why"
        except StopIteration:
            done.set()
            return True, ""

    probe = Probe("exec", period_s=0, success_threshold=2, failure_threshold=3)
    task = asyncio.create_task(run_prober(probe, attempt, lambda ok, _why: seen.append(ok)))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    await asyncio.wait({task})
    # two failures: below the threshold of 3; two successes: ready; three failures: not ready; then ready again
    assert seen == [True, False, True]
