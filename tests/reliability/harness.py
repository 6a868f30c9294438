"""The reliability tests' world: the embedded API server (simulated node) and the fake Ray dashboard in the
test's process, and the operator as a real ``python -m rayservice run`` subprocess that tests SIGKILL, SIGSTOP
and restart.

Everything a test checks is read from the in-process server and fake (no HTTP, nothing logged), or from the
server's request log. Each operator process's requests carry the user agent ``rayservice-operator/0.1``; the
leader-election tests start operators through ``tests/reliability/operator_main.py``, which runs the same
``rayservice.cli.main`` with a per-process user agent (short leases are ordinary flags).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e.fakeray import FakeRayDashboard, Timings
from e2e.localcluster.apiserver import LocalApiServer, RequestInfo
from rayservice.kube import KubeClient
from tests.integration.raycluster_harness import install_crds, new_client

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1_rayservice.yaml"
NAMESPACE = "default"
OPERATOR_AGENT = "rayservice-operator/0.1"
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
SERVICES_GR = ("", "services")
PODS_GR = ("", "pods")
EVENTS_GR = ("", "events")
LEASES_GR = ("coordination.k8s.io", "leases")
CLUSTERS_GR = ("ray.io", "rayclusters")
RAYSERVICES_GR = ("ray.io", "rayservices")
CR_NAME_LABEL = "ray.io/originated-from-cr-name"
CLUSTER_LABEL = "ray.io/cluster"
DELETE_AFTER = "rayservice.ray.io/delete-after"
MARKER_ENV = "RELIABILITY_GENERATION"
# Ray, fast: every status change within a fraction of the operator's 1 s converging requeue.
FAST_RAY = Timings(not_started_s=0.05, deploy_s=0.3, in_place_s=0.1, restart_s=0.3, delete_s=0.1)


# ---- the world --------------------------------------------------------------------------------------------------


@dataclass
class World:
    server: LocalApiServer
    dashboard: FakeRayDashboard
    user: KubeClient
    kubeconfig: Path
    tmp: Path
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self) -> None:
        """Set ``changed`` on every write the server publishes."""
        sub = self.server.store.subscribe(None)
        try:
            while await sub.next_batch() is not None:
                self.changed.set()
        finally:
            self.server.store.unsubscribe(sub)

    async def until(self, predicate: Callable[[], bool], *, deadline_s: float, what: str, poll_s: float = 0.1,
                    explain: Callable[[], object] | None = None) -> float:
        """Return the seconds it took ``predicate()`` to hold, re-checked on every write the server publishes and
        every ``poll_s`` (for what no write announces: the fake Ray's clock, processes, request counts)."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(deadline_s):
                while not predicate():
                    self.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(poll_s):
                            await self.changed.wait()
        except TimeoutError:
            detail = f": {explain()}" if explain is not None else ""
            raise AssertionError(f"{what} not reached within {deadline_s} s{detail}") from None
        return time.monotonic() - start


@contextlib.asynccontextmanager
async def world(tmp: Path, *, token: str | None = None, timings: Timings = FAST_RAY) -> AsyncIterator[World]:
    server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    await server.start()
    dashboard = FakeRayDashboard(timings=timings, token=token)
    try:
        await dashboard.start("0.0.0.0", 0)
        kubeconfig = server.write_kubeconfig(tmp / "kubeconfig")
        user = await new_client(kubeconfig, "tests")
        try:
            await install_crds(user)
            made = World(server, dashboard, user, kubeconfig, tmp)
            follower = asyncio.create_task(made.follow(), name="reliability-world-follow")
            try:
                yield made
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
        finally:
            await user.close()
    finally:
        await dashboard.stop()
        await server.stop()


# ---- the operator process -----------------------------------------------------------------------------------------


class OperatorProcess:
    """``python -m rayservice run`` (or the leader-election shim) with its output appended to ``log_path``."""

    def __init__(self, w: World, log_path: Path, *, leader: bool = False, extra: Iterable[str] = (),
                 env: dict[str, str] | None = None) -> None:
        self.world = w
        self.log_path = log_path
        self.leader = leader
        self.extra = list(extra)
        self.env = env or {}
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def agent(self) -> str:
        """The user agent of this process's API requests (per process only with the shim)."""
        return f"{OPERATOR_AGENT} pid/{self.pid}" if self.leader else OPERATOR_AGENT

    def argv(self) -> list[str]:
        entry = ["tests/reliability/operator_main.py"] if self.leader else ["-m", "rayservice"]
        args = [
            *entry, "run", "--kubeconfig", str(self.world.kubeconfig), "--namespace", NAMESPACE,
            "--metrics-addr", "127.0.0.1:0", "--dashboard-port", str(self.world.dashboard.port),
            "--log-format", "json", *self.extra,
        ]
        if self.leader:
            args += ["--leader-elect", "--leader-election-namespace", NAMESPACE]
        return args

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *self.argv(), cwd=ROOT, env={**os.environ, **self.env},
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )
        self.started_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind (no lease release, no drain)."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process dies at once too
            self.process.kill()
        await self.wait(10.0)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            await self.wait(10.0)
        except TimeoutError:
            await self.kill()

    async def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout_s):
            return await self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Operators:
    """Every operator process a test started; all are killed on teardown."""

    def __init__(self, w: World) -> None:
        self.world = w
        self.started: list[OperatorProcess] = []

    async def start(self, name: str = "operator", **kwargs: Any) -> OperatorProcess:
        op = OperatorProcess(self.world, self.world.tmp / f"{name}.log", **kwargs)
        self.started.append(op)
        await op.start()
        return op

    async def close(self) -> None:
        for op in self.started:
            with contextlib.suppress(Exception):
                await op.kill()


