"""Reading Ray's Serve answer: statuses with stable health times, convergence, and the serve config diff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2e.fakeray.schema import echo, parse_config
from rayservice.ray import (
    ServeAppStatus,
    ServeDeploymentStatus,
    all_running,
    as_status_field,
    compute_application_statuses,
    is_converging,
    observed_applications,
    serve_config_differs,
)
from tests.fruit_market import PRICES, fruit_config, with_change

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def answer(
    status: str = "RUNNING", deployments: dict[str, str] | None = None, *, name: str = "fruit_app", message: str = ""
) -> dict[str, Any]:
    """A GET /api/serve/applications/ answer with one application."""
    deps = deployments if deployments is not None else {n: "HEALTHY" for n in (*PRICES, "FruitMarket", "DAGDriver")}
    return {
        "controller_info": {"node_id": "n1"},
        "proxy_location": "EveryNode",
        "applications": {
            name: {
                "name": name,
                "status": status,
                "message": message,
                "route_prefix": "/",
                "deployments": {d: {"name": d, "status": s, "message": "", "replicas": []} for d, s in deps.items()},
            }
        },
    }


def ray_echo(config: dict[str, Any], *, status: str = "RUNNING") -> dict[str, Any]:
    """What Ray reports for a config it accepted: each app's ``deployed_app_config`` as the fake echoes it."""
    parsed = parse_config(config)
    return {app.name: {"status": status, "deployed_app_config": echo(app)} for app in parsed.applications}


def app_status(status: str, *deployment_statuses: str) -> ServeAppStatus:
    deployments = {f"d{i}": ServeDeploymentStatus(s, "", T0) for i, s in enumerate(deployment_statuses)}
    return ServeAppStatus(status, "", T0, deployments)


class TestApplicationStatuses:
    def test_no_applications_before_serve_starts(self) -> None:
        assert compute_application_statuses({"applications": {}}, now=T0) == {}
        assert observed_applications({"applications": {}}) == {}

    def test_statuses_are_read_per_application_and_deployment(self) -> None:
        apps = compute_application_statuses(
            answer("DEPLOYING", {"MangoStand": "UPDATING", "PearStand": "HEALTHY"}, message="deploying"), now=T0
        )
        assert apps == {
            "fruit_app": ServeAppStatus(
                "DEPLOYING",
                "deploying",
                T0,
                {
                    "MangoStand": ServeDeploymentStatus("UPDATING", "", T0),
                    "PearStand": ServeDeploymentStatus("HEALTHY", "", T0),
                },
            )
        }

    @pytest.mark.parametrize(
        "broken",
        [
            {},
            {"applications": []},
            {"applications": {"a": "RUNNING"}},
            {"applications": {"a": {"status": 3, "deployments": "many"}}},
            {"applications": {"a": {"deployments": {"d": None, "e": {"status": None}}}}},
        ],
    )
    def test_malformed_answer_reads_as_absent_instead_of_failing(self, broken: dict[str, Any]) -> None:
        apps = compute_application_statuses(broken, now=T0)
        assert all(app.status == "" and all(d.status == "" for d in app.deployments.values()) for app in apps.values())

    def test_health_time_is_carried_over_while_the_status_stays_the_same(self) -> None:
        first = as_status_field(compute_application_statuses(answer(), now=T0))
        later = compute_application_statuses(answer(), now=T0 + timedelta(minutes=5), previous=first)
        assert later["fruit_app"].health_last_update_time == T0
        assert {d.health_last_update_time for d in later["fruit_app"].deployments.values()} == {T0}

    def test_health_time_is_now_when_the_status_changes_or_first_appears(self) -> None:
        first = as_status_field(compute_application_statuses(answer(deployments={"MangoStand": "HEALTHY"}), now=T0))
        now = T0 + timedelta(seconds=30)
        later = compute_application_statuses(
            answer("DEPLOYING", {"MangoStand": "UPDATING", "PearStand": "HEALTHY"}), now=now, previous=first
        )
        assert later["fruit_app"].health_last_update_time == now
        assert later["fruit_app"].deployments["MangoStand"].health_last_update_time == now
        assert later["fruit_app"].deployments["PearStand"].health_last_update_time == now

    def test_steady_cluster_gives_an_identical_status_field_so_nothing_is_written(self) -> None:
        stored = as_status_field(compute_application_statuses(answer(), now=T0 + timedelta(microseconds=999)))
        for minutes in (1, 10, 60):
            again = compute_application_statuses(answer(), now=T0 + timedelta(minutes=minutes), previous=stored)
            assert as_status_field(again) == stored

    def test_status_field_has_the_rayservice_status_shape_with_rfc3339_seconds(self) -> None:
        field = as_status_field(
            compute_application_statuses(
                answer(deployments={"MangoStand": "HEALTHY"}), now=T0 + timedelta(microseconds=123)
            )
        )
        assert field == {
            "fruit_app": {
                "status": "RUNNING",
                "message": "",
                "healthLastUpdateTime": "2025-01-01T12:00:00Z",
                "serveDeploymentStatuses": {
                    "MangoStand": {"status": "HEALTHY", "message": "", "healthLastUpdateTime": "2025-01-01T12:00:00Z"}
                },
            }
        }


