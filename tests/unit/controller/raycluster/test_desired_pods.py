"""The head and worker pods of DESIGN §3, checked field by field."""

from __future__ import annotations

from typing import Any

import pytest

from rayservice.controller.raycluster import desired_head_pod, desired_worker_pod
from tests.unit.controller.raycluster.samples import (
    cluster,
    container,
    env_of,
    group,
    ports_of,
    ray_container,
    template,
)

OWNER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "name": "demo",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}
HEAD_FQDN = "demo-head-svc.ns.svc.cluster.local"


def ray_start_line(pod: dict[str, Any], index: int = 0) -> str:
    args = ray_container(pod, index)["args"]
    assert len(args) == 1
    line: str = args[0]
    assert line.startswith("ulimit -n 65536; ray start")
    return line.removeprefix("ulimit -n 65536; ")


class TestMetadata:
    def test_pods_get_the_name_namespace_and_a_controller_owner_reference(self) -> None:
        pod = desired_head_pod(cluster(), name="demo-head-abcde")

        assert pod["apiVersion"] == "v1"
        assert pod["kind"] == "Pod"
        assert pod["metadata"]["name"] == "demo-head-abcde"
        assert pod["metadata"]["namespace"] == "ns"
        assert pod["metadata"]["ownerReferences"] == [OWNER]

    def test_the_head_carries_every_ray_label(self) -> None:
        labels = desired_head_pod(cluster(), name="h")["metadata"]["labels"]

        assert labels == {
            "ray.io/cluster": "demo",
            "ray.io/node-type": "head",
            "ray.io/group": "headgroup",
            "ray.io/identifier": "demo-head",
            "ray.io/is-ray-node": "yes",
            "ray.io/serve": "true",
            "app.kubernetes.io/name": "kuberay",
            "app.kubernetes.io/created-by": "rayservice-operator",
        }

    def test_a_worker_carries_its_group_and_the_worker_identifier(self) -> None:
        labels = desired_worker_pod(cluster(), "small", name="w")["metadata"]["labels"]

        assert labels["ray.io/node-type"] == "worker"
        assert labels["ray.io/group"] == "small"
        assert labels["ray.io/identifier"] == "demo-worker"
        assert labels["ray.io/serve"] == "true"

    def test_template_labels_and_annotations_are_kept_but_ours_win_except_serve(self) -> None:
        head_template = template(
            labels={"team": "fruit", "ray.io/cluster": "other", "ray.io/node-type": "worker", "ray.io/serve": "false"}
        )
        head_template["metadata"]["annotations"] = {"note": "kept"}
        pod = desired_head_pod(cluster(head={"template": head_template}), name="h")

        labels = pod["metadata"]["labels"]
        assert labels["team"] == "fruit"
        assert labels["ray.io/cluster"] == "demo"
        assert labels["ray.io/node-type"] == "head"
        assert labels["ray.io/serve"] == "false"
        assert pod["metadata"]["annotations"] == {"note": "kept"}


