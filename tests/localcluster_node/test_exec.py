"""kubectl exec, attach and `run -i --tty` against the local cluster: commands run in the pod's namespaces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kubectl import Kubectl

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, pytest.mark.kubectl, requires_root]


def kubectl_for(cluster: Cluster) -> Kubectl:
    return Kubectl(str(Path(sys.executable).parent / "kubectl"), cluster.kubeconfig)


def shell_pod(name: str, **container: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{
        "name": "main", "image": "busybox", "command": ["sh", "-c", "echo started; exec sleep 3600"],
        "workingDir": "/tmp/work", "env": [{"name": "GREETING", "value": "hello from the env"}], **container}]}}


async def running(cluster: Cluster, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = await cluster.until(
        lambda: (p := cluster.get("pods", name)) and (p.get("status") or {}).get("phase") == "Running" and p,
        what=f"{name} Running")
    return pod


async def test_kubectl_exec_prints_the_commands_output_run_in_the_pods_namespaces_env_and_workdir(
        cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("box"))
    pod = await running(cluster, "box")
    kubectl = kubectl_for(cluster)
    _, out, _ = await kubectl.run("exec", "box", "--", "echo", "hi")
    assert out == "hi\n"
    _, out, _ = await kubectl.run("exec", "box", "--", "sh", "-c", "hostname; pwd; echo $GREETING; "
                                  "ip -4 -o addr show | grep -c " + pod["status"]["podIP"])
    assert out.split("\n")[:4] == ["box", "/tmp/work", "hello from the env", "1"]


async def test_kubectl_exec_of_a_failing_command_says_its_exit_code_and_exits_with_it(cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("box"))
    await running(cluster, "box")
    code, out, err = await kubectl_for(cluster).run("exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 2",
                                                    ok=False)
    assert code == 2
    assert out == "out\n"
    assert "err\n" in err and "command terminated with exit code 2" in err


async def test_kubectl_exec_i_passes_stdin_to_the_command_and_ends_with_it(cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("box"))
    await running(cluster, "box")
    _, out, _ = await kubectl_for(cluster).run("exec", "-i", "box", "--", "cat", stdin="line one\nline two\n")
    assert out == "line one\nline two\n"


async def test_kubectl_exec_into_an_unknown_container_or_pod_says_so_as_kube_does(cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("box"))
    await running(cluster, "box")
    kubectl = kubectl_for(cluster)
    code, _, err = await kubectl.run("exec", "box", "-c", "nope", "--", "true", ok=False)
    assert code == 1 and "container nope is not valid for pod box" in err
    code, _, err = await kubectl.run("exec", "ghost", "--", "true", ok=False)
    assert code == 1 and 'pods "ghost" not found' in err
