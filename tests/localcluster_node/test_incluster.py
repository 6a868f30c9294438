"""In-cluster access from inside pods: the `kubernetes` Service, its variables and name, the ServiceAccount's
projected token and CA, and what RBAC lets that token do; read by the clients real workloads use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import SERVICE_CIDR, Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]

ROOT = Path(__file__).resolve().parents[2]
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBERNETES_IP = SERVICE_CIDR.replace("0.0/16", "0.1")

LIST_PODS = """
import json, os, socket
from kubernetes import client, config
config.load_incluster_config()
out = {"host": os.environ["KUBERNETES_SERVICE_HOST"], "https": os.environ["KUBERNETES_SERVICE_PORT_HTTPS"],
       "resolved": socket.gethostbyname("kubernetes.default.svc"),
       "namespace": open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()}
try:
    out["pods"] = sorted(p.metadata.name for p in client.CoreV1Api().list_namespaced_pod("team").items)
except client.ApiException as exc:
    out["status"], out["message"] = exc.status, json.loads(exc.body)["message"]
print(json.dumps(out))
"""

RAY_AUTOSCALER = """
import json, os, sys
if sys.argv[1] == "by-name":
    # ray's own fallback when the variable is unset, "https://kubernetes.default", comes out of its
    # build_address as "[https://kubernetes.default]:443" in 2.60, so the name is given the way kube gives an IP
    os.environ["KUBERNETES_SERVICE_HOST"] = "kubernetes.default"
from ray.autoscaler._private.kuberay import node_provider
api = node_provider.KubernetesHttpApiClient("team")
cluster = api.get("rayclusters/raycluster-sample")
print(json.dumps({"url": node_provider.KUBERNETES_HOST, "name": cluster["metadata"]["name"],
                  "groups": [g["groupName"] for g in cluster["spec"]["workerGroupSpecs"]]}))
