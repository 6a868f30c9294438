"""Fixtures for the controller integration tests: the embedded API server with a simulated node (``server``), and
the tests' own client with the CRDs installed (``user``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from rayservice.kube import KubeClient
from tests.integration.raycluster_harness import install_crds, new_client


@pytest.fixture
async def server() -> AsyncIterator[LocalApiServer]:
    """The embedded API server; pods turn Running and Ready at once (no processes)."""
    api = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def user(server: LocalApiServer, tmp_path: Path) -> AsyncIterator[KubeClient]:
    """The tests' own client (user agent ``tests``), after it installed the CRDs."""
    kube = await new_client(server.write_kubeconfig(tmp_path / "kubeconfig"), "tests")
    try:
        await install_crds(kube)
        yield kube
    finally:
        await kube.close()
