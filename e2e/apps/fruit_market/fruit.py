"""The fruit market: ``fruit.deployment_graph`` (Ray Serve 2.60).

POST a JSON ``[fruit, amount]`` to the application's route: ``["MANGO", 2]`` -> ``6``. Each stand's price is its
``user_config`` (``{price: N}``), applied in place by ``reconfigure`` without restarting the replica; an unknown
fruit costs ``-1``. A stand whose class name is in the environment variable ``FRUIT_STANDS_FAIL`` (comma separated,
e.g. set through the deployment's ``ray_actor_options.runtime_env.env_vars``) raises in its constructor: a broken
release, for the rollback tests.
"""

from __future__ import annotations

import os
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request


class _Stand:
    def __init__(self, price: float) -> None:
        if type(self).__name__ in os.environ.get("FRUIT_STANDS_FAIL", "").split(","):
            raise RuntimeError(f"{type(self).__name__} cannot start: it is named in FRUIT_STANDS_FAIL")
        self.price = price

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.price = config.get("price", self.price)

    def check_price(self, amount: float) -> float:
        return self.price * amount


@serve.deployment(user_config={"price": 3})
class MangoStand(_Stand):
    def __init__(self) -> None:
        super().__init__(3)


@serve.deployment(user_config={"price": 2})
class OrangeStand(_Stand):
    def __init__(self) -> None:
        super().__init__(2)


@serve.deployment(user_config={"price": 1})
class PearStand(_Stand):
    def __init__(self) -> None:
        super().__init__(1)


@serve.deployment
class FruitMarket:
    """The HTTP ingress: routes ``[fruit, amount]`` to the fruit's stand."""

    def __init__(self, mango: DeploymentHandle, orange: DeploymentHandle, pear: DeploymentHandle) -> None:
        self.stands = {"MANGO": mango, "ORANGE": orange, "PEAR": pear}

    async def check_price(self, fruit: str, amount: float) -> float:
        stand = self.stands.get(fruit)
        if stand is None:
            return -1
        return await stand.check_price.remote(amount)

    async def __call__(self, request: Request) -> float:
        fruit, amount = await request.json()
        return await self.check_price(fruit, amount)


deployment_graph = FruitMarket.bind(MangoStand.bind(), OrangeStand.bind(), PearStand.bind())
