"""kubectl exec, attach and `run -i --tty` against the local cluster: commands run in the pod's namespaces."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml

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
    upgrades = [(r.method, r.code) for r in cluster.server.faults.log if r.subresource == "exec"]
    assert upgrades == [("GET", 101), ("GET", 101)]  # kubectl's WebSocket each time, never its SPDY fallback


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


def terminal_session(argv: list[str], script: Callable[[pexpect.spawn], None]) -> tuple[int | None, str]:
    """Run `argv` on a pty of its own, as a person at a terminal runs it; `script` types and reads. Blocking:
    call it in a thread, so the in-process API server and node keep serving."""
    child = pexpect.spawn(argv[0], argv[1:], timeout=20, encoding="utf-8", dimensions=(24, 80))
    try:
        script(child)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    return child.exitstatus, child.before or ""


async def test_kubectl_exec_it_gives_a_shell_on_a_terminal_that_answers_commands_and_ends_with_exit(
        cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("box"))
    await running(cluster, "box")
    seen: list[str] = []

    def script(child: pexpect.spawn) -> None:
        child.sendline("tty; stty size; echo answer-$((6*7))")
        child.expect("answer-42")
        seen.append(child.before)
        child.sendline("exit 3")

    code, _ = await asyncio.to_thread(terminal_session, [kubectl_for(cluster).prefix[0], "--kubeconfig",
                                                         str(cluster.kubeconfig), "exec", "-it", "box", "--", "sh"],
                                      script)
    assert "/dev/pts/" in seen[0]
    assert "24 80" in seen[0]  # kubectl sent its terminal's size, the pty took it
    assert code == 3


async def test_kubectl_run_i_tty_gives_a_shell_in_a_busybox_curl_pod_and_its_output_is_in_the_logs(
        cluster: Cluster) -> None:
    kubectl = kubectl_for(cluster)

    def script(child: pexpect.spawn) -> None:
        child.expect("If you don't see a command prompt, try pressing enter.")
        child.sendline("curl --version | head -c 4; echo; echo answer-$((6*7))")
        child.expect("answer-42")
        child.sendline("exit")

    code, out = await asyncio.to_thread(terminal_session, [
        kubectl.prefix[0], "--kubeconfig", str(cluster.kubeconfig), "run", "curl",
        "--image=radial/busyboxplus:curl", "-i", "--tty"], script)
    assert code == 0
    assert "Session ended, resume using 'kubectl attach curl -c curl -n default -i -t' command" in out
    pod = cluster.get("pods", "curl")
    assert pod is not None
    [c] = pod["spec"]["containers"]
    assert (c["stdin"], c["tty"], c["stdinOnce"]) == (True, True, True)
    # `exit` ended the shell, and the container restarted (restartPolicy Always, as kubectl run makes it)
    await cluster.until(lambda: (p := cluster.get("pods", "curl")) and p["status"]["containerStatuses"][0]
                        ["restartCount"] >= 1, what="curl restarted")
    _, logs, _ = await kubectl.run("logs", "--previous", "curl")
    assert "curl" in logs and "answer-42" in logs  # what the terminal showed went to the log too


async def test_kubectl_attach_joins_a_running_tty_container_and_leaves_it_running(cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("tty", command=["sh"], stdin=True, tty=True))
    await running(cluster, "tty")
    kubectl = kubectl_for(cluster)

    def script(child: pexpect.spawn) -> None:
        child.expect("If you don't see a command prompt, try pressing enter.")
        child.sendline("echo attached-$((6*7))")
        child.expect("attached-42")
        child.sendcontrol("p")
        child.sendcontrol("q")  # kubectl's detach keys: the container goes on

    for _ in range(2):  # and a second attach finds the same shell
        await asyncio.to_thread(terminal_session, [kubectl.prefix[0], "--kubeconfig", str(cluster.kubeconfig),
                                                   "attach", "-it", "tty"], script)
    pod = cluster.get("pods", "tty")
    assert pod is not None and pod["status"]["containerStatuses"][0]["restartCount"] == 0
    assert "running" in pod["status"]["containerStatuses"][0]["state"]


async def test_the_python_clients_stream_exec_returns_output_and_the_exit_code(cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("box"))
    await running(cluster, "box")

    def exec_with_client() -> tuple[str, int | None, str]:
        from kubernetes import client, config
        from kubernetes.stream import stream

        with config.new_client_from_config(str(cluster.kubeconfig)) as api_client:
            return exec_with(client.CoreV1Api(api_client), stream)

    def exec_with(api: Any, stream: Any) -> tuple[str, int | None, str]:
        # _preload_content=False and a socket shut down at the end: after the server's close frame the client's
        # close() leaves its socket open
        resp = stream(api.connect_get_namespaced_pod_exec, "box", "default", command=["sh", "-c", "echo $GREETING"],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        resp.run_forever(timeout=10)
        out = resp.read_all()
        resp.sock.shutdown()
        resp = stream(api.connect_get_namespaced_pod_exec, "box", "default", command=["sh", "-c", "cat; exit 4"],
                      stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
        resp.write_stdin("from stdin\n")
        resp.close_channel(0)  # v5: end of stdin
        resp.run_forever(timeout=10)
        echoed = resp.read_stdout()
        resp.sock.shutdown()
        return out, resp.returncode, echoed

    out, code, echoed = await asyncio.to_thread(exec_with_client)
    assert out == "hello from the env\n"
    assert (code, echoed) == (4, "from stdin\n")


async def test_kubectl_exec_into_a_container_that_is_not_running_is_refused_before_the_upgrade(
        cluster: Cluster) -> None:
    cluster.create("pods", shell_pod("pulling", image="no-such-registry.example/nothing:1"))
    await cluster.until(lambda: (p := cluster.get("pods", "pulling")) and any(
        (cs.get("state") or {}).get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff")
        for cs in (p.get("status") or {}).get("containerStatuses") or []), what="pulling waits for its image")
    code, _, err = await kubectl_for(cluster).run("exec", "pulling", "--", "true", ok=False)
    assert code == 1
    assert err.strip() == 'error: unable to upgrade connection: container not found ("main")'


def token_kubeconfig(cluster: Cluster, token: str, path: Path) -> Path:
    """The cluster's kubeconfig (server, CA) with a bearer token instead of the admin's certificate."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path


