"""The node's container environment and command line, as kubelet builds them (e2e/localcluster/node/env.py)."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.node.env import (
    ConfigError,
    container_argv,
    container_env,
    expand,
    field_ref,
    referenced_objects,
    resource_ref,
    service_env,
)
from e2e.localcluster.node.images import ImageConfig

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"},
                 "annotations": {"a/b": "c"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "sa"},
    "status": {"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}], "hostIP": "10.244.0.1",
               "hostIPs": [{"ip": "10.244.0.1"}]}}


def no_refs(kind: str, name: str) -> None:
    return None


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)-$(B)", "1-two"),
    ("$$(A)", "$(A)"),          # $$ escapes
    ("$(MISSING)", "$(MISSING)"),  # undefined stays as written
    ("$(A", "$(A"),             # unclosed
    ("$A $", "$A $"),            # other $ is copied
    ("a$$b", "a$b"),
])
def test_expand_follows_kubelet_rules(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("metadata.name", "p"), ("metadata.namespace", "ns"), ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"), ("metadata.annotations['a/b']", "c"), ("spec.nodeName", "n1"),
    ("spec.serviceAccountName", "sa"), ("status.podIP", "10.244.0.5"), ("status.hostIP", "10.244.0.1"),
    ("status.podIPs", "10.244.0.5")])
def test_field_refs_cover_the_downward_api(path: str, expected: str) -> None:
    assert field_ref(POD, path) == expected


def test_an_unsupported_field_ref_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        field_ref(POD, "spec.containers")


def test_env_entries_apply_in_order_and_expand_against_what_is_defined_so_far() -> None:
    container = {"env": [{"name": "LATER", "value": "$(FIRST)"}, {"name": "FIRST", "value": "x"},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "ADDR", "value": "$(IP):80"}]}
    env = container_env(POD, container, refs=no_refs, capacity={})
    assert env == {"LATER": "$(FIRST)", "FIRST": "x", "IP": "10.244.0.5", "ADDR": "10.244.0.5:80"}


def test_env_from_config_maps_and_secrets_with_prefix_lies_under_env_entries() -> None:
    data = {("configmap", "cm"): {"A": "1", "B": "2"}, ("secret", "s"): {"TOKEN": "t"}}
    container = {"envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}, "prefix": "S_"}],
                 "env": [{"name": "B", "value": "override"},
                         {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "A"}}}]}
    env = container_env(POD, container, refs=lambda k, n: data.get((k, n)), capacity={})
    assert env == {"A": "1", "B": "override", "S_TOKEN": "t", "K": "1"}
    assert referenced_objects(container) == {("configmap", "cm"), ("secret", "s")}


def test_a_missing_reference_is_a_config_error_unless_optional() -> None:
    missing = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}
    with pytest.raises(ConfigError, match='secret "nope" not found'):
        container_env(POD, missing, refs=no_refs, capacity={})
    optional = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}}]}
    assert container_env(POD, optional, refs=no_refs, capacity={}) == {}


def test_resource_field_refs_round_up_by_the_divisor_and_fall_back_to_node_capacity() -> None:
    container = {"resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "250m"}}}
    assert resource_ref(container, {"resource": "limits.cpu"}, {}) == "1"
    assert resource_ref(container, {"resource": "requests.cpu", "divisor": "1m"}, {}) == "250"
    assert resource_ref(container, {"resource": "limits.memory", "divisor": "1Mi"}, {}) == "1024"
    assert resource_ref({}, {"resource": "limits.cpu"}, {"cpu": "8"}) == "8"


def test_argv_is_command_then_args_expanded_and_merged_with_the_image_config_as_kubernetes_does() -> None:
    env = {"PORT": "8080"}
    bare = ImageConfig(runs="python")
    operator = ImageConfig(runs="rayservice", entrypoint=("/venv/bin/rayservice",), cmd=("run",))
    assert container_argv({"command": ["python", "-m"], "args": ["http.server", "$(PORT)"]}, env, bare) == [
        "python", "-m", "http.server", "8080"]
    assert container_argv({"args": ["python", "-V"]}, env, bare) == ["python", "-V"]
    assert container_argv({"args": ["run", "--port=$(PORT)"]}, env, operator) == [
        "/venv/bin/rayservice", "run", "--port=8080"]
    assert container_argv({}, env, operator) == ["/venv/bin/rayservice", "run"]
    assert container_argv({"command": ["sh"]}, env, operator) == ["sh"]  # a command drops the image's CMD
    with pytest.raises(ConfigError, match="no default command"):
        container_argv({"name": "c"}, env, bare)


KUBERNETES = {"metadata": {"namespace": "default", "name": "kubernetes"},
              "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}


def test_every_pod_gets_the_kubernetes_service_variables_the_ray_autoscaler_reads() -> None:
    env = service_env([KUBERNETES], "team", links=False)
    assert env == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1"}


def test_service_links_cover_the_pods_namespace_only_and_skip_headless_services() -> None:
    services = [KUBERNETES,
                {"metadata": {"namespace": "team", "name": "my-db"},
                 "spec": {"clusterIP": "10.96.0.7",
                          "ports": [{"name": "sql", "port": 5432}, {"port": 9, "protocol": "UDP"}]}},
                {"metadata": {"namespace": "other", "name": "web"}, "spec": {"clusterIP": "10.96.0.8",
                                                                           "ports": [{"port": 80}]}},
                {"metadata": {"namespace": "team", "name": "headless"}, "spec": {"clusterIP": "None",
                                                                               "ports": [{"port": 80}]}}]
    env = service_env(services, "team", links=True)
    assert env["MY_DB_SERVICE_HOST"] == "10.96.0.7" and env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_SQL"] == "5432" and env["MY_DB_PORT"] == "tcp://10.96.0.7:5432"
    assert env["MY_DB_PORT_9_UDP"] == "udp://10.96.0.7:9" and env["MY_DB_PORT_9_UDP_PROTO"] == "udp"
    assert not any(k.startswith(("WEB_", "HEADLESS_")) for k in env)
    assert "KUBERNETES_SERVICE_HOST" in env
    assert not any(k.startswith("MY_DB") for k in service_env(services, "team", links=False))


def test_container_variables_win_over_service_variables_and_may_refer_to_them() -> None:
    services = service_env([KUBERNETES], "ns", links=True)
    own = container_env(POD, {"env": [{"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):443"},
                                      {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"}]},
                        refs=lambda kind, name: None, capacity={}, services=services)
    assert own == {"API": "https://10.96.0.1:443", "KUBERNETES_SERVICE_PORT": "6443"}


def test_directories_under_tmp_that_the_pod_runs_from_are_kept_once_each() -> None:
    from e2e.localcluster.node.sandbox import kept_under_tmp

    paths = ["/tmp/clone/.venv/bin/python", "/tmp/clone", "/usr/bin/python3", "/tmp/other/x", "/tmpfoo/y", "/tmp"]
    assert kept_under_tmp(paths) == ["/tmp/clone", "/tmp/other"]


def test_a_volume_mounted_over_tmp_does_not_hide_what_the_pod_runs_from() -> None:
    from e2e.localcluster.node.sandbox import rebound_under_volumes

    kept = [("/tmp/clone", "/var/lib/localcluster/p/pods/u/tmp/clone")]
    # the operator Deployment's emptyDir at /tmp covers the project and its venv: they are bound again on top
    over_tmp = [("/var/lib/localcluster/p/pods/u/volumes/tmp", "/tmp", False)]
    assert rebound_under_volumes(kept, over_tmp) == [("/var/lib/localcluster/p/pods/u/tmp/clone", "/tmp/clone",
                                                      False)]
    assert rebound_under_volumes(kept, [("/v", "/tmp/", False)]) == [(kept[0][1], "/tmp/clone", False)]
    # volumes elsewhere, or beside the kept path, leave it alone
    assert rebound_under_volumes(kept, [("/v", "/data", False), ("/w", "/tmp/clone2", False)]) == []
