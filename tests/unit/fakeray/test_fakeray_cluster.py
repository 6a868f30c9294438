"""The fake Ray cluster's Serve lifecycle: statuses on a stepped clock, in-place updates, restarts, faults."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from e2e.fakeray.cluster import Knobs, ServeCluster, Timings
from e2e.fakeray.schema import parse_config
from tests.fruit_market import IMPORT_PATH, fruit_config, with_change

TIMINGS = Timings(not_started_s=0.5, deploy_s=8.0, in_place_s=0.6, restart_s=6.0, delete_s=1.0)


@pytest.fixture
def cluster() -> ServeCluster:
    return ServeCluster("127.16.0.1", TIMINGS, Knobs(), epoch_s=1_700_000_000.0)


def status(cluster: ServeCluster, now: float, app: str = "fruit_app") -> str:
    found = cluster.answer(now)["applications"].get(app)
    return "GONE" if found is None else str(found["status"])


def deployments(cluster: ServeCluster, now: float, app: str = "fruit_app") -> dict[str, str]:
    return {name: d["status"] for name, d in cluster.answer(now)["applications"][app]["deployments"].items()}


def put(cluster: ServeCluster, config: dict[str, Any], now: float) -> None:
    cluster.apply(parse_config(config), now)


def running_fruit(cluster: ServeCluster) -> None:
    put(cluster, fruit_config(), 0.0)
    assert status(cluster, 8.0) == "RUNNING"


class TestLifecycle:
    def test_before_any_put_serve_has_no_applications(self, cluster: ServeCluster) -> None:
        assert cluster.answer(0.0)["applications"] == {}
        assert not cluster.started

    def test_new_application_goes_not_started_then_deploying_then_running(self, cluster: ServeCluster) -> None:
        put(cluster, fruit_config(), 0.0)
        assert [status(cluster, t) for t in (0.0, 0.49, 0.5, 7.99, 8.0)] == [
            "NOT_STARTED",
            "NOT_STARTED",
            "DEPLOYING",
            "DEPLOYING",
            "RUNNING",
        ]
        assert set(deployments(cluster, 1.0).values()) == {"UPDATING"}
        assert set(deployments(cluster, 8.0).values()) == {"HEALTHY"}

    def test_deployed_app_config_echoes_the_application_with_only_the_fields_set(self, cluster: ServeCluster) -> None:
        config = with_change(fruit_config(), "applications.0.deployments.4.ray_actor_options", {"num_cpus": 1})
        put(cluster, config, 0.0)
        echo = cluster.answer(0.0)["applications"]["fruit_app"]["deployed_app_config"]
        assert echo["deployments"][4]["ray_actor_options"] == {"num_cpus": 1.0}
        assert echo == config["applications"][0]

    def test_identical_re_put_changes_nothing(self, cluster: ServeCluster) -> None:
        running_fruit(cluster)
        put(cluster, fruit_config(), 100.0)
        assert status(cluster, 100.0) == "RUNNING"

    def test_user_config_change_applies_in_place_quickly_on_the_changed_deployment_only(
        self, cluster: ServeCluster
    ) -> None:
        running_fruit(cluster)
        put(cluster, fruit_config(mango_price=4), 100.0)
        assert status(cluster, 100.0) == "DEPLOYING"
        updating = deployments(cluster, 100.0)
        assert updating.pop("MangoStand") == "UPDATING"
        assert set(updating.values()) == {"HEALTHY"}
        assert status(cluster, 100.6) == "RUNNING"

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("applications.0.import_path", "fruit.other_graph"),
            ("applications.0.runtime_env", {"working_dir": "https://example.com/x.zip"}),
            ("applications.0.deployments.0.ray_actor_options", {"num_cpus": 0.2}),
        ],
    )
    def test_import_path_runtime_env_or_actor_option_change_restarts_replicas(
        self, cluster: ServeCluster, path: str, value: Any
    ) -> None:
        running_fruit(cluster)
        put(cluster, with_change(fruit_config(), path, value), 100.0)
        assert [status(cluster, t) for t in (100.0, 100.6, 105.99, 106.0)] == [
            "DEPLOYING",
            "DEPLOYING",
            "DEPLOYING",
            "RUNNING",
        ]

    def test_application_left_out_of_a_put_is_deleting_then_gone(self, cluster: ServeCluster) -> None:
        running_fruit(cluster)
        other = {"applications": [{"name": "other", "import_path": "m:app", "route_prefix": "/other"}]}
        put(cluster, other, 100.0)
        assert [status(cluster, t) for t in (100.0, 100.99, 101.0)] == ["DELETING", "DELETING", "GONE"]

    def test_http_options_are_fixed_by_the_first_put(self, cluster: ServeCluster) -> None:
        put(cluster, {**fruit_config(), "http_options": {"port": 8000}}, 0.0)
        put(cluster, {**fruit_config(), "http_options": {"port": 9000, "host": "127.0.0.1"}}, 1.0)
        assert cluster.answer(1.0)["http_options"]["port"] == 8000
        assert cluster.answer(1.0)["http_options"]["host"] == "0.0.0.0"

    def test_shutdown_forgets_serve_and_every_application(self, cluster: ServeCluster) -> None:
        running_fruit(cluster)
        cluster.shutdown()
        assert cluster.answer(9.0)["applications"] == {}
        assert not cluster.started


class TestFaultKnobs:
    def test_failing_import_path_is_deploy_failed_with_its_message(self, cluster: ServeCluster) -> None:
        cluster.knobs.failing[IMPORT_PATH] = "ModuleNotFoundError: No module named 'fruit'"
        put(cluster, fruit_config(), 0.0)
        app = cluster.answer(1.0)["applications"]["fruit_app"]
        assert (app["status"], app["message"]) == ("DEPLOY_FAILED", "ModuleNotFoundError: No module named 'fruit'")

    def test_stuck_import_path_stays_deploying_with_rays_scheduling_message(self, cluster: ServeCluster) -> None:
        cluster.knobs.stuck.add(IMPORT_PATH)
        put(cluster, fruit_config(), 0.0)
        assert status(cluster, 1_000.0) == "DEPLOYING"
        mango = cluster.answer(1_000.0)["applications"]["fruit_app"]["deployments"]["MangoStand"]
        assert mango["status"] == "UPDATING"
        assert "taken more than 30s to be scheduled" in mango["message"]
        cluster.knobs.stuck.clear()
        assert status(cluster, 1_000.0) == "RUNNING"


class TestSchema:
    @pytest.mark.parametrize(
        "body",
        [
            {"applications": [{"name": "a"}]},
            {"applications": [{"name": "a", "import_path": "nodot"}]},
            {"applications": [{"import_path": "m:a"}, {"import_path": "m:b", "route_prefix": "/b"}]},
            {"applications": [{"name": "a", "import_path": "m:a"}, {"name": "b", "import_path": "m:b"}]},
            {"applications": [{"name": "a", "import_path": "m:a", "deployments": [{"name": "D", "num_replicas": -1}]}]},
            {"applications": [{"name": "a", "import_path": "m:a", "deployments": [{"name": "D", "bogus": 1}]}]},
            {
                "applications": [
                    {
                        "name": "a",
                        "import_path": "m:a",
                        "deployments": [{"name": "D", "num_replicas": 2, "autoscaling_config": {}}],
                    }
                ]
            },
            [],
        ],
    )
    def test_what_ray_refuses_is_a_validation_error(self, body: Any) -> None:
        with pytest.raises(ValidationError):
            parse_config(body)

    def test_unknown_top_level_fields_are_allowed(self) -> None:
        parse_config({**fruit_config(), "a_future_field": True})
