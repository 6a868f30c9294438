"""Benchmark: the embedded API server's write rate and watch fan-out (not a test).

Starts `python -m e2e.localcluster apiserver` in its own process, attaches W watchers on ConfigMaps, then
creates N ConfigMaps and merge-patches each once with C concurrent clients, and prints:
creates/s, patches/s, and watch events delivered per second summed over the watchers.
It does so once per mode, in the same run: `plain` (HTTP, no authentication), `tls` (HTTPS, every request
authenticated with the admin's client certificate from the kubeconfig) and `rbac` (HTTPS with RBAC, every write and
watch made by a non-admin ServiceAccount with a bearer token, bound to a Role that allows only ConfigMaps), then
the ratios to plain.

Method, as a long-running client (kubectl in a loop, client-go) meets the server: the C writers use keep-alive
connections, opened before the clock starts (one TLS handshake each, as client-go pays once per connection); the
time and the server CPU that opening them took are printed apart (`connect_ms`, `server_cpu_ms_connect`), so no
cost is dropped. `server_cpu_us_per_write` counts the server's CPU from the first write until every watcher has
received every event, so the fan-out is in it; `client_cpu_us_per_write` is the same for this process (writers and
watchers). Server and clients share the machine's cores: what a client spends on TLS lowers the measured rate too,
as it would for a real client on the same host. Each round prints one line per mode with the load average, so
rounds measured one right after the other can be compared on a shared machine.
By default (`--interleave 100`) every mode's server runs at once and the modes are written to in turn, 100 writes
at a time (each chunk's events delivered before the next mode's chunk), so a busy machine's bursts fall on every
mode alike; `--interleave 0` measures one whole mode after the other (the noisier way on a shared machine).
Usage: python -m bench.apiserver_writes [--n 5000] [--watchers 10] [--concurrency 32] [--modes plain,tls,rbac]
       [--rounds R] [--interleave CHUNK] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from e2e.localcluster.node import load_kubeconfig, ssl_context

MODES = ("plain", "tls", "rbac")
RBAC_API = "/apis/rbac.authorization.k8s.io/v1/namespaces"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(base: str, kubeconfig: str, deadline_s: float = 20.0) -> None:
    """Until /healthz answers (anonymously; unverified TLS is enough for that) and the kubeconfig is written."""
    end = time.monotonic() + deadline_s
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        while time.monotonic() < end:
            try:
                async with session.get(base + "/healthz") as r:
                    if r.status == 200 and os.path.exists(kubeconfig):  # noqa: ASYNC240 (startup)
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("API server did not start")


async def _service_account_token(base: str, admin_tls: ssl.SSLContext | bool, ns: str) -> str:
    """As the admin: namespace `ns`, ServiceAccount `bench-writer` bound to a Role on ConfigMaps only; its token."""
    role = {"metadata": {"name": "configmap-writer"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch", "list", "watch"]}]}
    binding = {"metadata": {"name": "bench-writer"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-writer"},
               "subjects": [{"kind": "ServiceAccount", "name": "bench-writer", "namespace": ns}]}
    steps = [("/api/v1/namespaces", {"metadata": {"name": ns}}),
             (f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "bench-writer"}}),
             (f"{RBAC_API}/{ns}/roles", role), (f"{RBAC_API}/{ns}/rolebindings", binding),
             (f"/api/v1/namespaces/{ns}/serviceaccounts/bench-writer/token",
              {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=admin_tls)) as admin:
        for path, body in steps:
            async with admin.post(base + path, json=body) as r:
                assert r.status == 201, await r.text()
                answer = await r.json()
        async with admin.get(f"{base}/api/v1/namespaces/{ns}/secrets",
                             headers={"Impersonate-User": f"system:serviceaccount:{ns}:bench-writer"}) as r:
            assert r.status == 403, f"the bench ServiceAccount must not be an admin: {r.status}"
    return str(answer["status"]["token"])


class _Server:
    """One mode's API server process with its clients: W watchers and a keep-alive pool of C writers."""

    def __init__(self, mode: str, watchers: int, concurrency: int) -> None:
        if mode not in MODES:
            raise SystemExit(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        self.mode, self.watchers, self.concurrency = mode, watchers, concurrency
        self.counts = [0] * watchers  # the bench's own events (cm-*) each watcher has received
        self._progress = asyncio.Event()
        self.create_s = self.patch_s = self.fan_s = self.server_cpu_s = self.client_cpu_s = 0.0
        self.connect_ms = self.server_cpu_connect_s = 0.0

    async def __aenter__(self) -> _Server:
        self.load_1m = os.getloadavg()[0]
        port = _free_port()
        self._state = tempfile.TemporaryDirectory(prefix="bench-apiserver-")
        kc = str(Path(self._state.name) / "kubeconfig")
        cmd = [sys.executable, "-m", "e2e.localcluster", "apiserver", "--port", str(port), "--kubeconfig", kc,
               "--state-dir", self._state.name]
        if self.mode == "plain":
            cmd.append("--plain-http")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 (before timing starts)
        try:
            await self._connect(port, kc)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _connect(self, port: int, kc: str) -> None:
        await _wait_ready(f"{'http' if self.mode == 'plain' else 'https'}://127.0.0.1:{port}", kc)
        tls: ssl.SSLContext | bool = True
        base = f"http://127.0.0.1:{port}"
        if self.mode != "plain":
            config = load_kubeconfig(kc)
            tls, base = ssl_context(config), config.server
        ns = "bench"
        headers: dict[str, str] = {}
        if self.mode == "rbac":
            token = await _service_account_token(base, tls, ns)
            tls = ssl.create_default_context(cadata=load_kubeconfig(kc).ca_data)  # the CA, no client certificate
            headers = {"Authorization": f"Bearer {token}"}
        conn = aiohttp.TCPConnector(limit=self.concurrency + self.watchers + 4, ssl=tls)
        self.session = aiohttp.ClientSession(connector=conn, headers=headers)
        if self.mode != "rbac":
            async with self.session.post(base + "/api/v1/namespaces", json={"metadata": {"name": ns}}) as r:
                assert r.status == 201, await r.text()
        self.coll = f"{base}/api/v1/namespaces/{ns}/configmaps"
        self._watch_tasks = [asyncio.create_task(self._watch(i)) for i in range(self.watchers)]
        await asyncio.sleep(0.3)
        cpu0, t0 = _cpu_s(self.proc.pid), time.perf_counter()
        await _open_connections(self.session, self.coll, self.concurrency)
        self.connect_ms = (time.perf_counter() - t0) * 1e3
        self.server_cpu_connect_s = _cpu_s(self.proc.pid) - cpu0

    async def __aexit__(self, *exc: object) -> None:
        for t in getattr(self, "_watch_tasks", []):
            t.cancel()
        await asyncio.gather(*getattr(self, "_watch_tasks", []), return_exceptions=True)
        if hasattr(self, "session"):
            await self.session.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._state.cleanup()

    async def _watch(self, idx: int) -> None:
        async with self.session.get(self.coll, params={"watch": "true", "resourceVersion": "0"}) as r:
            async for line in r.content:
                if b'"name":"cm-' in line:  # not the namespace's kube-root-ca.crt
                    self.counts[idx] += 1
                    self._progress.set()

    async def writes(self, ids: range, verb: str) -> None:
        """Create (or merge-patch) cm-<i> for each i with C concurrent clients; timed, CPU counted."""
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in ids:
            queue.put_nowait(i)

        async def writer() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                if verb == "create":
                    request = self.session.post(self.coll, json={"metadata": {"name": f"cm-{i}"}, "data": {"k": "v"}})
                else:
                    request = self.session.patch(f"{self.coll}/cm-{i}", data=json.dumps({"data": {"k": "w"}}),
                                                 headers={"Content-Type": "application/merge-patch+json"})
                async with request as r:
                    assert r.status == (201 if verb == "create" else 200), await r.text()
                    await r.read()  # the whole answer, as a client decodes it; the connection stays reusable

        cpu0, client0, t0 = _cpu_s(self.proc.pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(self.concurrency)))
        took = time.perf_counter() - t0
        if verb == "create":
            self.create_s += took
        else:
            self.patch_s += took
        self.server_cpu_s += _cpu_s(self.proc.pid) - cpu0
        self.client_cpu_s += time.process_time() - client0
        self.fan_s += took

    async def delivered(self, events: int, timeout_s: float = 60.0) -> None:
        """Until every watcher has `events` of the bench's events; the time and both CPUs are counted."""
        cpu0, client0, t0 = _cpu_s(self.proc.pid), time.process_time(), time.perf_counter()
        end = t0 + timeout_s
        while min(self.counts) < events and time.perf_counter() < end:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=end - time.perf_counter())
        self.fan_s += time.perf_counter() - t0
        self.server_cpu_s += _cpu_s(self.proc.pid) - cpu0
        self.client_cpu_s += time.process_time() - client0

    def result(self, n: int) -> dict[str, float]:
        delivered = sum(min(c, 2 * n) for c in self.counts)
        return {"n": n, "watchers": self.watchers, "creates_per_s": n / self.create_s,
                "patches_per_s": n / self.patch_s, "watch_events_delivered": delivered,
                "watch_events_per_s": delivered / self.fan_s,
                "writes_per_s": 2 * n / (self.create_s + self.patch_s),
                # the API server's own CPU per write: what TLS and RBAC cost it, less blurred by a busy machine
                "server_cpu_us_per_write": self.server_cpu_s / (2 * n) * 1e6,
                "client_cpu_us_per_write": self.client_cpu_s / (2 * n) * 1e6,
                "connect_ms": self.connect_ms, "server_cpu_ms_connect": self.server_cpu_connect_s * 1e3,
                "load_avg_1m": self.load_1m}  # the machine's load when the run started


