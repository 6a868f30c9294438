"""The end-to-end suites' shared stack: one local cluster with real Ray and one operator for the whole session.

The operator runs in the cluster as the seed guide installs it (`kubectl apply -k manifests/default`: the
Deployment `ray-system/ray-operator`, in-cluster configuration, its ServiceAccount's RBAC enforced); its pods'
logs are appended to `operator.log` in the stack's log folder when the session ends.

The stack uses its own prefix and CIDRs (`lce`, pods 10.230.0.0/16, Services 10.98.0.0/16), distinct from the
node agent's tests and from `make demo`'s defaults, so they can run on the same machine. Each test cleans up the
RayServices it made (memory: a Ray head with the fruit app takes ~1.3 GiB, so at most two live at once).
Every test here is marked `e2e` and skipped, with the reason, on a machine that cannot run namespaces (not root).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.localstack import LocalStack, StackConfig, problem
from e2e.observe import netns_inodes

PREFIX = "lce"
POD_CIDR = "10.230.0.0/16"
SERVICE_CIDR = "10.98.0.0/16"

_problem = problem()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if _problem is not None:
                item.add_marker(pytest.mark.skip(reason=f"real Ray in the local cluster {_problem}"))


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    workdir = Path(tempfile.mkdtemp(prefix="rayservice-e2e-", dir=os.environ.get("TMPDIR")))
    local = LocalStack(StackConfig(workdir=workdir, prefix=PREFIX, pod_cidr=POD_CIDR, service_cidr=SERVICE_CIDR))
    try:
        local.start()
        print(f"\ne2e stack: kubeconfig {local.kubeconfig}, logs {workdir}/")
        yield local
    finally:
        local.stop()
    left = leftovers(PREFIX)
    print(f"\ne2e stack stopped; left behind: {left or 'nothing'}")
    assert not left, left


def leftovers(prefix: str) -> list[str]:
    """Network namespaces, /etc/netns entries and the node's state directory that carry `prefix`."""
    found = [f"netns {name}" for name in netns_inodes(prefix)]
    etc = Path("/etc/netns")
    found += [f"/etc/netns/{p.name}" for p in etc.glob(f"{prefix}-*")] if etc.is_dir() else []
    state = Path("/var/lib/localcluster") / prefix
    return found + ([str(state)] if state.exists() else [])
