"""The command line: `up` and `node` as real processes, and what a crashed node leaves for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.node import LocalNode, NodeConfig, load_kubeconfig
from e2e.localcluster.node.lifeline import die_with_parent
from e2e.localcluster.node.netns import is_running

from .conftest import Cluster, assert_nothing_left, ip, requires_root
from .test_pods import web_pod

pytestmark = [pytest.mark.node, requires_root]
ROOT = Path(__file__).resolve().parents[2]
CRASH = ("lcz", ("10.252.0.0/16", "10.253.0.0/16"))
UP = ("lcu", ("10.254.0.0/16", "10.249.0.0/16"))


@contextlib.asynccontextmanager
async def localcluster(*args: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m e2e.localcluster ARGS` as a child process, stopped (SIGINT, then SIGKILL) on the way out."""
    with log.open("wb") as out:
        # SIGTERM should this test run be killed: the node stops as on Ctrl-C instead of outliving it
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "e2e.localcluster", *args, cwd=ROOT,
                                                    stdout=out, stderr=subprocess.STDOUT,
                                                    preexec_fn=die_with_parent(signal.SIGTERM))
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def kubectl(kubectl_bin: str, kubeconfig: Path, *args: str, stdin: bytes | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(kubeconfig), *args,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


def text_of(path: Path) -> str:
    return path.read_text(errors="replace")


async def until_file_mentions(path: Path, text: str, proc: asyncio.subprocess.Process, timeout_s: float = 30) -> None:
    """The child prints its ready line once; poll its log file for it (bounded)."""
    async with asyncio.timeout(timeout_s):
        while text not in text_of(path):
            assert proc.returncode is None, text_of(path)
            await asyncio.sleep(0.1)


async def test_up_serves_kubectl_apply_wait_and_logs_and_cleans_up_on_interrupt(
        tmp_path: Path, kubectl_bin: str) -> None:
    prefix, (pod_cidr, service_cidr) = UP
    kubeconfig, log = tmp_path / "kubeconfig", tmp_path / "up.log"
    async with localcluster("up", "--kubeconfig", str(kubeconfig), "--port", "0", "--prefix", prefix,
                            "--pod-cidr", pod_cidr, "--service-cidr", service_cidr, "--lock-wait", "120",
                            log=log) as proc:
        await until_file_mentions(log, "Ctrl-C stops", proc)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello"}, "spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "python:3.11",
                                                       "command": ["python", "-c", "print('hello from up')"]}]}}
        await kubectl(kubectl_bin, kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(pod).encode())
        await kubectl(kubectl_bin, kubeconfig, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/hello",
                      "--timeout=30s")
        assert await kubectl(kubectl_bin, kubeconfig, "logs", "hello") == "hello from up\n"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    await assert_nothing_left(prefix, (pod_cidr, service_cidr))


@pytest.fixture
async def apiserver_for_crash() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, service_cidr=CRASH[1][1])
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_crashed_node_leaves_leftovers_that_the_next_node_with_its_prefix_removes(
        apiserver_for_crash: LocalApiServer, tmp_path: Path) -> None:
    prefix, (pod_cidr, service_cidr) = CRASH
    server = apiserver_for_crash
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    cluster = Cluster(server, None, kubeconfig)  # type: ignore[arg-type]
    args = ("node", "--kubeconfig", str(kubeconfig), "--prefix", prefix, "--pod-cidr", pod_cidr,
            "--service-cidr", service_cidr, "--node-name", "crashy", "--lock-wait", "120")
    async with localcluster(*args, log=tmp_path / "node.log") as proc:
        cluster.create("pods", web_pod("crash"))
        await cluster.until(lambda: cluster.pod_condition("crash", "Ready") == "True", what="crash Ready")
        pod: dict[str, Any] = cluster.get("pods", "crash") or {}
        stale_netns = [line.split()[0] for line in ip("netns", "list").splitlines() if line.startswith(prefix)]
        pod_pids = [int(p) for ns in stale_netns for p in ip("netns", "pids", ns).split()]
        proc.kill()  # a crash: no cleanup at all
        await proc.wait()
    assert stale_netns and pod_pids
    node = LocalNode(load_kubeconfig(kubeconfig), NodeConfig(node_name="crashy", prefix=prefix, pod_cidr=pod_cidr,
                                                             service_cidr=service_cidr, lock_wait_s=120))
    try:
        await node.start()
        assert not any(is_running(pid) for pid in pod_pids)  # the old pod's processes are gone
        assert not set(stale_netns) & set(ip("netns", "list").split())
        runner = await cluster.until(lambda: (r := node.agent.runner_for("default", "crash")) and
                                     (c := r.container(None)) and c.view.ready and r, what="crash restarted")
        assert runner.sandbox.ip == pod["status"]["podIP"]  # the pod runs again, on the same node
        async with aiohttp.ClientSession() as http, http.get(f"http://{runner.sandbox.ip}:8080/") as resp:
            assert resp.status == 200
    finally:
        await node.stop()
    await assert_nothing_left(prefix, (pod_cidr, service_cidr))
