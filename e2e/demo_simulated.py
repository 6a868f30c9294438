"""The simulated demo (`make demo-sim`, `python -m e2e.demo --simulated`): no root, no Ray processes.

It starts, each as its own process: the embedded API server with a simulated node (pods
turn Running/Ready at once; no container runs), one fake Ray dashboard that answers for every Ray head,
and the operator (`rayservice run`). It installs the CRDs, applies the sample RayService, waits until it is
Running, prints what kubectl shows, and keeps everything up until Ctrl-C; then it stops what it started,
by PID.

Ray here is simulated (`e2e/fakeray`): the Serve REST API behaves like Ray 2.60's, but no Ray process runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from e2e.localcluster.node import load_kubeconfig, ssl_context

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1_rayservice.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: {what} did not come up within {timeout_s:.0f} s")


def _healthy(kubeconfig: Path) -> bool:
    """/healthz of the API server the kubeconfig names, over its TLS with its CA."""
    config = load_kubeconfig(kubeconfig)
    context = ssl_context(config)
    with urllib.request.urlopen(config.server + "/healthz", timeout=1,
                                context=context if isinstance(context, ssl.SSLContext) else None) as resp:
        return int(resp.status) == 200


def run(args: argparse.Namespace) -> int:
    """Run the simulated demo with `e2e.demo`'s arguments (port, kubeconfig, exit_when_ready)."""
    kubeconfig = Path(args.kubeconfig)
    kubeconfig.unlink(missing_ok=True)
    ray_port, metrics_port = _free_port(), _free_port()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "rayservice-demo"
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, cmd: list[str]) -> None:
        with (logs / f"{name}.log").open("wb") as out:
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT))

    def kubectl(*kargs: str) -> str:
        return subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig), *kargs], check=True,
                              capture_output=True, text=True, timeout=60).stdout

    try:
        start("apiserver", [sys.executable, "-m", "e2e.localcluster", "apiserver", "--port", str(args.port),
                            "--kubeconfig", str(kubeconfig), "--simulate-node"])
        _wait("the API server", lambda: kubeconfig.exists() and _healthy(kubeconfig), 30)
        start("fakeray", [sys.executable, "-m", "e2e.fakeray", "--host", "0.0.0.0", "--port", str(ray_port),
                          "--deploy-s", "3"])
        print(kubectl("apply", "-f", str(ROOT / "manifests" / "crd")), end="")
        start("operator", [str(BIN / "rayservice"), "run", "--kubeconfig", str(kubeconfig), "--metrics-addr",
                           f"127.0.0.1:{metrics_port}", "--dashboard-port", str(ray_port), "--log-format", "console"])
        _wait("the operator", lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{metrics_port}/readyz", timeout=1).status == 200, 60)
        print(kubectl("apply", "-f", str(SAMPLE)), end="")

        def serving() -> bool:
            obj = json.loads(kubectl("get", "rayservice", "rayservice-sample", "-o", "json"))
            return (obj.get("status") or {}).get("serviceStatus") == "Running"

        _wait("the sample RayService", serving, 120)
        for what in ("rayservices", "rayclusters", "pods", "services"):
            print(f"\n$ kubectl get {what}\n" + kubectl("get", what), end="")
        print(f"\nThe sample RayService is Running (Ray simulated). Try:\n"
              f"  {BIN / 'kubectl'} --kubeconfig {kubeconfig} describe rayservice rayservice-sample\n"
              f"Operator metrics: http://127.0.0.1:{metrics_port}/metrics   logs: {logs}/")
        if not args.exit_when_ready:
            print("Ctrl-C stops everything.")
            # blocked only now, after the children started: a blocked mask would be inherited by them
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

