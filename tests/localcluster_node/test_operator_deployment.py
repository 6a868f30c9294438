"""The operator as the seed guide installs it: `kubectl apply -k manifests/default` on the local cluster runs the
Deployment `ray-system/ray-operator` in a pod, with in-cluster configuration, its ServiceAccount's token and the
RBAC of manifests/rbac enforced by the API server. No Ray is needed: what is checked is the operator's pod, its
Lease, its log and what the API server lets it do."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubectl import Kubectl

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATION = ROOT / "manifests" / "default"
SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1_rayservice.yaml"
NS = "ray-system"
OPERATOR_USER = "system:serviceaccount:ray-system:ray-operator"
LEASE = "rayservice-operator"
STARTUP_S = 120.0  # an operator pod imports, syncs its caches and passes its readiness probe (period 5 s)


def kubectl_for(cluster: Cluster) -> Kubectl:
    return Kubectl(str(Path(sys.executable).parent / "kubectl"), cluster.kubeconfig)


async def install(kubectl: Kubectl, edit: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
    """`kubectl apply -k manifests/default`, or, with `edit`, the same objects changed by `edit` first."""
    if edit is None:
        await kubectl.run("apply", "-k", str(KUSTOMIZATION))
        return
    _, rendered, _ = await kubectl.run("kustomize", str(KUSTOMIZATION))
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    edit(docs)
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def operator_pods(cluster: Cluster) -> list[dict[str, Any]]:
    return [p for p in cluster.server.store.list(("", "pods"), NS)
            if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "ray-operator"
            and not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or [])


def holder(cluster: Cluster) -> str | None:
    lease = cluster.get("leases", LEASE, NS, group="coordination.k8s.io") or {}
    return (lease.get("spec") or {}).get("holderIdentity")


def available(cluster: Cluster, replicas: int) -> bool:
    deployment = cluster.get("deployments", "ray-operator", NS, group="apps") or {}
    st = deployment.get("status") or {}
    return (st.get("availableReplicas") == replicas and st.get("updatedReplicas") == replicas
            and any(c["type"] == "Available" and c["status"] == "True" for c in st.get("conditions") or []))


async def running_operators(cluster: Cluster, replicas: int) -> list[str]:
    """Names of the operator's pods once the Deployment is Available with `replicas` ready pods, one of them leading."""
    def check() -> list[str] | None:
        pods = operator_pods(cluster)
        names = sorted(p["metadata"]["name"] for p in pods)
        settled = available(cluster, replicas) and len(pods) == replicas and all(map(ready, pods))
        return names if settled and holder(cluster) in names else None

    found: list[str] = await cluster.until(check, timeout_s=STARTUP_S,
                                           what=f"{replicas} operator pod(s) ready, one leading")
    return found


async def log_events(kubectl: Kubectl, *target: str) -> list[dict[str, Any]]:
    """The operator's JSON log lines (`--log-format=json`) as `kubectl logs` shows them."""
    _, out, _ = await kubectl.run("logs", "-n", NS, *target)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


async def test_apply_k_runs_one_ready_operator_pod_that_leads_as_its_service_account_with_least_privilege(
        incluster: Cluster) -> None:
    cluster, kubectl = incluster, kubectl_for(incluster)
    await install(kubectl)
    (pod,) = await running_operators(cluster, 1)
    assert holder(cluster) == pod

    _, deployments, _ = await kubectl.run("get", "deployments", "-n", NS)
    rows = table(deployments)
    assert rows[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [row[:4] for row in rows[1:]] == [["ray-operator", "1/1", "1", "1"]]
    _, pods, _ = await kubectl.run("get", "pods", "-n", NS)
    rows = table(pods)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row[:4] for row in rows[1:]] == [[pod, "1/1", "Running", "0"]]

    events = await log_events(kubectl, "deploy/ray-operator")
    said = [e["event"] for e in events]
    assert "caches_synced" in said and "controllers_started" in said
    assert {"event": "leader_election_won", "identity": pod}.items() <= next(
        e for e in events if e["event"] == "leader_election_won").items()
    spec = (cluster.get("pods", pod, NS) or {})["spec"]
    assert spec["serviceAccountName"] == "ray-operator"
    assert not any("kubeconfig" in arg for c in spec["containers"] for arg in c.get("args") or [])

    code, answer, err = await kubectl.run("auth", "can-i", "list", "secrets", f"--as={OPERATOR_USER}", ok=False)
    assert (code, answer.strip()) == (1, "no"), (answer, err)
    code, answer, _ = await kubectl.run("auth", "can-i", "create", "rayclusters.ray.io", f"--as={OPERATOR_USER}")
    assert (code, answer.strip()) == (0, "yes")


async def test_a_deleted_operator_pod_is_replaced_by_one_that_takes_the_lease_and_a_second_replica_stands_by(
        incluster: Cluster) -> None:
    cluster, kubectl = incluster, kubectl_for(incluster)
    await install(kubectl)
    (first,) = await running_operators(cluster, 1)

    await kubectl.run("delete", "pod", "-n", NS, first, "--wait=false")
    (second,) = await running_operators(cluster, 1)
    assert second != first
    assert holder(cluster) == second

    await kubectl.run("scale", "deployment/ray-operator", "-n", NS, "--replicas=2")
    both = await running_operators(cluster, 2)
    (standby,) = [name for name in both if name != second]
    assert holder(cluster) == second
    said = await log_events(kubectl, f"pod/{standby}")
    assert any(e["event"] == "leader_election_following" and e.get("holder") == second for e in said), said
    assert not any(e["event"] in ("leader_election_won", "controllers_started") for e in said)


def without_raycluster_create(docs: list[dict[str, Any]]) -> None:
    (role,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "ray-operator"]
    (rule,) = [r for r in role["rules"] if r["resources"] == ["rayclusters"]]
    rule["verbs"].remove("create")


async def test_a_permission_taken_out_of_the_cluster_role_is_a_403_in_the_operators_log_and_on_the_rayservice(
        incluster: Cluster) -> None:
    cluster, kubectl = incluster, kubectl_for(incluster)
    await install(kubectl, edit=without_raycluster_create)
    await running_operators(cluster, 1)
    await kubectl.run("apply", "-f", str(SAMPLE))
    forbidden = (f'rayclusters.ray.io is forbidden: User "{OPERATOR_USER}" cannot create resource "rayclusters" '
                 'in API group "ray.io" in the namespace "default"')

    def refused() -> dict[str, Any] | None:
        return next((e for e in cluster.server.store.list(("", "events"), "default")
                     if e.get("reason") == "FailedToCreateRayCluster"
                     and e["involvedObject"]["name"] == "rayservice-sample"), None)

    try:
        event = await cluster.until(refused, timeout_s=60, what="a FailedToCreateRayCluster event")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the operator's log: {await log_events(kubectl, 'deploy/ray-operator')}") from None
    assert event["type"] == "Warning" and forbidden in event["message"], event["message"]
    said = await log_events(kubectl, "deploy/ray-operator")
    assert any(e["event"] == "reconcile_failed" and forbidden in e.get("error", "") for e in said), said
    assert cluster.server.store.list(("ray.io", "rayclusters"), "default") == []
