"""The node agent (a local kubelet): a client of any API server (HTTPS or HTTP) that runs the pods bound to it.

Guarantees:
1. It registers its Node (Ready, InternalIP = the bridge gateway, capacity of this machine) before it takes
   any pod, and patches the Node status every `heartbeat_s`.
2. It binds every pod without a node to its node (`pods/NAME/binding`) and runs each non-terminal pod bound
   there in its own sandbox (pods.py); the status it reports (`pods/NAME/status`, merge patch) is written
   only when it differs from the last one it wrote.
3. A pod with a deletionTimestamp gets preStop, SIGTERM, its grace period (deletionGracePeriodSeconds) and
   SIGKILL; once its processes and namespaces are gone the agent deletes it with grace 0 (uid precondition).
   A pod removed from the API (a forced delete, or missing after a re-list) is killed at once.
4. Every pod's hosts file lists the cluster's Services (dns.py) and is rewritten when they change; so
   `kubernetes.default.svc` (and `kubernetes.default`, `kubernetes.default.svc.cluster.local`) resolve in pods.
   Containers get the service variables of the Services known when they start (KUBERNETES_SERVICE_HOST, ...).
5. `check_container`, `open_exec` and `open_attach` serve pods/exec and pods/attach (exec.py, attach.py) for a
   container that runs here, else raise LookupError with the kubelet's `container not found ("NAME")`.
6. `stop()` ends every pod (grace at most `shutdown_grace_s`) and every task; run() then returns.

Caller must: set up the NodeNetwork first (stack.py does) and keep ApiClient open while run() runs.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from . import dns
from .attach import AttachSession
from .client import ApiClient, ApiError, reflect
from .dns import hosts_file
from .exec import ExecSession
from .logs import serve_logs
from .netns import NodeNetwork, pod_names
from .pods import PodRunner, RunnerDeps, wall_now
from .registration import capacity, keep_registered
from .sandbox import PodDirs, PodSandbox
from .status import compute_pod_status

Obj = dict[str, Any]
log = logging.getLogger(__name__)
TRANSIENT = (ApiError, aiohttp.ClientError, TimeoutError, OSError)


@dataclass(frozen=True)
class NodeConfig:
    node_name: str = "localcluster-node"
    prefix: str = "lcn"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/16"
    state_root: Path = Path("/var/lib/localcluster")  # this node's files: <state_root>/<prefix>
    python: str = field(default_factory=lambda: sys.executable)
    backoff_s: float = 10.0
    max_backoff_s: float = 300.0
    heartbeat_s: float = 10.0
    shutdown_grace_s: float = 5.0
    lock_wait_s: float = 0.0  # how long to wait for another agent with the same prefix to end

    @property
    def state_path(self) -> Path:
        return self.state_root / self.prefix


class NodeAgent:
    def __init__(self, client: ApiClient, network: NodeNetwork, config: NodeConfig) -> None:
        self.client = client
        self.network = network
        self.config = config
        self.runners: dict[str, PodRunner] = {}  # by pod uid
        self._pods: dict[str, Obj] = {}
        self.names = dns.ServiceIndex()
        self._busy: set[str] = set()  # uids with a bind or delete in flight
        self._stopping = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._deps: RunnerDeps | None = None
        self.registered = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        probes = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))  # no keep-alive, as kubelet
        async with probes as session, asyncio.TaskGroup() as tg:
            self._tg = tg
            self._deps = RunnerDeps(session=session, fetch_refs=self._fetch_refs, capacity=capacity(),
                                    python_bin=str(Path(self.config.python).parent), host_ip=self.network.gateway,
                                    backoff_s=self.config.backoff_s, max_backoff_s=self.config.max_backoff_s,
                                    request_token=self._request_token, services=self.names.services.values)
            background = [tg.create_task(keep_registered(
                self.client, name=self.config.node_name, address=self.network.gateway,
                heartbeat_s=self.config.heartbeat_s, registered=self.registered, now=wall_now), name="node-heartbeat")]
            registered = tg.create_task(self.registered.wait())
            stopping = tg.create_task(self._stopping.wait())
            await asyncio.wait({registered, stopping}, return_when=asyncio.FIRST_COMPLETED)
            registered.cancel()
            if not self._stopping.is_set():
                background += [
                    tg.create_task(reflect(self.client, "/api/v1/services", on_sync=self.names.sync_services,
                                           on_event=self.names.service_event)),
                    tg.create_task(reflect(self.client, "/apis/discovery.k8s.io/v1/endpointslices",
                                           on_sync=self.names.sync_slices, on_event=self.names.slice_event)),
                    tg.create_task(self._rewrite_hosts(), name="node-hosts")]
                # as the kubelet, no pod starts before the Services were read once (their variables go into
                # every container's environment)
                synced = tg.create_task(self.names.services_synced.wait())
                await asyncio.wait({synced, stopping}, return_when=asyncio.FIRST_COMPLETED)
                synced.cancel()
            if not self._stopping.is_set():
                background.append(tg.create_task(reflect(self.client, "/api/v1/pods", on_sync=self._sync_pods,
                                                         on_event=self._pod_event)))
            await stopping
            for t in background:
                t.cancel()
            for runner in self.runners.values():
                runner.request_termination(min(runner.grace_s, self.config.shutdown_grace_s))

    # ---- pods -----------------------------------------------------------------------------------

    def _sync_pods(self, items: list[Obj]) -> None:
        self._pods = {str(p["metadata"]["uid"]): p for p in items}
        for uid, runner in list(self.runners.items()):
            if uid not in self._pods:
                runner.request_termination(0)
        for pod in items:
            self._handle(pod)

    def _pod_event(self, kind: str, pod: Obj) -> None:
        uid = str(pod["metadata"]["uid"])
        if kind == "DELETED":
            self._pods.pop(uid, None)
            if (runner := self.runners.get(uid)) is not None:
                runner.request_termination(0)
            return
        self._pods[uid] = pod
        self._handle(pod)

    def _handle(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid, deleting = str(meta["uid"]), bool(meta.get("deletionTimestamp"))
        if self._tg is None or self._stopping.is_set():
            return
        if not spec.get("nodeName"):
            if not deleting and uid not in self._busy:
                self._busy.add(uid)
                self._tg.create_task(self._bind(pod))
            return
        if spec["nodeName"] != self.config.node_name:
            return
        runner = self.runners.get(uid)
        if runner is not None:
            runner.pod = pod
        if deleting:
            log.debug("pod_deleting pod=%s/%s grace=%s runner=%s", meta["namespace"], meta["name"],
                      meta.get("deletionGracePeriodSeconds"), runner is not None)
            if runner is not None:
                runner.delete_when_done = True
                runner.request_termination(float(meta.get("deletionGracePeriodSeconds") or 0))
            elif uid not in self._busy:
                self._busy.add(uid)
                self._tg.create_task(self._delete(pod))
        elif runner is None and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            self._start(pod)

    async def _bind(self, pod: Obj) -> None:
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.config.node_name}}
        try:
            await self.client.post(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding", body)
        except TRANSIENT as exc:
            log.info("bind_failed pod=%s/%s: %s", meta["namespace"], meta["name"], exc)
        finally:
            self._busy.discard(str(meta["uid"]))

    async def _delete(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                                     {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}})
        except TRANSIENT as exc:
            if not isinstance(exc, ApiError) or exc.code not in (404, 409):
                log.warning("delete_failed pod=%s/%s: %s", meta["namespace"], meta["name"], exc)
        finally:
            self._busy.discard(str(meta["uid"]))

    def _start(self, pod: Obj) -> None:
        assert self._tg is not None and self._deps is not None
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid, ns = str(meta["uid"]), str(meta["namespace"])
        hostname = str(spec.get("hostname") or meta["name"])
        sandbox = PodSandbox(network=self.network, names=pod_names(self.config.prefix, ns, meta["name"], uid),
                             uid=uid, namespace=ns, hostname=hostname,
                             dirs=PodDirs(self.config.state_path / "pods" / uid), python=self.config.python,
                             containers=len(spec.get("containers") or []))
        changed = asyncio.Event()
        runner = PodRunner(pod, sandbox, self._deps, on_change=changed.set, hosts=lambda ip: hosts_file(
            ip, hostname, self.names.entries(ns)))
        self.runners[uid] = runner
        self._tg.create_task(self._run_pod(runner, changed), name=f"pod-{ns}/{meta['name']}")

    async def _run_pod(self, runner: PodRunner, changed: asyncio.Event) -> None:
        uid = runner.sandbox.uid
        try:
            reporter = asyncio.create_task(self._report(runner, changed))
            try:
                await runner.run()
            finally:
                reporter.cancel()
                await asyncio.wait({reporter})
            runner.sandbox.remove_dirs()
            if runner.delete_when_done:
                await self._delete(runner.pod)
        except Exception:  # one pod's failure must not take down the node and its other pods
            log.exception("pod_failed uid=%s", uid)
        finally:
            runner.sandbox.remove_dirs()
            self.runners.pop(uid, None)

    async def _report(self, runner: PodRunner, changed: asyncio.Event) -> None:
        meta = runner.pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
        last: Obj | None = None
        while True:
            await changed.wait()
            changed.clear()
            pod = self._pods.get(runner.sandbox.uid, runner.pod)
            if runner.terminating.is_set() or pod["metadata"].get("deletionTimestamp"):
                # the pod is deleted once its processes end; a status write during the grace period could
                # make a server that removes objects on update (no finalizers left) end it early
                continue
            if last is not None:
                pod = {**pod, "status": {**(pod.get("status") or {}), **last}}
            status = compute_pod_status(pod, runner.view(), wall_now())
            if status == last:
                continue
            try:
                await self.client.patch(path, {"status": status})
                last = status
            except TRANSIENT as exc:
                if isinstance(exc, ApiError) and exc.code == 404:
                    return
                log.warning("status_failed pod=%s/%s: %s", meta["namespace"], meta["name"], exc)
                await asyncio.sleep(1.0)
                changed.set()

    async def _fetch_refs(self, namespace: str, wanted: set[tuple[str, str]]) -> dict[tuple[str, str],
                                                                                   Mapping[str, str]]:
        """The ConfigMaps and Secrets a container's environment reads (missing ones are left out)."""
        found: dict[tuple[str, str], Mapping[str, str]] = {}
        for kind, name in sorted(wanted):
            plural = "configmaps" if kind == "configmap" else "secrets"
            try:
                obj = await self.client.get(f"/api/v1/namespaces/{namespace}/{plural}/{name}")
            except TRANSIENT:
                continue
            data = dict(obj.get("data") or {})
            if kind == "secret":
                data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
            found[(kind, name)] = data
        return found

    async def _request_token(self, namespace: str, account: str, body: Obj) -> Obj:
        """A TokenRequest for a pod's projected volume (the kubelet asks with its own credential)."""
        return await self.client.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", body)

    # ---- services, for hosts files ------------------------------------------------------------

    async def _rewrite_hosts(self) -> None:
        while True:
            await self.names.changed.wait()
            self.names.changed.clear()
            for runner in list(self.runners.values()):
                if runner.sandbox.running:
                    entries = self.names.entries(runner.sandbox.namespace)
                    self.network.write_hosts(runner.sandbox.names,
                                             hosts_file(runner.sandbox.ip, runner.sandbox.hostname, entries))

    # ---- what the API server and tests call ----------------------------------------------------

    def runner_for(self, namespace: str, name: str) -> PodRunner | None:
        return next((r for r in self.runners.values() if r.pod["metadata"]["namespace"] == namespace
                     and r.pod["metadata"]["name"] == name), None)

    async def serve_logs(self, namespace: str, name: str, query: dict[str, str]) -> web.StreamResponse:
        return serve_logs(self.runner_for(namespace, name), name, query)

    def check_container(self, namespace: str, name: str, container: str) -> None:
        self._running_container(namespace, name, container)

    def _running_container(self, namespace: str, name: str, container: str) -> PodRunner:
        runner = self.runner_for(namespace, name)
        c = runner.container(container) if runner is not None else None
        if runner is None or c is None or c.proc is None or c.proc.returncode is not None \
                or not runner.sandbox.running:
            raise LookupError(f'container not found ("{container}")')  # the kubelet's words
        return runner

    async def open_exec(self, namespace: str, name: str, *, container: str, command: list[str], stdin: bool,
                        tty: bool) -> ExecSession:
        """pods/exec: `command` in the container's namespaces, environment and working directory."""
        runner = self._running_container(namespace, name, container)
        c = runner.container(container)
        assert c is not None
        return await ExecSession.start(runner.sandbox.nsenter(c.workdir), command, c.env, stdin=stdin, tty=tty)

    async def open_attach(self, namespace: str, name: str, *, container: str, stdin: bool,
                          tty: bool) -> AttachSession:
        """pods/attach: the running container's stdin and terminal (or its output, without one)."""
        runner = self._running_container(namespace, name, container)
        c = runner.container(container)
        assert c is not None
        proc, run = c.proc, c.view.restart_count
        return AttachSession(c.terminal, runner.log_path(c, run), lambda: proc is not None and proc.returncode
                             is None and c.view.restart_count == run, stdin=stdin)

    async def exec_in_pod(self, namespace: str, name: str, argv: list[str], *, container: str | None = None,
                          timeout_s: float = 10.0) -> tuple[int, bytes]:
        runner = self.runner_for(namespace, name)
        c = runner.container(container) if runner is not None else None
        if runner is None or c is None:
            raise LookupError(f"no container {container or ''} of pod {namespace}/{name} runs on this node")
        return await runner.sandbox.exec(argv, c.env, timeout_s)