class TestRayContainer:
    def test_the_container_named_ray_head_is_the_ray_container_and_sidecars_are_untouched(self) -> None:
        sidecar = container("sidecar", command=["sleep", "inf"])
        head = {"template": template(sidecar, container("ray-head"))}
        pod = desired_head_pod(cluster(head=head), name="h")

        assert pod["spec"]["containers"][0] == sidecar
        assert ray_container(pod, 1)["command"] == ["/bin/bash", "-lc", "--"]

    def test_without_a_named_container_the_first_one_runs_ray(self) -> None:
        workers = [group(template=template(container("main"), container("logs")))]
        pod = desired_worker_pod(cluster(groups=workers), "small", name="w")

        assert ray_container(pod)["command"] == ["/bin/bash", "-lc", "--"]
        assert "command" not in pod["spec"]["containers"][1]

    def test_the_head_runs_ray_start_with_the_head_defaults_and_block_last(self) -> None:
        line = ray_start_line(desired_head_pod(cluster(), name="h"))

        assert line == "ray start --head --dashboard-host=0.0.0.0 --port=6379 --block"

    def test_a_worker_joins_the_head_service_on_the_gcs_port(self) -> None:
        line = ray_start_line(desired_worker_pod(cluster(), "small", name="w"))

        assert line == f"ray start --address={HEAD_FQDN}:6379 --block"

    def test_workers_join_the_port_the_head_was_given(self) -> None:
        head = {"rayStartParams": {"port": "6380"}, "template": template()}
        pod = desired_worker_pod(cluster(head=head), "small", name="w")

        assert f"--address={HEAD_FQDN}:6380" in ray_start_line(pod)
        assert env_of(pod)["RAY_ADDRESS"] == f"{HEAD_FQDN}:6380"

    @pytest.mark.parametrize(
        ("resources", "flag"),
        [
            ({"limits": {"cpu": "500m"}}, "--num-cpus=1"),
            ({"limits": {"cpu": "2"}}, "--num-cpus=2"),
            ({"limits": {"cpu": 3}}, "--num-cpus=3"),
            ({"limits": {"cpu": "1500m"}, "requests": {"cpu": "100m"}}, "--num-cpus=2"),
            ({"requests": {"cpu": "250m"}}, "--num-cpus=1"),
            ({"limits": {"memory": "1Gi"}}, None),
            ({"limits": {"cpu": "0"}}, None),
        ],
    )
    def test_num_cpus_comes_from_the_cpu_limit_or_request_rounded_up(
        self, resources: dict[str, Any], flag: str | None
    ) -> None:
        head = {"template": template(container(resources=resources))}
        line = ray_start_line(desired_head_pod(cluster(head=head), name="h"))

        if flag is None:
            assert "--num-cpus" not in line
        else:
            assert flag in line.split()

    def test_parameters_the_user_sets_win_over_ours(self) -> None:
        params = {"num-cpus": "0", "dashboard-host": "127.0.0.1", "port": "7000", "block": "false", "head": "false"}
        head = {"rayStartParams": params, "template": template(container(resources={"limits": {"cpu": "4"}}))}
        line = ray_start_line(desired_head_pod(cluster(head=head), name="h"))

        assert line == "ray start --head --dashboard-host=127.0.0.1 --num-cpus=0 --port=7000 --block"

    def test_true_is_a_bare_flag_false_is_left_out_except_for_flags_that_take_a_boolean(self) -> None:
        params = {"disable-usage-stats": "True", "include-log-monitor": "false", "log-color": "false"}
        line = ray_start_line(
            desired_head_pod(cluster(head={"rayStartParams": params, "template": template()}), name="h")
        )

        assert "--disable-usage-stats" in line.split()
        assert "include-log-monitor" not in line
        assert "--log-color=false" in line.split()

    def test_a_user_command_without_ray_start_runs_first(self) -> None:
        head = {"template": template(container(command=["pip", "install", "x"], args=["-q"]))}
        args = ray_container(desired_head_pod(cluster(head=head), name="h"))["args"]

        assert args[0].startswith("pip install x -q && ulimit -n 65536; ray start --head")

    def test_a_user_command_that_already_runs_ray_start_is_kept(self) -> None:
        own = container(command=["/bin/bash", "-c"], args=["ray start --head --block"])
        pod = desired_head_pod(cluster(head={"template": template(own)}), name="h")

        assert ray_container(pod)["command"] == ["/bin/bash", "-c"]
        assert ray_container(pod)["args"] == ["ray start --head --block"]
        assert env_of(pod)["KUBERAY_GEN_RAY_START_CMD"].startswith("ray start --head")

    def test_the_overwrite_annotation_keeps_the_user_command(self) -> None:
        spec = cluster(head={"template": template(container(command=["python", "boot.py"]))})
        spec["metadata"]["annotations"] = {"ray.io/overwrite-container-cmd": "true"}
        pod = desired_head_pod(spec, name="h")

        assert ray_container(pod)["command"] == ["python", "boot.py"]
        assert "args" not in ray_container(pod)


