"""Container probes and lifecycle handlers as kubelet runs them: httpGet, tcpSocket, exec.

Guarantees:
1. `parse_probe` applies kubelet's defaults (initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1,
   successThreshold 1, failureThreshold 3) and resolves a named port through the container's ports; an
   unknown port name or handler raises `ProbeError` (the caller counts it as a failing probe). A grpc probe
   is checked as a TCP connection to its port (no gRPC client here).
2. `check` is one attempt bounded by the probe's timeout: httpGet succeeds on a status in [200, 400) (from
   the node, to the pod's address unless `host` is set, with `httpHeaders`), tcpSocket when a connection
   opens, exec when the command exits 0.
3. `run_prober` waits initialDelaySeconds, then checks every periodSeconds and calls `on_result` only when
   the result flips: to success after successThreshold consecutive successes, to failure after
   failureThreshold consecutive failures (the first failure report needs the full threshold too).
4. `run_handler` runs a lifecycle handler (preStop/postStart: exec, httpGet, tcpSocket, sleep) once, bounded
   by a deadline; its outcome is returned, never raised.
5. `watch_container` runs a container's probes: the startup probe until its first result (started on success),
   then readiness (reported on every flip) and liveness together; it returns the reason to kill the container
   when the startup or liveness probe fails, and runs until cancelled otherwise. A probe that cannot be
   parsed counts as failing, as kubelet counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import aiohttp

Obj = dict[str, Any]
ExecFn = Callable[[list[str], float], Awaitable[tuple[int, bytes]]]  # (argv, timeout) -> (exit code, output)
Attempt = Callable[[], Awaitable[tuple[bool, str]]]
log = logging.getLogger(__name__)


class ProbeError(Exception):
    pass


@dataclass(frozen=True)
class Probe:
    kind: Literal["httpGet", "tcpSocket", "exec", "sleep"]
    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    host: str = ""
    port: int = 0
    path: str = "/"
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = field(default_factory=tuple)
    sleep_s: float = 0.0


def _port(value: Any, container: Mapping[str, Any]) -> int:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ProbeError(f'port "{value}" is not a port of container "{container.get("name")}"')


def parse_probe(spec: Mapping[str, Any] | None, container: Mapping[str, Any]) -> Probe | None:
    if not spec:
        return None
    base = Probe("exec", initial_delay_s=float(spec.get("initialDelaySeconds") or 0),
                 period_s=float(spec.get("periodSeconds") or 10), timeout_s=float(spec.get("timeoutSeconds") or 1),
                 success_threshold=int(spec.get("successThreshold") or 1),
                 failure_threshold=int(spec.get("failureThreshold") or 3))
    if "httpGet" in spec:
        http = spec["httpGet"]
        headers = tuple((str(h.get("name")), str(h.get("value"))) for h in http.get("httpHeaders") or [])
        return replace(base, kind="httpGet", host=str(http.get("host") or ""), port=_port(http.get("port"), container),
                       path=str(http.get("path") or "/"), scheme=str(http.get("scheme") or "HTTP").upper(),
                       headers=headers)
    if "tcpSocket" in spec:
        tcp = spec["tcpSocket"]
        return replace(base, kind="tcpSocket", host=str(tcp.get("host") or ""),
                       port=_port(tcp.get("port"), container))
    if "grpc" in spec:  # no gRPC client here: a connection to the port stands in for the health call
        return replace(base, kind="tcpSocket", port=_port(spec["grpc"].get("port"), container))
    if "exec" in spec:
        return replace(base, command=tuple(str(a) for a in (spec["exec"].get("command") or [])))
    if "sleep" in spec:
        return replace(base, kind="sleep", sleep_s=float(spec["sleep"].get("seconds") or 0))
    raise ProbeError(f"unsupported probe handler {sorted(k for k in spec if not k[0].isupper())}")


async def check(probe: Probe, pod_ip: str, run_exec: ExecFn, session: aiohttp.ClientSession) -> tuple[bool, str]:
    """One attempt: (success, a short reason for logs and events)."""
    host = probe.host or pod_ip
    try:
        if probe.kind == "httpGet":
            url = f"{probe.scheme.lower()}://{host}:{probe.port}{probe.path}"
            headers = {"User-Agent": "kube-probe/1.36", "Accept": "*/*", **dict(probe.headers)}
            async with session.get(url, headers=headers, ssl=False, allow_redirects=False,
                                   timeout=aiohttp.ClientTimeout(total=probe.timeout_s)) as resp:
                return 200 <= resp.status < 400, f"HTTP probe failed with statuscode: {resp.status}"
        if probe.kind == "tcpSocket":
            async with asyncio.timeout(probe.timeout_s):
                _reader, writer = await asyncio.open_connection(host, probe.port)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True, ""
        if probe.kind == "exec":
            code, output = await run_exec(list(probe.command), probe.timeout_s)
            return code == 0, f"command exited {code}: {output[-200:].decode(errors='replace').strip()}"
        await asyncio.sleep(probe.sleep_s)
        return True, ""
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return False, f"{probe.kind} probe failed: {exc or type(exc).__name__}"


async def run_prober(probe: Probe, attempt: Attempt, on_result: Callable[[bool, str], None]) -> None:
    """Probe until cancelled; see guarantee 3."""
    await asyncio.sleep(probe.initial_delay_s)
    reported: bool | None = None
    successes = failures = 0
    while True:
        ok, why = await attempt()
        successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
        if ok and reported is not True and successes >= probe.success_threshold:
            reported = True
            on_result(True, "")
        elif not ok and reported is not False and failures >= probe.failure_threshold:
            reported = False
            on_result(False, why)
        await asyncio.sleep(probe.period_s)


async def run_handler(handler: Mapping[str, Any] | None, container: Mapping[str, Any], pod_ip: str,
                      run_exec: ExecFn, session: aiohttp.ClientSession, timeout_s: float) -> tuple[bool, str]:
    if not handler:
        return True, ""
    try:
        probe = parse_probe({**handler, "timeoutSeconds": max(timeout_s, 0.1)}, container)
    except ProbeError as exc:
        return False, str(exc)
    if probe is None:
        return True, ""
    try:
        async with asyncio.timeout(timeout_s):
            return await check(probe, pod_ip, run_exec, session)
    except TimeoutError:
        return False, f"handler did not finish within {timeout_s:.0f} s"


def _parsed(container: Mapping[str, Any], kind: str) -> Probe | None:
    try:
        return parse_probe(container.get(kind), container)
    except ProbeError as exc:
        log.warning("probe_invalid container=%s %s: %s", container.get("name"), kind, exc)
        return Probe("exec", command=("false",))


async def _first_report(probe: Probe, attempt: Attempt, want: bool | None) -> tuple[bool, str]:
    """The first result the prober reports (that equals `want`, unless None)."""
    found: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()

    def on_result(ok: bool, why: str) -> None:
        if not found.done() and want in (None, ok):
            found.set_result((ok, why))

    prober = asyncio.create_task(run_prober(probe, attempt, on_result))
    try:
        return await found
    finally:
        prober.cancel()
        await asyncio.wait({prober})


async def watch_container(container: Mapping[str, Any], attempt: Callable[[Probe], Attempt], *,
                          on_started: Callable[[], None], on_ready: Callable[[bool], None]) -> str:
    """See guarantee 5; the result is why the container must be killed."""
    startup = _parsed(container, "startupProbe")
    if startup is not None:
        ok, why = await _first_report(startup, attempt(startup), None)
        if not ok:
            return f"startup probe failed: {why}"
        on_started()
    readiness, liveness = _parsed(container, "readinessProbe"), _parsed(container, "livenessProbe")
    ready = None if readiness is None else asyncio.create_task(
        run_prober(readiness, attempt(readiness), lambda ok, _why: on_ready(ok)))
    try:
        if liveness is not None:
            _ok, why = await _first_report(liveness, attempt(liveness), False)
            return f"liveness probe failed: {why}"
        await asyncio.get_running_loop().create_future()  # no liveness probe: probe readiness until cancelled
        return ""
    finally:
        if ready is not None:
            ready.cancel()
            await asyncio.wait({ready})
