"""``check_service``: what stops a RayService before anything is made, what is risky, what is ignored."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from rayservice.controller.rayservice import check_service
from tests.fruit_market import fruit_config, fruit_legacy
from tests.unit.controller.rayservice.samples import cluster_config, rayservice


def fields(service: dict[str, Any]) -> list[str]:
    return [problem.field for problem in check_service(service).problems]


def test_the_fruit_market_sample_is_valid_and_deploys_its_config() -> None:
    check = check_service(rayservice())
    assert check.ok and check.config == fruit_config()
    assert check.warnings == () and check.ignored == ()


def test_the_legacy_form_is_translated_to_one_application() -> None:
    service = rayservice(serveConfigV2=None, serveConfig=fruit_legacy())
    check = check_service(service)
    assert check.ok and check.config is not None
    assert [app["name"] for app in check.config["applications"]] == ["default"]


def test_no_serve_config_is_valid_with_nothing_to_deploy() -> None:
    check = check_service(rayservice(serveConfigV2=None))
    assert check.ok and check.config is None


def test_both_serve_forms_are_a_problem() -> None:
    check = check_service(rayservice(serveConfig=fruit_legacy()))
    assert not check.ok and check.config is None
    assert "not both" in check.problems[0].message


def test_unparsable_yaml_names_its_line_and_column() -> None:
    broken = "applications:\n  - name: a\n    import_path: x.y\n   route_prefix: /\n"
    (problem,) = check_service(rayservice(serveConfigV2=broken)).problems
    assert problem.field == "serveConfigV2"
    assert problem.message.startswith("line 4, column 4: ")


@pytest.mark.parametrize("name", ["x" * 64, "1fruit", "fruit.market", "Fruit"])
def test_a_name_the_derived_label_and_services_cannot_carry_is_a_problem(name: str) -> None:
    assert fields(rayservice(name=name)) == ["metadata.name"]


def test_a_63_character_name_is_fine() -> None:
    assert check_service(rayservice(name="f" * 63)).ok


def test_a_serve_service_template_name_must_be_a_service_name() -> None:
    service = rayservice(serveService={"metadata": {"name": "Serve.Svc"}})
    assert fields(service) == ["spec.serveService.metadata.name"]


def test_cluster_spec_problems_are_reported_under_ray_cluster_config() -> None:
    config = cluster_config()
    config["workerGroupSpecs"][0].update(minReplicas=4, maxReplicas=2)
    assert fields(rayservice(config=config)) == ["spec.rayClusterConfig.workerGroupSpecs[0].minReplicas"]


def test_a_missing_cluster_config_is_a_problem() -> None:
    service = rayservice()
    del service["spec"]["rayClusterConfig"]
    assert fields(service) == ["spec.rayClusterConfig"]


def test_serve_pitfalls_are_warnings_not_problems() -> None:
    config = fruit_config()
    config["http_options"] = {"host": "127.0.0.1"}

    check = check_service(rayservice(serveConfigV2=yaml.safe_dump(config)))
    assert check.ok
    assert [warning.field for warning in check.warnings] == ["serveConfigV2.http_options.host"]


def test_fields_accepted_but_not_acted_on_are_named() -> None:
    service = rayservice(
        suspend=True,
        managedBy="someone-else",
        upgradeStrategy={
            "type": "NewCluster",
            "clusterUpgradeOptions": {"stepSizePercent": 10, "intervalSeconds": 5, "gatewayClassName": "gw"},
        },
    )
    check = check_service(service)
    assert check.ok
    assert check.ignored == (
        "upgradeStrategy.clusterUpgradeOptions (upgradeStrategy.type is not NewClusterWithIncrementalUpgrade)",
        "suspend",
        "managedBy: someone-else",
    )


INCREMENTAL_OPTIONS = {"stepSizePercent": 10, "intervalSeconds": 5, "gatewayClassName": "gw"}


@pytest.mark.parametrize(
    ("autoscaling", "options", "field", "message"),
    [
        (False, INCREMENTAL_OPTIONS, "spec.rayClusterConfig.enableInTreeAutoscaling",
         "Ray Autoscaler is required for NewClusterWithIncrementalUpgrade"),
        (True, None, "spec.upgradeStrategy.clusterUpgradeOptions",
         "ClusterUpgradeOptions are required for NewClusterWithIncrementalUpgrade"),
        (True, {**INCREMENTAL_OPTIONS, "maxSurgePercent": 120}, "spec.upgradeStrategy.clusterUpgradeOptions."
         "maxSurgePercent", "maxSurgePercent must be between 0 and 100"),
        (True, {"intervalSeconds": 5, "gatewayClassName": "gw"}, "spec.upgradeStrategy.clusterUpgradeOptions."
         "stepSizePercent", "stepSizePercent must be between 0 and 100"),
        (True, {**INCREMENTAL_OPTIONS, "maxSurgePercent": 5}, "spec.upgradeStrategy.clusterUpgradeOptions."
         "stepSizePercent", "stepSizePercent must be less than or equal to maxSurgePercent"),
        (True, {**INCREMENTAL_OPTIONS, "intervalSeconds": 0}, "spec.upgradeStrategy.clusterUpgradeOptions."
         "intervalSeconds", "intervalSeconds must be greater than 0"),
        (True, {**INCREMENTAL_OPTIONS, "gatewayClassName": ""}, "spec.upgradeStrategy.clusterUpgradeOptions."
         "gatewayClassName", "gatewayClassName is required for NewClusterWithIncrementalUpgrade"),
    ],
)
def test_the_incremental_upgrade_needs_the_autoscaler_and_complete_options(
    autoscaling: bool, options: dict[str, object] | None, field: str, message: str
) -> None:
    strategy: dict[str, object] = {"type": "NewClusterWithIncrementalUpgrade"}
    if options is not None:
        strategy["clusterUpgradeOptions"] = options
    service = rayservice(upgradeStrategy=strategy)
    service["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = autoscaling
    check = check_service(service)
    assert [(p.field, p.message) for p in check.problems] == [(field, message)]


def test_a_complete_incremental_upgrade_spec_is_valid_and_nothing_of_it_is_ignored() -> None:
    service = rayservice(upgradeStrategy={"type": "NewClusterWithIncrementalUpgrade",
                                          "clusterUpgradeOptions": INCREMENTAL_OPTIONS})
    service["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = True
    check = check_service(service)
    assert check.ok and check.ignored == ()
