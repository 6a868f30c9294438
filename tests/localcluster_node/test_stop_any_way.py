"""The demo and the local cluster stop however they are stopped, and a second run works (real processes, root).

- `make demo` twice in a row, each with the same log folder and kubeconfig path (`--no-sample
  --exit-when-ready`: the local cluster and the operator Deployment, then a clean stop);
- a piped demo (`demo | tee`) stopped with SIGINT to the whole process group, as Ctrl-C in a terminal does:
  `tee` dies too, the demo's writes then fail, and it still stops everything;
- a SIGKILLed demo: the local cluster it started gets SIGTERM from the kernel and stops as on Ctrl-C;
- a SIGKILLed `python -m e2e.localcluster up`: its pods' processes die with it at once; the namespaces and
  links it could not remove are removed by the next `up` with its prefix;
- a port in use is named with the flag that picks another; a clean stop logs no traceback; a preStop handler
  that ends its own container (a Ray worker's `ray stop`) is no failure.

Each run has its own prefix and CIDRs and is checked to leave no process, namespace, link, route or directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
import yaml

from e2e.localcluster.node.lifeline import die_with_parent
from e2e.localstack import processes_in_netns

from .conftest import Cluster, assert_nothing_left, ip, leftovers, requires_root
from .test_cli import localcluster, until_file_mentions
from .test_pods import web_pod

pytestmark = [pytest.mark.node, requires_root]
ROOT = Path(__file__).resolve().parents[2]
UP_KILL = ("lck", ("10.236.0.0/16", "10.102.0.0/16"))
DEMO = ("lcr", ("10.238.0.0/16", "10.104.0.0/16"))
READY = "Ctrl-C stops everything."


def demo_argv(tmp_path: Path, *extra: str) -> list[str]:
    prefix, (pod_cidr, service_cidr) = DEMO
    return [sys.executable, "-m", "e2e.demo", "--no-sample", "--port", "0", "--kubeconfig",
            str(tmp_path / "kubeconfig"), "--prefix", prefix, "--pod-cidr", pod_cidr, "--service-cidr",
            service_cidr, *extra]


def demo_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(tmp_path),
            "HOME": str(tmp_path)}


def processes_with_args(*words: str) -> list[int]:
    """PIDs whose command line holds every one of `words` as arguments (not this test process)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            args = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
            if all(w in args for w in words):
                found.append(int(entry))
    return found


def pod_processes(prefix: str) -> list[int]:
    pids: list[int] = []
    for name in ip("netns", "list").split():
        if name.startswith(prefix + "-"):
            with contextlib.suppress(OSError):
                pids += processes_in_netns(Path("/run/netns") / name)
    return pids


def wait_gone(pids: Iterable[int], timeout_s: float) -> list[int]:
    """Wait (on pidfds, no polling) until every one of `pids` has exited; return those still alive."""
    fds = {}
    for pid in set(pids):
        with contextlib.suppress(ProcessLookupError):
            fds[pid] = os.pidfd_open(pid)
    deadline = time.monotonic() + timeout_s
    try:
        while fds and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(fds.values()), [], [], left)
            for pid in [p for p, fd in fds.items() if fd in ready]:
                os.close(fds.pop(pid))
        return sorted(fds)
    finally:
        for fd in fds.values():
            os.close(fd)


async def open_when_listening(host: str, port: int, timeout_s: float = 20.0) -> asyncio.StreamWriter:
    """A TCP connection to host:port, retried on every refusal until the listener is there."""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                _, writer = await asyncio.open_connection(host, port)
                return writer
            except OSError:
                await asyncio.sleep(0.2)


def assert_demo_left_nothing(tmp_path: Path) -> None:
    prefix, cidrs = DEMO
    assert processes_with_args("--prefix", prefix) == []
    assert leftovers(prefix, cidrs) == []
    log = (tmp_path / "rayservice-demo" / "localcluster.log").read_text(errors="replace")
    assert "Traceback" not in log and "prestop_failed" not in log, log[-3000:]


