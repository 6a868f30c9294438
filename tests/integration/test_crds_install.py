"""The generated CRDs in the embedded API server: install, samples through kubectl, columns, deprecation, rejects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException

from e2e.localcluster.apiserver import LocalApiServer
from rayservice.api import RayCluster, RayClusterStatus, RayService, RayServiceStatus
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "manifests" / "crd"
SAMPLES = ROOT / "manifests" / "samples"
V1_SERVICE = SAMPLES / "ray.io_v1_rayservice.yaml"
ALPHA_SERVICE = SAMPLES / "ray.io_v1alpha1_rayservice.yaml"
V1_CLUSTER = SAMPLES / "ray.io_v1_raycluster.yaml"
MERGE = "application/merge-patch+json"


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
async def kube(kubeconfig: Path, apiserver: LocalApiServer) -> AsyncIterator[client.ApiClient]:
    api_client = await config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api_client
    finally:
        await api_client.close()


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


async def install_with_kubectl(kubectl: Kubectl, kube: client.ApiClient) -> None:
    _, out, _ = await kubectl.run("apply", "-f", str(CRD_DIR))
    assert "customresourcedefinition.apiextensions.k8s.io/rayclusters.ray.io created" in out
    assert "customresourcedefinition.apiextensions.k8s.io/rayservices.ray.io created" in out


async def install_with_client(kubectl: Kubectl, kube: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(kube)
    for path in sorted(CRD_DIR.glob("*.yaml")):
        response = await extensions.create_custom_resource_definition_without_preload_content(body=load(path))
        assert response.status == 201


@pytest.fixture(params=[install_with_kubectl, install_with_client], ids=["kubectl-apply", "kubernetes-aio"])
async def installed(request: pytest.FixtureRequest, kubectl: Kubectl, kube: client.ApiClient) -> Kubectl:
    await request.param(kubectl, kube)
    for name in ("rayservices.ray.io", "rayclusters.ray.io"):
        crd = await kubectl.get_json("crd", name)
        established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
        assert established and established[0]["status"] == "True"
    return kubectl


def assert_contained(submitted: Any, stored: Any, path: str = "spec") -> None:
    """Everything the user wrote comes back unchanged (the server may only add defaults)."""
    if isinstance(submitted, dict):
        assert isinstance(stored, dict), path
        for key, value in submitted.items():
            assert key in stored, f"{path}.{key} was dropped"
            assert_contained(value, stored[key], f"{path}.{key}")
    elif isinstance(submitted, list):
        assert isinstance(stored, list) and len(stored) == len(submitted), path
        for i, (a, b) in enumerate(zip(submitted, stored, strict=True)):
            assert_contained(a, b, f"{path}[{i}]")
    else:
        assert submitted == stored, path


# ---- install and round-trip ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "plural", "model"),
    [(V1_SERVICE, "rayservices", RayService), (V1_CLUSTER, "rayclusters", RayCluster)],
    ids=["rayservice", "raycluster"],
)
async def test_v1_sample_applies_without_validate_false_and_its_spec_round_trips(
    installed: Kubectl, sample: Path, plural: str, model: type[RayService | RayCluster]
) -> None:
    submitted = load(sample)
    name = submitted["metadata"]["name"]
    _, out, err = await installed.run("apply", "-f", str(sample))
    assert f"{plural[:-1]}.ray.io/{name} created" in out and "Warning" not in err
    stored = await installed.get_json(plural, name)
    assert stored["apiVersion"] == "ray.io/v1" and stored["metadata"]["generation"] == 1
    assert_contained(submitted["spec"], stored["spec"])
    assert model.model_validate(stored).spec == model.model_validate(submitted).spec  # only model defaults added


async def test_alpha_sample_is_served_with_a_deprecation_warning_and_stored_as_v1(installed: Kubectl) -> None:
    submitted = load(ALPHA_SERVICE)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}}
    await installed.run("apply", "-f", "-", stdin=yaml.safe_dump(namespace))
    _, out, err = await installed.run("apply", "-n", "legacy", "-f", str(ALPHA_SERVICE))
    assert "rayservice.ray.io/rayservice-sample created" in out
    assert "Warning: ray.io/v1alpha1 RayService is deprecated; use ray.io/v1 RayService" in err

    stored = await installed.get_json("-n", "legacy", "rayservices", "rayservice-sample")
    assert stored["apiVersion"] == "ray.io/v1"
    assert_contained(submitted["spec"], stored["spec"])
    parsed = RayService.model_validate(stored)
    assert parsed.spec == RayService.model_validate(submitted).spec
    assert parsed.spec.serve_config is not None and parsed.spec.serve_config.import_path == "fruit.deployment_graph"

    _, out, err = await installed.run("get", "-n", "legacy", "rayservices.v1alpha1.ray.io", "-o", "json")
    assert json.loads(out)["items"][0]["apiVersion"] == "ray.io/v1alpha1"
    assert "deprecated" in err


# ---- printer columns -------------------------------------------------------------------------------------------


async def test_kubectl_get_shows_the_printer_columns(installed: Kubectl, kube: client.ApiClient) -> None:
    await installed.run("apply", "-f", str(V1_SERVICE), "-f", str(V1_CLUSTER))
    _, out, _ = await installed.run("get", "rayservices")
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "SERVICE", "STATUS", "NUM", "SERVE", "ENDPOINTS", "AGE"]
    assert row.split()[0] == "rayservice-sample"

    custom = client.CustomObjectsApi(kube)
    service_status = RayServiceStatus.model_validate(
        {
            "serviceStatus": "Running",
            "numServeEndpoints": 2,
            "observedGeneration": 1,
            "lastUpdateTime": "2026-11-25T10:00:00Z",
            "conditions": [{"type": "Ready", "status": "True", "reason": "NonZeroServeEndpoints"}],
            "activeServiceStatus": {
                "rayClusterName": "rayservice-sample-raycluster-qd2vl",
                "rayClusterStatus": {"state": "ready", "head": {"podIP": "10.244.0.10"}},
                "applicationStatuses": {
                    "fruit_app": {"status": "RUNNING", "serveDeploymentStatuses": {"MangoStand": {"status": "HEALTHY"}}}
                },
            },
        }
    ).to_api()
    await custom.patch_namespaced_custom_object_status(
        "ray.io", "v1", "default", "rayservices", "rayservice-sample", {"status": service_status}, _content_type=MERGE
    )
    cluster_status = RayClusterStatus(desired_worker_replicas=2, available_worker_replicas=1, state="ready").to_api()
    await custom.patch_namespaced_custom_object_status(
        "ray.io", "v1", "default", "rayclusters", "raycluster-sample", {"status": cluster_status}, _content_type=MERGE
    )

    _, out, _ = await installed.run("get", "rayservices")
    assert out.strip().splitlines()[1].split()[:3] == ["rayservice-sample", "Running", "2"]
    _, out, _ = await installed.run("get", "rayclusters")
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "DESIRED", "WORKERS", "AVAILABLE", "WORKERS", "STATUS", "AGE"]
    assert row.split()[:4] == ["raycluster-sample", "2", "1", "ready"]

    stored = await installed.get_json("rayservice", "rayservice-sample")
    assert stored["status"] == service_status  # the status schema keeps every field the models write


# ---- rejects ---------------------------------------------------------------------------------------------------


def sample_with(path: Path, *keys: str | int, value: Any) -> dict[str, Any]:
    obj = load(path)
    node: Any = obj
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        (("spec", "bogus"), "spec.bogus"),
        (("spec", "rayClusterConfig", "headGroupSpec", "bogus"), "spec.rayClusterConfig.headGroupSpec.bogus"),
        (
            ("spec", "rayClusterConfig", "workerGroupSpecs", 0, "bogus"),
            "spec.rayClusterConfig.workerGroupSpecs[0].bogus",
        ),
    ],
)
async def test_unknown_spec_field_is_rejected_by_strict_validation(
    installed: Kubectl, keys: tuple[str | int, ...], field: str
) -> None:
    bad = sample_with(V1_SERVICE, *keys, value=1)
    code, _, err = await installed.run("apply", "-f", "-", stdin=yaml.safe_dump(bad), ok=False)
    assert code != 0 and f'unknown field "{field}"' in err


async def test_unknown_fields_inside_pod_templates_are_preserved(installed: Kubectl) -> None:
    template_spec = ("spec", "rayClusterConfig", "headGroupSpec", "template", "spec", "futureField")
    await installed.run(
        "apply", "-f", "-", stdin=yaml.safe_dump(sample_with(V1_SERVICE, *template_spec, value={"a": 1}))
    )
    stored = await installed.get_json("rayservice", "rayservice-sample")
    assert stored["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["futureField"] == {"a": 1}


@pytest.mark.parametrize(
    ("keys", "value", "field", "message"),
    [
        (
            ("spec", "rayClusterConfig", "workerGroupSpecs", 0, "replicas"),
            "two",
            "spec.rayClusterConfig.workerGroupSpecs[0].replicas",
            'must be of type integer: "string"',
        ),
        (
            ("spec", "rayClusterDeletionDelaySeconds"),
            -5,
            "spec.rayClusterDeletionDelaySeconds",
            "greater than or equal to 0",
        ),
        (("spec", "upgradeStrategy"), {"type": "Blue"}, "spec.upgradeStrategy.type", 'Unsupported value: "Blue"'),
        (("spec", "serveConfigV2"), 5, "spec.serveConfigV2", 'must be of type string: "integer"'),
    ],
)
async def test_invalid_value_is_a_422_naming_the_field(
    installed: Kubectl, kube: client.ApiClient, keys: tuple[str | int, ...], value: Any, field: str, message: str
) -> None:
    bad = sample_with(V1_SERVICE, *keys, value=value)
    bad["metadata"]["namespace"] = "default"
    with pytest.raises(ApiException) as err:
        await client.CustomObjectsApi(kube).create_namespaced_custom_object(
            "ray.io", "v1", "default", "rayservices", bad
        )
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert field in causes and message in causes[field], causes

    code, _, stderr = await installed.run("apply", "-f", "-", stdin=yaml.safe_dump(bad), ok=False)
    assert code != 0 and field in stderr and "is invalid" in stderr
