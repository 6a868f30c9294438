"""The fruit market of the alpha user guide, in both serve-config forms: the main fixture of serve tests.

MangoStand (price 3), OrangeStand (2) and PearStand (1) behind the FruitMarket router and the DAGDriver
ingress; ``["MANGO", 2]`` costs 6. Every replica asks for 0.1 CPU, as in the guide's sample.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import yaml

IMPORT_PATH: Final = "fruit.deployment_graph"
WORKING_DIR: Final = "https://github.com/ray-project/test_dag/archive/c620251044717ace0a4c19d766d43c5099af8a77.zip"
PRICES: Final = {"MangoStand": 3, "OrangeStand": 2, "PearStand": 1}


def fruit_v2_yaml(*, mango_price: int = 3, app_name: str = "fruit_app", route_prefix: str = "/") -> str:
    """``serveConfigV2`` as a user writes it."""
    return f"""\
applications:
  - name: {app_name}
    import_path: {IMPORT_PATH}
    route_prefix: {route_prefix}
    runtime_env:
      working_dir: "{WORKING_DIR}"
    deployments:
      - name: MangoStand
        num_replicas: 1
        user_config:
          price: {mango_price}
        ray_actor_options:
          num_cpus: 0.1
      - name: OrangeStand
        num_replicas: 1
        user_config:
          price: 2
        ray_actor_options:
          num_cpus: 0.1
      - name: PearStand
        num_replicas: 1
        user_config:
          price: 1
        ray_actor_options:
          num_cpus: 0.1
      - name: FruitMarket
        num_replicas: 1
        ray_actor_options:
          num_cpus: 0.1
      - name: DAGDriver
        num_replicas: 1
        ray_actor_options:
          num_cpus: 0.1
"""


def fruit_config(**kwargs: Any) -> dict[str, Any]:
    """The multi-application JSON Ray receives for ``fruit_v2_yaml(**kwargs)``."""
    loaded: dict[str, Any] = yaml.safe_load(fruit_v2_yaml(**kwargs))
    return loaded


def fruit_legacy(*, mango_price: int = 3) -> dict[str, Any]:
    """The alpha ``serveDeploymentGraphConfig`` / ``serveConfig`` of the user guide's sample."""
    stands = [
        {
            "name": name,
            "numReplicas": 1,
            "userConfig": f"price: {mango_price if name == 'MangoStand' else price}\n",
            "rayActorOptions": {"numCpus": 0.1},
        }
        for name, price in PRICES.items()
    ]
    return {
        "importPath": IMPORT_PATH,
        "runtimeEnv": f'working_dir: "{WORKING_DIR}"\n',
        "deployments": [
            *stands,
            {"name": "FruitMarket", "numReplicas": 1, "rayActorOptions": {"numCpus": 0.1}},
            {"name": "DAGDriver", "numReplicas": 1, "routePrefix": "/", "rayActorOptions": {"numCpus": 0.1}},
        ],
    }


def with_change(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``config`` with the dotted ``path`` (list indexes as numbers) set to ``value``."""
    changed = copy.deepcopy(config)
    *parents, last = path.split(".")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return changed
