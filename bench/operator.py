"""Benchmark: the operator against the DESIGN §7 budgets (not a test).

Starts, each in its own process: the embedded API server with a simulated node, a fake Ray dashboard that
counts requests per cluster (``bench._fakeray``) and the operator (``rayservice run``). Then runs, in order:

1. burst: N RayServices (the sample, head + 1 worker, unique names over a few namespaces) created with 32
   concurrent clients; time until every one has serviceStatus Running, as a watch of RayServices (opened
   before the scenarios) shows them;
   operator API writes (request log, operator user agent) and Serve PUTs (fake) per RayService.
2. steady: ``--steady-s`` with N Ready: operator API writes per minute, dashboard requests per RayService per
   minute, operator CPU (utime + stime from /proc) and RSS.
3. latency: merge patches of serveConfigV2 (a new price) on random RayServices, one at a time, spread in time;
   time from the patch to the Serve PUT arriving at that cluster's fake dashboard; p50/p99.
4. upgrade wave: 10 % of N get a head container env var at once; time until each has switched to a new
   cluster and the old RayCluster is gone (rayClusterDeletionDelaySeconds is 5 for every RayService).
5. the API server's write rate (``bench.apiserver_writes`` with one watcher, measured first, alone) and the
   burst's ratio: convergence time / ((operator writes + N creates) / write rate).
6. autoscale (``bench.autoscale``): ``--autoscale-n`` autoscaling RayClusters whose Ray autoscalers are simulated
   at Ray's 5 s loop; operator writes, reconciles and CPU per minute while they scale and while they only read.
   ``--only autoscale`` runs it alone (``--only rayservices`` the others).

Between 1 and 2, what the operator's informer caches hold is rebuilt from the API server's lists with the
operator's own transforms and measured (``caches`` rows). The operator runs with ``--kube-api-qps 5000
--kube-api-burst 5000`` unless ``--qps``/``--burst`` say otherwise: the ratio compares the burst with the
API server's own write rate, which a client-side limit of 100/s would hide. With
``RAYSERVICE_MEMORY_PROFILE=<file>`` in the environment the operator traces allocations and writes the top
ones to that file on SIGUSR1.

Prints one table (scenario, metric, measured, budget, ok) and writes it with the raw numbers to
``bench/results/<UTC date-time>.json``.
Usage: python -m bench.operator [--n 1000] [--steady-s 600] [--edits 200] [--quick] [--qps 100 --burst 200]
       [--only autoscale] [--autoscale-n 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench import apiserver_writes
from bench.autoscale import autoscale
from rayservice.controller.caches import CREATED_BY_SELECTOR, cached_form, slim_endpoint_slice, slim_pod
from rayservice.informers import without_managed_fields

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1_rayservice.yaml"
CRDS = ROOT / "manifests" / "crd"
RESULTS = ROOT / "bench" / "results"
OPERATOR_AGENT = "rayservice-operator"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
NAMESPACES = 4
CONCURRENCY = 32
RS = "/apis/ray.io/v1"
DELETION_DELAY_S = 5


@dataclass
class Row:
    scenario: str
    metric: str
    value: float | None
    budget: str = ""
    ok: bool | None = None
    unit: str = ""


@dataclass
class Bench:
    base: str
    fake: str
    metrics: str
    operator_pid: int
    session: aiohttp.ClientSession
    apiserver_pid: int = 0
    services: Mirror = field(init=False)
    clusters: Mirror = field(init=False)

    def __post_init__(self) -> None:
        self.services = Mirror(self, f"{RS}/rayservices")
        self.clusters = Mirror(self, f"{RS}/rayclusters")
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def row(
        self, scenario: str, metric: str, value: float | None, budget: str = "", ok: bool | None = None, unit: str = ""
    ) -> None:
        self.rows.append(Row(scenario, metric, value, budget, ok, unit))
        shown = "n/a" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"  {scenario:<9} {metric:<44} {shown + ' ' + unit:>16}  {budget:<12} {verdict}", flush=True)

    # --- API server -------------------------------------------------------------------------------------

    async def get(self, path: str) -> Any:
        async with self.session.get(self.base + path) as r:
            r.raise_for_status()
            return await r.json()

    async def merge_patch(self, path: str, body: dict[str, Any]) -> None:
        async with self.session.patch(
            self.base + path, data=json.dumps(body), headers={"Content-Type": "application/merge-patch+json"}
        ) as r:
            if r.status != 200:
                raise RuntimeError(f"PATCH {path}: {r.status} {await r.text()}")

    async def operator_writes(self) -> list[dict[str, Any]]:
        log = (await self.get("/_localcluster/requests"))["requests"]
        return [r for r in log if r.get("user_agent", "").startswith(OPERATOR_AGENT) and r.get("verb") in WRITE_VERBS]

    async def clear_log(self) -> None:
        async with self.session.delete(self.base + "/_localcluster/requests") as r:
            r.raise_for_status()

    async def rayservices(self) -> list[dict[str, Any]]:
        return list((await self.get(f"{RS}/rayservices"))["items"])

    async def rayclusters(self) -> list[dict[str, Any]]:
        return list((await self.get(f"{RS}/rayclusters"))["items"])

    # --- fake dashboard and operator process --------------------------------------------------------------

    async def fake_counts(self, address: str = "") -> dict[str, Any]:
        async with self.session.get(
            self.fake + "/_bench/counts", params={"address": address} if address else None
        ) as r:
            r.raise_for_status()
            return dict(await r.json())

    def proc_cpu_s(self, pid: int | None = None) -> float:
        fields = Path(f"/proc/{pid or self.operator_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def proc_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.operator_pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def operator_metrics(self) -> dict[str, float]:
        """Sums of the operator's counters by name and labels, for the results file."""
        async with self.session.get(self.metrics + "/metrics") as r:
            text = await r.text()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(
                (
                    "controller_runtime_reconcile_total",
                    "rest_client_requests_total",
                    "workqueue_adds_total",
                    "workqueue_retries_total",
                )
            ):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


