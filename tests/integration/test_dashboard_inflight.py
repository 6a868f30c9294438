"""HttpDashboardClient.ongoing_requests against a small Ray-like server: the dashboard's Prometheus service
discovery, then each node's metrics; what counts as nothing to read and what is a failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rayservice.ray import DashboardRejected, HttpDashboardClient, InFlightReader, dashboard_url


class RayLike:
    """One server playing the dashboard and two nodes' metrics agents (paths /node/<i>/metrics)."""

    def __init__(self) -> None:
        self.sd: Any = None  # None: no such endpoint (404)
        self.sd_status = 200
        self.metrics = {"1": "ray_serve_num_ongoing_http_requests{node_id=\"a\"} 2.0\n",
                        "2": "ray_serve_num_ongoing_http_requests{node_id=\"b\"} 1.0\n"}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/prometheus/sd", self._sd)
        app.router.add_get("/node/{i}/metrics", self._metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def targets(self, *nodes: str) -> list[dict[str, Any]]:
        return [{"labels": {"job": "ray"}, "targets": [f"127.0.0.1:{self.port}/node/{n}" for n in nodes]}]

    async def _sd(self, _: web.Request) -> web.Response:
        if self.sd is None:
            raise web.HTTPNotFound()
        return web.json_response(self.sd, status=self.sd_status)

    async def _metrics(self, request: web.Request) -> web.Response:
        text = self.metrics.get(request.match_info["i"])
        if text is None:
            raise web.HTTPServiceUnavailable()
        return web.Response(text=text)


@pytest.fixture
async def ray() -> AsyncIterator[RayLike]:
    server = RayLike()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(ray: RayLike) -> AsyncIterator[HttpDashboardClient]:
    async with aiohttp.ClientSession() as session:
        yield HttpDashboardClient(dashboard_url("127.0.0.1", ray.port), session=session, timeout_s=2.0)


async def test_the_http_client_is_an_in_flight_reader(client: HttpDashboardClient) -> None:
    assert isinstance(client, InFlightReader)


async def test_the_ongoing_requests_of_every_node_listed_are_summed(ray: RayLike, client: HttpDashboardClient) -> None:
    ray.sd = ray.targets("1", "2")
    assert await client.ongoing_requests() == 3


async def test_a_node_that_does_not_answer_is_left_out(ray: RayLike, client: HttpDashboardClient) -> None:
    ray.sd = ray.targets("1", "9")
    assert await client.ongoing_requests() == 2


async def test_no_service_discovery_no_target_or_no_node_answering_is_nothing_to_read(
    ray: RayLike, client: HttpDashboardClient
) -> None:
    assert await client.ongoing_requests() is None
    ray.sd = ray.targets()
    assert await client.ongoing_requests() is None
    ray.sd = ray.targets("8", "9")
    assert await client.ongoing_requests() is None


async def test_a_failing_dashboard_raises_as_every_call_does(ray: RayLike, client: HttpDashboardClient) -> None:
    ray.sd, ray.sd_status = {"error": "service discovery error"}, 500
    with pytest.raises(DashboardRejected):
        await client.ongoing_requests()