async def _run(n: int, watchers: int, concurrency: int, mode: str = "plain") -> dict[str, float]:
    """One mode alone: N creates, then N merge patches, then until every watcher has all 2N events."""
    async with _Server(mode, watchers, concurrency) as server:
        await server.writes(range(n), "create")
        await server.writes(range(n), "patch")
        await server.delivered(2 * n)
        return server.result(n)


async def _run_interleaved(n: int, watchers: int, concurrency: int, modes: list[str],
                           chunk: int) -> dict[str, dict[str, float]]:
    """Every mode's server at once, written to in turn, `chunk` writes at a time (each chunk's events delivered
    before the next mode writes), so the modes share the same moments of a busy machine."""
    async with contextlib.AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(_Server(m, watchers, concurrency)) for m in modes]
        done = 0
        for verb in ("create", "patch"):
            for k, lo in enumerate(range(0, n, chunk)):
                ids = range(lo, min(n, lo + chunk))
                for server in servers[k % len(servers):] + servers[:k % len(servers)]:  # no mode always first
                    await server.writes(ids, verb)
                    await server.delivered(done + len(ids))
                done += len(ids)
        return {server.mode: server.result(n) for server in servers}


async def _open_connections(session: aiohttp.ClientSession, coll: str, concurrency: int) -> None:
    """Open `concurrency` keep-alive connections (a handshake each with TLS) by holding as many requests at once;
    the writers then reuse them, as a long-running client does."""
    opened = 0
    all_open = asyncio.Event()

    async def one() -> None:
        nonlocal opened
        async with session.get(coll, params={"limit": "1"}) as r:
            assert r.status == 200, await r.text()
            await r.read()
            opened += 1
            if opened == concurrency:
                all_open.set()
            await all_open.wait()  # hold the connection until every one is open, so none is reused early

    await asyncio.gather(*(one() for _ in range(concurrency)))


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--watchers", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="n=1000")
    p.add_argument("--modes", default=",".join(MODES),
                   help=f"comma-separated modes to measure one after the other (default {','.join(MODES)})")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure the modes in turn this many times and keep each mode's best run (a shared "
                        "machine's noise hits single runs unevenly)")
    p.add_argument("--interleave", type=int, default=100, metavar="CHUNK",
                   help="run every mode's server at once and write to them in turn, CHUNK writes at a time, so "
                        "each mode meets the same moments of a shared machine (default 100; 0: one whole mode "
                        "after the other)")
    a = p.parse_args()
    n = 1000 if a.quick else a.n
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    results: dict[str, dict[str, float]] = {}
    round_ratios: dict[str, list[float]] = {mode: [] for mode in modes if mode != "plain"}
    for r in range(max(1, a.rounds)):
        if a.interleave > 0:
            this_round = asyncio.run(_run_interleaved(n, a.watchers, a.concurrency, modes, a.interleave))
        else:
            this_round = {mode: asyncio.run(_run(n, a.watchers, a.concurrency, mode)) for mode in modes}
        for mode, run in this_round.items():
            if mode not in results or run["writes_per_s"] > results[mode]["writes_per_s"]:
                results[mode] = run
        print(f"round {r + 1}: " + ", ".join(_round_cell(mode, this_round) for mode in modes), flush=True)
        if "plain" in this_round:
            for mode in round_ratios:
                round_ratios[mode].append(this_round[mode]["writes_per_s"] / this_round["plain"]["writes_per_s"])
    print(f"{'metric':<28}" + "".join(f"{mode:>14}" for mode in modes))
    for k in results[modes[0]]:
        cells = [results[mode][k] for mode in modes]
        print(f"{k:<28}" + "".join(f"{v:>14.1f}" if isinstance(v, float) else f"{v:>14}" for v in cells))
    if "plain" in results:
        for mode in modes:
            if mode != "plain":
                ratio = results[mode]["writes_per_s"] / results["plain"]["writes_per_s"]
                print(f"writes_per_s {mode}/plain: {ratio:.2f} (goal >= 0.80)")
                cpu = results[mode]["server_cpu_us_per_write"] / results["plain"]["server_cpu_us_per_write"]
                print(f"server_cpu_us_per_write {mode}/plain: {cpu:.2f}")
                client = results[mode]["client_cpu_us_per_write"] / results["plain"]["client_cpu_us_per_write"]
                print(f"client_cpu_us_per_write {mode}/plain: {client:.2f}")
                if len(round_ratios[mode]) > 1:
                    print(f"writes_per_s {mode}/plain within each round: median "
                          f"{statistics.median(round_ratios[mode]):.2f}, "
                          f"{' '.join(f'{x:.2f}' for x in round_ratios[mode])}")


def _round_cell(mode: str, runs: dict[str, dict[str, float]]) -> str:
    run = runs[mode]
    cell = (f"{mode} {run['writes_per_s']:.0f} writes/s, server {run['server_cpu_us_per_write']:.0f} + client "
            f"{run['client_cpu_us_per_write']:.0f} us/write (load {run['load_avg_1m']:.1f})")
    if mode != "plain" and "plain" in runs:
        cell += f" {run['writes_per_s'] / runs['plain']['writes_per_s']:.2f}x"
    return cell


if __name__ == "__main__":
    main()
