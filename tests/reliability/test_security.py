"""Security (DESIGN §8) as behaviour of the running operator: no Secret is read, no secret value reaches its logs
(at debug level, through a failed Serve submission too), and the dashboard token goes to Ray dashboards only.
With ``authOptions.mode: token`` each cluster's own token (its Secret's, a new one for an upgrade's cluster) goes
to that cluster's dashboard only, and never to the operator's log, an event, a status, an object other than its
Secret, or the metrics.

The Deployment's securityContext (runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation false,
capabilities drop ALL) and the RBAC (no Secret access) are checked by tests/unit/test_manifests.py; they are
not repeated here.

To see every byte the operator sends to the API server, its kubeconfig points at a TCP proxy in front of the
embedded server that records the client-to-server stream.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.fakeray import APPLICATIONS
from rayservice.kube import RAY_SERVICES, Resource
from tests.reliability.harness import (
    CLUSTERS_GR,
    EVENTS_GR,
    NAMESPACE,
    OPERATOR_AGENT,
    PODS_GR,
    RAYSERVICES_GR,
    SERVICES_GR,
    Operators,
    RecordProperty,
    World,
    converged,
    events_of,
    rayservice,
    report,
    requests_by,
    status_of,
    stored,
    tally,
    world,
)

SECRETS = Resource("", "v1", "secrets", kind="Secret")
DEADLINE_S = 30.0


class RecordingProxy:
    """Forwards TCP connections to ``upstream_port`` and keeps every byte clients sent."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = bytearray()
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers += [writer, up_writer]
            await asyncio.gather(self._pipe(reader, up_writer, record=True), self._pipe(up_reader, writer),
                                 return_exceptions=True)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, record: bool = False) -> None:
        try:
            while data := await src.read(65536):
                if record:
                    self.sent += data
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()


