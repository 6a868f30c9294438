"""kubectl logs against the local cluster: -f follows until the container ends, --tail, --since, --previous,
--timestamps."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.kubectl import Kubectl

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, pytest.mark.kubectl, requires_root]
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def sh_pod(name: str, script: str, restart: str = "Never") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"restartPolicy": restart, "containers": [{
        "name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}


async def state_of(cluster: Cluster, name: str, state: str) -> None:
    await cluster.until(lambda: (p := cluster.get("pods", name)) and any(
        state in (cs.get("state") or {}) for cs in (p.get("status") or {}).get("containerStatuses") or []),
        what=f"{name} {state}")


async def test_logs_f_follows_new_lines_and_ends_when_the_container_ends(cluster: Cluster) -> None:
    cluster.create("pods", sh_pod("talker", "echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after"))
    await state_of(cluster, "talker", "running")
    follow = await asyncio.create_subprocess_exec(KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "logs", "-f",
                                                  "talker", stdout=asyncio.subprocess.PIPE)
    assert follow.stdout is not None
    try:
        async with asyncio.timeout(20):
            assert await follow.stdout.readline() == b"ready\n"
            await Kubectl(KUBECTL, cluster.kubeconfig).run("exec", "talker", "--", "touch", "/tmp/go")
            assert await follow.stdout.readline() == b"after\n"  # written after kubectl logs -f started
            assert await follow.stdout.read() == b""
            assert await follow.wait() == 0  # the container ended, so did the stream
    finally:
        if follow.returncode is None:
            follow.kill()
            await follow.wait()


async def test_logs_tail_since_and_timestamps_select_and_stamp_lines(cluster: Cluster) -> None:
    pod = sh_pod("lines", "for i in 1 2 3 4; do echo old $i; done; sleep 3; echo new; touch /tmp/new; "
                 "exec sleep 3600")
    pod["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["test", "-e", "/tmp/new"]},
                                                      "periodSeconds": 1}
    cluster.create("pods", pod)
    await cluster.until(lambda: cluster.pod_condition("lines", "Ready") == "True", what="the new line")
    kubectl = Kubectl(KUBECTL, cluster.kubeconfig)
    _, out, _ = await kubectl.run("logs", "lines", "--tail=2")
    assert out == "old 4\nnew\n"
    _, out, _ = await kubectl.run("logs", "lines", "--since=2s")
    assert out == "new\n"  # the old lines were written 3 s before it
    _, out, _ = await kubectl.run("logs", "lines", "--timestamps", "--tail=1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z new\n", out), out
    # kubectl refuses such values itself; other clients get kube's answers
    async with aiohttp.ClientSession() as http:
        url = f"{cluster.server.url}/api/v1/namespaces/default/pods/lines/log"
        async with http.get(url, params={"sinceSeconds": "-1"}) as resp:
            assert resp.status == 422
            assert (await resp.json())["message"] == ('PodLogOptions "lines" is invalid: sinceSeconds: Invalid '
                                                      "value: -1: must be greater than 0")
        async with http.get(url, params={"sinceSeconds": "5", "sinceTime": "2026-01-01T00:00:00Z"}) as resp:
            assert resp.status == 400


async def test_logs_previous_shows_the_run_before_the_restart(cluster: Cluster) -> None:
    cluster.create("pods", sh_pod("twice", "if [ -e /tmp/ran ]; then echo second; exec sleep 3600; fi; "
                                  "touch /tmp/ran; echo first; exit 1", restart="OnFailure"))
    await cluster.until(lambda: (p := cluster.get("pods", "twice")) and any(
        cs.get("restartCount", 0) >= 1 and "running" in (cs.get("state") or {})
        for cs in (p.get("status") or {}).get("containerStatuses") or []), what="twice restarted")
    kubectl = Kubectl(KUBECTL, cluster.kubeconfig)
    _, out, _ = await kubectl.run("logs", "twice", "--previous")
    assert out == "first\n"
    _, out, _ = await kubectl.run("logs", "twice")
    assert out == "second\n"
