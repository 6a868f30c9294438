"""The RayService and RayCluster models: samples and the alpha guide's YAML parse, round-trip, defaults, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from rayservice.api import (
    Condition,
    HeadInfo,
    ObjectMeta,
    RayCluster,
    RayClusterSpec,
    RayClusterStatus,
    RayService,
    RayServiceClusterStatus,
    RayServiceSpec,
    RayServiceStatus,
    ServeApplicationStatus,
    ServeConfigSpec,
    ServeDeploymentStatus,
    WorkerGroupSpec,
    format_kube_time,
)

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
TEMPLATE: dict[str, Any] = {"spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.60.0"}]}}
MINIMAL_CLUSTER: dict[str, Any] = {"headGroupSpec": {"template": TEMPLATE}}


def load(name: str) -> dict[str, Any]:
    with (SAMPLES / name).open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def wire(model: BaseModel) -> dict[str, Any]:
    """What the user wrote: camelCase keys, only the fields that were set."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


# ---- samples and the alpha user guide ------------------------------------------------------------------------


class TestSamples:
    def test_v1_rayservice_sample_parses_and_round_trips_exactly(self) -> None:
        raw = load("ray.io_v1_rayservice.yaml")
        service = RayService.model_validate(raw)
        assert service.spec.serve_config_v2 is not None and "fruit.deployment_graph" in service.spec.serve_config_v2
        assert service.spec.serve_config is None
        assert wire(service) == raw

    def test_v1_raycluster_sample_parses_and_round_trips_exactly(self) -> None:
        raw = load("ray.io_v1_raycluster.yaml")
        cluster = RayCluster.model_validate(raw)
        assert [g.group_name for g in cluster.spec.worker_group_specs] == ["small-group"]
        assert wire(cluster) == raw

    def test_alpha_sample_parses_with_the_serve_deployment_graph_config_name(self) -> None:
        raw = load("ray.io_v1alpha1_rayservice.yaml")
        service = RayService.model_validate(raw)
        legacy = service.spec.serve_config
        assert legacy is not None and legacy.import_path == "fruit.deployment_graph"
        assert [d.name for d in legacy.deployments] == ["MangoStand", "OrangeStand", "PearStand", "FruitMarket"]
        assert legacy.deployments[0].user_config == "price: 3\n"
        assert legacy.deployments[0].ray_actor_options is not None
        assert legacy.deployments[0].ray_actor_options.num_cpus == 0.1
        assert legacy.deployments[3].route_prefix == "/"
        assert service.spec.service_unhealthy_second_threshold == 300
        assert service.spec.ray_cluster_config.head_group_spec.replicas == 1
        # rendered back under the v1 name, otherwise unchanged
        expected = dict(raw, spec={**raw["spec"]})
        expected["spec"]["serveConfig"] = expected["spec"].pop("serveDeploymentGraphConfig")
        assert wire(service) == expected

    @pytest.mark.parametrize(
        ("name", "model"),
        [
            ("ray.io_v1_rayservice.yaml", RayService),
            ("ray.io_v1alpha1_rayservice.yaml", RayService),
            ("ray.io_v1_raycluster.yaml", RayCluster),
        ],
    )
    def test_to_api_then_validate_gives_the_same_model(self, name: str, model: type[RayService | RayCluster]) -> None:
        parsed = model.model_validate(load(name))
        assert model.model_validate(parsed.to_api()) == parsed
        assert model.model_validate(parsed.model_dump()) == parsed  # Python names work too

    def test_guide_update_snippet_is_one_legacy_deployment(self) -> None:
        snippet = "- name: MangoStand\n  numReplicas: 1\n  userConfig: |\n    price: 4\n"
        (deployment,) = [ServeConfigSpec.model_validate(d) for d in yaml.safe_load(snippet)]
        assert deployment.name == "MangoStand" and deployment.num_replicas == 1
        assert yaml.safe_load(deployment.user_config or "") == {"price": 4}

    def test_guide_scaling_snippet_is_a_worker_group(self) -> None:
        snippet = "workerGroupSpecs:\n  # the pod replicas in this group typed worker\n  - replicas: 2\n"
        (group,) = yaml.safe_load(snippet)["workerGroupSpecs"]
        parsed = WorkerGroupSpec.model_validate({**group, "groupName": "small-group", "template": TEMPLATE})
        assert parsed.replicas == 2

    def test_status_written_by_the_alpha_kuberay_operator_still_parses(self) -> None:
        guide_status = yaml.safe_load(
            """
            pendingServiceStatus:
              appStatus: {}
              dashboardStatus:
                healthLastUpdateTime: "2022-07-18T21:54:53Z"
                lastUpdateTime: "2022-07-18T21:54:54Z"
              rayClusterName: rayservice-sample-raycluster-bshfr
              rayClusterStatus: {}
            """
        )
        status = RayServiceStatus.model_validate(guide_status)
        assert status.pending_service_status is not None
        assert status.pending_service_status.ray_cluster_name == "rayservice-sample-raycluster-bshfr"


