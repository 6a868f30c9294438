"""The Ray dashboard's Serve REST API (Ray 2.60, port 8265), as the reconciler needs it.

Guarantees:
1. Every call ends within ``timeout_s`` (default 2 s) of the caller's time, with its answer or a typed
   error: ``DashboardUnavailable`` for no answer (connect error, timeout, broken body),
   ``DashboardRejected`` for an answer that is not a success (4xx/5xx with its body, a redirect, or a
   GET whose body is not a JSON object). No other exception escapes, except ``CancelledError``.
2. One call is one request: no retries (the work queue's rate limiter owns retrying), no redirects; except
   ``ongoing_requests``: one request to the dashboard, then one to each node's metrics target (a node that
   does not answer is left out; the token goes to the dashboard only).
3. Requests look like a command-line client's: ``User-Agent: rayservice-operator``, no ``Origin``, no
   browser headers (Ray answers 405 to browser-like writes).
4. The bearer token, when given, goes in the ``Authorization`` header of requests to ``base_url`` only;
   it is never put on the shared session and never followed through a redirect. ``DashboardClients`` gives
   each client the token it is asked for (a cluster's own), else its default one (``--dashboard-token-file``).
   ``repr`` never shows a token.

Caller must:
- pass an ``aiohttp.ClientSession`` without default headers; it is shared and never closed here.

Any task may call any method, concurrently; the client keeps no state between calls.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Final, Protocol

import aiohttp

from rayservice.ray.errors import DashboardRejected, DashboardUnavailable
from rayservice.ray.serve_inflight import SERVICE_DISCOVERY_PATH, metrics_targets
from rayservice.ray.serve_inflight import ongoing_requests as count_ongoing

DASHBOARD_PORT: Final = 8265
USER_AGENT: Final = "rayservice-operator"
APPLICATIONS_PATH: Final = "/api/serve/applications/"
HEALTH_PATH: Final = "/api/gcs_healthz"


class DashboardClient(Protocol):
    """What the RayService reconciler needs from one Ray cluster's dashboard."""

    async def get_applications(self) -> dict[str, Any]:
        """The whole ``GET /api/serve/applications/`` answer (``applications`` is ``{}`` before any PUT)."""
        ...

    async def put_config(self, config: Mapping[str, Any]) -> None:
        """Declare the multi-application config; Ray starts, updates and deletes apps to match it."""
        ...

    async def health(self) -> None:
        """Return when the dashboard and its GCS answer healthy; raise ``DashboardError`` otherwise."""
        ...


def dashboard_url(pod_ip_or_host: str, port: int = DASHBOARD_PORT) -> str:
    """``http://host:port`` for a dashboard; IPv6 addresses get their brackets."""
    try:
        is_v6 = ipaddress.ip_address(pod_ip_or_host).version == 6
    except ValueError:
        is_v6 = False
    host = f"[{pod_ip_or_host}]" if is_v6 else pod_ip_or_host
    return f"http://{host}:{port}"


class HttpDashboardClient:
    """``DashboardClient`` over aiohttp, for one dashboard at ``base_url``."""

    def __init__(
        self, base_url: str, *, session: aiohttp.ClientSession, timeout_s: float = 2.0, token: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._token = token

    async def get_applications(self) -> dict[str, Any]:
        status, body = await self._request("GET", APPLICATIONS_PATH)
        try:
            answer = json.loads(body)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise DashboardRejected(status, _text(body), what="GET applications: not JSON") from exc
        if not isinstance(answer, dict):
            raise DashboardRejected(status, _text(body), what="GET applications: not a JSON object")
        return answer

    async def put_config(self, config: Mapping[str, Any]) -> None:
        await self._request("PUT", APPLICATIONS_PATH, body=json.dumps(config).encode())

    async def delete_applications(self) -> None:
        """Shut Serve down on the cluster (every application goes)."""
        await self._request("DELETE", APPLICATIONS_PATH)

    async def health(self) -> None:
        await self._request("GET", HEALTH_PATH)

    async def ongoing_requests(self) -> int | None:
        """The requests the cluster's Serve proxies have in flight (``serve_inflight.InFlightReader``): the
        nodes' metrics targets from the dashboard, then each node's metrics, concurrently, each within the
        client's timeout; ``None`` when there is nothing to read (no such endpoint, no target, no node
        answered); a dashboard that does not answer raises as every call does."""
        try:
            _, body = await self._request("GET", SERVICE_DISCOVERY_PATH)
        except DashboardRejected as exc:
            if exc.status == 404:
                return None
            raise
        try:
            targets = metrics_targets(json.loads(body))
        except ValueError as exc:
            raise DashboardRejected(200, _text(body), what=f"GET {SERVICE_DISCOVERY_PATH}: not JSON") from exc
        counts = await asyncio.gather(*(self._node_ongoing(target) for target in targets))
        answered = [count for count in counts if count is not None]
        return sum(answered) if answered else None

    async def _node_ongoing(self, target: str) -> int | None:
        try:
            async with self._session.get(
                f"http://{target}/metrics", headers={"User-Agent": USER_AGENT}, timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    return None
                return count_ongoing((await response.read()).decode("utf-8", errors="replace"))
        except (TimeoutError, aiohttp.ClientError):
            return None

    async def _request(self, method: str, path: str, *, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        what = f"{method} {path}"
        try:
            async with self._session.request(
                method, self.base_url + path, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status, payload = response.status, await response.read()
        except TimeoutError as exc:
            raise DashboardUnavailable(f"{what}: no answer from {self.base_url} within {self._timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise DashboardUnavailable(f"{what}: {self.base_url}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= status < 300:
            raise DashboardRejected(status, _text(payload), what=what)
        return status, payload

    def __repr__(self) -> str:
        return f"HttpDashboardClient({self.base_url!r}, timeout_s={self._timeout_s:g})"


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


class DashboardClients:
    """Makes `HttpDashboardClient`s that share one aiohttp session (opened on first use, closed by `close`).

    The operator's CLI owns one of these: it may not import aiohttp itself (STYLE §1).
    """

    def __init__(self, *, timeout_s: float = 2.0, token: str | None = None, max_connections: int = 256) -> None:
        self._timeout_s = timeout_s
        self._token = token
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def __call__(self, base_url: str, /, *, token: str | None = None) -> HttpDashboardClient:
        """The client of ``base_url``, sending ``token`` (a cluster's own), else the default token, if any."""
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._max_connections))
        chosen = token if token else self._token
        return HttpDashboardClient(base_url, session=self._session, timeout_s=self._timeout_s, token=chosen)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