class TestConvergence:
    def test_all_running_needs_at_least_one_application_and_every_one_running(self) -> None:
        assert not all_running({})
        assert all_running({"a": app_status("RUNNING"), "b": app_status("RUNNING")})
        assert not all_running({"a": app_status("RUNNING"), "b": app_status("DEPLOYING")})

    def test_all_running_with_names_needs_every_named_application_present(self) -> None:
        apps = {"a": app_status("RUNNING")}
        assert all_running(apps, names=["a"])
        assert not all_running(apps, names=["a", "b"])
        assert not all_running(apps, names=[])

    @pytest.mark.parametrize(
        ("app", "deployments", "converging"),
        [
            ("NOT_STARTED", (), True),
            ("DEPLOYING", ("HEALTHY",), True),
            ("DELETING", (), True),
            ("RUNNING", ("HEALTHY", "UPDATING"), True),
            ("RUNNING", ("UPSCALING",), True),
            ("RUNNING", ("DOWNSCALING",), True),
            ("RUNNING", ("HEALTHY",), False),
            ("DEPLOY_FAILED", (), False),
            ("UNHEALTHY", ("UNHEALTHY",), False),
        ],
    )
    def test_is_converging_while_ray_is_still_moving(
        self, app: str, deployments: tuple[str, ...], converging: bool
    ) -> None:
        assert is_converging({"a": app_status(app, *deployments)}) is converging


