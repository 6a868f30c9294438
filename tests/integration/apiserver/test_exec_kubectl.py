"""kubectl 1.37 exec through the API server's pods/exec WebSocket, to a stand-in node that runs commands here.

The simulated node runs no processes, so the provider here runs each command as a local process (no pod
namespaces: those are the node tests' part, tests/localcluster_node/test_exec.py); everything between
kubectl and the provider is the real path: the checks, the upgrade, the channel protocol, the exit status.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from e2e.localcluster.node.attach import AttachSession
from e2e.localcluster.node.exec import ExecSession
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl


class LocalProcesses:
    """An `ExecProvider` that runs exec'd commands on this machine; remembers what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, list[str], bool, bool]] = []

    def check_container(self, namespace: str, name: str, container: str) -> None:
        if name == "elsewhere":
            raise LookupError(f'container not found ("{container}")')

    async def open_exec(self, namespace: str, name: str, *, container: str, command: list[str], stdin: bool,
                        tty: bool) -> ExecSession:
        self.asked.append((namespace, name, container, command, stdin, tty))
        return await ExecSession.start([], command, dict(os.environ), stdin=stdin, tty=tty)

    async def open_attach(self, namespace: str, name: str, *, container: str, stdin: bool,
                          tty: bool) -> AttachSession:
        raise LookupError(f'container not found ("{container}")')


@pytest.fixture
async def server() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    enable_rbac(server)
    server.exec_provider = LocalProcesses()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def kubectl(kubectl_bin: str, server: LocalApiServer, tmp_path: Path) -> Kubectl:
    k = Kubectl(kubectl_bin, server.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "cache")
    await k.run("run", "box", "--image=busybox", "--", "sleep", "3600")
    await k.run("wait", "--for=condition=Ready", "pod/box", "--timeout=20s")
    return k


def provider(server: LocalApiServer) -> Any:
    return server.exec_provider


async def test_exec_prints_output_and_asks_the_node_for_the_pods_only_container(kubectl: Kubectl,
                                                                                server: LocalApiServer) -> None:
    code, out, err = await kubectl.run("exec", "box", "--", "sh", "-c", "echo out; echo err >&2")
    assert (code, out, err) == (0, "out\n", "err\n")
    assert provider(server).asked == [("default", "box", "box", ["sh", "-c", "echo out; echo err >&2"], False, False)]
    assert [(r.method, r.code) for r in server.faults.log if r.subresource == "exec"] == [("GET", 101)]


async def test_a_non_zero_exit_is_kubectls_exit_code_with_kubes_words(kubectl: Kubectl) -> None:
    code, _, err = await kubectl.run("exec", "box", "--", "sh", "-c", "exit 7", ok=False)
    assert code == 7 and err.strip() == "command terminated with exit code 7"


async def test_exec_i_streams_stdin_through_and_its_end_ends_the_command(kubectl: Kubectl) -> None:
    data = "".join(f"line {i}\n" for i in range(20000))  # about 200 KiB, more than any one buffer
    _, out, _ = await kubectl.run("exec", "-i", "box", "--", "cat", stdin=data)
    assert out == data


async def test_a_user_without_create_on_pods_exec_is_refused_before_anything_runs(kubectl: Kubectl,
                                                                                 server: LocalApiServer) -> None:
    await kubectl.run("create", "role", "peek", "--verb=get,list", "--resource=pods,pods/exec")
    await kubectl.run("create", "rolebinding", "peek", "--role=peek", "--user=jane")
    code, _, err = await kubectl.run("exec", "--as=jane", "box", "--", "true", ok=False)
    assert code == 1
    assert err.strip() == ('error: unable to upgrade connection: pods "box" is forbidden: User "jane" cannot create '
                           'resource "pods/exec" in API group "" in the namespace "default"')
    assert provider(server).asked == []
    await kubectl.run("create", "role", "execer", "--verb=create", "--resource=pods/exec")
    await kubectl.run("create", "rolebinding", "execer", "--role=execer", "--user=jane")
    _, out, _ = await kubectl.run("exec", "--as=jane", "box", "--", "echo", "now")
    assert out == "now\n"


async def test_without_a_node_provider_exec_says_so(kubectl: Kubectl, server: LocalApiServer) -> None:
    server.exec_provider = None
    code, _, err = await kubectl.run("exec", "box", "--", "true", ok=False)
    assert code == 1 and "no node agent serves this cluster" in err


async def test_a_container_the_node_does_not_run_is_the_kubelets_not_found_for_exec_and_attach(
        kubectl: Kubectl, server: LocalApiServer) -> None:
    await kubectl.run("run", "elsewhere", "--image=busybox", "--", "sleep", "3600")
    await kubectl.run("wait", "--for=condition=Ready", "pod/elsewhere", "--timeout=20s")
    for command in (["exec", "elsewhere", "--", "true"], ["attach", "elsewhere"]):
        code, _, err = await kubectl.run(*command, ok=False)
        assert code == 1
        assert err.strip().endswith('error: unable to upgrade connection: container not found ("elsewhere")')
    assert provider(server).asked == []


async def test_the_aio_clients_ws_api_client_gets_the_output_over_v4(kubectl: Kubectl, server: LocalApiServer,
                                                                      tmp_path: Path) -> None:
    from kubernetes.aio import client, config
    from kubernetes.aio.stream import WsApiClient

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(tmp_path / "kubeconfig"), client_configuration=configuration)
    async with WsApiClient(configuration=configuration) as ws_api:
        resp = await client.CoreV1Api(api_client=ws_api).connect_get_namespaced_pod_exec(
            "box", "default", command=["sh", "-c", "echo from aio"], stderr=True, stdin=False, stdout=True,
            tty=False)
    assert resp == "from aio\n"  # the generated method decodes the preloaded body
    assert provider(server).asked[-1][3] == ["sh", "-c", "echo from aio"]


async def ws_exec(server: LocalApiServer, command: list[str], *, protocol: str = "v5.channel.k8s.io",
                  **flags: str) -> list[tuple[int, bytes]]:
    """The frames of one exec over a raw WebSocket, as (channel, data), until the server closes."""
    params = [("command", c) for c in command] + list(flags.items())
    frames = []
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{server.url}/api/v1/namespaces/default/pods/box/exec", params=params, protocols=(protocol,)) as ws:
        assert ws.protocol == protocol
        async for msg in ws:
            frames.append((msg.data[0], bytes(msg.data[1:])))
    return frames


async def test_the_wire_an_empty_first_frame_only_the_streams_asked_for_then_the_status(
        kubectl: Kubectl, server: LocalApiServer) -> None:
    frames = await ws_exec(server, ["sh", "-c", "echo err >&2; echo out; exit 2"], stdout="true")
    assert frames[0] == (1, b"")  # the stream is up
    assert b"".join(d for c, d in frames if c == 1) == b"out\n"  # stderr was not asked for: dropped
    assert not [f for f in frames if f[0] == 2]
    channel, status = frames[-1]
    assert channel == 3 and json.loads(status)["details"] == {"causes": [{"reason": "ExitCode", "message": "2"}]}
    frames = await ws_exec(server, ["true"], protocol="v4.channel.k8s.io", stderr="true")
    assert frames == [(2, b""), (3, b'{"metadata":{},"status":"Success"}')]
