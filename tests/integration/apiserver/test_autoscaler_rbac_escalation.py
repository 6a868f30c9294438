"""The operator's ClusterRole is enough to make the autoscaler's Role and RoleBinding: the embedded API server checks
escalation as kube-apiserver does, so these creates, sent as the operator's ServiceAccount, pass only because the
ClusterRole holds every rule the Role grants (and fail, with kube's message, once one of them is taken out)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from rayservice.controller.raycluster import desired_rbac
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

REPO = Path(__file__).resolve().parents[3]
OPERATOR = "system:serviceaccount:ray-system:ray-operator"
CLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "scaling", "namespace": "team", "uid": "4f1c0b9e-0000-4000-8000-000000000001"},
    "spec": {"enableInTreeAutoscaling": True, "headGroupSpec": {"template": {"spec": {"containers": []}}}},
}


@pytest.fixture
async def installed(kubectl_bin: str, tmp_path: Path) -> AsyncIterator[Kubectl]:
    """The repo's namespace, CRDs and RBAC applied by the admin, and a namespace ``team``."""
    server = LocalApiServer(port=0, bookmark_interval_s=0.5)
    enable_rbac(server)
    await server.start()
    try:
        kubectl = Kubectl(kubectl_bin, server.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "cache")
        await kubectl.run("apply", "-f", str(REPO / "manifests" / "default" / "namespace.yaml"))
        await kubectl.run("apply", "-k", str(REPO / "manifests" / "crd"))
        await kubectl.run("apply", "-k", str(REPO / "manifests" / "rbac"))
        await kubectl.run("create", "namespace", "team")
        yield kubectl
    finally:
        await server.stop()


def manifest() -> str:
    """The autoscaler's objects as the operator sends them, without the owner reference (no such cluster here)."""
    docs = []
    for obj in desired_rbac(CLUSTER):
        body = json.loads(json.dumps(obj.body))
        del body["metadata"]["ownerReferences"]
        docs.append(body)
    return yaml.safe_dump_all(docs)


async def test_the_operator_may_create_the_autoscalers_account_role_and_binding(installed: Kubectl) -> None:
    await installed.run("create", "-f", "-", f"--as={OPERATOR}", stdin=manifest())

    _, out, _ = await installed.run("get", "role", "scaling", "-n", "team", "-o", "json")
    assert [rule["resources"] for rule in json.loads(out)["rules"]] == [["pods"], ["pods/resize"], ["rayclusters"]]
    _, out, _ = await installed.run(
        "auth",
        "can-i",
        "patch",
        "pods",
        "--subresource=resize",
        "-n",
        "team",
        "--as=system:serviceaccount:team:scaling",
    )
    assert out.strip() == "yes"


async def test_without_pods_resize_in_the_cluster_role_the_role_is_refused_as_an_escalation(
    installed: Kubectl,
) -> None:
    _, out, _ = await installed.run("get", "clusterrole", "ray-operator", "-o", "json")
    role = json.loads(out)
    role["rules"] = [rule for rule in role["rules"] if rule["resources"] != ["pods/resize"]]
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        role["metadata"].pop(key, None)
    await installed.run("replace", "-f", "-", stdin=json.dumps(role))

    code, _, err = await installed.run("create", "-f", "-", f"--as={OPERATOR}", stdin=manifest(), ok=False)

    assert code == 1
    assert 'roles.rbac.authorization.k8s.io "scaling" is forbidden' in err
    assert "attempting to grant RBAC permissions not currently held" in err
    assert 'Resources:["pods/resize"]' in err
