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
Usage: python -m bench.apiserver_writes [--n 5000] [--watchers 10] [--concurrency 32] [--modes plain,tls,rbac]
       [--rounds R] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
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


async def _watch(session: aiohttp.ClientSession, url: str, expected: int, counts: list[int], idx: int,
                 done: asyncio.Event) -> None:
    async with session.get(url, params={"watch": "true", "resourceVersion": "0"}) as r:
        async for _line in r.content:
            counts[idx] += 1
            if all(c >= expected for c in counts):
                done.set()
            if counts[idx] >= expected:
                return


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


async def _run(n: int, watchers: int, concurrency: int, mode: str = "plain") -> dict[str, float]:
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    load_1m = os.getloadavg()[0]
    port = _free_port()
    state = tempfile.TemporaryDirectory(prefix="bench-apiserver-")
    kc = str(Path(state.name) / "kubeconfig")
    cmd = [sys.executable, "-m", "e2e.localcluster", "apiserver", "--port", str(port), "--kubeconfig", kc,
           "--state-dir", state.name]
    if mode == "plain":
        cmd.append("--plain-http")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 (once, before timing starts)
    try:
        await _wait_ready(f"{'http' if mode == 'plain' else 'https'}://127.0.0.1:{port}", kc)
        tls: ssl.SSLContext | bool = True
        base = f"http://127.0.0.1:{port}"
        if mode != "plain":
            config = load_kubeconfig(kc)
            tls, base = ssl_context(config), config.server
        ns = "bench"
        headers: dict[str, str] = {}
        if mode == "rbac":
            token = await _service_account_token(base, tls, ns)
            tls = ssl.create_default_context(cadata=load_kubeconfig(kc).ca_data)  # the CA, no client certificate
            headers = {"Authorization": f"Bearer {token}"}
        conn = aiohttp.TCPConnector(limit=concurrency + watchers + 4, ssl=tls)
        async with aiohttp.ClientSession(connector=conn, headers=headers) as session:
            if mode != "rbac":
                async with session.post(base + "/api/v1/namespaces",
                                        json={"metadata": {"name": ns}}) as r:
                    assert r.status == 201, await r.text()
            coll = f"{base}/api/v1/namespaces/{ns}/configmaps"
            counts = [0] * watchers
            all_seen = asyncio.Event()
            # each watcher sees N ADDED + N MODIFIED events (kube-root-ca.crt may add one more)
            expected = 2 * n
            watch_tasks = [asyncio.create_task(_watch(session, coll, expected, counts, i, all_seen))
                           for i in range(watchers)]
            await asyncio.sleep(0.3)
            cpu_connect0 = _cpu_s(proc.pid)
            t_connect = time.perf_counter()
            await _open_connections(session, coll, concurrency)
            connect_ms = (time.perf_counter() - t_connect) * 1e3
            server_cpu_connect_s = _cpu_s(proc.pid) - cpu_connect0
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)

            async def creator() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    async with session.post(coll, json={"metadata": {"name": f"cm-{i}"}, "data": {"k": "v"}}) as r:
                        assert r.status == 201, await r.text()
                        await r.read()  # the whole answer, as a client decodes it; the connection stays reusable

            cpu0 = _cpu_s(proc.pid)
            client_cpu0 = time.process_time()
            t0 = time.perf_counter()
            await asyncio.gather(*(creator() for _ in range(concurrency)))
            create_s = time.perf_counter() - t0
            for i in range(n):
                queue.put_nowait(i)

            async def patcher() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    async with session.patch(f"{coll}/cm-{i}", data=json.dumps({"data": {"k": "w"}}),
                                             headers={"Content-Type": "application/merge-patch+json"}) as r:
                        assert r.status == 200, await r.text()
                        await r.read()

            t1 = time.perf_counter()
            await asyncio.gather(*(patcher() for _ in range(concurrency)))
            patch_s = time.perf_counter() - t1
            try:
                await asyncio.wait_for(all_seen.wait(), timeout=60)
            except TimeoutError:
                pass
            fan_s = time.perf_counter() - t0
            server_cpu_s = _cpu_s(proc.pid) - cpu0  # the writes and their delivery to every watcher
            client_cpu_s = time.process_time() - client_cpu0  # the writers and the watchers, on the same cores
            for t in watch_tasks:
                t.cancel()
            await asyncio.gather(*watch_tasks, return_exceptions=True)
            delivered = sum(min(c, expected) for c in counts)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        state.cleanup()
    return {"n": n, "watchers": watchers, "creates_per_s": n / create_s, "patches_per_s": n / patch_s,
            "watch_events_delivered": delivered, "watch_events_per_s": delivered / fan_s,
            "writes_per_s": 2 * n / (create_s + patch_s),
            # the API server's own CPU per write: what TLS and RBAC cost it, less blurred by a busy machine
            "server_cpu_us_per_write": server_cpu_s / (2 * n) * 1e6,
            "client_cpu_us_per_write": client_cpu_s / (2 * n) * 1e6,
            "connect_ms": connect_ms, "server_cpu_ms_connect": server_cpu_connect_s * 1e3,
            "load_avg_1m": load_1m}  # the machine's load when the run started: other work blurs the rates


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
    a = p.parse_args()
    n = 1000 if a.quick else a.n
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    results: dict[str, dict[str, float]] = {}
    round_ratios: dict[str, list[float]] = {mode: [] for mode in modes if mode != "plain"}
    for r in range(max(1, a.rounds)):
        this_round: dict[str, dict[str, float]] = {}
        for mode in modes:
            run = this_round[mode] = asyncio.run(_run(n, a.watchers, a.concurrency, mode))
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
