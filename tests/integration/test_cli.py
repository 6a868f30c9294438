"""``python -m rayservice run`` as a process: against an API server in another process, SIGTERM, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from rayservice.kube import LEASES, RAY_CLUSTERS, KubeClient, Resource

DEADLINE_S = 20.0
ROOT = Path(__file__).resolve().parents[2]
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
SAMPLE_CLUSTER = yaml.safe_load((ROOT / "manifests" / "samples" / "ray.io_v1_raycluster.yaml").read_text())


async def spawn(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    """Wait for the process to exit (within the deadline) and return its code, stdout and stderr."""
    async with asyncio.timeout(DEADLINE_S):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def ensure_ended(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.communicate()


@contextlib.asynccontextmanager
async def external_apiserver(tmp_path: Path, *, crds: bool) -> AsyncIterator[Path]:
    """An embedded API server with a simulated node in its own process, as ``make run`` starts it."""
    kubeconfig = tmp_path / "kubeconfig"
    server = await spawn(
        "-m", "e2e.localcluster", "apiserver", "--port", "0", "--kubeconfig", str(kubeconfig), "--simulate-node"
    )
    try:
        assert server.stdout is not None
        async with asyncio.timeout(DEADLINE_S):
            line = (await server.stdout.readline()).decode()
        assert line.startswith("localcluster: API server on"), line
        if crds:
            async with await KubeClient.from_kubeconfig(kubeconfig) as client:
                for path in sorted((ROOT / "manifests" / "crd").glob("*.yaml")):
                    for doc in yaml.safe_load_all(path.read_text()):
                        if doc:
                            await client.create(CRDS, doc)
        yield kubeconfig
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        await finish(server)


@pytest.fixture
async def external_kubeconfig(tmp_path: Path) -> AsyncIterator[Path]:
    """An API server in another process, serving the CRDs."""
    async with external_apiserver(tmp_path, crds=True) as kubeconfig:
        yield kubeconfig


async def ready_status(client: KubeClient, name: str) -> dict[str, Any]:
    """The RayCluster's status once it is ``ready``, awaited on a watch."""
    selector = f"metadata.name={name}"
    async with asyncio.timeout(DEADLINE_S):
        stream = client.watch(RAY_CLUSTERS, namespace="default", field_selector=selector)
        async with contextlib.aclosing(stream) as changes:
            async for change in changes:
                status: dict[str, Any] = change["object"].get("status") or {}
                if status.get("state") == "ready":
                    return status
    raise AssertionError(f"the watch of {name} ended before it was ready")


class LogReader:
    """The operator's JSON log lines, read as they come."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream
        self.records: list[dict[str, Any]] = []

    async def until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                line = await self._stream.readline()
                assert line, f"the operator exited; it logged {self.records}"
                record: dict[str, Any] = json.loads(line)
                self.records.append(record)
                if predicate(record):
                    return record


def event(name: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda record: record.get("event") == name and all(record.get(k) == v for k, v in fields.items())


async def test_run_reconciles_serves_probes_and_exits_0_after_a_clean_shutdown_on_sigterm(
    external_kubeconfig: Path,
) -> None:
    operator = await spawn(
        "-m", "rayservice", "run",
        "--kubeconfig", str(external_kubeconfig),
        "--metrics-addr", "127.0.0.1:0",
        "--leader-elect", "--leader-election-namespace", "default",
        "--workers", "2",
        env={"POD_NAME": "rayservice-operator-0"},
    )  # fmt: skip
    try:
        assert operator.stderr is not None
        logs = LogReader(operator.stderr)
        port = (await logs.until(event("health_server_listening")))["port"]
        await logs.until(event("controllers_started"))
        async with await KubeClient.from_kubeconfig(external_kubeconfig) as client:
            await client.create(RAY_CLUSTERS, SAMPLE_CLUSTER, namespace="default")
            created = await logs.until(event("pod_created", key="default/raycluster-sample", role="head"))
            assert created["controller"] == "raycluster" and created["reconcile_id"]
            status = await ready_status(client, "raycluster-sample")
            assert (status["desiredWorkerReplicas"], status["readyWorkerReplicas"]) == (2, 2)
            async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
                async with http.get("/readyz") as resp:
                    assert resp.status == 200
                async with http.get("/metrics") as resp:
                    text = await resp.text()
            assert 'controller_runtime_reconcile_total{controller="raycluster",result="requeue_after"}' in text
            assert 'kuberay_cluster_info{name="raycluster-sample",namespace="default",owner_kind="None"} 1.0' in text
            assert 'leader_election_master_status{name="rayservice-operator"} 1.0' in text

            operator.send_signal(signal.SIGTERM)
            code, _, rest = await finish(operator)
            lease = await client.get(LEASES, "rayservice-operator", namespace="default")
        events = [r["event"] for r in logs.records] + [json.loads(line)["event"] for line in rest.splitlines()]
        assert code == 0
        assert events[-3:] == ["signal_received", "leader_election_released", "manager_stopped"]
        assert "holderIdentity" not in lease["spec"]  # released: a successor need not wait for it to expire
    finally:
        await ensure_ended(operator)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["run", "--workers", "zero"], "argument --workers: 'zero' is not a positive integer"),
        (["run", "--metrics-addr", "8080"], "argument --metrics-addr"),
        (["walk"], "invalid choice: 'walk'"),
    ],
)
async def test_a_bad_flag_exits_2_with_a_one_line_error(argv: list[str], message: str) -> None:
    code, out, err = await finish(await spawn("-m", "rayservice", *argv))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("rayservice") and message in err, err


async def test_an_unreachable_api_server_exits_1_with_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    code, _, err = await finish(await spawn("-m", "rayservice", "run", "--kubeconfig", str(kubeconfig)))
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith("rayservice: error: cannot reach the Kubernetes API server") and str(port) in err


async def test_an_api_server_without_the_crds_exits_1_saying_to_install_them(tmp_path: Path) -> None:
    async with external_apiserver(tmp_path, crds=False) as kubeconfig:
        code, _, err = await finish(await spawn("-m", "rayservice", "run", "--kubeconfig", str(kubeconfig)))
    assert code == 1
    assert err == (
        "rayservice: error: the API server does not serve ray.io/v1 RayClusters: install the CRDs "
        "(kubectl apply -f manifests/crd)\n"
    )


async def test_a_missing_kubeconfig_exits_1_with_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    code, _, err = await finish(await spawn("-m", "rayservice", "run", "--kubeconfig", str(missing)))
    assert code == 1
    assert err == f"rayservice: error: kubeconfig {missing} does not exist\n"


async def test_a_metrics_address_in_use_exits_1_with_a_one_line_error(external_kubeconfig: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        operator = await spawn(
            "-m", "rayservice", "run", "--kubeconfig", str(external_kubeconfig), "--metrics-addr", f"127.0.0.1:{port}"
        )
        code, _, err = await finish(operator)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("rayservice: error: cannot serve metrics and probes on 127.0.0.1:") and str(port) in line
