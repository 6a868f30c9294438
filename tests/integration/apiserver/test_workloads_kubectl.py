"""kubectl 1.37 against the local cluster's workload controllers: get columns, scale, rollout status/restart/undo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "default"},
       "spec": {"completions": 2, "template": {"spec": {"restartPolicy": "Never",
                                                       "containers": [{"name": "task", "image": "busybox"}]}}}}


@pytest.fixture
async def cluster() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def kubectl(kubectl_bin: str, cluster: LocalApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_bin, cluster.write_kubeconfig(tmp_path / "kubeconfig"))


async def wait_for(server: LocalApiServer, condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    sub = server.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                assert await sub.queue.get() is not None
    finally:
        server.store.unsubscribe(sub)


def web_pods(server: LocalApiServer) -> list[dict[str, Any]]:
    return [p for p in server.store.list(("", "pods"), "default")
            if p["metadata"].get("labels", {}).get("app") == "web" and not p["metadata"].get("deletionTimestamp")
            and p.get("status", {}).get("phase") == "Running"]


def rolled_out(server: LocalApiServer, replicas: int) -> bool:
    d = server.store.get(("apps", "deployments"), "default", "web")
    status = (d or {}).get("status") or {}
    return (status.get("updatedReplicas") == replicas and status.get("availableReplicas") == replicas
            and status.get("replicas") == replicas and len(web_pods(server)) == replicas)


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


async def test_get_prints_kubes_columns_for_deployments_replicasets_and_jobs(
        kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump_all([DEPLOYMENT, JOB]))
    await wait_for(cluster, lambda: rolled_out(cluster, 2))
    _, out, _ = await kubectl.run("get", "deployments")
    header, row = rows(out)
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row[:4] == ["web", "2/2", "2", "2"]
    _, out, _ = await kubectl.run("get", "deployments", "-o", "wide")
    header, row = rows(out)
    assert header[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert row[5:] == ["main", "nginx:1.27", "app=web"]
    _, out, _ = await kubectl.run("get", "replicasets", "-o", "wide")
    header, row = rows(out)
    assert header == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    pod_hash = row[0].removeprefix("web-")
    assert row[1:4] == ["2", "2", "2"] and row[7] == f"app=web,pod-template-hash={pod_hash}"
    _, out, _ = await kubectl.run("get", "jobs", "-o", "wide")
    header, row = rows(out)
    assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert row[:3] == ["once", "Running", "0/2"]
    assert row[-1].startswith("batch.kubernetes.io/controller-uid=")


async def test_kubectl_scale_changes_the_replicas_through_the_scale_subresource(
        kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
    await wait_for(cluster, lambda: rolled_out(cluster, 2))
    _, out, _ = await kubectl.run("scale", "deploy/web", "--replicas=3")
    assert out.strip() == "deployment.apps/web scaled"
    await wait_for(cluster, lambda: rolled_out(cluster, 3))
    _, out, _ = await kubectl.run("scale", "deploy/web", "--replicas=1", "--current-replicas=3")
    assert out.strip() == "deployment.apps/web scaled"
    await wait_for(cluster, lambda: rolled_out(cluster, 1))
    [rs] = cluster.store.list(("apps", "replicasets"), "default")
    _, out, _ = await kubectl.run("scale", f"rs/{rs['metadata']['name']}", "--replicas=1")
    assert out.strip() == f"replicaset.apps/{rs['metadata']['name']} scaled"


async def test_rollout_status_restart_history_and_undo(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
    _, out, _ = await kubectl.run("rollout", "status", "deploy/web", "--timeout=30s")
    assert out.strip().endswith('deployment "web" successfully rolled out')
    first = {p["metadata"]["name"] for p in web_pods(cluster)}

    _, out, _ = await kubectl.run("rollout", "restart", "deploy/web")
    assert out.strip() == "deployment.apps/web restarted"
    _, out, _ = await kubectl.run("rollout", "status", "deploy/web", "--timeout=30s")
    assert out.strip().endswith('deployment "web" successfully rolled out')
    await wait_for(cluster, lambda: rolled_out(cluster, 2))
    assert not first & {p["metadata"]["name"] for p in web_pods(cluster)}
    template = cluster.store.get(("apps", "deployments"), "default", "web")["spec"]["template"]  # type: ignore[index]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]

    _, out, _ = await kubectl.run("rollout", "history", "deploy/web")
    assert [r[0] for r in rows(out)[1:]] == ["REVISION", "1", "2"]

    _, out, _ = await kubectl.run("rollout", "undo", "deploy/web")
    assert out.strip() == "deployment.apps/web rolled back"
    await wait_for(cluster, lambda: rolled_out(cluster, 2) and (cluster.store.get(
        ("apps", "deployments"), "default", "web") or {})["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "3")
    d = cluster.store.get(("apps", "deployments"), "default", "web")
    assert d is not None
    assert "kubectl.kubernetes.io/restartedAt" not in (d["spec"]["template"]["metadata"].get("annotations") or {})
    replicasets = cluster.store.list(("apps", "replicasets"), "default")
    assert len(replicasets) == 2
    back = next(rs for rs in replicasets if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3")
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert back["spec"]["replicas"] == 2
