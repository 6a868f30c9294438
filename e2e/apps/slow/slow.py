"""A slow application: ``slow.app`` (Ray Serve 2.60), for tests of requests in flight.

POST a JSON ``{"sleep_s": 3}`` to its route: the answer comes after that many seconds (at most 120), as
``done <pod name>`` (the pod of the replica that slept: its name carries its cluster's). An empty body sleeps 3 s.
The sleep is asynchronous, so one replica holds many requests at once (``max_ongoing_requests`` in its config).
"""

from __future__ import annotations

import asyncio
import socket

from ray import serve
from starlette.requests import Request

MAX_SLEEP_S = 120.0


@serve.deployment(max_ongoing_requests=200)
class Slow:
    async def __call__(self, request: Request) -> str:
        body = await request.body()
        asked = (await request.json()).get("sleep_s", 3.0) if body else 3.0
        await asyncio.sleep(min(max(float(asked), 0.0), MAX_SLEEP_S))
        return f"done {socket.gethostname()}"


app = Slow.bind()
