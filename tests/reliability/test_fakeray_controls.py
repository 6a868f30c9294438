"""The fake dashboard's controls the reliability tests rely on: faults that end without a restart, and a record
of the Authorization headers each address received."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from e2e.fakeray import APPLICATIONS, FakeRayDashboard


@pytest.fixture
async def fake() -> AsyncIterator[FakeRayDashboard]:
    dashboard = FakeRayDashboard(clock=lambda: 0.0, token="t0ken")
    await dashboard.start("0.0.0.0", 0)  # every loopback address reaches it: one cluster each
    try:
        yield dashboard
    finally:
        await dashboard.stop()


async def get(fake: FakeRayDashboard, token: str | None = "t0ken", address: str = "127.0.0.1") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(
        f"http://{address}:{fake.port}{APPLICATIONS}", headers=headers
    ) as resp:
        return resp.status, await resp.text()


async def test_clear_faults_ends_failures_delays_and_malformed_answers_of_one_address(fake: FakeRayDashboard) -> None:
    fake.fail_next(100, 500, address="127.0.0.1")
    fake.fail_next(100, 503, address="127.0.0.2")
    assert (await get(fake))[0] == 500
    fake.clear_faults("127.0.0.1")
    assert (await get(fake))[0] == 200
    assert (await get(fake, address="127.0.0.2"))[0] == 503  # another address's outage goes on
    fake.malformed_next(100, address="127.0.0.1")
    fake.delay(5.0, address="127.0.0.1")
    fake.clear_faults("127.0.0.1")
    status, body = await get(fake)
    assert status == 200 and body.startswith('{"controller_info"')


async def test_clear_faults_without_an_address_ends_every_fault(fake: FakeRayDashboard) -> None:
    fake.fail_next(5, 500)
    fake.malformed_next(5)
    fake.delay(5.0)
    fake.clear_faults()
    assert (await get(fake))[0] == 200


async def test_every_request_records_its_authorization_header_per_address(fake: FakeRayDashboard) -> None:
    await get(fake)
    await get(fake, token=None)
    await get(fake, token="wrong")
    assert fake.authorizations == {
        ("127.0.0.1", "Bearer t0ken"): 1,
        ("127.0.0.1", ""): 1,
        ("127.0.0.1", "Bearer wrong"): 1,
    }


async def test_clearing_a_delay_answers_the_held_requests_at_once(fake: FakeRayDashboard) -> None:
    fake.delay(30.0)
    held = asyncio.create_task(get(fake))
    await asyncio.sleep(0.2)
    assert not held.done()
    started = time.monotonic()
    fake.clear_faults()
    async with asyncio.timeout(5.0):
        status, _ = await held
    assert status == 200 and time.monotonic() - started < 2.0


async def test_clearing_one_address_delay_keeps_holding_another_address_answers(fake: FakeRayDashboard) -> None:
    fake.delay(30.0, address="127.0.0.1")
    fake.delay(30.0, address="127.0.0.2")
    first = asyncio.create_task(get(fake, address="127.0.0.1"))
    second = asyncio.create_task(get(fake, address="127.0.0.2"))
    await asyncio.sleep(0.2)
    fake.delay(0.0, address="127.0.0.1")
    async with asyncio.timeout(5.0):
        assert (await first)[0] == 200
    await asyncio.sleep(0.2)
    assert not second.done()
    fake.clear_faults()
    async with asyncio.timeout(5.0):
        assert (await second)[0] == 200
