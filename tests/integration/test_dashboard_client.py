"""HttpDashboardClient against the fake Ray dashboard: round trips, typed errors, timeouts, token, headers."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from e2e.fakeray import APPLICATIONS, FakeRayDashboard, Timings
from rayservice.controller.rayservice.observe import dashboard_failure
from rayservice.ray import (
    DashboardError,
    DashboardRejected,
    DashboardUnavailable,
    HttpDashboardClient,
    all_running,
    compute_application_statuses,
    dashboard_url,
    observed_applications,
    serve_config_differs,
)
from rayservice.testing import FakeClock
from tests.fruit_market import fruit_config

TOKEN = "s3cr3t-token"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeRayDashboard]:
    dashboard = FakeRayDashboard(
        timings=Timings(not_started_s=0.5, deploy_s=8.0, in_place_s=0.6), clock=clock.monotonic
    )
    await dashboard.start()
    try:
        yield dashboard
    finally:
        await dashboard.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(fake: FakeRayDashboard, session: aiohttp.ClientSession) -> HttpDashboardClient:
    return HttpDashboardClient(dashboard_url("127.0.0.1", fake.port), session=session)


class TestRoundTrip:
    async def test_before_any_put_there_are_no_applications(self, client: HttpDashboardClient) -> None:
        assert (await client.get_applications())["applications"] == {}

    async def test_put_fruit_market_then_get_shows_it_deploying_and_later_running(
        self, client: HttpDashboardClient, fake: FakeRayDashboard, clock: FakeClock
    ) -> None:
        config = fruit_config()
        await client.put_config(config)
        answer = await client.get_applications()
        assert answer["applications"]["fruit_app"]["deployed_app_config"] == config["applications"][0]
        assert not serve_config_differs(config, observed_applications(answer))
        clock.step(1.0)
        assert (await client.get_applications())["applications"]["fruit_app"]["status"] == "DEPLOYING"
        clock.step(7.0)
        apps = compute_application_statuses(await client.get_applications(), now=clock.now())
        assert all_running(apps)
        assert set(apps["fruit_app"].deployments) == {
            "MangoStand",
            "OrangeStand",
            "PearStand",
            "FruitMarket",
            "DAGDriver",
        }

    async def test_price_change_is_seen_as_a_difference_then_applied_in_place(
        self, client: HttpDashboardClient, fake: FakeRayDashboard
    ) -> None:
        await client.put_config(fruit_config())
        fake.advance(8.0)
        new = fruit_config(mango_price=4)
        assert serve_config_differs(new, observed_applications(await client.get_applications()))
        await client.put_config(new)
        answer = await client.get_applications()
        assert not serve_config_differs(new, observed_applications(answer))
        assert answer["applications"]["fruit_app"]["deployments"]["MangoStand"]["status"] == "UPDATING"
        fake.advance(0.6)
        assert (await client.get_applications())["applications"]["fruit_app"]["status"] == "RUNNING"

    async def test_head_restart_forgets_applications_so_the_config_differs_again(
        self, client: HttpDashboardClient, fake: FakeRayDashboard
    ) -> None:
        await client.put_config(fruit_config())
        fake.restart_head("127.0.0.1")
        assert serve_config_differs(fruit_config(), observed_applications(await client.get_applications()))

    async def test_delete_shuts_serve_down(self, client: HttpDashboardClient) -> None:
        await client.put_config(fruit_config())
        await client.delete_applications()
        assert (await client.get_applications())["applications"] == {}

    async def test_health_answers_when_the_dashboard_is_up(self, client: HttpDashboardClient) -> None:
        await client.health()


class TestErrors:
    async def test_timeout_is_honoured_when_the_dashboard_is_slow(
        self, fake: FakeRayDashboard, session: aiohttp.ClientSession
    ) -> None:
        fake.delay(0.5)
        client = HttpDashboardClient(dashboard_url("127.0.0.1", fake.port), session=session, timeout_s=0.1)
        started = time.monotonic()
        with pytest.raises(DashboardUnavailable, match=r"within 0\.1 s"):
            await client.get_applications()
        assert time.monotonic() - started < 0.4

    async def test_connection_refused_is_unavailable(self, session: aiohttp.ClientSession) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        client = HttpDashboardClient(dashboard_url("127.0.0.1", port), session=session)
        with pytest.raises(DashboardUnavailable):
            await client.health()

    @pytest.mark.parametrize("status", [404, 500, 503, 307])
    async def test_an_error_answer_is_rejected_with_its_status_and_body(
        self, client: HttpDashboardClient, fake: FakeRayDashboard, status: int
    ) -> None:
        fake.fail_next(1, status, body="the controller is not ready")
        with pytest.raises(DashboardRejected) as caught:
            await client.get_applications()
        assert (caught.value.status, caught.value.body) == (status, "the controller is not ready")

    async def test_one_call_is_one_request_without_retries(
        self, client: HttpDashboardClient, fake: FakeRayDashboard
    ) -> None:
        fake.fail_next(1, 503, method="PUT")
        with pytest.raises(DashboardRejected):
            await client.put_config(fruit_config())
        assert fake.request_count("127.0.0.1", method="PUT", path=APPLICATIONS) == 1
        assert (await client.get_applications())["applications"] == {}

    async def test_a_config_ray_refuses_is_rejected_with_rays_400_message(self, client: HttpDashboardClient) -> None:
        with pytest.raises(DashboardRejected) as caught:
            await client.put_config({"applications": [{"name": "fruit_app"}]})
        assert caught.value.status == 400
        assert "import_path" in caught.value.body

    async def test_a_body_that_is_not_json_gets_500(
        self, fake: FakeRayDashboard, session: aiohttp.ClientSession
    ) -> None:
        async with session.put(dashboard_url("127.0.0.1", fake.port) + APPLICATIONS, data=b"applications: [") as r:
            assert r.status == 500

    async def test_malformed_json_answer_is_rejected(self, client: HttpDashboardClient, fake: FakeRayDashboard) -> None:
        fake.malformed_next(1)
        with pytest.raises(DashboardRejected, match="not JSON"):
            await client.get_applications()
        assert (await client.get_applications())["applications"] == {}

    async def test_every_error_is_a_dashboard_error(self) -> None:
        assert issubclass(DashboardUnavailable, DashboardError)
        assert issubclass(DashboardRejected, DashboardError)


class TestHeaders:
    async def test_token_is_sent_as_a_bearer_header_and_never_shown_in_errors(
        self, fake: FakeRayDashboard, session: aiohttp.ClientSession
    ) -> None:
        fake.token = TOKEN
        url = dashboard_url("127.0.0.1", fake.port)
        with_token = HttpDashboardClient(url, session=session, token=TOKEN)
        await with_token.put_config(fruit_config())
        assert "fruit_app" in (await with_token.get_applications())["applications"]
        with pytest.raises(DashboardRejected) as caught:
            await HttpDashboardClient(url, session=session).get_applications()
        assert caught.value.status == 401
        wrong = HttpDashboardClient(url, session=session, token="not-it")
        with pytest.raises(DashboardRejected) as caught:
            await wrong.put_config(fruit_config())
        assert caught.value.status == 401
        assert TOKEN not in str(caught.value) and "not-it" not in str(caught.value)
        assert not session.headers

    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": "http://localhost:8265"},
            {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"},
            {"Sec-Fetch-Mode": "cors"},
        ],
    )
    async def test_browser_like_writes_are_refused_but_the_clients_are_not(
        self,
        fake: FakeRayDashboard,
        session: aiohttp.ClientSession,
        client: HttpDashboardClient,
        headers: dict[str, str],
    ) -> None:
        async with session.put(client.base_url + APPLICATIONS, json=fruit_config(), headers=headers) as response:
            assert response.status == 405
        await client.put_config(fruit_config())

    async def test_clusters_are_told_apart_by_the_host_they_were_reached_on(
        self, session: aiohttp.ClientSession
    ) -> None:
        fake = FakeRayDashboard(by_host_header=True, clock=lambda: 0.0)
        await fake.start()
        try:
            first = HttpDashboardClient(dashboard_url("127.0.0.1", fake.port), session=session)
            second = HttpDashboardClient(dashboard_url("localhost", fake.port), session=session)
            await first.put_config(fruit_config())
            assert "fruit_app" in (await first.get_applications())["applications"]
            assert (await second.get_applications())["applications"] == {}
            assert fake.addresses == ["127.0.0.1", "localhost"]
            assert (fake.request_count("127.0.0.1"), fake.request_count("localhost")) == (2, 1)
        finally:
            await fake.stop()


class TestFailureKinds:
    """What the RayService status says of a failed read (``dashboard_failure``): the kind of error, in stable words."""

    async def test_a_timeout_a_refused_connection_an_http_error_and_invalid_json_are_told_apart(
        self, fake: FakeRayDashboard, session: aiohttp.ClientSession, client: HttpDashboardClient
    ) -> None:
        said: list[str] = []
        fake.delay(0.5)
        slow = HttpDashboardClient(dashboard_url("127.0.0.1", fake.port), session=session, timeout_s=0.1)
        with pytest.raises(DashboardError) as caught:
            await slow.get_applications()
        said.append(dashboard_failure(caught.value, timeout_s=0.1))
        fake.clear_faults()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(DashboardError) as caught:
            await HttpDashboardClient(dashboard_url("127.0.0.1", port), session=session).get_applications()
        said.append(dashboard_failure(caught.value, timeout_s=2.0))
        fake.fail_next(1, 500, body="Internal Server Error: GCS unavailable")
        with pytest.raises(DashboardError) as caught:
            await client.get_applications()
        said.append(dashboard_failure(caught.value, timeout_s=2.0))
        fake.malformed_next(1)
        with pytest.raises(DashboardError) as caught:
            await client.get_applications()
        said.append(dashboard_failure(caught.value, timeout_s=2.0))
        assert said == [
            "did not answer within 0.1 s",
            "refused the connection",
            "answered HTTP 500",
            "answered with invalid JSON",
        ]
        assert dashboard_failure(TimeoutError(), timeout_s=2.0) == "did not answer within 2 s"
