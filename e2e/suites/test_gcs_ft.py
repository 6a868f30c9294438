"""GCS fault tolerance with real Ray 2.60: the head pod of a RayService deleted under steady load, once with
`gcsFaultToleranceOptions` (a Redis pod, its Service and a password Secret made here) and once without.

Both RayServices serve the fruit market with `proxy_location: EveryNode`, `excludeHeadPodFromServeSvc: true`, a
head with `num-cpus: "0"` (no replica on it) and two workers: the serve Service selects the workers' proxies only,
so with GCS fault tolerance nothing a request needs lives on the head. Each run prints its failed requests and
its outage (first to last failed request), the Serve PUTs the operator made after the head loss and whether
the RayService's Ready condition left True. The fault tolerant cluster's GCS tables are found in Redis under its
storage namespace (its UID) before, and are gone after the RayService is deleted (the Redis cleanup Job).
Measured: the whole test takes ~2.5 min (both RayServices start side by side, the head losses run one after the
other).
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for
from e2e.suites.load import Load, timeline

MANGO = '["MANGO", 2]'
PASSWORD = "gcs-ft-e2e-5241590000"
REDIS = "gcsft-redis"
FT, PLAIN = "gcsft-with", "gcsft-without"
V1_LOCAL = (ob.SAMPLES / "ray.io_v1_rayservice_local.yaml").read_text()
EVENTS = "/api/v1/namespaces/default/events"


def rayservice_yaml(name: str, *, ft: bool) -> str:
    body: dict[str, Any] = yaml.safe_load(V1_LOCAL)
    body["metadata"] = {"name": name}
    spec = body["spec"]
    spec["rayClusterDeletionDelaySeconds"] = 5
    spec["excludeHeadPodFromServeSvc"] = True
    serve = yaml.safe_load(spec["serveConfigV2"])
    serve["proxy_location"] = "EveryNode"
    spec["serveConfigV2"] = yaml.safe_dump(serve)
    cluster = spec["rayClusterConfig"]
    cluster["headGroupSpec"]["rayStartParams"] = {"num-cpus": "0"}
    group = cluster["workerGroupSpecs"][0]
    group.update(replicas=2, minReplicas=2, maxReplicas=2)
    if ft:
        cluster["gcsFaultToleranceOptions"] = {
            "redisAddress": f"{REDIS}:6379",
            "redisPassword": {"valueFrom": {"secretKeyRef": {"name": f"{REDIS}-password", "key": "password"}}},
        }
    return yaml.safe_dump(body)


REDIS_YAML = f"""\
apiVersion: v1
kind: Secret
metadata: {{name: {REDIS}-password}}
type: Opaque
data: {{password: {base64.b64encode(PASSWORD.encode()).decode()}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: {REDIS}, labels: {{app: {REDIS}}}}}
spec:
  containers:
  - name: redis
    image: redis:7
    args: ["--requirepass", "{PASSWORD}"]
    ports: [{{containerPort: 6379}}]
    readinessProbe: {{tcpSocket: {{port: 6379}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {REDIS}}}
spec:
  selector: {{app: {REDIS}}}
  ports: [{{name: redis, port: 6379}}]
"""


def redis_keys(host: str, password: str, pattern: str = "*") -> list[str]:
    """`KEYS pattern` over RESP after AUTH (a tiny client: no Redis package in the venv)."""
    def command(*parts: str) -> bytes:
        return f"*{len(parts)}\r\n".encode() + b"".join(f"${len(p.encode())}\r\n{p}\r\n".encode() for p in parts)

    with socket.create_connection((host, 6379), timeout=5) as sock:
        sock.sendall(command("AUTH", password) + command("KEYS", pattern))
        reader = sock.makefile("rb")
        assert reader.readline() == b"+OK\r\n"
        first = reader.readline()
        assert first.startswith(b"*"), first
        keys = []
        for _ in range(int(first[1:])):
            reader.readline()
            keys.append(reader.readline().strip().decode())
        return sorted(keys)


def puts_of(stack: LocalStack, name: str) -> int:
    """Serve PUTs the operator reported on the RayService (its SubmittedServeConfig events, counts included)."""
    events = stack.list(f"{EVENTS}?fieldSelector=involvedObject.name%3D{name}")
    return sum(int(e.get("count") or 1) for e in events if e.get("reason") == "SubmittedServeConfig")


@dataclass
class ReadyWatch:
    """The RayService's Ready condition, read every 0.25 s: every time it was not True."""

    name: str
    not_ready: list[tuple[float, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, stack: LocalStack, stop: threading.Event) -> None:
        while not stop.wait(0.25):
            try:
                conditions = ob.status(stack, self.name).get("conditions") or []
            except OSError as exc:
                self.errors.append(str(exc))
                continue
            ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
            if ready.get("status") != "True":
                self.not_ready.append((time.monotonic(), f"{ready.get('status')}/{ready.get('reason')}"))


@dataclass(frozen=True)
class HeadLoss:
    failed: int
    sent: int
    outage_s: float
    new_head_ready_s: float
    puts_after: int
    not_ready: list[tuple[float, str]]
    summary: str

    def line(self, what: str) -> str:
        flaps = sorted({state for _, state in self.not_ready})
        return (f"{what}: {self.failed} failed of {self.sent}, outage {self.outage_s:.1f} s, the new head serving "
                f"the app after {self.new_head_ready_s:.1f} s, Serve PUTs after the head loss {self.puts_after}, "
                f"Ready not True {len(self.not_ready)} times {flaps}")


def head_of(stack: LocalStack, cluster: str) -> str:
    (head,) = [p["metadata"]["name"] for p in ob.pods(stack, cluster) if p["metadata"]["labels"]["ray.io/node-type"]
               == "head" and p["metadata"].get("deletionTimestamp") is None]
    return str(head)


def lose_the_head(stack: LocalStack, name: str, *, settle_s: float, limit_s: float) -> HeadLoss:
    """Delete the head pod under 10 requests/s; done once the new head serves the app and no request failed
    for `settle_s` (at most `limit_s` after the deletion)."""
    (cluster,) = ob.clusters(stack, name)
    ip = ob.cluster_ip(stack, f"{name}-serve-svc")
    wait_for(f"{name} answers 6", lambda: ob.answer(ip, MANGO) == "6", 60)
    head = head_of(stack, cluster)
    puts_before = puts_of(stack, name)
    watch = ReadyWatch(name)
    stop = threading.Event()
    watcher = threading.Thread(target=watch.run, args=(stack, stop), daemon=True)
    with Load(ip, 8000, MANGO, rate_per_s=10, accept={"6"}) as load:
        wait_for("load flowing", lambda: load.sent >= 20, 10)
        watcher.start()
        t0 = time.monotonic()
        stack.kubectl("delete", "pod", head, "--wait=false")

        def new_head_serving() -> bool:
            pod = next((p for p in ob.pods(stack, cluster) if p["metadata"]["name"] != head
                        and p["metadata"]["labels"]["ray.io/node-type"] == "head" and ob.is_ready(p)), None)
            address = (pod or {}).get("status", {}).get("podIP")
            return bool(address) and ob.all_running(ob.serve_apps(address), ["fruit_app"])

        try:
            wait_for("the new head serving the app", new_head_serving, 180, 0.5)
            head_ready_s = time.monotonic() - t0

            def settled() -> bool:
                failures = [o.sent_s for o in load.since(t0) if load.is_failure(o)]
                return time.monotonic() - max([t0 + head_ready_s, *failures]) >= settle_s

            wait_for(f"no failed request for {settle_s:.0f} s", settled, limit_s, 0.5)
        finally:
            stop.set()
            watcher.join()
            print(f"\n{name} timeline (requests/failed/slowest per 5 s): {timeline(load.since(t0), t0)}")
    during = load.since(t0)
    report = load.report(during)
    failures = sorted(o.sent_s for o in during if load.is_failure(o))
    outage = failures[-1] - failures[0] if failures else 0.0
    return HeadLoss(report.failed, report.sent, outage, head_ready_s, puts_of(stack, name) - puts_before,
                    [(t - t0, s) for t, s in watch.not_ready], report.summary())


@pytest.fixture
def redis(stack: LocalStack) -> Iterator[str]:
    ob.apply(stack, REDIS_YAML)
    try:
        wait_for("redis ready", lambda: any(ob.is_ready(p) for p in ob.pods(stack) if p["metadata"]["name"] == REDIS),
                 60)
        yield ob.cluster_ip(stack, REDIS)
    finally:
        for name in (FT, PLAIN):
            ob.delete_and_wait(stack, name, timeout_s=240)
        stack.kubectl("delete", "-f", "-", "--wait=true", stdin=REDIS_YAML)


@pytest.mark.timeout(600)
def test_head_pod_deleted_under_load_with_and_without_gcs_fault_tolerance(stack: LocalStack, redis: str) -> None:
    t_start = time.monotonic()
    ob.apply(stack, rayservice_yaml(FT, ft=True))
    ob.apply(stack, rayservice_yaml(PLAIN, ft=False))
    ob.wait_running(stack, FT, 300)
    ob.wait_running(stack, PLAIN, 300)
    (ft_cluster,) = ob.clusters(stack, FT)
    uid = str((stack.get(f"{ob.RC_PATH}/{ft_cluster}") or {})["metadata"]["uid"])
    stored = redis_keys(redis, PASSWORD, f"RAY{uid}@*")
    assert stored, "the GCS wrote nothing to Redis under the cluster's storage namespace"
    up_s = time.monotonic() - t_start

    with_ft = lose_the_head(stack, FT, settle_s=10, limit_s=120)
    without = lose_the_head(stack, PLAIN, settle_s=15, limit_s=200)
    print(f"\nboth RayServices Running after {up_s:.1f} s ({len(stored)} GCS tables in Redis under RAY{uid})\n"
          f"{with_ft.line('head pod deleted WITH GCS fault tolerance')}\n  {with_ft.summary}\n"
          f"{without.line('head pod deleted WITHOUT GCS fault tolerance')}\n  {without.summary}")

    t_del = time.monotonic()
    ob.delete_and_wait(stack, FT, timeout_s=240)
    wait_for("the cluster's storage namespace gone from Redis", lambda: not redis_keys(redis, PASSWORD,
                                                                                       f"RAY{uid}@*"), 60)
    print(f"{FT} deleted and its Redis keys gone after {time.monotonic() - t_del:.1f} s; whole test "
          f"{time.monotonic() - t_start:.1f} s")
    assert with_ft.failed == 0, with_ft.summary
    assert with_ft.puts_after == 0, "the operator re-PUT a Serve config Ray recovered from Redis"
    assert not with_ft.not_ready, with_ft.not_ready[:5]
    assert without.failed > 0, "without GCS fault tolerance the head loss cost nothing: the run proves nothing"
