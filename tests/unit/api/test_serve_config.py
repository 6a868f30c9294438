"""Serve configs: ``serveConfigV2`` parsed for Ray, the alpha form translated, and the choice between them."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from rayservice.api.serve import Problem, ServeConfigResult, parse_serve_config_v2
from rayservice.api.v1alpha1 import desired_serve_config, translate_legacy_serve_config
from tests.fruit_market import IMPORT_PATH, WORKING_DIR, fruit_config, fruit_legacy, fruit_v2_yaml


def v2(body: str) -> ServeConfigResult:
    return parse_serve_config_v2(body)


def fields(problems: tuple[Problem, ...]) -> list[str]:
    return [p.field for p in problems]


def one_app(**app: Any) -> str:
    return yaml.safe_dump({"applications": [{"name": "a", "import_path": "mod:app", **app}]})


def one_deployment(**deployment: Any) -> str:
    dep = {"name": "D", "ray_actor_options": {"num_cpus": 0.1}, **deployment}
    return one_app(deployments=[dep])


class TestServeConfigV2:
    def test_fruit_market_config_is_sent_to_ray_as_written_without_problems_or_warnings(self) -> None:
        result = v2(fruit_v2_yaml())
        assert result.ok
        assert result.config == fruit_config()
        assert result.warnings == ()

    def test_yaml_syntax_error_names_line_and_column(self) -> None:
        result = v2("http_options:\n  host: 0.0.0.0\napplications:\n  a: b: c\n")
        assert result.config is None
        assert [str(p) for p in result.problems] == [
            "serveConfigV2: line 4, column 7: mapping values are not allowed here"
        ]

    @pytest.mark.parametrize(
        ("body", "got"), [("", "an empty document"), ("- a\n- b\n", "a list"), ("42", "an integer")]
    )
    def test_document_that_is_not_a_mapping_is_a_problem(self, body: str, got: str) -> None:
        result = v2(body)
        assert result.config is None
        assert len(result.problems) == 1
        assert result.problems[0].field == "serveConfigV2"
        assert result.problems[0].message == f"must be a mapping with an `applications` list, got {got}"

    @pytest.mark.parametrize("body", ["http_options: {}\n", "applications: []\n", "applications:\n"])
    def test_missing_or_empty_applications_is_a_problem(self, body: str) -> None:
        result = v2(body)
        assert fields(result.problems) == ["serveConfigV2.applications"]

    def test_application_without_import_path_is_a_problem(self) -> None:
        result = v2("applications:\n  - name: fruit_app\n")
        assert fields(result.problems) == ["serveConfigV2.applications[0].import_path"]
        assert "required" in result.problems[0].message

    @pytest.mark.parametrize("path", ["fruit", "a:b:c", ":app", "mod:", ".mod", "mod.", ""])
    def test_malformed_import_path_is_a_problem(self, path: str) -> None:
        assert fields(v2(one_app(import_path=path)).problems) == ["serveConfigV2.applications[0].import_path"]

    @pytest.mark.parametrize("path", ["fruit.deployment_graph", "fruit:app", "a.b.c:d"])
    def test_well_formed_import_paths_are_accepted(self, path: str) -> None:
        assert v2(one_app(import_path=path)).ok

    def test_duplicate_application_names_are_a_problem_and_unset_names_are_default(self) -> None:
        body = yaml.safe_dump(
            {
                "applications": [
                    {"import_path": "a:app", "route_prefix": "/a"},
                    {"name": "default", "import_path": "b:app", "route_prefix": "/b"},
                ]
            }
        )
        result = v2(body)
        assert fields(result.problems) == ["serveConfigV2.applications[1].name"]
        assert "'default'" in result.problems[0].message

    def test_duplicate_route_prefixes_are_a_problem_and_unset_prefixes_are_root(self) -> None:
        body = yaml.safe_dump(
            {
                "applications": [
                    {"name": "a", "import_path": "a:app"},
                    {"name": "b", "import_path": "b:app", "route_prefix": "/"},
                ]
            }
        )
        assert fields(v2(body).problems) == ["serveConfigV2.applications[1].route_prefix"]

    def test_applications_without_http_route_do_not_collide(self) -> None:
        body = yaml.safe_dump(
            {
                "applications": [
                    {"name": "a", "import_path": "a:app", "route_prefix": None},
                    {"name": "b", "import_path": "b:app", "route_prefix": None},
                ]
            }
        )
        assert v2(body).ok

    def test_duplicate_deployment_names_in_one_application_are_a_problem(self) -> None:
        dep = {"name": "D", "ray_actor_options": {"num_cpus": 1}}
        result = v2(one_app(deployments=[dep, dep]))
        assert fields(result.problems) == ["serveConfigV2.applications[0].deployments[1].name"]

    @pytest.mark.parametrize(
        ("override", "field"),
        [
            ({"num_replicas": -1}, "num_replicas"),
            ({"num_replicas": 1.5}, "num_replicas"),
            ({"num_replicas": "2"}, "num_replicas"),
            ({"num_replicas": True}, "num_replicas"),
            ({"num_replicas": "many"}, "num_replicas"),
            ({"max_ongoing_requests": 0}, "max_ongoing_requests"),
            ({"max_queued_requests": 0}, "max_queued_requests"),
            ({"user_config": ["price", 3]}, "user_config"),
            ({"autoscaling_config": "fast"}, "autoscaling_config"),
            ({"graceful_shutdown_timeout_s": "10"}, "graceful_shutdown_timeout_s"),
            ({"health_check_period_s": 0}, "health_check_period_s"),
            ({"ray_actor_options": {"num_cpus": -0.5}}, "ray_actor_options.num_cpus"),
            ({"ray_actor_options": {"num_cpus": "0.1"}}, "ray_actor_options.num_cpus"),
            ({"ray_actor_options": {"num_cpus": 1, "resources": [1]}}, "ray_actor_options.resources"),
            ({"ray_actor_options": "big"}, "ray_actor_options"),
        ],
    )
    def test_deployment_values_ray_would_reject_are_problems(self, override: dict[str, Any], field: str) -> None:
        result = v2(one_deployment(**override))
        assert fields(result.problems) == [f"serveConfigV2.applications[0].deployments[0].{field}"]
        assert result.config is None

    @pytest.mark.parametrize("replicas", [0, 1, 10, "auto", None])
    def test_num_replicas_may_be_a_non_negative_integer_or_auto(self, replicas: object) -> None:
        assert v2(one_deployment(num_replicas=replicas)).ok

    def test_num_replicas_beside_autoscaling_config_is_a_problem_unless_auto(self) -> None:
        scaling = {"min_replicas": 1, "max_replicas": 3}
        assert not v2(one_deployment(num_replicas=2, autoscaling_config=scaling)).ok
        assert v2(one_deployment(num_replicas="auto", autoscaling_config=scaling)).ok

    @pytest.mark.parametrize(
        ("top", "field"),
        [
            ({"proxy_location": "Everywhere"}, "proxy_location"),
            ({"target_capacity": 101}, "target_capacity"),
            ({"http_options": {"port": "8000"}}, "http_options.port"),
            ({"http_options": {"port": 70000}}, "http_options.port"),
            ({"http_options": "0.0.0.0:8000"}, "http_options"),
            ({"grpc_options": {"grpc_servicer_functions": "svc"}}, "grpc_options.grpc_servicer_functions"),
        ],
    )
    def test_cluster_wide_values_ray_would_reject_are_problems(self, top: dict[str, Any], field: str) -> None:
        body = yaml.safe_dump({**top, "applications": [{"name": "a", "import_path": "m:app"}]})
        assert fields(v2(body).problems) == [f"serveConfigV2.{field}"]

    @pytest.mark.parametrize("prefix", ["fruit", "/fruit/{id}", 3])
    def test_route_prefix_must_start_with_a_slash_and_have_no_wildcards(self, prefix: object) -> None:
        assert fields(v2(one_app(route_prefix=prefix)).problems) == ["serveConfigV2.applications[0].route_prefix"]

    def test_every_problem_is_reported_not_only_the_first(self) -> None:
        body = yaml.safe_dump(
            {
                "applications": [
                    {"name": "a", "deployments": [{"name": "D", "num_replicas": -1}]},
                    {"name": "a", "import_path": "x"},
                ]
            }
        )
        assert set(fields(v2(body).problems)) == {
            "serveConfigV2.applications[0].import_path",
            "serveConfigV2.applications[0].deployments[0].num_replicas",
            "serveConfigV2.applications[1].import_path",
            "serveConfigV2.applications[1].name",
            "serveConfigV2.applications[1].route_prefix",
        }

    def test_problem_prints_as_field_colon_message(self) -> None:
        problem = Problem("serveConfigV2.applications", "at least one application is required")
        assert str(problem) == "serveConfigV2.applications: at least one application is required"


class TestServeConfigV2Warnings:
    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
    def test_loopback_http_host_is_a_warning_not_a_problem(self, host: str) -> None:
        result = v2(f"http_options:\n  host: {host}\n" + fruit_v2_yaml())
        assert result.ok
        assert fields(result.warnings) == ["serveConfigV2.http_options.host"]
        assert "serve Service" in result.warnings[0].message

    def test_deployment_without_num_cpus_is_a_warning_that_each_replica_asks_one_cpu(self) -> None:
        result = v2(one_app(deployments=[{"name": "D", "num_replicas": 2}]))
        assert result.ok
        assert fields(result.warnings) == ["serveConfigV2.applications[0].deployments[0].ray_actor_options.num_cpus"]
        assert "1 CPU" in result.warnings[0].message

    @pytest.mark.parametrize("working_dir", ["/home/me/app", "app.zip", "."])
    def test_working_dir_that_is_not_a_uri_is_a_warning(self, working_dir: str) -> None:
        result = v2(one_app(runtime_env={"working_dir": working_dir}))
        assert result.ok
        assert fields(result.warnings) == ["serveConfigV2.applications[0].runtime_env.working_dir"]

    @pytest.mark.parametrize("working_dir", [WORKING_DIR, "file:///tmp/app.zip", "local:///srv/app", "s3://b/x.zip"])
    def test_working_dir_uris_are_not_warned_about(self, working_dir: str) -> None:
        assert v2(one_app(runtime_env={"working_dir": working_dir})).warnings == ()

    def test_renamed_and_unknown_fields_are_warnings_naming_the_replacement(self) -> None:
        result = v2(one_deployment(max_concurrent_queries=5, route_prefix="/x", surprise=1))
        assert result.ok
        by_field = {p.field.rsplit(".", 1)[1]: p.message for p in result.warnings}
        assert "max_ongoing_requests" in by_field["max_concurrent_queries"]
        assert "application" in by_field["route_prefix"]
        assert "does not know" in by_field["surprise"]


class TestJsonConversion:
    def test_yaml_timestamps_stay_strings_and_keys_become_strings(self) -> None:
        body = "applications:\n- name: a\n  import_path: m:app\n  args: {2: two, true: yes, since: 2024-01-02}\n"
        result = v2(body)
        assert result.ok
        assert result.config is not None
        assert result.config["applications"][0]["args"] == {"2": "two", "true": True, "since": "2024-01-02"}

    @pytest.mark.parametrize("value", [".nan", "!!binary aGVsbG8=", "!!set {a, b}", "-.inf"])
    def test_values_json_cannot_carry_are_problems(self, value: str) -> None:
        result = v2(f"applications:\n- name: a\n  import_path: m:app\n  args: {{x: {value}}}\n")
        assert fields(result.problems) == ["serveConfigV2"]

    def test_alias_bomb_is_refused_quickly(self) -> None:
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        started = time.perf_counter()
        result = v2("\n".join(lines) + "\napplications: *a8\n")
        assert time.perf_counter() - started < 2.0
        assert "aliases" in result.problems[0].message


class TestLegacyTranslation:
    def test_alpha_fruit_market_becomes_one_default_application_at_the_driver_route(self) -> None:
        result = translate_legacy_serve_config(fruit_legacy())
        assert result.ok
        assert result.warnings == ()
        expected = fruit_config(app_name="default")
        assert result.config == expected

    def test_route_prefix_defaults_to_root(self) -> None:
        result = translate_legacy_serve_config({"importPath": IMPORT_PATH})
        assert result.config == {"applications": [{"name": "default", "import_path": IMPORT_PATH, "route_prefix": "/"}]}

    def test_first_named_route_prefix_wins_and_the_others_are_warned_about(self) -> None:
        legacy = {
            "importPath": IMPORT_PATH,
            "deployments": [
                {"name": "A", "routePrefix": "", "rayActorOptions": {"numCpus": 1}},
                {"name": "B", "routePrefix": "/b", "rayActorOptions": {"numCpus": 1}},
                {"name": "C", "routePrefix": "/c", "rayActorOptions": {"numCpus": 1}},
            ],
        }
        result = translate_legacy_serve_config(legacy)
        assert result.config is not None
        assert result.config["applications"][0]["route_prefix"] == "/b"
        assert fields(result.warnings) == ["serveConfig.deployments[2].routePrefix"]

    def test_every_camel_case_field_becomes_rays_snake_case(self) -> None:
        deployment = {
            "name": "D",
            "numReplicas": 2,
            "maxConcurrentQueries": 7,
            "userConfig": "price: 3",
            "gracefulShutdownWaitLoopS": 1,
            "gracefulShutdownTimeoutS": 2,
            "healthCheckPeriodS": 3,
            "healthCheckTimeoutS": 4,
            "rayActorOptions": {
                "numCpus": 0.5,
                "numGpus": 1,
                "memory": 1024,
                "objectStoreMemory": 2048,
                "resources": '{"TPU": "2"}',
                "acceleratorType": "A100",
                "runtimeEnv": "env_vars:\n  A: b\n",
            },
        }
        result = translate_legacy_serve_config({"importPath": "m:app", "deployments": [deployment], "port": 8000})
        assert result.ok, result.problems
        assert result.config == {
            "applications": [
                {
                    "name": "default",
                    "import_path": "m:app",
                    "route_prefix": "/",
                    "deployments": [
                        {
                            "name": "D",
                            "num_replicas": 2,
                            "max_ongoing_requests": 7,
                            "user_config": {"price": 3},
                            "graceful_shutdown_wait_loop_s": 1,
                            "graceful_shutdown_timeout_s": 2,
                            "health_check_period_s": 3,
                            "health_check_timeout_s": 4,
                            "ray_actor_options": {
                                "num_cpus": 0.5,
                                "num_gpus": 1,
                                "memory": 1024,
                                "object_store_memory": 2048,
                                "accelerator_type": "A100",
                                "runtime_env": {"env_vars": {"A": "b"}},
                                "resources": {"TPU": 2},
                            },
                        }
                    ],
                }
            ],
            "http_options": {"port": 8000},
        }

    def test_yaml_string_fields_also_accept_mappings_and_a_blank_string_means_unset(self) -> None:
        deployment = {
            "name": "D",
            "userConfig": {"price": 3},
            "autoscalingConfig": "  ",
            "rayActorOptions": {"numCpus": 1, "resources": {"GPU_SLICE": "0.5", "label": "big"}},
        }
        result = translate_legacy_serve_config({"importPath": "m:app", "runtimeEnv": "", "deployments": [deployment]})
        assert result.config is not None
        app = result.config["applications"][0]
        assert "runtime_env" not in app
        assert app["deployments"][0] == {
            "name": "D",
            "user_config": {"price": 3},
            "ray_actor_options": {"num_cpus": 1, "resources": {"GPU_SLICE": 0.5, "label": "big"}},
        }

    def test_invalid_yaml_in_user_config_names_the_legacy_field_and_its_line(self) -> None:
        legacy = fruit_legacy()
        legacy["deployments"][0]["userConfig"] = "price: 3\nextra: [unclosed\n"
        result = translate_legacy_serve_config(legacy)
        assert result.config is None
        assert fields(result.problems) == ["serveConfig.deployments[0].userConfig"]
        assert result.problems[0].message.startswith("line 3, column 1: ")

    def test_user_config_that_is_not_a_yaml_mapping_is_a_problem(self) -> None:
        legacy = fruit_legacy()
        legacy["deployments"][0]["userConfig"] = "3"
        assert fields(translate_legacy_serve_config(legacy).problems) == ["serveConfig.deployments[0].userConfig"]

    def test_problems_and_warnings_are_named_in_the_users_camel_case_terms(self) -> None:
        legacy = {"runtimeEnv": "working_dir: ./app\n", "deployments": [{"name": "D", "numReplicas": -1}], "port": "80"}
        result = translate_legacy_serve_config(legacy, field="serveDeploymentGraphConfig")
        assert set(fields(result.problems)) == {
            "serveDeploymentGraphConfig.importPath",
            "serveDeploymentGraphConfig.deployments[0].numReplicas",
            "serveDeploymentGraphConfig.port",
        }
        assert set(fields(result.warnings)) == {
            "serveDeploymentGraphConfig.runtimeEnv.working_dir",
            "serveDeploymentGraphConfig.deployments[0].rayActorOptions.numCpus",
        }

    def test_max_concurrent_queries_problem_is_named_by_its_legacy_name(self) -> None:
        legacy = {"importPath": "m:app", "deployments": [{"name": "D", "maxConcurrentQueries": 0}]}
        assert fields(translate_legacy_serve_config(legacy).problems) == [
            "serveConfig.deployments[0].maxConcurrentQueries"
        ]

    def test_fields_the_legacy_form_never_had_are_ignored_with_a_warning(self) -> None:
        legacy = {
            "importPath": "m:app",
            "name": "mine",
            "deployments": [{"name": "D", "rayActorOptions": {"numCpus": 1, "cpuCount": 2}, "num_replicas": 3}],
        }
        result = translate_legacy_serve_config(legacy)
        assert result.config is not None
        assert result.config["applications"][0]["name"] == "default"
        assert result.config["applications"][0]["deployments"] == [{"name": "D", "ray_actor_options": {"num_cpus": 1}}]
        assert set(fields(result.warnings)) == {
            "serveConfig.name",
            "serveConfig.deployments[0].num_replicas",
            "serveConfig.deployments[0].rayActorOptions.cpuCount",
        }


class TestDesiredServeConfig:
    def test_serve_config_v2_is_parsed(self) -> None:
        assert desired_serve_config({"serveConfigV2": fruit_v2_yaml()}).config == fruit_config()

    @pytest.mark.parametrize("name", ["serveConfig", "serveDeploymentGraphConfig"])
    def test_legacy_form_under_either_name_is_translated(self, name: str) -> None:
        result = desired_serve_config({name: fruit_legacy()})
        assert result.config == fruit_config(app_name="default")

    def test_both_forms_set_is_a_problem(self) -> None:
        result = desired_serve_config({"serveConfigV2": fruit_v2_yaml(), "serveConfig": fruit_legacy()})
        assert result.config is None
        assert [str(p) for p in result.problems] == ["spec: set either serveConfigV2 or serveConfig, not both"]

    def test_legacy_form_under_both_names_is_a_problem(self) -> None:
        result = desired_serve_config({"serveConfig": fruit_legacy(), "serveDeploymentGraphConfig": fruit_legacy()})
        assert fields(result.problems) == ["spec"]

    @pytest.mark.parametrize(
        "spec",
        [
            {},
            {"serveConfigV2": ""},
            {"serveConfigV2": "  \n"},
            {"serveConfig": {}},
            {"serveConfigV2": None, "serveConfig": {"importPath": None}},
        ],
    )
    def test_no_serve_config_means_nothing_to_deploy_and_no_problem(self, spec: dict[str, Any]) -> None:
        result = desired_serve_config(spec)
        assert result.config is None
        assert result.ok

    def test_blank_serve_config_v2_beside_a_legacy_form_uses_the_legacy_form(self) -> None:
        assert desired_serve_config({"serveConfigV2": "", "serveConfig": fruit_legacy()}).ok

    @pytest.mark.parametrize(
        ("spec", "field"),
        [
            ({"serveConfigV2": {"applications": []}}, "serveConfigV2"),
            ({"serveConfig": "importPath: m:app"}, "serveConfig"),
        ],
    )
    def test_a_serve_form_of_the_wrong_type_is_a_problem(self, spec: dict[str, Any], field: str) -> None:
        assert fields(desired_serve_config(spec).problems) == [field]


class TestYamlParser:
    """serveConfigV2 is parsed by libyaml when PyYAML has it, with the pure-Python parser's values and errors."""

    SAMPLE = "a: 2025-01-01\nb: yes\nc: 0x10\nd: 1e3\ne: ~\nf: &x [1, 2]\ng: *x\nh: '012'\ni: 1_000\n"

    def test_libyaml_parses_when_available_and_gives_the_same_values_as_the_python_parser(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from rayservice.api import serve

        used: list[type] = []
        real_load = yaml.load

        def spy(text: str, Loader: type) -> Any:
            used.append(Loader)
            return real_load(text, Loader=Loader)

        monkeypatch.setattr(yaml, "load", spy)
        fast, problem = serve.load_yaml(self.SAMPLE, "serveConfigV2")
        assert problem is None
        if yaml.__with_libyaml__:
            assert used == [serve._FastLoader] and issubclass(serve._FastLoader, yaml.CSafeLoader)
        assert fast == real_load(self.SAMPLE, Loader=serve._Loader)
        assert fast["a"] == "2025-01-01" and fast["b"] is True and fast["c"] == 16 and fast["g"] == [1, 2]
        used.clear()
        _, problem = serve.load_yaml("a: b: c\n", "serveConfigV2")
        assert str(problem) == "serveConfigV2: line 1, column 5: mapping values are not allowed here"
        assert used[-1] is serve._Loader  # the error in the pure-Python parser's words
