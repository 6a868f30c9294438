"""Fixtures shared by the RayService integration tests: a simulated-node API server, the fake Ray dashboard,
the tests' own client (CRDs installed) and operators that can be restarted on the same API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import LocalApiServer
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.kube import KubeClient
from tests.integration.rayservice_harness import OPERATOR, Operator, new_client


@pytest.fixture
async def dashboard() -> AsyncIterator[FakeRayDashboard]:
    """Bound on every loopback address of the simulated pods: one fake Ray per head."""
    fake = FakeRayDashboard(clock=lambda: 0.0)
    await fake.start("0.0.0.0", 0)
    try:
        yield fake
    finally:
        await fake.stop()


class Operators:
    """Starts operators one at a time (a restart is a fresh one on the same API server), sharing a client."""

    def __init__(self, kube: KubeClient, session: aiohttp.ClientSession, dashboard: FakeRayDashboard) -> None:
        self._kube, self._session, self._dashboard = kube, session, dashboard
        self.started: list[Operator] = []

    async def start(self, clock: Clock = SYSTEM_CLOCK) -> Operator:
        op = Operator(self._kube, self._session, self._dashboard, clock=clock)
        self.started.append(op)
        await op.start()
        return op


@pytest.fixture
async def operators(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, tmp_path: Path
) -> AsyncIterator[Operators]:
    kube = await new_client(server.write_kubeconfig(tmp_path / "operator-kubeconfig"), OPERATOR)
    with capture_logs():
        async with aiohttp.ClientSession() as session:
            made = Operators(kube, session, dashboard)
            try:
                yield made
            finally:
                for op in made.started:
                    await op.stop()
                await kube.close()


@pytest.fixture
async def operator(operators: Operators) -> Operator:
    return await operators.start()
