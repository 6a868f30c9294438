"""The generated CRDs: no drift from the models, structural schemas, versions, columns, KubeRay field coverage."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, Field

from e2e.localcluster.apiserver.schema.crds import Schema, validate_crd
from rayservice.api import RayCluster, RayClusterSpec, RayService, RayServiceSpec, SpecModel
from rayservice.api.crdgen import KINDS, crd_for, file_name, generate, main, render, schema_for, structural_problems

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "manifests" / "crd"
SAMPLES = ROOT / "manifests" / "samples"
SERVICE, CLUSTER = KINDS


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def root_schema(crd: dict[str, Any], version: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][version]["schema"]["openAPIV3Schema"]
    return schema


def node_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema node of a dotted path; ``[]`` steps into array items."""
    node = schema
    for step in path.split("."):
        if step.endswith("[]"):
            node = node["properties"][step[:-2]]["items"]
        else:
            node = node["properties"][step]
    return node


# ---- drift -----------------------------------------------------------------------------------------------------


class TestDrift:
    @pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
    def test_checked_in_crd_equals_what_the_models_generate(self, kind: Any) -> None:
        path = CRD_DIR / file_name(kind)
        assert path.read_text(encoding="utf-8") == render(crd_for(kind)), (
            f"{path} drifted from the models in rayservice/api: run `make manifests`"
        )

    def test_make_manifests_check_mode_passes_on_the_checked_in_files(self) -> None:
        assert main([str(CRD_DIR), "--check"]) == 0

    def test_check_mode_fails_and_write_mode_fixes_a_stale_directory(self, tmp_path: Path) -> None:
        (tmp_path / "ray.io_rayservices.yaml").write_text("stale\n", encoding="utf-8")
        assert main([str(tmp_path), "--check"]) == 1
        assert (tmp_path / "ray.io_rayservices.yaml").read_text(encoding="utf-8") == "stale\n"
        assert main([str(tmp_path)]) == 0
        assert main([str(tmp_path), "--check"]) == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ray.io_rayclusters.yaml", "ray.io_rayservices.yaml"]

    def test_output_is_deterministic_and_has_no_yaml_anchors(self) -> None:
        first, second = generate(), generate()
        assert first == second
        for text in first.values():
            assert "&id" not in text and "*id" not in text
            assert text.startswith("# Generated from the models")