# ---- validation -----------------------------------------------------------------------------------------------


class TestValidation:
    def test_unknown_spec_field_is_rejected_with_its_location(self) -> None:
        with pytest.raises(ValidationError) as err:
            RayServiceSpec.model_validate({"rayClusterConfig": {**MINIMAL_CLUSTER, "bogus": 1}})
        assert err.value.errors()[0]["loc"] == ("rayClusterConfig", "bogus")

    def test_unknown_fields_inside_pod_templates_are_kept(self) -> None:
        template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [], "futureField": {"x": 1}}}
        spec = RayClusterSpec.model_validate({"headGroupSpec": {"template": template}})
        assert spec.head_group_spec.template == template

    def test_wrong_type_is_rejected_with_its_location(self) -> None:
        group = {"groupName": "g", "template": TEMPLATE, "replicas": "two"}
        with pytest.raises(ValidationError) as err:
            RayClusterSpec.model_validate({**MINIMAL_CLUSTER, "workerGroupSpecs": [group]})
        assert err.value.errors()[0]["loc"] == ("workerGroupSpecs", 0, "replicas")

    def test_cluster_config_and_head_template_and_group_name_are_required(self) -> None:
        with pytest.raises(ValidationError, match="rayClusterConfig"):
            RayServiceSpec.model_validate({})
        with pytest.raises(ValidationError, match="template"):
            RayClusterSpec.model_validate({"headGroupSpec": {}})
        with pytest.raises(ValidationError, match="groupName"):
            WorkerGroupSpec.model_validate({"template": TEMPLATE})

    def test_both_legacy_names_are_a_validation_error_naming_both(self) -> None:
        legacy = {"importPath": "fruit.deployment_graph"}
        with pytest.raises(ValidationError, match="serveConfig or its alpha name serveDeploymentGraphConfig"):
            RayServiceSpec.model_validate(
                {"rayClusterConfig": MINIMAL_CLUSTER, "serveConfig": legacy, "serveDeploymentGraphConfig": legacy}
            )

    @pytest.mark.parametrize("legacy_name", ["serveConfig", "serveDeploymentGraphConfig"])
    def test_serve_config_v2_with_a_legacy_form_is_a_validation_error(self, legacy_name: str) -> None:
        body = {
            "rayClusterConfig": MINIMAL_CLUSTER,
            "serveConfigV2": "applications: []",
            legacy_name: {"importPath": "fruit.deployment_graph"},
        }
        with pytest.raises(ValidationError, match="serveConfigV2 or the legacy serveConfig"):
            RayServiceSpec.model_validate(body)

    def test_upgrade_type_outside_the_enum_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="upgradeStrategy"):
            RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER, "upgradeStrategy": {"type": "Blue"}})

    def test_negative_counts_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="rayClusterDeletionDelaySeconds"):
            RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER, "rayClusterDeletionDelaySeconds": -1})

    def test_models_are_immutable(self) -> None:
        spec = RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER})
        with pytest.raises(ValidationError):
            spec.suspend = True  # type: ignore[misc]


# ---- defaults -------------------------------------------------------------------------------------------------