@contextlib.asynccontextmanager
async def proxied(w: World) -> AsyncIterator[RecordingProxy]:
    proxy = RecordingProxy(w.server.port)
    await proxy.start()
    try:
        config = yaml.safe_load(w.kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{proxy.port}"
        w.kubeconfig = w.tmp / "proxied-kubeconfig"
        w.kubeconfig.write_text(yaml.safe_dump(config))
        yield proxy
    finally:
        await proxy.stop()


def with_secret_refs(name: str, generation: int, *, secret: str, literal: str) -> dict[str, Any]:
    """A RayService whose head reads a Secret through the pod's env, and whose GCS fault tolerance options hold
    a Redis password both by reference and (on the second RayService) as a literal value."""
    body = rayservice(name, generation=generation)
    cluster = body["spec"]["rayClusterConfig"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    # not REDIS_PASSWORD: KubeRay refuses that env beside gcsFaultToleranceOptions.redisPassword
    head["env"].append({"name": "APP_DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}})
    password: dict[str, Any] = {"valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}
    if literal:
        password = {"value": literal}
    cluster["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379", "redisPassword": password}
    return body


async def journey(w: World, names: list[str], bodies: dict[str, Any]) -> None:
    """Create, deploy, upgrade the cluster, fail one Serve submission and fix it: every code path that logs."""
    for name in names:
        await w.user.create(RAY_SERVICES, bodies[name](0), namespace=NAMESPACE)
    await w.until(lambda: all(converged(w, n, 0) for n in names), deadline_s=DEADLINE_S, what="deployed",
                        explain=lambda: {n: status_of(w, n) for n in names})
    w.dashboard.fail_next(2, 400, method="PUT", path=APPLICATIONS, body="invalid config: Authorization echoed back")
    for name in names:
        new = bodies[name](1)
        await w.user.patch(RAY_SERVICES, name, {"spec": {"rayClusterConfig": new["spec"]["rayClusterConfig"]}},
                           namespace=NAMESPACE)
    # single=False: a GCS fault-tolerant old cluster keeps its finalizer until its Redis cleanup Job ends
    # (no Redis answers here), as with KubeRay; the switch to the new cluster is what this journey needs
    await w.until(lambda: all(converged(w, n, 1, single=False) for n in names), deadline_s=DEADLINE_S,
                  what="upgraded", explain=lambda: {n: status_of(w, n) for n in names})


@pytest.mark.timeout(120)
async def test_no_secret_is_read_and_no_secret_value_or_token_leaves_through_logs_or_the_api(
    tmp_path: Path, record_testsuite_property: RecordProperty
) -> None:
    token = f"dashboard-token-{secrets.token_hex(8)}"
    secret_value = f"redis-secret-{secrets.token_hex(8)}"
    literal = f"redis-literal-{secrets.token_hex(8)}"
    token_file = tmp_path / "dashboard-token"
    token_file.write_text(token + "\n")
    async with world(tmp_path, token=token) as w, proxied(w) as proxy:
        await w.user.create(SECRETS, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-auth", "namespace": NAMESPACE},
            "data": {"password": base64.b64encode(secret_value.encode()).decode()},
        }, namespace=NAMESPACE)
        operators = Operators(w)
        names = ["plain", "by-ref", "literal"]
        bodies = {
            "plain": lambda g: rayservice("plain", generation=g),
            "by-ref": lambda g: with_secret_refs("by-ref", g, secret="redis-auth", literal=""),
            "literal": lambda g: with_secret_refs("literal", g, secret="redis-auth", literal=literal),
        }
        try:
            op = await operators.start("operator", extra=["--dashboard-token-file", str(token_file),
                                                          "--log-level", "debug"])
            await journey(w, names, bodies)
            await op.stop()
            exit_code = op.process.returncode if op.process else None
        finally:
            await operators.close()
        log = op.log()
        ours = requests_by(w, OPERATOR_AGENT)
        secret_requests = [r for r in ours if r.resource == "secrets"]
        sent = bytes(proxy.sent)
        by_header: Counter[str] = Counter()
        for (_, header), n in w.dashboard.authorizations.items():
            by_header[header] += n
        warnings = {n: sorted({str(e.get("reason")) for e in events_of(w, n)}) for n in names}
    figures = {
        "operator_requests": tally(ours),
        "secret_requests": len(secret_requests),
        "log_lines": log.count("\n"),
        "token_in_log": token in log,
        "secret_value_in_log": secret_value in log,
        "literal_password_in_log": literal in log,
        "bytes_sent_to_api_server": len(sent),
        "proxied_connections": proxy.connections,
        "token_sent_to_api_server": token.encode() in sent,
        "authorization_headers_to_api_server": sent.lower().count(b"\r\nauthorization:"),
        "dashboard_requests_by_authorization": {("Bearer <token>" if h == f"Bearer {token}" else h or "<none>"): n
                                                for h, n in by_header.items()},
        "events": warnings,
        "exit_code": exit_code,
    }
    report(record_testsuite_property, "security", figures)
    assert log.count("\n") > 20 and "dashboard" in log  # the log was really captured, at debug level
    assert secret_requests == []
    assert token not in log and secret_value not in log and literal not in log
    assert len(sent) > 10_000 and token.encode() not in sent
    assert b"\r\nauthorization:" not in sent.lower()
    assert set(by_header) == {f"Bearer {token}"} and sum(by_header.values()) > 0
    assert exit_code == 0


def with_token_auth(name: str, generation: int) -> dict[str, Any]:
    body = rayservice(name, generation=generation)
    body["spec"]["rayClusterConfig"]["authOptions"] = {"mode": "token"}
    return body


def cluster_token(w: World, cluster: str) -> tuple[str, str]:
    """The token in the Secret the operator made for ``cluster``, and the address of the cluster's head pod."""
    secret = stored(w, ("", "secrets"), cluster)
    assert secret is not None, f"no Secret {cluster}"
    (head,) = [p for p in w.server.store.list(PODS_GR, NAMESPACE) if (p["metadata"].get("labels") or {}).get(
        "ray.io/cluster") == cluster and p["metadata"]["labels"].get("ray.io/node-type") == "head"]
    return base64.b64decode(secret["data"]["auth_token"]).decode(), str(head["status"]["podIP"])


def request_line(sent: bytes, at: int) -> bytes:
    """The request line of the request whose bytes include offset ``at`` of the recorded client stream (a request
    starts after the previous one's blank line or JSON body)."""
    end = sent.rfind(b" HTTP/1.1\r\n", 0, at)
    start = max(sent.rfind(b"\r\n\r\n", 0, end) + 4, sent.rfind(b"}", 0, end) + 1, 0)
    return sent[start:end]


def metrics_text(log: str) -> str:
    """``GET /metrics`` from the operator whose JSON log is ``log`` (its port is in ``health_server_listening``)."""
    (port,) = [json.loads(line)["port"] for line in log.splitlines() if '"health_server_listening"' in line]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


@pytest.mark.timeout(120)
async def test_each_clusters_own_ray_auth_token_goes_to_its_dashboard_only_never_to_logs_events_status_or_metrics(
    tmp_path: Path, record_testsuite_property: RecordProperty
) -> None:
    name = "token-auth"
    async with world(tmp_path) as w, proxied(w) as proxy:
        operators = Operators(w)
        try:
            op = await operators.start("operator", extra=["--log-level", "debug"])
            await w.user.create(RAY_SERVICES, with_token_auth(name, 0), namespace=NAMESPACE)
            await w.until(lambda: converged(w, name, 0), deadline_s=DEADLINE_S, what="deployed",
                          explain=lambda: status_of(w, name))
            first = status_of(w, name)["activeServiceStatus"]["rayClusterName"]
            tokens = {first: cluster_token(w, first)}
            w.dashboard.fail_next(2, 400, method="PUT", path=APPLICATIONS, body="invalid config: echoed back")
            new = with_token_auth(name, 1)
            await w.user.patch(RAY_SERVICES, name, {"spec": {"rayClusterConfig": new["spec"]["rayClusterConfig"]}},
                               namespace=NAMESPACE)
            await w.until(lambda: converged(w, name, 1, single=False), deadline_s=DEADLINE_S, what="upgraded",
                          explain=lambda: status_of(w, name))
            second = status_of(w, name)["activeServiceStatus"]["rayClusterName"]
            tokens[second] = cluster_token(w, second)
            metrics = await asyncio.to_thread(metrics_text, op.log())
            objects = json.dumps([w.server.store.list(gr, NAMESPACE) for gr in (
                RAYSERVICES_GR, CLUSTERS_GR, PODS_GR, SERVICES_GR, EVENTS_GR)])
            await op.stop()
            exit_code = op.process.returncode if op.process else None
        finally:
            await operators.close()
        log = op.log()
        sent = bytes(proxy.sent)
        secret_writes = tally(r for r in requests_by(w, OPERATOR_AGENT) if r.resource == "secrets")
        by_address: dict[str, set[str]] = {}
        for (address, header), n in w.dashboard.authorizations.items():
            if n and header:
                by_address.setdefault(address, set()).add(header)
    owner = {f"Bearer {token}": cluster for cluster, (token, _) in tokens.items()}
    figures = {
        "clusters": len(tokens),
        "distinct_tokens": len({token for token, _ in tokens.values()}),
        "secret_requests": secret_writes,
        "log_lines": log.count("\n"),
        "metrics_bytes": len(metrics),
        "dashboards_by_token_owner": {address: sorted(owner.get(h, "<other>") for h in headers)
                                      for address, headers in by_address.items()},
        "exit_code": exit_code,
    }
    report(record_testsuite_property, "security per-cluster token", figures)
    assert first != second and len({token for token, _ in tokens.values()}) == 2
    assert log.count("\n") > 20 and "auth_secret_created" in log  # the debug log was really captured
    assert "ray_" in metrics or "rayservice" in metrics  # the metrics were really read
    for cluster, (token, head_ip) in tokens.items():
        encoded = base64.b64encode(token.encode())
        assert token not in log and encoded.decode() not in log
        assert token not in metrics
        assert token not in objects and encoded.decode() not in objects
        # once to the API server: in the create of its Secret (stringData, as KubeRay writes it)
        assert sent.count(token.encode()) == 1 and encoded not in sent
        line = request_line(sent, sent.find(token.encode()))
        assert line.startswith(f"POST /api/v1/namespaces/{NAMESPACE}/secrets".encode()), line
        assert by_address.get(head_ip) == {f"Bearer {token}"}, (cluster, figures)
    assert set(owner) == set().union(*by_address.values())  # no other Authorization reached any dashboard
    assert secret_writes.get("create:201") == 2
    assert exit_code == 0
