"""A deployment that takes its time: ``slow.app`` (Ray Serve 2.60), for Serve autoscaling.

POST anything to the application's route: after ``delay_s`` (its ``user_config``, default 0.3 s) it answers
``"done"``. The wait is an ``asyncio.sleep``, so a replica holds many requests at once without using its CPU, and
a steady load of ``r`` requests per second keeps about ``r * delay_s`` requests ongoing: the number Serve's
``autoscaling_config`` (``target_ongoing_requests``) scales replicas by.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve
from starlette.requests import Request


@serve.deployment(user_config={"delay_s": 0.3})
class SlowEcho:
    def __init__(self) -> None:
        self.delay_s = 0.3

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.delay_s = float(config.get("delay_s", self.delay_s))

    async def __call__(self, request: Request) -> str:
        await request.body()
        await asyncio.sleep(self.delay_s)
        return "done"


app = SlowEcho.bind()