async def test_exec_needs_create_on_pods_exec_a_service_account_without_it_gets_kubes_403(
        incluster: Cluster, tmp_path: Path) -> None:
    rbac = "rbac.authorization.k8s.io"
    incluster.create("serviceaccounts", {"metadata": {"name": "viewer"}})
    incluster.server.api.create(incluster.rt("roles", rbac), "default", {
        "apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": "viewer"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                  {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}]})
    incluster.server.api.create(incluster.rt("rolebindings", rbac), "default", {
        "apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": {"name": "viewer"},
        "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "viewer"},
        "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]})
    incluster.create("pods", shell_pod("box"))
    await running(incluster, "box")
    admin = kubectl_for(incluster)
    _, token, _ = await admin.run("create", "token", "viewer")
    viewer = Kubectl(admin.prefix[0], token_kubeconfig(incluster, token.strip(), tmp_path / "viewer.kubeconfig"))
    await viewer.run("get", "pod", "box")  # the token works
    code, out, err = await viewer.run("exec", "box", "--", "echo", "hi", ok=False)
    assert (code, out) == (1, "")
    # the WebSocket upgrade is refused with kube's 403 Status; kubectl falls back to SPDY, is refused the same
    # way, and prints the Status's message
    assert err.strip() == ('error: unable to upgrade connection: pods "box" is forbidden: User '
                           '"system:serviceaccount:default:viewer" cannot create resource "pods/exec" in API group '
                           '"" in the namespace "default"')
    _, out, _ = await admin.run("exec", "box", "--", "echo", "hi")
    assert out == "hi\n"  # the admin may


async def test_a_failed_liveness_probe_restarts_a_terminal_container_and_not_its_neighbour(cluster: Cluster) -> None:
    pod = shell_pod("pair", command=["sh"], stdin=True, tty=True,
                    livenessProbe={"exec": {"command": ["test", "!", "-e", "/tmp/die"]}, "periodSeconds": 1,
                                   "failureThreshold": 1})
    pod["spec"]["terminationGracePeriodSeconds"] = 1
    pod["spec"]["containers"].append({"name": "other", "image": "busybox", "command": ["sleep", "3600"]})
    cluster.create("pods", pod)
    await running(cluster, "pair")
    await kubectl_for(cluster).run("exec", "pair", "-c", "other", "--", "touch", "/tmp/die")

    def restarts() -> dict[str, int]:
        p = cluster.get("pods", "pair") or {}
        return {cs["name"]: cs["restartCount"] for cs in (p.get("status") or {}).get("containerStatuses") or []}

    # the interactive shell ignores SIGTERM; the SIGKILL after the grace period must reach it in its own session
    await cluster.until(lambda: restarts().get("main", 0) >= 1, what="main restarted")
    assert restarts()["other"] == 0
