"""Pods run as local processes: own network and PID namespaces, private /tmp, probes, env, logs."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import POD_CIDR, Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]


def web_pod(name: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": {"containers": [{
        "name": "web", "image": "python:3.11", "command": ["python", "-m", "http.server", "8080"],
        "workingDir": "/tmp", "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 1}, **extra}]}}


async def test_a_pod_running_an_http_server_becomes_running_and_ready_with_an_address_from_the_pod_cidr(
        cluster: Cluster) -> None:
    started = time.monotonic()
    cluster.create("pods", web_pod("web"))
    await cluster.until(lambda: cluster.pod_condition("web", "Ready") == "True", what="web Ready")
    took_s = time.monotonic() - started
    pod = cluster.get("pods", "web")
    assert pod is not None
    status = pod["status"]
    assert status["phase"] == "Running"
    assert ipaddress.IPv4Address(status["podIP"]) in ipaddress.IPv4Network(POD_CIDR)
    assert pod["spec"]["nodeName"] == "test-node"
    [container] = status["containerStatuses"]
    assert container["ready"] and container["started"] and "running" in container["state"]
    assert took_s < 5, f"pod took {took_s:.1f} s to become Ready"
    print(f"\nweb pod Ready {took_s:.2f} s after create")  # the number the report quotes
    async with aiohttp.ClientSession() as http, http.get(f"http://{status['podIP']}:8080/") as resp:
        assert resp.status == 200  # the node reaches the pod on its own address


async def test_a_pod_has_its_own_hostname_pid_namespace_and_private_tmp(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "host-only").write_text("x")
    cluster.create("pods", web_pod("iso"))
    await cluster.until(lambda: cluster.pod_condition("iso", "Ready") == "True", what="iso Ready")
    script = ("import os, socket; pids = [p for p in os.listdir('/proc') if p.isdigit()]; "
              "print(socket.gethostname(), len(pids), os.path.exists('/tmp/host-only'), "
              f"os.path.exists({str(tmp_path)!r}))")
    code, out = await cluster.node.agent.exec_in_pod("default", "iso", ["python", "-c", script])
    assert code == 0, out
    hostname, pids, tmp_file, tmp_path_seen = out.decode().split()
    assert hostname == "iso"
    assert int(pids) <= 4  # the pod's init, its http server, this exec (and at most one helper)
    assert tmp_file == "False" and tmp_path_seen == "False"


async def test_env_carries_the_downward_api_and_expands_var_references_and_kubectl_logs_shows_it(
        cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("pods", {"metadata": {"name": "envy", "labels": {"tier": "gold"}}, "spec": {
        "restartPolicy": "Never", "containers": [{
            "name": "main", "image": "busybox",
            "command": ["python", "-c"],
            "args": ["import os; print('hello', os.environ['GREETING']); print('$(MY_IP)', '$$(MY_IP)', '$(NOPE)')"],
            "env": [{"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "MY_TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
                    {"name": "GREETING", "value": "$(MY_NAME).$(MY_NS) on $(MY_NODE) tier $(MY_TIER)"}]}]}})
    pod = await cluster.until(lambda: (p := cluster.get("pods", "envy")) and p["status"].get("phase") == "Succeeded"
                              and p, what="envy Succeeded")
    proc = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(cluster.kubeconfig), "logs", "envy",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    ip = pod["status"]["podIP"]
    assert out.decode().splitlines() == ["hello envy.default on test-node tier gold", f"{ip} $(MY_IP) $(NOPE)"]


async def test_init_containers_run_in_order_before_the_containers(cluster: Cluster) -> None:
    step = "import sys; open('/tmp/steps', 'a').write(sys.argv[1] + ' ')"
    cluster.create("pods", {"metadata": {"name": "init"}, "spec": {
        "restartPolicy": "Never",
        "initContainers": [{"name": f"i{n}", "image": "python:3.11", "command": ["python", "-c", step, f"i{n}"]}
                           for n in (1, 2)],
        "containers": [{"name": "main", "image": "python:3.11", "command": [
            "python", "-c", "print(open('/tmp/steps').read().strip())"]}]}})
    pod = await cluster.until(lambda: (p := cluster.get("pods", "init")) and p["status"].get("phase") == "Succeeded"
                              and p, what="init Succeeded")
    assert [s["state"]["terminated"]["exitCode"] for s in pod["status"]["initContainerStatuses"]] == [0, 0]
    runner = cluster.node.agent.runner_for("default", "init")
    assert runner is not None
    c = runner.container("main")
    assert c is not None
    assert runner.log_path(c, 0).read_text() == "i1 i2\n"