class TestDefaults:
    def test_rayservice_defaults(self) -> None:
        spec = RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER})
        assert spec.ray_cluster_deletion_delay_seconds == 60
        assert spec.exclude_head_pod_from_serve_svc is False
        assert spec.upgrade_type == "NewCluster"
        assert spec.service_unhealthy_second_threshold is None
        assert spec.deployment_unhealthy_second_threshold is None
        assert spec.serve_config_v2 is None and spec.serve_config is None

    def test_upgrade_type_none_is_kept(self) -> None:
        spec = RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER, "upgradeStrategy": {"type": "None"}})
        assert spec.upgrade_type == "None"

    def test_incremental_upgrade_max_surge_defaults_to_100_percent(self) -> None:
        options = {"stepSizePercent": 10, "intervalSeconds": 30, "gatewayClassName": "istio"}
        strategy = {"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": options}
        spec = RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER, "upgradeStrategy": strategy})
        assert spec.upgrade_strategy is not None and spec.upgrade_strategy.cluster_upgrade_options is not None
        assert spec.upgrade_strategy.cluster_upgrade_options.max_surge_percent == 100

    def test_worker_group_defaults_are_kuberays(self) -> None:
        group = WorkerGroupSpec.model_validate({"groupName": "g", "template": TEMPLATE})
        assert (group.replicas, group.min_replicas, group.max_replicas, group.num_of_hosts) == (0, 0, 2**31 - 1, 1)
        assert group.scale_strategy.workers_to_delete == []
        assert group.ray_start_params == {} and group.suspend is None

    def test_to_api_fills_in_defaults(self) -> None:
        out = RayServiceSpec.model_validate({"rayClusterConfig": MINIMAL_CLUSTER}).to_api()
        assert out["rayClusterDeletionDelaySeconds"] == 60 and out["excludeHeadPodFromServeSvc"] is False
        assert "serviceUnhealthySecondThreshold" not in out  # None is left out


# ---- status ---------------------------------------------------------------------------------------------------

CONDITION = {
    "type": "Ready",
    "status": "True",
    "reason": "NonZeroServeEndpoints",
    "message": "2 endpoints",
    "observedGeneration": 3,
    "lastTransitionTime": "2026-11-25T10:00:00Z",
}
CLUSTER_STATUS: dict[str, Any] = {
    "state": "ready",
    "readyWorkerReplicas": 1,
    "availableWorkerReplicas": 1,
    "desiredWorkerReplicas": 1,
    "minWorkerReplicas": 1,
    "maxWorkerReplicas": 5,
    "endpoints": {"client": "10001", "dashboard": "8265", "gcs": "6379", "serve": "8000"},
    "head": {"podIP": "10.244.0.10", "podName": "c-head-abcde", "serviceIP": "10.96.0.20", "serviceName": "c-head-svc"},
    "conditions": [dict(CONDITION, type="HeadPodReady", reason="HeadPodRunningAndReady")],
    "observedGeneration": 2,
}
CLUSTER_SERVE_STATUS: dict[str, Any] = {
    "rayClusterName": "rayservice-sample-raycluster-qd2vl",
    "rayClusterStatus": CLUSTER_STATUS,
    "applicationStatuses": {
        "fruit_app": {
            "status": "RUNNING",
            "message": "",
            "healthLastUpdateTime": "2026-11-25T10:00:01Z",
            "serveDeploymentStatuses": {
                "MangoStand": {"status": "HEALTHY", "message": "", "healthLastUpdateTime": "2026-11-25T10:00:02Z"}
            },
        }
    },
}
SERVICE_STATUS: dict[str, Any] = {
    "serviceStatus": "Running",
    "conditions": [CONDITION, dict(CONDITION, type="UpgradeInProgress", status="False", reason="NoPendingCluster")],
    "activeServiceStatus": CLUSTER_SERVE_STATUS,
    "pendingServiceStatus": dict(CLUSTER_SERVE_STATUS, rayClusterName="rayservice-sample-raycluster-bshfr"),
    "numServeEndpoints": 2,
    "observedGeneration": 3,
    "lastUpdateTime": "2026-11-25T10:00:03Z",
}


