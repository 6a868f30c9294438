"""The local cluster with real Ray and the operator, as child processes: what `make demo` and `make e2e` run.

Guarantees:
1. `start()` runs, each in its own process group with its log under `workdir`: `python -m e2e.localcluster up`
   (API server, controllers, node agent, service proxy, with this stack's prefix and CIDRs), then installs the
   CRDs, then `rayservice run`; it returns once the operator answers `/readyz`, or raises `StackError` naming
   the log to read. The test applications' zips are written first (`e2e.apps.package`).
2. `stop()` (idempotent, safe after a failed `start()`) deletes every RayService and waits (bounded) until
   their pods are gone (unless `delete_first=False`), stops the operator, then the local cluster (which kills
   the pods left and removes its namespaces, links and routes), each by its process group: SIGTERM, then
   SIGKILL after a grace period. It stops only what this object started.
3. `kill_operator()` SIGKILLs the operator's process group (nothing of its shutdown runs); `start_operator()`
   starts it again and returns once it is ready; its log is appended to the same file.
4. `get()`/`list()` read the API server over plain HTTP (cheap enough to poll); `kubectl()` runs kubectl 1.37
   with this stack's kubeconfig.

Root is needed (network and PID namespaces); `problem()` says why a machine cannot run it, else None.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from e2e.apps.package import package
from e2e.localcluster.node import missing_requirements

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CRDS = ROOT / "manifests" / "crd"
T = TypeVar("T")


class StackError(Exception):
    pass


def problem() -> str | None:
    """Why this machine cannot run the stack (not root, tools missing), or None."""
    return missing_requirements("up --kubeconfig PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float, interval_s: float = 0.25) -> T:
    """Poll `check()` until it returns something truthy; OSError counts as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not reached within {timeout_s:.0f} s")
        time.sleep(interval_s)


@dataclass(frozen=True)
class StackConfig:
    workdir: Path
    prefix: str = "lcn"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/16"
    port: int = 0  # API server port; 0 picks a free one
    kubeconfig: Path | None = None  # default: workdir/kubeconfig


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.workdir = config.workdir
        self.kubeconfig = config.kubeconfig or config.workdir / "kubeconfig"
        self.metrics_port = 0
        self.server = ""
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # ---- lifecycle -------------------------------------------------------------------------------------------

    def start(self, *, on_step: Callable[[str], None] = lambda _: None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.unlink(missing_ok=True)
        package()
        on_step("starting the local cluster (API server, node agent, service proxy)")
        c = self.config
        self._spawn("localcluster", [sys.executable, "-m", "e2e.localcluster", "up", "--kubeconfig",
                                     str(self.kubeconfig), "--port", str(c.port), "--pod-cidr", c.pod_cidr,
                                     "--service-cidr", c.service_cidr, "--prefix", c.prefix])
        wait_for("the local cluster", lambda: self._alive("localcluster") and "Ctrl-C stops" in self.log(
            "localcluster"), 60)
        self.server = str(yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
        self.kubectl("apply", "-f", str(CRDS))
        on_step("starting the operator (rayservice run)")
        self.start_operator()

    def start_operator(self) -> None:
        """Start `rayservice run` (again, after `kill_operator`) and wait until it is ready; its log is appended."""
        self.metrics_port = free_port()
        self._spawn("operator", [str(BIN / "rayservice"), "run", "--kubeconfig", str(self.kubeconfig),
                                 "--metrics-addr", f"127.0.0.1:{self.metrics_port}", "--log-format", "console"])
        wait_for("the operator", lambda: self._alive("operator") and urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=1).status == 200, 60)

    @property
    def operator_running(self) -> bool:
        return self._running("operator")

    def kill_operator(self) -> None:
        """SIGKILL the operator's process group, as a node failure or an OOM kill would: no shutdown runs."""
        proc = self._procs.pop("operator", None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self, *, delete_first: bool = True, timeout_s: float = 90.0) -> None:
        if delete_first and self._running("localcluster") and self.server:
            with contextlib.suppress(StackError, OSError, subprocess.SubprocessError):
                self.delete_all(timeout_s=timeout_s)
        for name in ("operator", "localcluster"):
            self._stop(name, grace_s=60.0 if name == "localcluster" else 15.0)

    def delete_all(self, *, timeout_s: float = 90.0) -> None:
        """Delete every RayService and RayCluster, then wait until no pod is left."""
        self.kubectl("delete", "rayservices.ray.io,rayclusters.ray.io", "--all", "--all-namespaces", "--wait=false",
                     timeout_s=60)
        wait_for("every pod gone", lambda: not self.list("/api/v1/pods"), timeout_s, interval_s=0.5)

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.workdir / f"{name}.log").open("ab") as out:
            self._procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                                 stdin=subprocess.DEVNULL, start_new_session=True)

    def _running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def _alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is None:
            return False
        if proc.poll() is not None:
            raise StackError(f"{name} exited with {proc.returncode}; see {self.workdir / (name + '.log')}:\n"
                             + self.log(name)[-2000:])
        return True

    def _stop(self, name: str, grace_s: float) -> None:
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ---- reads -----------------------------------------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any] | None:
        """GET `path` from the API server; None when it is not found."""
        try:
            with urllib.request.urlopen(self.server + path, timeout=10) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, path: str) -> list[dict[str, Any]]:
        return list((self.get(path) or {}).get("items") or [])

    def kubectl(self, *args: str, stdin: str | None = None, timeout_s: float = 60.0) -> str:
        result = subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args], input=stdin,
                                capture_output=True, text=True, timeout=timeout_s, check=False)
        if result.returncode != 0:
            raise StackError(f"kubectl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout
