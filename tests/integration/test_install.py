"""The install journey with kubectl 1.37 against the embedded API server: apply -k, samples, delete -k.

Each step is what a user types; kubectl runs as an asyncio subprocess because the API server shares the loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "manifests" / "default"
SAMPLES = sorted((ROOT / "manifests" / "samples").glob("*.yaml"))
SAMPLE_OBJECTS = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in SAMPLES}
NAMESPACE = "ray-system"
CRDS = ("rayclusters.ray.io", "rayservices.ray.io")


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path, tmp_path: Path, apiserver: LocalApiServer) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
async def installed(kubectl: Kubectl) -> Kubectl:
    _, out, err = await kubectl.run("apply", "-k", str(DEFAULT))
    assert "Warning" not in err
    for line in (
        f"namespace/{NAMESPACE} created",
        *(f"customresourcedefinition.apiextensions.k8s.io/{crd} created" for crd in CRDS),
        "serviceaccount/ray-operator created",
        "clusterrole.rbac.authorization.k8s.io/ray-operator created",
        "clusterrolebinding.rbac.authorization.k8s.io/ray-operator created",
        "role.rbac.authorization.k8s.io/ray-operator-leader-election created",
        "rolebinding.rbac.authorization.k8s.io/ray-operator-leader-election created",
        "service/ray-operator-metrics created",
        "deployment.apps/ray-operator created",
    ):
        assert line in out, out
    await kubectl.run("wait", "--for=condition=Established", "--timeout=20s", *(f"crd/{crd}" for crd in CRDS))
    return kubectl


async def test_apply_k_installs_the_operator_deployment_into_ray_system(installed: Kubectl) -> None:
    _, out, _ = await installed.run("get", "deployment", "-n", NAMESPACE, "ray-operator")
    header, row = out.strip().splitlines()
    assert header.split()[:2] == ["NAME", "READY"] and row.split()[0] == "ray-operator"

    deployment = await installed.get_json("deployment", "-n", NAMESPACE, "ray-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "rayservice-operator:0.1.0"
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ray-operator"
    binding = await installed.get_json("clusterrolebinding", "ray-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ray-operator", "namespace": NAMESPACE}]


async def test_apply_k_twice_changes_nothing(installed: Kubectl) -> None:
    _, out, _ = await installed.run("apply", "-k", str(DEFAULT))
    lines = out.strip().splitlines()
    assert lines and all(line.endswith(" unchanged") for line in lines), out


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
async def test_the_installed_crds_accept_every_sample_with_validation_on(installed: Kubectl, sample: Path) -> None:
    submitted = SAMPLE_OBJECTS[sample.stem]
    kind, name = submitted["kind"], submitted["metadata"]["name"]
    namespace = sample.stem.replace("_", "-").replace(".", "-")  # samples share names: one namespace each
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    await installed.run("apply", "-f", "-", stdin=yaml.safe_dump(ns))

    code, out, err = await installed.run("apply", "-n", namespace, "-f", str(sample), ok=False)
    assert code == 0 and f"{kind.lower()}.ray.io/{name} created" in out, err
    assert "unknown field" not in err
    stored = await installed.get_json("-n", namespace, f"{kind.lower()}s.ray.io", name)
    assert stored["apiVersion"] == "ray.io/v1" and stored["kind"] == kind


async def test_delete_k_removes_everything_and_the_namespace_deletion_completes(installed: Kubectl) -> None:
    for sample in SAMPLES:  # custom resources in use do not hold the uninstall back
        await installed.run("apply", "-f", str(sample))

    _, out, _ = await installed.run("delete", "-k", str(DEFAULT), "--timeout=20s")
    assert f'namespace "{NAMESPACE}" deleted' in out
    await installed.run("wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=20s")

    code, _, err = await installed.run("get", "namespace", NAMESPACE, ok=False)
    assert code != 0 and "NotFound" in err
    _, out, _ = await installed.run("get", "crd", "-o", "name")
    assert not any(crd in out for crd in CRDS), out
    for kind, name in (("clusterrole", "ray-operator"), ("clusterrolebinding", "ray-operator")):
        code, _, err = await installed.run("get", kind, name, ok=False)
        assert code != 0 and "NotFound" in err, kind