def keys_of(value: Any, path: str = "") -> set[str]:
    """Every dotted key path of a nested dict, list items as ``[]``."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            out |= {f"{path}.{key}"} | keys_of(child, f"{path}.{key}")
    elif isinstance(value, list):
        for child in value:
            out |= keys_of(child, f"{path}[]")
    return out


class TestStatus:
    def test_every_rayservice_status_field_round_trips(self) -> None:
        status = RayServiceStatus.model_validate(SERVICE_STATUS)
        assert status.to_api() == SERVICE_STATUS
        assert status.num_serve_endpoints == 2 and status.service_status == "Running"
        assert status.active_service_status is not None
        app = status.active_service_status.application_statuses["fruit_app"]
        assert app.serve_deployment_statuses["MangoStand"].status == "HEALTHY"
        assert app.health_last_update_time == datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)

    def test_every_raycluster_status_field_round_trips(self) -> None:
        status = RayClusterStatus.model_validate(CLUSTER_STATUS)
        assert status.to_api() == CLUSTER_STATUS
        assert status.head is not None and status.head.pod_ip == "10.244.0.10"

    @pytest.mark.parametrize(
        ("model", "fields"),
        [
            (
                RayServiceStatus,
                "serviceStatus conditions activeServiceStatus pendingServiceStatus numServeEndpoints "
                "observedGeneration lastUpdateTime rollout failedRollout",
            ),
            (RayServiceClusterStatus, "rayClusterName rayClusterStatus applicationStatuses targetCapacity "
             "trafficRoutedPercent lastTrafficMigratedTime"),
            (ServeApplicationStatus, "status message healthLastUpdateTime serveDeploymentStatuses"),
            (ServeDeploymentStatus, "status message healthLastUpdateTime"),
            (
                RayClusterStatus,
                "state readyWorkerReplicas availableWorkerReplicas desiredWorkerReplicas minWorkerReplicas "
                "maxWorkerReplicas endpoints head conditions observedGeneration",
            ),
            (HeadInfo, "podIP podName serviceIP serviceName"),
            (Condition, "type status reason message observedGeneration lastTransitionTime"),
        ],
    )
    def test_status_fields_are_exactly_the_design_ones(self, model: type[BaseModel], fields: str) -> None:
        assert {f.alias or name for name, f in model.model_fields.items()} == set(fields.split())

    def test_the_full_status_fixture_sets_every_field(self) -> None:
        paths = keys_of(SERVICE_STATUS)
        for field in ("healthLastUpdateTime", "serveDeploymentStatuses", "rayClusterStatus.head.serviceName"):
            assert any(p.endswith(field) for p in paths), field

    def test_empty_status_has_zero_counters_and_renders_without_nones(self) -> None:
        assert RayClusterStatus().to_api() == {
            "state": "",
            "readyWorkerReplicas": 0,
            "availableWorkerReplicas": 0,
            "desiredWorkerReplicas": 0,
            "minWorkerReplicas": 0,
            "maxWorkerReplicas": 0,
            "endpoints": {},
            "conditions": [],
            "observedGeneration": 0,
        }

    def test_condition_status_must_be_true_false_or_unknown(self) -> None:
        with pytest.raises(ValidationError):
            Condition.model_validate({"type": "Ready", "status": "yes"})


class TestKubeTime:
    def test_times_are_utc_whole_seconds_with_a_z(self) -> None:
        when = datetime(2026, 11, 25, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
        condition = Condition(type="Ready", status="True", last_transition_time=when)
        assert condition.last_transition_time == datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
        assert condition.to_api()["lastTransitionTime"] == "2026-11-25T10:00:00Z"
        assert format_kube_time(when) == "2026-11-25T10:00:00Z"

    def test_a_time_without_a_zone_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="time zone"):
            Condition.model_validate({"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-25T10:00:00"})


class TestObjectMeta:
    def test_metadata_keeps_fields_it_does_not_name(self) -> None:
        raw = {
            "name": "s",
            "namespace": "default",
            "uid": "u-1",
            "generation": 4,
            "creationTimestamp": "2026-11-25T10:00:00Z",
            "labels": {"a": "b"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        }
        meta = ObjectMeta.model_validate(raw)
        assert meta.generation == 4 and meta.labels == {"a": "b"}
        assert meta.to_api() == raw

    def test_kind_is_checked(self) -> None:
        raw = load("ray.io_v1_raycluster.yaml")
        with pytest.raises(ValidationError, match="kind"):
            RayService.model_validate(raw)
