"""What ``ray start`` really receives: the generated command line is run by bash with ``ray`` stubbed out."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rayservice.controller.raycluster import desired_head_pod, desired_worker_pod
from tests.unit.controller.raycluster.samples import cluster, ray_container, template

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def argv_of(pod: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    """The arguments ``ray`` gets when the container's command runs (``ulimit`` left to the real pod)."""
    container = ray_container(pod)
    assert container["command"] == ["/bin/bash", "-lc", "--"]
    line = container["args"][0].replace("ulimit -n 65536; ", "", 1)
    script = "ray() { printf '%s\\0' \"$@\"; }\n" + line
    assert BASH is not None
    done = subprocess.run([BASH, "-c", "--", script], capture_output=True, env=env or {}, check=True, timeout=10)
    return done.stdout.decode().split("\0")[:-1]


def head_with(params: dict[str, str]) -> dict[str, Any]:
    return desired_head_pod(cluster(head={"rayStartParams": params, "template": template()}), name="h")


def test_dollar_variables_are_expanded_by_the_shell_without_word_splitting() -> None:
    pod = head_with({"redis-password": "$REDIS_PASSWORD", "temp-dir": "/tmp/${USER_DIR}/ray"})
    argv = argv_of(pod, {"REDIS_PASSWORD": "p w*d", "USER_DIR": "me"})

    assert "--redis-password=p w*d" in argv
    assert "--temp-dir=/tmp/me/ray" in argv


def test_kubernetes_variable_references_stay_for_the_kubelet() -> None:
    pod = head_with({"node-ip-address": "$(MY_POD_IP)"})

    assert "--node-ip-address='$(MY_POD_IP)'" in ray_container(pod)["args"][0]
    assert "--node-ip-address=$(MY_POD_IP)" in argv_of(pod)


def test_json_values_quoted_for_kuberays_shell_reach_ray_as_plain_json() -> None:
    pod = head_with({"resources": '"{\\"TPU\\": 4}"', "labels": '\'{"zone": "a"}\''})
    argv = argv_of(pod)

    assert '--resources={"TPU": 4}' in argv
    assert '--labels={"zone": "a"}' in argv


def test_unquoted_json_and_shell_syntax_reach_ray_as_one_literal_argument() -> None:
    pod = head_with({"resources": '{"CPU": 1, "x": 2}', "temp-dir": "a; touch /tmp/pwned `id` $(id)"})
    argv = argv_of(pod)

    assert '--resources={"CPU": 1, "x": 2}' in argv
    assert "--temp-dir=a; touch /tmp/pwned `id` $(id)" in argv


def test_the_worker_command_line_parses_to_the_expected_arguments() -> None:
    pod = desired_worker_pod(cluster(), "small", name="w")

    assert argv_of(pod) == ["start", "--address=demo-head-svc.ns.svc.cluster.local:6379", "--block"]


@settings(max_examples=150, deadline=None)
@given(value=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40))
def test_any_value_without_variables_reaches_ray_exactly_as_written(value: str) -> None:
    if "$" in value or (len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""):
        return  # expansion and unquoting are covered above
    if value.lower() in ("true", "false"):
        return
    argv = argv_of(head_with({"temp-dir": value}))

    assert f"--temp-dir={value}" in argv
