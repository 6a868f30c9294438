"""The node side of a local cluster in one object: network, node agent and service proxy, for any API server.

Guarantees:
1. `missing_requirements()` names what stops a node from running here (root, `ip`, `unshare`, `nsenter`)
   in one line with how to run it instead; `start()` refuses with that line.
2. `start()` sets up the network (safety routes before anything else), then runs the agent and the proxy
   as tasks owned by this object; `agent.registered` is set once the Node exists.
3. `stop()` ends the pods (grace bounded by `shutdown_grace_s`), the proxy and the agent, then removes the
   network and every per-pod directory, also after a start that failed midway. No task outlives it.
4. `wait()` returns when the agent or the proxy ends by itself and raises what made it end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys

from .agent import NodeAgent, NodeConfig
from .client import ApiClient, KubeConfig
from .netns import NodeNetwork
from .proxy import ServiceProxy

TOOLS = ("ip", "unshare", "nsenter")


def missing_requirements(command: str = "up --kubeconfig PATH") -> str | None:
    if os.geteuid() != 0:
        return ("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for network and PID namespaces); run: "
                f"sudo {sys.executable} -m e2e.localcluster {command}")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} on PATH (packages iproute2 and util-linux)"
    return None


class LocalNode:
    def __init__(self, kubeconfig: KubeConfig, config: NodeConfig) -> None:
        self.config = config
        self.client = ApiClient(kubeconfig)
        self.network = NodeNetwork(prefix=config.prefix, pod_cidr=config.pod_cidr,
                                   service_cidr=config.service_cidr, state_root=config.state_root,
                                   lock_wait_s=config.lock_wait_s)
        self.agent = NodeAgent(self.client, self.network, config)
        self.proxy = ServiceProxy(self.client, self.network,
                                  allowed_networks=[config.pod_cidr, "127.0.0.0/8"])
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        problem = missing_requirements()
        if problem is not None:
            raise PermissionError(problem)
        try:
            await self.network.setup()
        except BaseException:
            await self.network.teardown()
            raise
        self._tasks = [asyncio.create_task(self.agent.run(), name="localcluster-node-agent"),
                       asyncio.create_task(self.proxy.run(), name="localcluster-proxy")]

    async def wait(self) -> None:
        if self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()

    async def stop(self) -> None:
        agent, proxy = self._tasks or (None, None)
        self._tasks = []
        try:
            if agent is not None:
                self.agent.stop()
                try:
                    async with asyncio.timeout(self.config.shutdown_grace_s + 15):
                        await asyncio.wait({agent})
                finally:
                    agent.cancel()
                    await asyncio.wait({agent})
            if proxy is not None:
                proxy.cancel()
                await asyncio.wait({proxy})
        finally:
            with contextlib.suppress(OSError):
                await self.network.teardown()
            await self.client.close()

    async def __aenter__(self) -> LocalNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
