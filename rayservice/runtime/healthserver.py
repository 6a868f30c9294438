"""One HTTP server for probes and scraping: ``/healthz``, ``/readyz`` and ``/metrics``.

Guarantees:
1. ``/healthz`` answers 200 ``ok`` whenever the process answers HTTP at all (liveness).
2. ``/readyz`` answers 200 ``ok`` while ``ready()`` is true and 503 ``not ready`` otherwise; the manager's
   ``is_ready`` is true once the caches synced and the leadership state is known.
3. ``/metrics`` answers the registry in the Prometheus text format, generated on each request.
4. ``start()`` returns once the socket listens (port 0 picks a free port, ``port`` tells which) and
   raises ``OSError`` when the address cannot be bound; ``stop()`` closes the listener and connections.

Tasks: aiohttp serves requests in its own tasks between ``start()`` and ``stop()``; ``ready`` runs in
them, so it must be cheap and must not await.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_SHUTDOWN_TIMEOUT_S: Final = 1.0

_log = structlog.get_logger(__name__)


class HealthServer:
    """Probes and metrics for one process; a ``Server`` for the manager."""

    def __init__(
        self, *, registry: CollectorRegistry, ready: Callable[[], bool], host: str = "", port: int = 8080
    ) -> None:
        self._registry = registry
        self._ready = ready
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked, after ``start()`` with port 0)."""
        return self._port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        site = web.TCPSite(runner, self._host or None, self._port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        if self._port == 0:
            self._port = _bound_port(runner)
        _log.info("health_server_listening", host=self._host or "0.0.0.0", port=self._port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        del request
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        del request
        if self._ready():
            return web.Response(text="ok")
        return web.Response(text="not ready", status=503)

    async def _metrics(self, request: web.Request) -> web.Response:
        del request
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the health server is not listening on a TCP port")