# ---- objects -------------------------------------------------------------------------------------------------------


def rayservice(name: str, *, generation: int = 0, import_path: str | None = None, price: int = 3,
               deletion_delay_s: int = 1) -> dict[str, Any]:
    """The v1 sample with a short deletion delay; ``generation`` goes into the head's env (a cluster change),
    ``import_path`` and ``price`` into the Serve config (a restart or an in-place change)."""
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"] = {"name": name, "namespace": NAMESPACE}
    spec = body["spec"]
    spec["rayClusterDeletionDelaySeconds"] = deletion_delay_s
    serve = yaml.safe_load(spec["serveConfigV2"])
    app = serve["applications"][0]
    if import_path is not None:
        app["import_path"] = import_path
    app["deployments"][0]["user_config"]["price"] = price
    spec["serveConfigV2"] = yaml.safe_dump(serve)
    set_generation(body, generation)
    return body


def set_generation(body: dict[str, Any], generation: int) -> dict[str, Any]:
    head = body["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    head["env"] = [{"name": MARKER_ENV, "value": str(generation)}]
    return body


def generation_of_cluster(cluster: dict[str, Any]) -> int | None:
    try:
        head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in head.get("env") or []}
        return int(env[MARKER_ENV])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


# ---- what the server and the fake hold ----------------------------------------------------------------------------


def stored(w: World, gr: tuple[str, str], name: str) -> dict[str, Any] | None:
    return w.server.store.get(gr, NAMESPACE, name)


def status_of(w: World, name: str) -> dict[str, Any]:
    return (stored(w, RAYSERVICES_GR, name) or {}).get("status") or {}


