"""The fake Ray dashboard for benchmarks: ``e2e.fakeray`` plus its request counts over HTTP.

``python -m bench._fakeray --port P [--deploy-s S]`` serves every cluster like ``python -m e2e.fakeray --host
0.0.0.0`` and adds, on any address, ``GET /_bench/counts``: ``{"counts": {address: {method: n}}, "puts":
{address: [wall-clock time of each PUT, ...]}}`` (``?address=A``: only ``puts`` of A). Requests to
``/_bench/*`` are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections import defaultdict

from aiohttp import web

from e2e.fakeray.cluster import Timings
from e2e.fakeray.dashboard import APPLICATIONS, FakeRayDashboard

_COUNTS = "/_bench/counts"


class CountingFake(FakeRayDashboard):
    """Keeps the wall-clock arrival time of every Serve PUT, per address."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.put_times: dict[str, list[float]] = defaultdict(list)

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_get(_COUNTS, self._bench_counts)
        app.middlewares.insert(0, self._stamp)
        return app

    @web.middleware
    async def _stamp(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path.startswith("/_bench/"):
            return await self._bench_counts(request)
        if request.method == "PUT" and request.path == APPLICATIONS:
            self.put_times[self._address_of(request)].append(time.time())
        return await handler(request)

    async def _bench_counts(self, request: web.Request) -> web.Response:
        if address := request.query.get("address"):
            return web.json_response({"puts": {address: self.put_times.get(address, [])}})
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for (address, method, _path), n in self._counts.items():
            counts[address][method] = counts[address].get(method, 0) + n
        return web.json_response({"counts": counts, "puts": self.put_times})


async def _serve(port: int, deploy_s: float) -> None:
    fake = CountingFake(timings=Timings(deploy_s=deploy_s))
    await fake.start("0.0.0.0", port)
    print(f"bench fakeray on :{fake.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--deploy-s", type=float, default=Timings().deploy_s)
    a = p.parse_args()
    asyncio.run(_serve(a.port, a.deploy_s))


if __name__ == "__main__":
    main()