@contextlib.asynccontextmanager
async def demo_session(argv: list[str], env: dict[str, str], out: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A shell running `argv` (a pipeline, say) in a session of its own; what is left is killed on the way out."""
    with out.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                                    preexec_fn=die_with_parent(signal.SIGTERM))
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        await proc.wait()
        wait_gone(processes_with_args("--prefix", DEMO[0]), 120)


async def test_make_demo_runs_twice_in_a_row_with_the_same_log_folder_and_kubeconfig(tmp_path: Path) -> None:
    for run in (1, 2):
        result = await asyncio.to_thread(
            subprocess.run, demo_argv(tmp_path, "--exit-when-ready"), cwd=ROOT, env=demo_env(tmp_path),
            capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, f"run {run}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        lines = result.stdout.splitlines()
        assert "demo: the local cluster and the operator run. Try:" in lines, result.stdout
        deployments = lines.index("$ kubectl get deployments -n ray-system")
        assert lines[deployments + 2].split()[:2] == ["ray-operator", "1/1"], lines[deployments:deployments + 3]
        assert lines[-1] == "demo: stopped"
        assert_demo_left_nothing(tmp_path)
    log = (tmp_path / "rayservice-demo" / "localcluster.log").read_text()
    assert log.count("Ctrl-C stops") == 2  # one appended log, each run read only its own ready line


async def test_ctrl_c_stops_a_piped_demo_and_everything_it_started(tmp_path: Path) -> None:
    shown = tmp_path / "demo.log"
    shown.touch()  # `tee` makes it once the shell runs
    command = " ".join(demo_argv(tmp_path)) + f" | tee {shown}"
    async with demo_session(["/bin/sh", "-c", command], demo_env(tmp_path), tmp_path / "sh.out") as shell:
        await until_file_mentions(shown, READY, shell, timeout_s=240)
        (demo,) = processes_with_args("e2e.demo", "--prefix", DEMO[0])
        (up,) = processes_with_args("e2e.localcluster", "up", "--prefix", DEMO[0])
        pods = pod_processes(DEMO[0])
        assert pods, "the operator's pod runs"
        os.killpg(shell.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group, `tee` included
        assert wait_gone([demo, up, *pods], 120) == []
    assert_demo_left_nothing(tmp_path)
    errors = (tmp_path / "sh.out").read_text(errors="replace")  # the demo's stderr, not piped
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    # the demo itself stopped the stack (not only the kernel's signal to its children): it kept the operator's logs
    kept = (tmp_path / "rayservice-demo" / "operator.log").read_text()
    assert "---- kubectl logs -n ray-system ray-operator-" in kept


async def test_a_sigkilled_demo_leaves_nothing_behind(tmp_path: Path) -> None:
    shown = tmp_path / "demo.log"
    async with demo_session(demo_argv(tmp_path), demo_env(tmp_path), shown) as demo:
        await until_file_mentions(shown, READY, demo, timeout_s=240)
        (up,) = processes_with_args("e2e.localcluster", "up", "--prefix", DEMO[0])
        pods = pod_processes(DEMO[0])
        assert pods, "the operator's pod runs"
        demo.kill()
        await demo.wait()
        assert wait_gone([up, *pods], 120) == []  # the kernel's SIGTERM stopped the local cluster as Ctrl-C does
    assert_demo_left_nothing(tmp_path)
    assert "localcluster: node" in (tmp_path / "rayservice-demo" / "localcluster.log").read_text()


async def test_a_sigkilled_up_takes_its_pods_along_and_the_next_up_removes_what_is_left(
        tmp_path: Path, kubectl_bin: str) -> None:
    prefix, (pod_cidr, service_cidr) = UP_KILL
    kubeconfig = tmp_path / "kubeconfig"
    args = ("up", "--kubeconfig", str(kubeconfig), "--port", "0", "--prefix", prefix, "--pod-cidr", pod_cidr,
            "--service-cidr", service_cidr, "--lock-wait", "120")
    async with localcluster(*args, log=tmp_path / "up1.log") as up:
        await until_file_mentions(tmp_path / "up1.log", "Ctrl-C stops", up)
        pod = {"apiVersion": "v1", "kind": "Pod", **web_pod("web")}
        run = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(kubeconfig), "apply", "-f", "-",
                                                   stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
        await asyncio.wait_for(run.communicate(yaml.safe_dump(pod).encode()), 60)
        wait = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(kubeconfig), "wait",
                                                    "--for=condition=Ready", "pod/web", "--timeout=60s",
                                                    stdout=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(wait.wait(), 90) == 0
        stale = [n for n in ip("netns", "list").split() if n.startswith(prefix + "-")]
        pods = pod_processes(prefix)
        assert stale and pods
        up.kill()  # no cleanup of its own at all
        await up.wait()
        assert wait_gone(pods, 15) == []  # the pod's processes died with the node agent, before any next start
    assert set(stale) <= set(ip("netns", "list").split())  # what only a running node can remove is still there
    async with localcluster(*args, log=tmp_path / "up2.log") as again:
        await until_file_mentions(tmp_path / "up2.log", "Ctrl-C stops", again)
        assert not set(stale) & set(ip("netns", "list").split())
        # a connection through the service proxy that is open when the node stops (to the API server, which
        # outlives the proxy) ends quietly
        get = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(kubeconfig), "get", "service",
                                                   "kubernetes", "-o", "jsonpath={.spec.clusterIP}",
                                                   stdout=asyncio.subprocess.PIPE)
        address = (await asyncio.wait_for(get.communicate(), 60))[0].decode()
        held = await open_when_listening(address, 443)
        again.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(again.wait(), 60) == 0
    held.close()
    await assert_nothing_left(prefix, (pod_cidr, service_cidr))
    log = (tmp_path / "up2.log").read_text()
    assert "Traceback" not in log and "CancelledError" not in log, log


async def test_a_port_in_use_is_named_with_the_flag_that_picks_another(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        argv = demo_argv(tmp_path)
        argv[argv.index("--port") + 1] = port
        demo = await asyncio.to_thread(subprocess.run, argv, cwd=ROOT, env=demo_env(tmp_path), capture_output=True,
                                       text=True, timeout=60, check=False)
        assert demo.returncode == 1 and demo.stdout == ""
        assert demo.stderr.startswith(f"demo: port {port} on 127.0.0.1 is not free ("), demo.stderr
        assert "pick another with --port (0 picks a free one)" in demo.stderr
        prefix, (pod_cidr, service_cidr) = UP_KILL
        up = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "e2e.localcluster", "up", "--kubeconfig", str(tmp_path / "kc"),
                             "--port", port, "--prefix", prefix, "--pod-cidr", pod_cidr, "--service-cidr",
                             service_cidr], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert up.returncode == 1
        assert up.stderr.strip() == (f"localcluster: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                     "pick another port with --port (0 picks a free one)")
    await assert_nothing_left(prefix, (pod_cidr, service_cidr))


async def test_a_prestop_handler_that_ends_its_own_container_is_not_a_failure(
        cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    # the handler stops the container's process (as `ray stop` ends a worker's raylet), then lingers
    stop = ("import os, signal, time\n"
            "for p in os.listdir('/proc'):\n"
            "    if p.isdigit() and (b'work' + b'er-loop') in open(f'/proc/{p}/cmdline', 'rb').read():\n"
            "        os.kill(int(p), signal.SIGTERM)\n"
            "time.sleep(30)\n")
    pod = {"metadata": {"name": "worker"}, "spec": {"terminationGracePeriodSeconds": 20, "containers": [{
        "name": "ray-worker", "image": "python:3.11",
        "command": ["python", "-c", "import time\nwhile True: time.sleep(1)", "worker-loop"],
        "lifecycle": {"preStop": {"exec": {"command": ["python", "-c", stop]}}}}]}}
    cluster.create("pods", pod)
    await cluster.until(lambda: (cluster.get("pods", "worker") or {}).get("status", {}).get("phase") == "Running",
                        what="worker Running")
    caplog.set_level(logging.DEBUG, logger="e2e.localcluster.node.pods")
    started = time.monotonic()
    cluster.server.api.delete(cluster.rt("pods"), "default", "worker", {})
    await cluster.until(lambda: cluster.get("pods", "worker") is None, timeout_s=30, what="worker gone")
    assert time.monotonic() - started < 15  # the pod went with its container, not at the end of the grace period
    messages = [r.getMessage() for r in caplog.records if r.name == "e2e.localcluster.node.pods"]
    assert not [m for m in messages if m.startswith("prestop_failed")], messages
    assert [m for m in messages if m.startswith("prestop_ended_with_container pod=")], messages