# ---- structural schema -----------------------------------------------------------------------------------------


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for key, child in (node.get("properties") or {}).items():
        out += walk(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        out += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += walk(node["additionalProperties"], f"{path}[*]")
    return out


class TestStructural:
    @pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
    def test_schema_is_structural(self, kind: Any) -> None:
        schema = root_schema(crd_for(kind))
        assert structural_problems(schema) == []
        for path, node in walk(schema):
            assert node.get("type"), f"{path} has no type"
            assert "$ref" not in node and not ("properties" in node and "additionalProperties" in node), path

    @pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
    def test_the_embedded_api_server_accepts_the_crd(self, kind: Any) -> None:
        assert validate_crd(crd_for(kind)) == []

    def test_structural_problems_finds_what_kube_rejects(self) -> None:
        bad = {
            "type": "object",
            "properties": {
                "untyped": {"description": "no type"},
                "ref": {"$ref": "#/definitions/x", "type": "object"},
                "both": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {}},
                "badDefault": {"type": "integer", "default": "three"},
                "badEnum": {"type": "string", "enum": ["a", 1]},
                "list": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
                "noItems": {"type": "array"},
            },
        }
        problems = "\n".join(structural_problems(bad))
        for expected in (
            ".untyped: type is missing",
            ".ref: $ref is not allowed",
            ".both: properties and additionalProperties are mutually exclusive",
            ".badDefault: default 'three' is not a integer",
            ".badEnum: enum value 1 is not a string",
            ".list: list-map key name must be required or defaulted",
            ".noItems: an array needs one items schema",
        ):
            assert expected in problems

    def test_a_model_field_of_an_unsupported_type_fails_generation(self) -> None:
        class Odd(SpecModel):
            value: int | str

        class Nested(SpecModel):
            values: list[Annotated[int, Field(ge=0)]]

        with pytest.raises(TypeError, match="union"):
            schema_for(Odd)
        with pytest.raises(TypeError, match="fields only"):
            schema_for(Nested)

    def test_schema_defaults_are_the_model_defaults(self) -> None:
        group = {"groupName": "g", "template": {}}
        options = {"stepSizePercent": 1, "intervalSeconds": 1, "gatewayClassName": "g"}
        minimal = {
            "rayClusterConfig": {"headGroupSpec": {"template": {}}, "workerGroupSpecs": [group]},
            "upgradeStrategy": {"clusterUpgradeOptions": options},
        }
        schema = Schema(root_schema(crd_for(SERVICE)))
        defaulted = schema.default({"spec": copy.deepcopy(minimal)})["spec"]
        assert defaulted != minimal  # the server fills defaults in ...
        # ... and they are exactly the ones the models assume
        assert RayServiceSpec.model_validate(defaulted) == RayServiceSpec.model_validate(minimal)
        assert defaulted["rayClusterDeletionDelaySeconds"] == 60
        assert defaulted["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] == 2**31 - 1

    def test_status_schemas_have_no_defaults(self) -> None:
        for kind in KINDS:
            status = root_schema(crd_for(kind))["properties"]["status"]
            assert [p for p, n in walk(status) if "default" in n] == []


# ---- the CRD's shape -------------------------------------------------------------------------------------------


class TestCrd:
    @pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
    def test_versions_share_one_schema_and_v1alpha1_is_deprecated(self, kind: Any) -> None:
        crd = crd_for(kind)
        spec = crd["spec"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1" and crd["metadata"]["name"] == f"{kind.plural}.ray.io"
        assert spec["group"] == "ray.io" and spec["scope"] == "Namespaced"
        assert spec["conversion"] == {"strategy": "None"}
        v1, v1alpha1 = spec["versions"]
        assert (v1["name"], v1["served"], v1["storage"]) == ("v1", True, True)
        assert (v1alpha1["name"], v1alpha1["served"], v1alpha1["storage"]) == ("v1alpha1", True, False)
        assert "deprecated" not in v1 and v1alpha1["deprecated"] is True
        assert v1alpha1["deprecationWarning"].startswith(f"ray.io/v1alpha1 {kind.kind} is deprecated; use ray.io/v1")
        assert v1["schema"] == v1alpha1["schema"]
        assert v1["subresources"] == v1alpha1["subresources"] == {"status": {}}
        assert v1["additionalPrinterColumns"] == v1alpha1["additionalPrinterColumns"]

    @pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
    def test_no_short_names_so_nothing_collides_with_a_builtin(self, kind: Any) -> None:
        names = crd_for(kind)["spec"]["names"]
        assert "shortNames" not in names
        assert names["singular"] == kind.kind.lower() and names["listKind"] == f"{kind.kind}List"
        assert names["categories"] == ["all"]

    def test_printer_columns(self) -> None:
        def columns(kind: Any) -> list[tuple[str, str, str]]:
            return [
                (c["name"].upper(), c["type"], c["jsonPath"])
                for c in crd_for(kind)["spec"]["versions"][0]["additionalPrinterColumns"]
            ]

        assert columns(SERVICE) == [
            ("SERVICE STATUS", "string", ".status.serviceStatus"),
            ("NUM SERVE ENDPOINTS", "integer", ".status.numServeEndpoints"),
            ("AGE", "date", ".metadata.creationTimestamp"),
        ]
        assert columns(CLUSTER) == [
            ("DESIRED WORKERS", "integer", ".status.desiredWorkerReplicas"),
            ("AVAILABLE WORKERS", "integer", ".status.availableWorkerReplicas"),
            ("STATUS", "string", ".status.state"),
            ("AGE", "date", ".metadata.creationTimestamp"),
        ]


# ---- coverage of DESIGN §3 -------------------------------------------------------------------------------------

CLUSTER_FIELDS = """
upgradeStrategy.type authOptions.enableK8sTokenAuth authOptions.secretName authOptions.mode suspend managedBy
autoscalerOptions headServiceAnnotations enableInTreeAutoscaling gcsFaultToleranceOptions.backend
gcsFaultToleranceOptions.redisUsername.value gcsFaultToleranceOptions.redisUsername.valueFrom
gcsFaultToleranceOptions.redisPassword.value gcsFaultToleranceOptions.redisPassword.valueFrom
gcsFaultToleranceOptions.externalStorageNamespace gcsFaultToleranceOptions.redisAddress
gcsFaultToleranceOptions.storage historyServerOptions networkPolicy tlsOptions.enabled
headGroupSpec.template headGroupSpec.headService headGroupSpec.enableIngress headGroupSpec.ingressOptions
headGroupSpec.resources headGroupSpec.labels headGroupSpec.rayStartParams headGroupSpec.serviceType rayVersion
workerGroupSpecs[].suspend workerGroupSpecs[].groupName workerGroupSpecs[].replicas workerGroupSpecs[].minReplicas
workerGroupSpecs[].maxReplicas workerGroupSpecs[].idleTimeoutSeconds workerGroupSpecs[].priority
workerGroupSpecs[].resources workerGroupSpecs[].labels workerGroupSpecs[].rayStartParams
workerGroupSpecs[].template workerGroupSpecs[].scaleStrategy.workersToDelete workerGroupSpecs[].numOfHosts
""".split()
LEGACY_FIELDS = """
importPath runtimeEnv port deployments[].name deployments[].numReplicas deployments[].routePrefix
deployments[].maxConcurrentQueries deployments[].userConfig deployments[].autoscalingConfig
deployments[].gracefulShutdownWaitLoopS deployments[].gracefulShutdownTimeoutS deployments[].healthCheckPeriodS
deployments[].healthCheckTimeoutS deployments[].rayActorOptions.runtimeEnv deployments[].rayActorOptions.numCpus
deployments[].rayActorOptions.numGpus deployments[].rayActorOptions.memory
deployments[].rayActorOptions.objectStoreMemory deployments[].rayActorOptions.resources
deployments[].rayActorOptions.acceleratorType
""".split()
SERVICE_FIELDS = [
    *"""
serveConfigV2 upgradeStrategy.type upgradeStrategy.clusterUpgradeOptions.maxSurgePercent
upgradeStrategy.clusterUpgradeOptions.stepSizePercent upgradeStrategy.clusterUpgradeOptions.intervalSeconds
upgradeStrategy.clusterUpgradeOptions.gatewayClassName rayClusterDeletionDelaySeconds serviceUnhealthySecondThreshold
deploymentUnhealthySecondThreshold serveService excludeHeadPodFromServeSvc suspend managedBy
""".split(),
    *(f"rayClusterConfig.{f}" for f in CLUSTER_FIELDS),
    *(f"serveConfig.{f}" for f in LEGACY_FIELDS),
    *(f"serveDeploymentGraphConfig.{f}" for f in LEGACY_FIELDS),
]
PRESERVED = """
autoscalerOptions gcsFaultToleranceOptions.storage gcsFaultToleranceOptions.redisPassword.valueFrom
gcsFaultToleranceOptions.redisUsername.valueFrom historyServerOptions networkPolicy headGroupSpec.template
headGroupSpec.headService headGroupSpec.ingressOptions workerGroupSpecs[].template
""".split()


class TestCoverage:
    @pytest.mark.parametrize("path", SERVICE_FIELDS)
    def test_every_kuberay_v17_rayservice_field_is_in_the_schema(self, path: str) -> None:
        assert node_at(root_schema(crd_for(SERVICE))["properties"]["spec"], path)["type"]

    @pytest.mark.parametrize("path", CLUSTER_FIELDS)
    def test_every_kuberay_v17_raycluster_field_is_in_the_schema(self, path: str) -> None:
        assert node_at(root_schema(crd_for(CLUSTER))["properties"]["spec"], path)["type"]

    def test_pod_templates_and_deep_sub_objects_are_preserved_and_the_rest_is_typed(self) -> None:
        spec = root_schema(crd_for(CLUSTER))["properties"]["spec"]
        preserved = {p.lstrip(".") for p, n in walk(spec) if n.get("x-kubernetes-preserve-unknown-fields")}
        assert preserved == set(PRESERVED)
        assert node_at(spec, "workerGroupSpecs[].replicas") == {
            "default": 0,
            "description": "Desired number of replicas, clamped to [minReplicas, maxReplicas].",
            "format": "int32",
            "minimum": 0,
            "type": "integer",
        }

    def test_worker_groups_and_conditions_are_list_maps(self) -> None:
        spec = root_schema(crd_for(CLUSTER))["properties"]
        groups = node_at(spec["spec"], "workerGroupSpecs")
        assert groups["x-kubernetes-list-type"] == "map" and groups["x-kubernetes-list-map-keys"] == ["groupName"]
        conditions = node_at(spec["status"], "conditions")
        assert conditions["x-kubernetes-list-map-keys"] == ["type"]
        assert sorted(conditions["items"]["required"]) == ["status", "type"]


# ---- samples against the schema --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "kind", "model"),
    [
        ("ray.io_v1_rayservice.yaml", SERVICE, RayService),
        ("ray.io_v1alpha1_rayservice.yaml", SERVICE, RayService),
        ("ray.io_v1_raycluster.yaml", CLUSTER, RayCluster),
    ],
)
def test_samples_are_valid_for_the_schema_and_the_models(sample: str, kind: Any, model: type[BaseModel]) -> None:
    obj = load(SAMPLES / sample)
    schema = Schema(root_schema(crd_for(kind)))
    assert schema.unknown_fields(obj) == []
    assert schema.validate(obj) == []
    model.model_validate(obj)


def test_cluster_spec_schema_is_the_rayservice_cluster_config_schema() -> None:
    service_spec = root_schema(crd_for(SERVICE))["properties"]["spec"]["properties"]["rayClusterConfig"]
    cluster_spec = schema_for(RayClusterSpec)
    assert {k: v for k, v in service_spec.items() if k != "description"} == {
        k: v for k, v in cluster_spec.items() if k != "description"
    }
