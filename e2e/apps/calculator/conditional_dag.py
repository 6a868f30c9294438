"""The calculator: ``conditional_dag.serve_dag`` (Ray Serve 2.60), the second application of the multi-app sample.

POST a JSON ``[operation, value]``: ``["ADD", 2]`` -> ``"5 pizzas please!"`` (Adder's ``increment``, 3 by
default), ``["MUL", 3]`` -> ``"15 pizzas please!"`` (Multiplier's ``factor``, 5 by default); both are
``user_config`` values applied in place. An unknown operation -> ``"unknown operation"``.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request


@serve.deployment(user_config={"factor": 5})
class Multiplier:
    def __init__(self) -> None:
        self.factor = 5

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.factor = config.get("factor", self.factor)

    def apply(self, value: float) -> float:
        return value * self.factor


@serve.deployment(user_config={"increment": 3})
class Adder:
    def __init__(self) -> None:
        self.increment = 3

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.increment = config.get("increment", self.increment)

    def apply(self, value: float) -> float:
        return value + self.increment


@serve.deployment
class Router:
    """The HTTP ingress: ``ADD`` goes to the Adder, ``MUL`` to the Multiplier."""

    def __init__(self, multiplier: DeploymentHandle, adder: DeploymentHandle) -> None:
        self.operations = {"MUL": multiplier, "ADD": adder}

    async def __call__(self, request: Request) -> str:
        operation, value = await request.json()
        handle = self.operations.get(operation)
        if handle is None:
            return "unknown operation"
        result = await handle.apply.remote(value)
        return f"{result:g} pizzas please!"


serve_dag = Router.bind(Multiplier.bind(), Adder.bind())
