"""A fake Ray 2.60 dashboard: the Serve REST API and the health endpoint, for many clusters at once.

Guarantees:
1. ``GET /api/serve/applications/`` answers like Ray (``applications: {}`` before any PUT);
   ``PUT`` validates the body (400 with pydantic's message for a bad shape, 500 for a body that is not
   JSON, 200 with an empty body otherwise); ``DELETE`` shuts Serve down; ``GET /api/gcs_healthz`` answers
   200 ``success``. Application lifecycles follow ``e2e.fakeray.cluster``.
2. PUT and DELETE with browser-like headers (``Origin``, a ``Mozilla`` User-Agent, ``Sec-Fetch-*``) get
   405. With ``token`` set, the Serve API needs ``Authorization: Bearer <token>`` (401 otherwise); the
   health endpoint never does.
3. State is kept per address: the local address a request reached (pods of the simulated node each have
   their own loopback IP), or the Host header's host with ``by_host_header=True``. Each address is one
   cluster; ``request_count`` counts requests per address, method and path.
4. Time is ``clock() + advanced``: tests pass a fixed clock and call ``advance(s)``; no sleeps needed.
5. Faults, each optionally limited to one address: ``fail_next`` (the next N matching requests answer a
   status code), ``delay`` (answers wait, in real time, before anything else happens), ``malformed_next``
   (the next N GETs answer 200 with broken JSON), ``stick`` / ``fail_deploy`` (by import path, see
   ``cluster``), ``restart_head`` (the cluster forgets its applications).
6. Every request is counted, including failed, delayed and refused ones.
7. ``authorizations`` counts, per address, the ``Authorization`` header value of every request (``""`` when
   absent), so a test can check where a token went. ``clear_faults`` ends every ``fail_next``, ``delay``
   and ``malformed_next`` fault of one address (or all of them): an outage ends without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from .cluster import Knobs, ServeCluster, Timings
from .schema import parse_config

APPLICATIONS = "/api/serve/applications/"
HEALTH = "/api/gcs_healthz"
_ADDRESS = web.RequestKey("address", str)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class _FailRule:
    remaining: int
    status: int
    body: str
    address: str | None
    method: str | None
    path: str | None

    def matches(self, address: str, method: str, path: str) -> bool:
        return self.remaining > 0 and all(
            want is None or want == got
            for want, got in ((self.address, address), (self.method, method), (self.path, path))
        )


class FakeRayDashboard:
    """The fake dashboard of every cluster that reaches it; see the module docstring."""

    def __init__(
        self,
        *,
        timings: Timings | None = None,
        clock: Callable[[], float] = time.monotonic,
        token: str | None = None,
        by_host_header: bool = False,
    ) -> None:
        self.timings = timings or Timings()
        self.knobs = Knobs()
        self.token = token
        self.by_host_header = by_host_header
        self._clock = clock
        self._advanced = 0.0
        self._epoch_s = time.time() - clock()
        self._clusters: dict[str, ServeCluster] = {}
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._rules: list[_FailRule] = []
        self._delays: dict[str | None, float] = {}
        self._malformed: Counter[str | None] = Counter()
        self.authorizations: Counter[tuple[str, str]] = Counter()
        self._undelayed: dict[str | None, asyncio.Event] = {}  # per delay key, set when that delay ends
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- serving ----------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(APPLICATIONS, self._get_applications)
        app.router.add_put(APPLICATIONS, self._put_applications)
        app.router.add_delete(APPLICATIONS, self._delete_applications)
        app.router.add_get(HEALTH, self._health)
        app.router.add_get("/api/version", self._version)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0 picks a free one, then in ``self.port``)."""
        # A short shutdown timeout: stop() must not wait long for answers held by the delay knob.
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._release_delayed(*self._undelayed)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- time and state ---------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._advanced

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward (statuses are computed from it)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._advanced += seconds

    def cluster(self, address: str) -> ServeCluster:
        """The Serve state of the cluster at ``address`` (created empty on first use)."""
        found = self._clusters.get(address)
        if found is None:
            found = self._clusters[address] = ServeCluster(address, self.timings, self.knobs, epoch_s=self._epoch_s)
        return found

    @property
    def addresses(self) -> list[str]:
        return sorted(self._clusters)

    def request_count(self, address: str | None = None, *, method: str | None = None, path: str | None = None) -> int:
        return sum(
            n
            for (a, m, p), n in self._counts.items()
            if (address is None or a == address) and (method is None or m == method) and (path is None or p == path)
        )

    # --- faults -----------------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        status: int = 500,
        *,
        address: str | None = None,
        method: str | None = None,
        path: str | None = None,
        body: str = "injected failure",
    ) -> None:
        self._rules.append(_FailRule(count, status, body, address, method, path))

    def delay(self, seconds: float, *, address: str | None = None) -> None:
        """Hold every answer (to ``address``, or to all) for ``seconds`` of real time; 0 clears (and answers
        the held ones at once)."""
        self._delays[address] = seconds
        if seconds <= 0:
            self._release_delayed(address)

    def _release_delayed(self, *keys: str | None) -> None:
        """Answer the requests held by the delays of ``keys`` now."""
        for key in keys:
            event = self._undelayed.pop(key, None)
            if event is not None:
                event.set()

    def malformed_next(self, count: int, *, address: str | None = None) -> None:
        self._malformed[address] += count

    def clear_faults(self, address: str | None = None) -> None:
        """End the ``fail_next``, ``delay`` and ``malformed_next`` faults of ``address`` (None: of every address,
        including those set for all addresses)."""
        if address is None:
            self._rules.clear()
            self._delays.clear()
            self._malformed.clear()
            self._release_delayed(*self._undelayed)
        else:
            self._rules = [rule for rule in self._rules if rule.address != address]
            self._delays.pop(address, None)
            self._malformed.pop(address, None)
            self._release_delayed(address)

    def stick(self, import_path: str, stuck: bool = True) -> None:
        (self.knobs.stuck.add if stuck else self.knobs.stuck.discard)(import_path)

    def fail_deploy(self, import_path: str, message: str | None = None) -> None:
        """Applications with ``import_path`` go DEPLOY_FAILED; ``message=None`` uses an import error."""
        module = import_path.replace(":", ".").rsplit(".", 1)[0]
        self.knobs.failing[import_path] = message or (
            f"Deploying app failed with exception:\nTraceback (most recent call last):\n"
            f"ModuleNotFoundError: No module named '{module}'"
        )

    def heal_deploy(self, import_path: str) -> None:
        self.knobs.failing.pop(import_path, None)

    def restart_head(self, address: str) -> None:
        """The head restarted: Serve and every application are gone until the next PUT."""
        self.cluster(address).shutdown()

    # --- HTTP -------------------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        address = self._address_of(request)
        request[_ADDRESS] = address
        self._counts[(address, request.method, request.path)] += 1
        self.authorizations[(address, request.headers.get("Authorization", ""))] += 1
        key = address if address in self._delays else None
        delay_s = self._delays.get(key, 0.0)
        if delay_s > 0:
            ended = self._undelayed.setdefault(key, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await ended.wait()
        for rule in self._rules:
            if rule.matches(address, request.method, request.path):
                rule.remaining -= 1
                self._rules = [r for r in self._rules if r.remaining > 0]
                return web.Response(status=rule.status, text=rule.body)
        if request.path != HEALTH and (refusal := self._refusal(request)) is not None:
            return refusal
        return await handler(request)

    def _address_of(self, request: web.Request) -> str:
        if self.by_host_header:
            return request.url.host or ""
        sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
        return str(sockname[0]) if sockname else (request.url.host or "")

    def _refusal(self, request: web.Request) -> web.Response | None:
        headers = request.headers
        browser = (
            "Origin" in headers
            or headers.get("User-Agent", "").startswith("Mozilla")
            or any(name.lower().startswith("sec-fetch-") for name in headers)
        )
        if request.method in ("PUT", "DELETE") and browser:
            return web.Response(status=405, text="Browser requests not allowed")
        if self.token is not None:
            presented = headers.get("Authorization") or headers.get("X-Ray-Authorization") or ""
            if presented != f"Bearer {self.token}":
                return web.json_response({"error": "Unauthorized: missing or invalid authentication token"}, status=401)
        return None

    async def _get_applications(self, request: web.Request) -> web.Response:
        address = request[_ADDRESS]
        for key in (address, None):
            if self._malformed[key] > 0:
                self._malformed[key] -= 1
                return web.Response(
                    text='{"applications": {"fruit_app": {"status": "RUNN', content_type="application/json"
                )
        return web.json_response(self.cluster(address).answer(self.now()))

    async def _put_applications(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return web.Response(status=500, text=f"Internal Server Error: {type(exc).__name__}: {exc}")
        try:
            config = parse_config(body)
        except ValidationError as exc:
            return web.Response(status=400, text=str(exc))
        self.cluster(request[_ADDRESS]).apply(config, self.now())
        return web.Response(status=200)

    async def _delete_applications(self, request: web.Request) -> web.Response:
        self.cluster(request[_ADDRESS]).shutdown()
        return web.Response(status=200)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="success")

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "4", "ray_version": "2.60.0", "ray_commit": "fakeray"})