def condition(w: World, name: str, kind: str, gr: tuple[str, str] = RAYSERVICES_GR) -> dict[str, Any]:
    for cond in ((stored(w, gr, name) or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def clusters_of(w: World, service: str) -> list[dict[str, Any]]:
    return [
        c for c in w.server.store.list(CLUSTERS_GR, NAMESPACE)
        if (c["metadata"].get("labels") or {}).get(CR_NAME_LABEL) == service
    ]


def selector_cluster(w: World, service: str) -> str | None:
    svc = stored(w, SERVICES_GR, f"{service}-serve-svc") or {}
    return ((svc.get("spec") or {}).get("selector") or {}).get(CLUSTER_LABEL)


def head_ip(w: World, cluster: str) -> str | None:
    for pod in w.server.store.list(PODS_GR, NAMESPACE):
        labels = pod["metadata"].get("labels") or {}
        if labels.get(CLUSTER_LABEL) == cluster and labels.get("ray.io/node-type") == "head":
            ip = (pod.get("status") or {}).get("podIP")
            return str(ip) if ip else None
    return None


def app_statuses(w: World, cluster: str) -> dict[str, str]:
    """What the fake Ray of ``cluster``'s head reports now: application -> status."""
    ip = head_ip(w, cluster)
    if ip is None:
        return {}
    answer = w.dashboard.cluster(ip).answer(w.dashboard.now())
    return {name: app["status"] for name, app in answer["applications"].items()}


def events_of(w: World, name: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [
        e for e in w.server.store.list(EVENTS_GR, NAMESPACE)
        if e.get("involvedObject", {}).get("name") == name and reason in (None, e.get("reason"))
    ]


def converged(w: World, service: str, generation: int, *, single: bool = True) -> bool:
    """Running on a cluster of ``generation`` that both Services select, nothing pending; with ``single``,
    every other cluster already deleted."""
    status = status_of(w, service)
    active = (status.get("activeServiceStatus") or {}).get("rayClusterName")
    if status.get("serviceStatus") != "Running" or not active:
        return False
    if (status.get("pendingServiceStatus") or {}).get("rayClusterName"):
        return False
    clusters = {c["metadata"]["name"]: c for c in clusters_of(w, service)}
    if active not in clusters or generation_of_cluster(clusters[active]) != generation:
        return False
    if selector_cluster(w, service) != active:
        return False
    return not single or list(clusters) == [active]


def requests_by(w: World, agent: str, *, since: int = 0, exact: bool = True) -> list[RequestInfo]:
    return [r for r in w.server.faults.log[since:]
            if (r.user_agent == agent if exact else r.user_agent.startswith(agent))]


def tally(requests: Iterable[RequestInfo]) -> dict[str, int]:
    counts = Counter(f"{r.verb or r.method}:{r.code}" for r in requests)
    return dict(sorted(counts.items()))


RecordProperty = Callable[[str, object], None]


def report(record: RecordProperty, title: str, figures: dict[str, Any]) -> None:
    """Print a test's figures (``pytest -s``) and put them in the junit report as the test suite property
    ``<title>`` (JSON; xunit2, pytest's default junit family, has no per-test properties)."""
    print(f"{title}: {figures}")
    record(title.replace(" ", "_"), json.dumps(figures, default=str, sort_keys=True))


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (1..99) of ``values``, interpolated; 0 for none."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# ---- invariants, checked on every change the server publishes -------------------------------------------------------


@dataclass
class Invariants:
    """Watches the server's own event feed (every write, in order) and records every broken rule:
    more than two clusters of a RayService that are not waiting for their deletion deadline, and a serve
    Service selecting a cluster whose applications are not all RUNNING (or that has none)."""

    w: World
    services: set[str]
    violations: list[str] = field(default_factory=list)
    max_clusters: int = 0
    max_live_clusters: int = 0
    switches: int = 0
    checks: int = 0
    _clusters: dict[str, tuple[str, bool]] = field(default_factory=dict)

    async def run(self) -> None:
        store = self.w.server.store
        sub = store.subscribe(None)
        for cluster in store.list(CLUSTERS_GR, NAMESPACE):
            self._check(CLUSTERS_GR, cluster, None, "ADDED")
        try:
            while (batch := await sub.next_batch()) is not None:
                for event in batch:
                    self._check(event.gr, event.obj, event.old, event.type)
        finally:
            store.unsubscribe(sub)

    def _check(self, gr: tuple[str, str], obj: dict[str, Any], old: dict[str, Any] | None, kind: str) -> None:
        meta = obj.get("metadata") or {}
        if gr == CLUSTERS_GR:
            service = (meta.get("labels") or {}).get(CR_NAME_LABEL)
            if service in self.services:
                self.checks += 1
                key = str(meta.get("name"))
                if kind == "DELETED":
                    self._clusters.pop(key, None)
                else:
                    self._clusters[key] = (service, DELETE_AFTER in (meta.get("annotations") or {}))
                mine = [(n, waiting) for n, (s, waiting) in self._clusters.items() if s == service]
                live = sorted(n for n, waiting in mine if not waiting)
                self.max_clusters = max(self.max_clusters, len(mine))
                self.max_live_clusters = max(self.max_live_clusters, len(live))
                if len(live) > 2:
                    self.violations.append(f"{service}: {len(live)} clusters not waiting for deletion: {live}")
        elif gr == SERVICES_GR and kind != "DELETED":
            name = str(meta.get("name", ""))
            service = name.removesuffix("-serve-svc")
            if name.endswith("-serve-svc") and service in self.services:
                target = ((obj.get("spec") or {}).get("selector") or {}).get(CLUSTER_LABEL)
                before = (((old or {}).get("spec") or {}).get("selector") or {}).get(CLUSTER_LABEL)
                if target is None or target == before:
                    return
                self.checks += 1
                self.switches += 1
                statuses = app_statuses(self.w, target)
                if not statuses or any(s != "RUNNING" for s in statuses.values()):
                    self.violations.append(f"{name} switched to {target} whose apps are {statuses or 'none'}")

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[Invariants]:
        task = asyncio.create_task(self.run(), name="reliability-invariants")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