class TestServeConfigDiffers:
    def test_config_ray_echoes_back_does_not_differ(self) -> None:
        config = fruit_config()
        assert not serve_config_differs(config, ray_echo(config))

    def test_nothing_deployed_differs(self) -> None:
        assert serve_config_differs(fruit_config(), {})

    def test_a_price_change_differs(self) -> None:
        running = ray_echo(fruit_config(mango_price=3))
        assert serve_config_differs(fruit_config(mango_price=4), running)

    def test_a_key_removed_from_user_config_differs(self) -> None:
        config = with_change(fruit_config(), "applications.0.deployments.0.user_config", {"price": 3, "sale": True})
        assert serve_config_differs(fruit_config(), ray_echo(config))

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("applications.0.import_path", "fruit.other_graph"),
            ("applications.0.runtime_env", {"working_dir": "https://example.com/other.zip"}),
            ("applications.0.route_prefix", "/fruit"),
            ("applications.0.deployments.1.num_replicas", 3),
            ("applications.0.deployments.2.ray_actor_options", {"num_cpus": 0.2}),
        ],
    )
    def test_a_changed_field_the_user_set_differs(self, path: str, value: Any) -> None:
        assert serve_config_differs(with_change(fruit_config(), path, value), ray_echo(fruit_config()))

    def test_an_application_ray_runs_but_the_config_drops_differs_unless_already_deleting(self) -> None:
        running = ray_echo(fruit_config())
        extra = {**running, "old_app": {"status": "RUNNING", "deployed_app_config": {"name": "old_app"}}}
        assert serve_config_differs(fruit_config(), extra)
        extra["old_app"]["status"] = "DELETING"
        assert not serve_config_differs(fruit_config(), extra)

    def test_a_desired_application_being_deleted_differs(self) -> None:
        assert serve_config_differs(fruit_config(), ray_echo(fruit_config(), status="DELETING"))

    def test_an_application_without_a_deployed_config_differs(self) -> None:
        assert serve_config_differs(fruit_config(), {"fruit_app": {"status": "RUNNING", "deployed_app_config": None}})

    def test_a_deployment_missing_from_rays_echo_differs(self) -> None:
        running = ray_echo(fruit_config())
        running["fruit_app"]["deployed_app_config"]["deployments"].pop()
        assert serve_config_differs(fruit_config(), running)

    def test_defaults_ray_adds_to_its_echo_do_not_differ(self) -> None:
        running = ray_echo(fruit_config())
        echoed = running["fruit_app"]["deployed_app_config"]
        echoed.update(args={}, logging_config={"log_level": "INFO"}, external_scaler_enabled=False)
        echoed["runtime_env"]["env_vars"] = {"RAY_SERVE_X": "1"}
        echoed["deployments"][0].update(max_ongoing_requests=5, graceful_shutdown_timeout_s=20.0)
        echoed["deployments"].append({"name": "Extra", "num_replicas": 1})
        assert not serve_config_differs(fruit_config(), running)

    def test_null_equals_absent_and_integers_equal_their_float_echo(self) -> None:
        config = with_change(fruit_config(), "applications.0.deployments.3.user_config", None)
        config = with_change(config, "applications.0.deployments.4.ray_actor_options", {"num_cpus": 1})
        running = ray_echo(config)
        running["fruit_app"]["deployed_app_config"]["deployments"][3].pop("user_config")
        assert running["fruit_app"]["deployed_app_config"]["deployments"][4]["ray_actor_options"]["num_cpus"] == 1.0
        assert not serve_config_differs(config, running)

    def test_true_never_equals_one(self) -> None:
        one = with_change(fruit_config(), "applications.0.deployments.0.user_config", {"price": 3, "sale": 1})
        true = with_change(fruit_config(), "applications.0.deployments.0.user_config", {"price": 3, "sale": True})
        assert serve_config_differs(true, ray_echo(one))

    def test_cluster_wide_options_are_not_compared(self) -> None:
        config = {**fruit_config(), "http_options": {"host": "0.0.0.0", "port": 9000}, "proxy_location": "HeadOnly"}
        assert not serve_config_differs(config, ray_echo(fruit_config()))

    def test_an_unnamed_application_is_matched_as_default(self) -> None:
        config = {"applications": [{"import_path": "m:app"}]}
        assert not serve_config_differs(
            config, {"default": {"status": "RUNNING", "deployed_app_config": {"import_path": "m:app"}}}
        )

    @given(
        st.dictionaries(
            st.text(max_size=5),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                max_leaves=10,
            ),
            max_size=4,
        )
    )
    def test_any_user_config_matches_its_own_echo_and_not_another(self, user_config: dict[str, Any]) -> None:
        config = with_change(fruit_config(), "applications.0.deployments.0.user_config", user_config)
        assert not serve_config_differs(config, ray_echo(config))
        other = with_change(config, "applications.0.deployments.0.user_config", {**user_config, "__new__": 0})
        assert serve_config_differs(other, ray_echo(config))