class TestEnv:
    def test_the_head_gets_its_local_address_and_the_downward_pod_ip(self) -> None:
        env = env_of(desired_head_pod(cluster(), name="h"))

        assert env["RAY_CLUSTER_NAME"] == "demo"
        assert env["RAY_ADDRESS"] == "127.0.0.1:6379"
        assert env["MY_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert env["RAY_USAGE_STATS_ENABLED"] == "0"
        assert "RAY_IP" not in env

    def test_a_worker_gets_the_head_service_address(self) -> None:
        env = env_of(desired_worker_pod(cluster(), "small", name="w"))

        assert env["RAY_ADDRESS"] == f"{HEAD_FQDN}:6379"
        assert env["RAY_IP"] == HEAD_FQDN
        assert env["FQ_RAY_IP"] == HEAD_FQDN
        assert env["MY_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}

    def test_user_env_is_kept_first_and_ours_never_duplicates_it(self) -> None:
        user_env = [{"name": "RAY_USAGE_STATS_ENABLED", "value": "1"}, {"name": "EXTRA", "value": "x"}]
        pod = desired_head_pod(cluster(head={"template": template(container(env=user_env))}), name="h")
        env = ray_container(pod)["env"]

        assert env[:2] == user_env
        assert [item["name"] for item in env].count("RAY_USAGE_STATS_ENABLED") == 1


class TestPortsAndProbes:
    def test_the_head_declares_gcs_dashboard_client_serve_and_agent_ports(self) -> None:
        ports = ports_of(desired_head_pod(cluster(), name="h"))

        assert ports == {"gcs": 6379, "dashboard": 8265, "client": 10001, "serve": 8000, "dashboard-agent": 52365}

    def test_a_worker_declares_serve_and_agent_ports(self) -> None:
        assert ports_of(desired_worker_pod(cluster(), "small", name="w")) == {"serve": 8000, "dashboard-agent": 52365}

    def test_ports_the_user_declares_by_name_or_number_are_not_added_again(self) -> None:
        user_ports = [{"name": "gcs-server", "containerPort": 6379}, {"name": "dashboard", "containerPort": 9999}]
        pod = desired_head_pod(cluster(head={"template": template(container(ports=user_ports))}), name="h")

        assert ports_of(pod) == {
            "gcs-server": 6379,
            "dashboard": 9999,
            "client": 10001,
            "serve": 8000,
            "dashboard-agent": 52365,
        }

    def test_the_head_is_ready_when_its_raylet_is_healthy_and_alive_while_the_gcs_is(self) -> None:
        ray = ray_container(desired_head_pod(cluster(), name="h"))

        assert ray["readinessProbe"]["httpGet"] == {
            "path": "/api/local_raylet_healthz",
            "port": 52365,
            "scheme": "HTTP",
        }
        assert ray["livenessProbe"]["httpGet"] == {"path": "/api/gcs_healthz", "port": 8265, "scheme": "HTTP"}
        assert ray["livenessProbe"]["failureThreshold"] * ray["livenessProbe"]["periodSeconds"] >= 300

    def test_a_worker_is_ready_and_alive_while_its_raylet_is_healthy(self) -> None:
        ray = ray_container(desired_worker_pod(cluster(), "small", name="w"))

        for probe in ("readinessProbe", "livenessProbe"):
            assert ray[probe]["httpGet"] == {"path": "/api/local_raylet_healthz", "port": 52365, "scheme": "HTTP"}

    def test_probes_follow_ports_moved_by_ray_start_params(self) -> None:
        params = {"dashboard-port": "8266", "dashboard-agent-listen-port": "52366"}
        ray = ray_container(
            desired_head_pod(cluster(head={"rayStartParams": params, "template": template()}), name="h")
        )

        assert ray["readinessProbe"]["httpGet"]["port"] == 52366
        assert ray["livenessProbe"]["httpGet"]["port"] == 8266
        assert {port["name"]: port["containerPort"] for port in ray["ports"]}["dashboard"] == 8266

    def test_a_head_without_a_dashboard_stays_alive_while_its_raylet_is_healthy(self) -> None:
        params = {"include-dashboard": "false"}
        ray = ray_container(
            desired_head_pod(cluster(head={"rayStartParams": params, "template": template()}), name="h")
        )

        assert ray["livenessProbe"]["httpGet"]["path"] == "/api/local_raylet_healthz"

    def test_probes_the_user_set_are_kept(self) -> None:
        probe = {"exec": {"command": ["true"]}}
        pod = desired_head_pod(cluster(head={"template": template(container(readinessProbe=probe))}), name="h")

        assert ray_container(pod)["readinessProbe"] == probe
        assert "httpGet" in ray_container(pod)["livenessProbe"]