"""

PROBE_MOUNT = f"""
import os
print(os.path.exists("{MOUNT}/token"), os.path.exists("{MOUNT}/ca.crt"))
"""


def script_pod(name: str, script: str, *args: str, account: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"serviceAccountName": account, "restartPolicy": "Never", **spec,
                                                 "containers": [{"name": "main", "image": "python:3.11",
                                                                 "command": ["python", "-c", script, *args]}]}}


async def output_of(cluster: Cluster, name: str, namespace: str = "team") -> str:
    def done() -> bool:
        phase = ((cluster.get("pods", name, namespace) or {}).get("status") or {}).get("phase")
        return phase in ("Succeeded", "Failed")

    await cluster.until(done, timeout_s=60, what=f"pod {name} done")
    runner = cluster.node.agent.runner_for(namespace, name)
    if runner is not None:
        return runner.log_path(runner.containers[0], 0).read_text()
    logs = Path(cluster.node.config.state_path) / "pods"
    raise AssertionError(f"pod {name} left no runner to read logs from ({logs})")


def namespace_with_accounts(cluster: Cluster, *accounts: str) -> None:
    cluster.create("namespaces", {"metadata": {"name": "team"}}, namespace="")
    for account in accounts:
        cluster.create("serviceaccounts", {"metadata": {"name": account}}, namespace="team")


def bind(cluster: Cluster, account: str, rules: list[dict[str, Any]]) -> None:
    rbac = "rbac.authorization.k8s.io"
    cluster.server.api.create(cluster.rt("roles", rbac), "team", {
        "apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": account}, "rules": rules})
    cluster.server.api.create(cluster.rt("rolebindings", rbac), "team", {
        "apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": {"name": account},
        "roleRef": {"apiGroup": rbac, "kind": "Role", "name": account},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "team"}]})


async def test_load_incluster_config_lists_pods_when_the_role_allows_it_and_gets_403_when_not(
        incluster: Cluster) -> None:
    cluster = incluster
    namespace_with_accounts(cluster, "reader", "nobody")
    bind(cluster, "reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
    cluster.create("pods", script_pod("reader", LIST_PODS, account="reader"), namespace="team")
    cluster.create("pods", script_pod("nobody", LIST_PODS, account="nobody"), namespace="team")
    allowed = json.loads((await output_of(cluster, "reader")).splitlines()[-1])
    assert allowed["host"] == KUBERNETES_IP and allowed["https"] == "443"
    assert allowed["resolved"] == KUBERNETES_IP and allowed["namespace"] == "team"
    assert allowed["pods"] == ["nobody", "reader"]
    refused = json.loads((await output_of(cluster, "nobody")).splitlines()[-1])
    assert refused["status"] == 403
    assert refused["message"] == ('pods is forbidden: User "system:serviceaccount:team:nobody" cannot list '
                                  'resource "pods" in API group "" in the namespace "team"')


async def test_the_ray_autoscalers_own_client_reads_its_raycluster_by_address_and_by_kubernetes_default(
        incluster: Cluster) -> None:
    cluster = incluster
    crd = yaml.safe_load((ROOT / "manifests/crd/ray.io_rayclusters.yaml").read_text())
    cluster.server.api.create(cluster.rt("customresourcedefinitions", "apiextensions.k8s.io"), "", crd)
    cluster.server.sync_crds()
    sample = yaml.safe_load((ROOT / "manifests/samples/ray.io_v1_raycluster.yaml").read_text())
    namespace_with_accounts(cluster, "autoscaler")
    cluster.server.api.create(cluster.rt("rayclusters", "ray.io"), "team", sample)
    bind(cluster, "autoscaler", [{"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get"]}])
    for how in ("by-address", "by-name"):
        cluster.create("pods", script_pod(how, RAY_AUTOSCALER, how, account="autoscaler"), namespace="team")
    by_address = json.loads((await output_of(cluster, "by-address")).splitlines()[-1])
    assert by_address == {"url": f"{KUBERNETES_IP}:443", "name": "raycluster-sample",
                          "groups": [g["groupName"] for g in sample["spec"]["workerGroupSpecs"]]}
    by_name = json.loads((await output_of(cluster, "by-name")).splitlines()[-1])
    assert by_name["url"] == "kubernetes.default:443" and by_name["name"] == "raycluster-sample"


async def test_automount_false_on_the_pod_or_its_service_account_gives_no_credentials(incluster: Cluster) -> None:
    cluster = incluster
    namespace_with_accounts(cluster, "default-ish")
    cluster.server.api.create(cluster.rt("serviceaccounts"), "team", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
        "automountServiceAccountToken": False})
    cluster.create("pods", script_pod("mounted", PROBE_MOUNT, account="default-ish"), namespace="team")
    cluster.create("pods", script_pod("pod-off", PROBE_MOUNT, account="default-ish",
                                      automountServiceAccountToken=False), namespace="team")
    cluster.create("pods", script_pod("account-off", PROBE_MOUNT, account="quiet"), namespace="team")
    assert (await output_of(cluster, "mounted")).split() == ["True", "True"]
    for name in ("pod-off", "account-off"):
        assert (await output_of(cluster, name)).split() == ["False", "False"]
        pod = cluster.get("pods", name, "team")
        assert pod is not None
        assert not any(v["name"].startswith("kube-api-access-") for v in pod["spec"].get("volumes") or [])


async def test_a_pod_of_a_missing_service_account_waits_in_container_creating_until_it_exists(
        cluster: Cluster) -> None:
    cluster.create("pods", script_pod("early", PROBE_MOUNT, account="later"), namespace="default")

    def message() -> str:
        pod = cluster.get("pods", "early") or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        return str(((statuses[0].get("state") or {}).get("waiting") or {}).get("message") or "")

    await cluster.until(lambda: "MountVolume.SetUp failed" in message(), what="the mount failure")
    assert message().startswith('MountVolume.SetUp failed for volume "kube-api-access-')
    assert 'failed to fetch token' in message() and 'serviceaccounts "later" not found' in message()
    assert ((cluster.get("pods", "early") or {}).get("status") or {}).get("phase") == "Pending"
    cluster.create("serviceaccounts", {"metadata": {"name": "later"}})
    assert (await output_of(cluster, "early", "default")).split() == ["True", "True"]