class Mirror:
    """The benchmark's view of one kind, kept by a watch (a list every 0.5 s of 1,000 RayServices, ~10 MB of
    JSON, cost the shared 2-core machine more CPU than some of what it measured)."""

    def __init__(self, b: Bench, path: str) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self._b, self._path = b, path
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self._b.get(self._path)
        for obj in listed["items"]:
            self.objects[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        self._task = asyncio.create_task(self._watch(str(listed["metadata"]["resourceVersion"])))

    async def _watch(self, rv: str) -> None:
        while True:
            params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"}
            timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
            async with self._b.session.get(self._b.base + self._path, params=params, timeout=timeout) as r:
                async for line in r.content:
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if event.get("type") == "ERROR":
                        raise RuntimeError(f"watch {self._path}: {obj}")
                    if event.get("type") == "BOOKMARK":
                        continue
                    key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
                    if event.get("type") == "DELETED":
                        self.objects.pop(key, None)
                    else:
                        self.objects[key] = obj

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _sum_method(counts: dict[str, dict[str, int]], method: str | None = None) -> int:
    """Requests that reached a pod address (not the loopback of the benchmark itself)."""
    return sum(
        n
        for addr, by in counts.items()
        if not addr.startswith("127.0.")
        for m, n in by.items()
        if method is None or m == method
    )


def _is_running(rs: dict[str, Any]) -> bool:
    return bool((rs.get("status") or {}).get("serviceStatus") == "Running")


def _active_cluster(rs: dict[str, Any]) -> str:
    return str(((rs.get("status") or {}).get("activeServiceStatus") or {}).get("rayClusterName") or "")


def _pending_cluster(rs: dict[str, Any]) -> str:
    return str(((rs.get("status") or {}).get("pendingServiceStatus") or {}).get("rayClusterName") or "")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _sample() -> dict[str, Any]:
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"]["rayClusterDeletionDelaySeconds"] = DELETION_DELAY_S
    return dict(body)


def _names(n: int) -> list[tuple[str, str]]:
    return [(f"bench-{i % NAMESPACES}", f"rs-{i:04d}") for i in range(n)]


async def _wait_http(session: aiohttp.ClientSession, url: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            async with session.get(url) as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {deadline_s} s")


# --- scenarios -------------------------------------------------------------------------------------------


async def burst(b: Bench, n: int, write_rate: float, timeout_s: float) -> None:
    sample = _sample()
    names = _names(n)
    await b.clear_log()
    stats0 = await b.get("/_localcluster/stats")
    puts0 = _sum_method((await b.fake_counts())["counts"], "PUT")
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in names:
        queue.put_nowait(item)

    async def creator() -> None:
        while not queue.empty():
            ns, name = queue.get_nowait()
            body = copy.deepcopy(sample)
            body["metadata"] = {"name": name, "namespace": ns}
            async with b.session.post(f"{b.base}{RS}/namespaces/{ns}/rayservices", json=body) as r:
                if r.status != 201:
                    raise RuntimeError(f"create {ns}/{name}: {r.status} {await r.text()}")

    t0 = time.monotonic()
    cpu0 = b.proc_cpu_s()
    api_cpu0 = b.proc_cpu_s(b.apiserver_pid) if b.apiserver_pid else 0.0
    await asyncio.gather(*(creator() for _ in range(CONCURRENCY)))
    created_s = time.monotonic() - t0
    running = 0
    converged_s: float | None = None
    while time.monotonic() - t0 < timeout_s:
        running = sum(1 for rs in b.services.objects.values() if _is_running(rs))
        if running >= n:
            converged_s = time.monotonic() - t0
            break
        await asyncio.sleep(0.05)
    cpu_s = b.proc_cpu_s() - cpu0
    api_cpu_s = (b.proc_cpu_s(b.apiserver_pid) - api_cpu0) if b.apiserver_pid else 0.0
    wall_s = time.monotonic() - t0
    # let trailing status writes land before counting
    await asyncio.sleep(1.0)
    writes = await b.operator_writes()
    stats1 = await b.get("/_localcluster/stats")
    puts = _sum_method((await b.fake_counts())["counts"], "PUT") - puts0
    by_kind: dict[str, int] = {}
    for w in writes:
        key = f"{w.get('verb')} {w.get('resource')}{'/' + w['subresource'] if w.get('subresource') else ''}"
        by_kind[key] = by_kind.get(key, 0) + 1
    b.raw["burst"] = {
        "n": n,
        "created_s": created_s,
        "converged_s": converged_s,
        "running": running,
        "operator_writes": len(writes),
        "writes_by_kind": by_kind,
        "serve_puts": puts,
        "store_writes": stats1["writes"] - stats0["writes"],
        "operator_cpu_s": cpu_s,
        "apiserver_cpu_s": api_cpu_s,
        "wall_s": wall_s,
    }
    b.row("burst", f"creates done ({n})", created_s, unit="s")
    b.row(
        "burst",
        f"all Running ({running}/{n})",
        converged_s,
        "<= 20 s",
        converged_s is not None and converged_s <= 20,
        "s",
    )
    b.row("burst", "operator API writes per RayService", len(writes) / n, unit="")
    b.row("burst", "Serve PUTs per RayService", puts / n, unit="")
    b.row("burst", "operator CPU (% of one core)", 100 * cpu_s / wall_s, unit="%")
    b.row("burst", "operator CPU per RayService", 1000 * cpu_s / n, unit="ms")
    if b.apiserver_pid:
        b.row("burst", "API server CPU (% of one core)", 100 * api_cpu_s / wall_s, unit="%")
    if converged_s is not None and write_rate > 0:
        needed = len(writes) + n
        ratio = converged_s / (needed / write_rate)
        b.raw["burst"]["ratio"] = {"writes_needed": needed, "write_rate_per_s": write_rate, "ratio": ratio}
        b.row("ratio", f"converge / ({needed} writes / {write_rate:.0f}/s)", ratio, "<= 1.5", ratio <= 1.5)
    else:
        b.row("ratio", "converge / (writes / write rate)", None, "<= 1.5", False)


def _deep_size(value: Any, seen: set[int]) -> int:
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, list):
        size += sum(_deep_size(v, seen) for v in value)
    return size


async def cache_sizes(b: Bench) -> None:
    """What the operator's informer caches hold, rebuilt here: each kind listed, decoded as the reflector does
    (one ``json.loads`` per object, without managedFields, then the caches' own transforms), then measured.
    Strings shared with other objects are counted once, in the first object that holds them."""
    kinds = {
        "rayservices": (f"{RS}/rayservices", None),
        "rayclusters": (f"{RS}/rayclusters", None),
        "pods": ("/api/v1/pods?labelSelector=ray.io/is-ray-node%3Dyes", slim_pod),
        "services": (f"/api/v1/services?labelSelector={CREATED_BY_SELECTOR}", None),
        "endpointslices": ("/apis/discovery.k8s.io/v1/endpointslices", slim_endpoint_slice),
    }
    sizes: dict[str, dict[str, float]] = {}
    seen: set[int] = set()
    for kind, (path, transform) in kinds.items():
        items = (await b.get(path))["items"]
        form = cached_form(transform)
        objects = [form(without_managed_fields(json.loads(json.dumps(item)))) for item in items]
        total = sum(_deep_size(obj, seen) for obj in objects)
        sizes[kind] = {"objects": len(objects), "mib": total / 2**20, "json_mib": len(json.dumps(objects)) / 2**20}
        b.row("caches", f"{kind}: {len(objects)} objects as dicts", total / 2**20, unit="MiB")
    b.raw["cache_sizes"] = sizes


async def steady(b: Bench, n: int, steady_s: float) -> None:
    await b.clear_log()
    counts0 = (await b.fake_counts())["counts"]
    cpu0, t0 = b.proc_cpu_s(), time.monotonic()
    rss_max = b.proc_rss_mib()
    end = t0 + steady_s
    while time.monotonic() < end:
        await asyncio.sleep(min(5.0, max(0.0, end - time.monotonic())))
        rss_max = max(rss_max, b.proc_rss_mib())
    elapsed = time.monotonic() - t0
    cpu_pct = 100 * (b.proc_cpu_s() - cpu0) / elapsed
    writes = await b.operator_writes()
    counts1 = (await b.fake_counts())["counts"]
    dash = _sum_method(counts1) - _sum_method(counts0)
    minutes = elapsed / 60
    b.raw["steady"] = {
        "elapsed_s": elapsed,
        "operator_writes": len(writes),
        "dashboard_requests": dash,
        "cpu_pct": cpu_pct,
        "rss_mib_max": rss_max,
        "writes_sample": writes[:20],
    }
    b.row("steady", "operator API writes per minute", len(writes) / minutes, "0", len(writes) == 0, "/min")
    per = dash / n / minutes
    b.row("steady", "dashboard requests per RayService per minute", per, "<= 2", per <= 2, "/min")
    b.row("steady", "operator CPU (% of one core)", cpu_pct, "<= 5 %", cpu_pct <= 5, "%")
    b.row("steady", "operator RSS (max)", rss_max, "<= 150 MiB", rss_max <= 150, "MiB")


async def _head_ip(b: Bench, ns: str, cluster: str) -> str:
    rc = await b.get(f"{RS}/namespaces/{ns}/rayclusters/{cluster}")
    return str(((rc.get("status") or {}).get("head") or {}).get("podIP") or "")


async def latency(b: Bench, n: int, edits: int, spacing_s: float, rng: random.Random) -> None:
    sample_config = _sample()["spec"]["serveConfigV2"]
    names = _names(n)
    samples: list[float] = []
    missed = 0
    for k in range(edits):
        ns, name = rng.choice(names)
        rs = await b.get(f"{RS}/namespaces/{ns}/rayservices/{name}")
        ip = await _head_ip(b, ns, _active_cluster(rs))
        before = len((await b.fake_counts(ip))["puts"][ip])
        config = sample_config.replace("price: 3", f"price: {100 + k}")
        t0 = time.time()
        await b.merge_patch(f"{RS}/namespaces/{ns}/rayservices/{name}", {"spec": {"serveConfigV2": config}})
        arrived: float | None = None
        while time.time() - t0 < 10:
            puts = (await b.fake_counts(ip))["puts"][ip]
            if len(puts) > before:
                arrived = puts[before]
                break
            await asyncio.sleep(0.005)
        if arrived is None:
            missed += 1
        else:
            samples.append(arrived - t0)
        await asyncio.sleep(spacing_s * (0.5 + rng.random()))
    b.raw["latency"] = {"edits": edits, "missed": missed, "samples_s": samples}
    if samples:
        p50, p99 = _percentile(samples, 0.5) * 1000, _percentile(samples, 0.99) * 1000
        b.row("latency", f"edit -> Serve PUT p50 ({len(samples)}/{edits})", p50, unit="ms")
        b.row("latency", "edit -> Serve PUT p99", p99, "<= 100 ms", p99 <= 100 and missed == 0, "ms")
    else:
        b.row("latency", "edit -> Serve PUT p99", None, "<= 100 ms", False, "ms")


async def upgrade(b: Bench, n: int, rng: random.Random, timeout_s: float) -> None:
    sample = _sample()
    containers = copy.deepcopy(sample["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"])
    containers[0]["env"] = [{"name": "BENCH_WAVE", "value": "1"}]
    chosen = rng.sample(_names(n), max(1, n // 10))
    old: dict[tuple[str, str], str] = {}
    for ns, name in chosen:
        old[(ns, name)] = _active_cluster(await b.get(f"{RS}/namespaces/{ns}/rayservices/{name}"))
    await b.clear_log()
    patch = {"spec": {"rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"containers": containers}}}}}}
    t0 = time.monotonic()
    await asyncio.gather(*(b.merge_patch(f"{RS}/namespaces/{ns}/rayservices/{name}", patch) for ns, name in chosen))
    switched_s: float | None = None
    done_s: float | None = None
    remaining = len(chosen)
    first_switch: dict[tuple[str, str], float] = {}
    first_gone: dict[tuple[str, str], float] = {}
    while time.monotonic() - t0 < timeout_s:
        services = dict(b.services.objects)
        clusters = set(b.clusters.objects)
        switched = [
            k
            for k in chosen
            if _active_cluster(services[k]) not in ("", old[k])
            and not _pending_cluster(services[k])
            and _is_running(services[k])
        ]
        now = time.monotonic() - t0
        for k in switched:
            first_switch.setdefault(k, now)
        for k in chosen:
            if (k[0], old[k]) not in clusters:
                first_gone.setdefault(k, now)
        if switched_s is None and len(switched) == len(chosen):
            switched_s = now
        remaining = sum(1 for k in chosen if k not in switched or (k[0], old[k]) in clusters)
        if remaining == 0:
            done_s = time.monotonic() - t0
            break
        await asyncio.sleep(0.05)
    writes = await b.operator_writes()
    b.raw["upgrade"] = {
        "services": len(chosen),
        "switched_s": switched_s,
        "done_s": done_s,
        "not_done": remaining,
        "operator_writes": len(writes),
        "deletion_delay_s": DELETION_DELAY_S,
        # per RayService, as the watches saw it: old cluster gone minus switch seen (the delay actually applied)
        "observed_delay_s": sorted(first_gone[k] - first_switch[k] for k in first_gone if k in first_switch),
    }
    b.row("upgrade", f"{len(chosen)} upgraded: all switched", switched_s, unit="s")
    b.row("upgrade", f"all switched, old clusters gone (delay {DELETION_DELAY_S} s)", done_s, unit="s")
    b.row("upgrade", "operator API writes per upgraded RayService", len(writes) / len(chosen))


# --- wiring ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    return apiserver_writes._free_port()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def _run(a: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    rng = random.Random(a.seed)
    print(f"measuring the API server's write rate (apiserver_writes, n={a.rate_n}, 1 watcher)...", flush=True)
    rate = await apiserver_writes._run(a.rate_n, 1, CONCURRENCY)
    write_rate = float(rate["writes_per_s"])
    tmp = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    kc = tmp / "kubeconfig"
    api_port, fake_port, metrics_port = _free_port(), _free_port(), _free_port()
    py = sys.executable
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: open(tmp / f"{name}.log", "wb") for name in ("apiserver", "fakeray", "operator")}  # noqa: ASYNC230 (startup)
    try:
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220 (startup, before timing)
                [
                    py,
                    "-m",
                    "e2e.localcluster",
                    "apiserver",
                    "--port",
                    str(api_port),
                    "--kubeconfig",
                    str(kc),
                    "--simulate-node",
                    "--plain-http",
                ],
                stdout=logs["apiserver"],
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220
                [py, "-m", "bench._fakeray", "--port", str(fake_port), "--deploy-s", str(a.deploy_s)],
                stdout=logs["fakeray"],
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        base = f"http://127.0.0.1:{api_port}"
        conn = aiohttp.TCPConnector(limit=CONCURRENCY + 8)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
            await _wait_http(session, base + "/healthz")
            await _wait_http(session, f"http://127.0.0.1:{fake_port}/_bench/counts")
            for crd in sorted(CRDS.glob("*.yaml")):
                async with session.post(
                    base + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                    json=yaml.safe_load(crd.read_text()),
                ) as r:
                    if r.status not in (201, 409):
                        raise SystemExit(f"CRD {crd.name}: {r.status} {await r.text()}")
            for i in range(NAMESPACES):
                async with session.post(base + "/api/v1/namespaces", json={"metadata": {"name": f"bench-{i}"}}) as r:
                    if r.status not in (201, 409):
                        raise SystemExit(f"namespace: {r.status} {await r.text()}")
            await _wait_http(session, f"{base}{RS}/rayservices")
            operator = subprocess.Popen(  # noqa: ASYNC220
                [
                    str(Path(py).parent / "rayservice"),
                    "run",
                    "--kubeconfig",
                    str(kc),
                    "--metrics-addr",
                    f"127.0.0.1:{metrics_port}",
                    "--dashboard-port",
                    str(fake_port),
                    "--kube-api-qps",
                    str(a.qps),
                    "--kube-api-burst",
                    str(a.burst),
                    "--workers",
                    str(a.workers),
                    "--log-format",
                    "json",
                    "--log-level",
                    "warning",
                ],
                stdout=logs["operator"],
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
            procs.append(operator)
            metrics = f"http://127.0.0.1:{metrics_port}"
            await _wait_http(session, metrics + "/readyz")
            b = Bench(base, f"http://127.0.0.1:{fake_port}", metrics, operator.pid, session, apiserver_pid=procs[0].pid)
            b.raw["config"] = {
                "n": a.n,
                "steady_s": a.steady_s,
                "edits": a.edits,
                "qps": a.qps,
                "burst": a.burst,
                "workers": a.workers,
                "deploy_s": a.deploy_s,
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "logs": str(tmp),
            }
            b.raw["apiserver_writes"] = rate
            await b.services.start()
            await b.clusters.start()
            print(f"\n  {'scenario':<9} {'metric':<44} {'measured':>16}  {'budget':<12} verdict", flush=True)
            b.row("apiserver", "write rate (creates + patches, 1 watcher)", write_rate, unit="/s")
            if "rayservices" in a.only:
                await burst(b, a.n, write_rate, a.burst_timeout_s)
                await cache_sizes(b)
                await steady(b, a.n, a.steady_s)
                await latency(b, a.n, a.edits, a.edit_spacing_s, rng)
                await upgrade(b, a.n, rng, a.upgrade_timeout_s)
            if "autoscale" in a.only:
                await autoscale(
                    b, str(SAMPLE), a.autoscale_n, a.autoscale_active_s, a.autoscale_quiet_s, rng, NAMESPACES
                )
            await b.services.stop()
            await b.clusters.stop()
            b.raw["operator_metrics"] = await b.operator_metrics()
            b.raw["operator_rss_mib_end"] = b.proc_rss_mib()
            if operator.poll() is not None:
                b.raw["operator_exit"] = operator.returncode
            return b.rows, b.raw
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for f in logs.values():
            f.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, help="RayServices (default 1000; --quick: 100)")
    p.add_argument("--steady-s", type=float, help="steady-state window (default 600; --quick: 60)")
    p.add_argument("--edits", type=int, help="serve config edits for the latency scenario (default 200; --quick: 50)")
    p.add_argument("--edit-spacing-s", type=float, help="mean pause between edits (default 0.5; --quick: 0.2)")
    p.add_argument("--quick", action="store_true", help="the smaller defaults above: the whole run in under 2 minutes")
    p.add_argument("--deploy-s", type=float, default=1.0, help="fake Serve: PUT -> RUNNING of a new app")
    p.add_argument(
        "--qps",
        type=float,
        default=5000.0,
        help="operator --kube-api-qps (default 5000, above what the embedded API server takes, so the client "
        "limiter never paces the burst; the operator's own default is 100)",
    )
    p.add_argument("--burst", type=int, default=5000, help="operator --kube-api-burst (default 5000; operator: 200)")
    p.add_argument("--workers", type=int, default=16, help="operator --workers (its default, 16)")
    p.add_argument("--rate-n", type=int, help="objects for the API server write rate (default 2000; --quick: 1000)")
    p.add_argument("--burst-timeout-s", type=float, help="default 300; --quick: 45")
    p.add_argument("--upgrade-timeout-s", type=float, help="default 180; --quick: 30")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--only",
        default="rayservices,autoscale",
        help="scenario sets to run, comma-separated: rayservices (burst, steady, latency, upgrade) and autoscale",
    )
    p.add_argument("--autoscale-n", type=int, help="autoscaling RayClusters (default 100; --quick: 20)")
    p.add_argument("--autoscale-active-s", type=float, help="window with scaling (default 180; --quick: 60)")
    p.add_argument("--autoscale-quiet-s", type=float, help="window without changes (default 60; --quick: 30)")
    a = p.parse_args()
    full = {
        "n": 1000,
        "steady_s": 600.0,
        "edits": 200,
        "edit_spacing_s": 0.5,
        "rate_n": 2000,
        "burst_timeout_s": 300.0,
        "upgrade_timeout_s": 180.0,
        "autoscale_n": 100,
        "autoscale_active_s": 180.0,
        "autoscale_quiet_s": 60.0,
    }
    quick = {
        "n": 100,
        "steady_s": 60.0,
        "edits": 50,
        "edit_spacing_s": 0.2,
        "rate_n": 1000,
        "burst_timeout_s": 45.0,
        "upgrade_timeout_s": 30.0,
        "autoscale_n": 20,
        "autoscale_active_s": 60.0,
        "autoscale_quiet_s": 30.0,
    }
    for name, value in (quick if a.quick else full).items():
        if getattr(a, name) is None:
            setattr(a, name, value)
    started = dt.datetime.now(dt.UTC)
    rows, raw = asyncio.run(_run(a))
    missed = [r for r in rows if r.ok is False]
    print(
        f"\n{len(missed)} budget(s) missed"
        + (": " + ", ".join(f"{r.scenario}/{r.metric}" for r in missed) if missed else "")
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(
        json.dumps(
            {"started": started.isoformat(), "quick": a.quick, "rows": [r.__dict__ for r in rows], "raw": raw},
            indent=1,
            default=str,
        )
    )
    print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
