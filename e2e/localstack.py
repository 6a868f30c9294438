"""The local cluster with real Ray and the operator: what `make demo` and `make e2e` run.

The operator runs one of two ways (`StackConfig.operator`):
- `cluster` (the default): as the seed guide installs it, `kubectl apply -k manifests/default`: the Deployment
  `ray-system/ray-operator` runs in a pod of the local node, with in-cluster configuration, its ServiceAccount's
  token and the RBAC of `manifests/rbac` enforced by the API server;
- `host`: `rayservice run` as a child process with the admin's kubeconfig (for developing the operator).

Guarantees:
1. `start()` runs `python -m e2e.localcluster up` (API server with TLS, authentication and RBAC, controllers,
   node agent, service proxy, with this stack's prefix and CIDRs) in its own process group with its log under
   `workdir`, waits for the line that this start (not an earlier one: the log is appended) prints once the
   kubeconfig is written, then starts the operator; it returns once the operator is ready, or raises
   `StackError` naming the log to read. The test applications' zips are written first (`e2e.apps.package`).
2. `start_operator()`: in `cluster` mode it applies the kustomization (idempotent) and returns once the
   Deployment is Available and every operator pod is Running and Ready, none of them one that
   `kill_operator()` killed; in `host` mode it starts `rayservice run` and returns once it answers `/readyz`.
   Either way the operator is then ready: its caches synced and it knows who leads.
3. `kill_operator()` ends the operator as a node failure or an OOM kill would, so that nothing of its shutdown
   runs (its Lease is not released): in `cluster` mode every process of every operator pod is SIGKILLed (they
   are found by the pod's network namespace), then the pods are deleted with grace period 0, and the
   Deployment's ReplicaSet makes a replacement; in `host` mode the process group is SIGKILLed.
4. `stop()` (idempotent, safe after a failed `start()`) deletes every RayService and waits (bounded) until their
   pods are gone (unless `delete_first=False`), appends the operator pods' logs to `workdir/operator.log`
   (`cluster` mode: they go with the pods), stops a host operator, then the local cluster (which ends every pod
   left, the operator's too, and removes its namespaces, links and routes), each by its process group: SIGTERM,
   then SIGKILL after a grace period. It stops only what this object started.
   What it started gets SIGTERM when the process that started it ends without calling `stop()` (SIGKILL,
   a crash): the local cluster then stops as on Ctrl-C, its pods and namespaces with it.
5. `get()`/`list()` read the API server over HTTPS with the kubeconfig's CA and credential (cheap enough to
   poll); `kubectl()` runs kubectl 1.37 with this stack's kubeconfig; `operator_log()` is the operator's log
   (`kubectl logs -n ray-system deploy/ray-operator` in `cluster` mode).

Root is needed (network and PID namespaces); `problem()` says why a machine cannot run it, else None.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from e2e.apps.package import package
from e2e.localcluster.node import load_kubeconfig, missing_requirements, ssl_context
from e2e.localcluster.node.lifeline import die_with_parent
from e2e.localcluster.node.netns import pod_names

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CRDS = ROOT / "manifests" / "crd"
KUSTOMIZATION = ROOT / "manifests" / "default"
OPERATOR_NAMESPACE = "ray-system"
OPERATOR_DEPLOYMENT = "ray-operator"
OPERATOR_SELECTOR = "app.kubernetes.io/name=ray-operator"
READY_LINE = "Ctrl-C stops"  # what `python -m e2e.localcluster up` prints once everything runs
T = TypeVar("T")
OperatorMode = Literal["cluster", "host"]
OPERATOR_MODES: tuple[OperatorMode, ...] = ("cluster", "host")


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


def is_pod_ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    return st.get("phase") == "Running" and ready and not pod["metadata"].get("deletionTimestamp")


def is_deployment_available(deployment: dict[str, Any] | None) -> bool:
    """Rolled out and Available, as `kubectl rollout status` waits for it."""
    if not deployment:
        return False
    st, want = deployment.get("status") or {}, int((deployment.get("spec") or {}).get("replicas", 1))
    available = any(c.get("type") == "Available" and c.get("status") == "True" for c in st.get("conditions") or [])
    return (available and int(st.get("observedGeneration") or 0) >= int(deployment["metadata"].get("generation") or 0)
            and int(st.get("updatedReplicas") or 0) == want and int(st.get("availableReplicas") or 0) >= want)


def processes_in_netns(path: Path) -> list[int]:
    """PIDs of the processes whose network namespace is the one bound at `path` (`/run/netns/NAME`)."""
    inode = path.stat().st_ino
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                    pids.append(int(entry))
    return pids


@dataclass(frozen=True)
class StackConfig:
    workdir: Path
    prefix: str = "lcn"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/16"
    port: int = 0  # API server port; 0 picks a free one
    kubeconfig: Path | None = None  # default: workdir/kubeconfig
    operator: OperatorMode = "cluster"

    def __post_init__(self) -> None:
        if self.operator not in OPERATOR_MODES:
            raise ValueError(f"operator must be one of {', '.join(OPERATOR_MODES)}, not {self.operator!r}")


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.workdir = config.workdir
        self.kubeconfig = config.kubeconfig or config.workdir / "kubeconfig"
        self.metrics_port = 0  # host mode only: where `rayservice run` serves /metrics and /readyz
        self.server = ""
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._log_start: dict[str, int] = {}
        self._tls: ssl.SSLContext | None = None
        self._headers: dict[str, str] = {}
        self._killed: set[str] = set()  # uids of operator pods kill_operator() killed

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
        wait_for("the local cluster", lambda: self._alive("localcluster") and READY_LINE in self.new_log(
            "localcluster"), 60)
        self._connect()
        if c.operator == "cluster":
            on_step("deploying the operator (kubectl apply -k manifests/default)")
        else:
            self.kubectl("apply", "-f", str(CRDS))
            on_step("starting the operator (rayservice run)")
        self.start_operator()

    def _connect(self) -> None:
        cfg = load_kubeconfig(self.kubeconfig)
        self.server = cfg.server
        tls = ssl_context(cfg)
        self._tls = tls if isinstance(tls, ssl.SSLContext) else None
        self._headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}

    def start_operator(self) -> None:
        """Guarantee 2: start the operator (again, after `kill_operator`) and wait until it is ready."""
        if self.config.operator == "host":
            self.metrics_port = free_port()
            self._spawn("operator", [str(BIN / "rayservice"), "run", "--kubeconfig", str(self.kubeconfig),
                                     "--metrics-addr", f"127.0.0.1:{self.metrics_port}", "--log-format", "console"])
            wait_for("the operator", lambda: self._alive("operator") and urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=1).status == 200, 60)
            return
        self.kubectl("apply", "-k", str(KUSTOMIZATION))
        try:
            wait_for("the operator Deployment Available with every pod ready", self._operator_ready, 180)
        except StackError as exc:
            raise StackError(f"{exc}; the operator's pods: {self._operator_pods_summary()}") from None

    def _operator_ready(self) -> bool:
        self._alive("localcluster")
        pods = self.operator_pods()
        return (is_deployment_available(self.get(self._deployment_path())) and bool(pods)
                and all(is_pod_ready(p) and p["metadata"]["uid"] not in self._killed for p in pods))

    @property
    def operator_running(self) -> bool:
        if self.config.operator == "host":
            return self._running("operator")
        with contextlib.suppress(OSError, StackError):
            return any(is_pod_ready(p) and p["metadata"]["uid"] not in self._killed for p in self.operator_pods())
        return False

    def kill_operator(self) -> None:
        """Guarantee 3: no shutdown of the operator runs."""
        if self.config.operator == "host":
            proc = self._procs.pop("operator", None)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return
        pods = self.operator_pods()
        for pod in pods:
            meta = pod["metadata"]
            netns = Path("/run/netns") / pod_names(self.config.prefix, meta["namespace"], meta["name"],
                                                   meta["uid"]).netns
            with contextlib.suppress(OSError):
                for pid in processes_in_netns(netns):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self._killed.add(meta["uid"])
        for pod in pods:  # as a node that is gone: the pod is removed at once and the ReplicaSet replaces it
            meta = pod["metadata"]
            with contextlib.suppress(StackError):
                self._request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                              {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}})

    def operator_pods(self) -> list[dict[str, Any]]:
        """The operator Deployment's pods that are not being deleted."""
        query = urllib.parse.urlencode({"labelSelector": OPERATOR_SELECTOR})
        return [p for p in self.list(f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/pods?{query}")
                if not p["metadata"].get("deletionTimestamp")]

    def operator_log(self) -> str:
        if self.config.operator == "host":
            return self.log("operator")
        return self.kubectl("logs", "-n", OPERATOR_NAMESPACE, f"deploy/{OPERATOR_DEPLOYMENT}")

    def _save_operator_logs(self) -> None:
        with (self.workdir / "operator.log").open("a") as out, contextlib.suppress(
                StackError, OSError, subprocess.SubprocessError):
            for pod in self.list(f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/pods"):
                name = pod["metadata"]["name"]
                out.write(f"---- kubectl logs -n {OPERATOR_NAMESPACE} {name}\n")
                out.write(self.kubectl("logs", "-n", OPERATOR_NAMESPACE, name, timeout_s=20))

    def _operator_pods_summary(self) -> str:
        with contextlib.suppress(OSError, StackError):
            return self.kubectl("get", "deploy,pods", "-n", OPERATOR_NAMESPACE, "-o", "wide").strip() or "none"
        return "unknown (the API server does not answer)"

    def _deployment_path(self) -> str:
        return f"/apis/apps/v1/namespaces/{OPERATOR_NAMESPACE}/deployments/{OPERATOR_DEPLOYMENT}"

    def stop(self, *, delete_first: bool = True, timeout_s: float = 90.0) -> None:
        if delete_first and self._running("localcluster") and self.server:
            with contextlib.suppress(StackError, OSError, subprocess.SubprocessError):
                self.delete_all(timeout_s=timeout_s)
        if self.config.operator == "cluster" and self._running("localcluster") and self.server:
            self._save_operator_logs()
        for name in ("operator", "localcluster"):
            self._stop(name, grace_s=60.0 if name == "localcluster" else 15.0)

    def delete_all(self, *, timeout_s: float = 90.0) -> None:
        """Delete every RayService and RayCluster, then wait until no pod but the operator's is left."""
        self.kubectl("delete", "rayservices.ray.io,rayclusters.ray.io", "--all", "--all-namespaces", "--wait=false",
                     timeout_s=60)
        wait_for("every pod gone", lambda: not [p for p in self.list("/api/v1/pods")
                                                if p["metadata"]["namespace"] != OPERATOR_NAMESPACE],
                 timeout_s, interval_s=0.5)

    def _spawn(self, name: str, argv: list[str]) -> None:
        path = self.workdir / f"{name}.log"
        self._log_start[name] = path.stat().st_size if path.exists() else 0
        with path.open("ab") as out:
            # SIGTERM when this process ends, however it ends (a SIGKILLed demo or test run): the local cluster
            # then stops its pods and removes its namespaces as on Ctrl-C
            self._procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                                 preexec_fn=die_with_parent(signal.SIGTERM))

    def _running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def _alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is None:
            return False
        if proc.poll() is not None:
            raise StackError(f"{name} exited with {proc.returncode}; see {self.workdir / (name + '.log')}:\n"
                             + self.new_log(name)[-2000:])
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

    def new_log(self, name: str) -> str:
        """What the process `name` started last wrote to its (appended) log."""
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(self._log_start.get(name, 0))
            return f.read().decode(errors="replace")

    # ---- reads -----------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """One call to the API server with the kubeconfig's credential; None when it is not found."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self._headers, "Accept": "application/json",
                   **({"Content-Type": "application/json"} if data is not None else {})}
        request = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self._tls) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if method == "GET":
                raise
            raise StackError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None

    def get(self, path: str) -> dict[str, Any] | None:
        """GET `path` from the API server; None when it is not found."""
        return self._request("GET", path)

    def list(self, path: str) -> list[dict[str, Any]]:
        return list((self.get(path) or {}).get("items") or [])

    def kubectl(self, *args: str, stdin: str | None = None, timeout_s: float = 60.0) -> str:
        result = subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args], input=stdin,
                                capture_output=True, text=True, timeout=timeout_s, check=False)
        if result.returncode != 0:
            raise StackError(f"kubectl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout
