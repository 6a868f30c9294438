"""A manager wired as ``rayservice run`` wires it, under its own user agent, for tests against the API server."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes.aio import client as k8s
from kubernetes.aio import config as k8s_config
from prometheus_client import CollectorRegistry

from e2e.localcluster.apiserver import LocalApiServer, RequestInfo
from rayservice.api import ObjectKey
from rayservice.informers import ListerWatcher
from rayservice.kube import CONFIG_MAPS, KubeClient, KubeError, ObjectList, Resource
from rayservice.metrics import OperatorMetrics
from rayservice.runtime import (
    Controller,
    HealthServer,
    LeaderElectionConfig,
    LeaderElector,
    Manager,
    Result,
)
from tests.placeholder import STAMP_ANNOTATION, StampDeps, cache_lookup, reconcile_stamp, stamp_informers, stamp_of
from tests.wakeup import Signal as Signal

DEADLINE_S = 10.0
NAMESPACE = "default"
CONTROLLER = "configmap-stamp"
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# Short enough for tests, in the same proportions as the defaults (15 s / 10 s / 2 s).
LEASE_DURATION_S, RENEW_DEADLINE_S, RETRY_PERIOD_S = 2.0, 1.2, 0.25


class ObservedSource:
    """The real client as the informers' ListerWatcher, counting failed lists and signalling every list."""

    def __init__(self, client: KubeClient, signal: Signal) -> None:
        self._client = client
        self._signal = signal
        self.failed_lists = 0

    async def list(self, resource: Resource, **kwargs: Any) -> ObjectList:
        try:
            return await self._client.list(resource, **kwargs)
        except KubeError:
            self.failed_lists += 1
            raise
        finally:
            self._signal.notify()

    async def watch(self, resource: Resource, **kwargs: Any) -> AsyncGenerator[dict[str, Any], None]:
        async with contextlib.aclosing(self._client.watch(resource, **kwargs)) as stream:
            async for event in stream:
                yield event


async def client_as(kubeconfig: Path, user_agent: str, metrics: OperatorMetrics | None = None) -> KubeClient:
    """A KubeClient whose requests carry ``user_agent``, so the request log tells managers apart."""
    configuration = k8s.Configuration()
    await k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    api = k8s.ApiClient(configuration)
    kube = KubeClient(api, on_request=metrics.on_request if metrics is not None else None)
    api.user_agent = user_agent
    return kube


def election(identity: str) -> LeaderElectionConfig:
    return LeaderElectionConfig(
        namespace=NAMESPACE,
        identity=identity,
        lease_duration_s=LEASE_DURATION_S,
        renew_deadline_s=RENEW_DEADLINE_S,
        retry_period_s=RETRY_PERIOD_S,
    )


class Operator:
    """A manager wired as ``rayservice run`` wires it (placeholder controller), under its own user agent."""

    def __init__(
        self,
        agent: str,
        client: KubeClient,
        signal: Signal,
        metrics: OperatorMetrics,
        *,
        leader: bool,
        source: ListerWatcher | None = None,
    ) -> None:
        self.agent = agent
        self.source = source
        self.registry = metrics.registry
        self.elector = LeaderElector(client, election(agent), metrics=metrics) if leader else None
        if self.elector is not None:
            self.elector.add_callbacks(on_started=signal.notify, on_stopped=signal.notify)
        self.manager = Manager(elector=self.elector, shutdown_timeout_s=DEADLINE_S)
        ready = lambda: self.manager.is_ready  # noqa: E731
        self.health = HealthServer(registry=self.registry, ready=ready, host="127.0.0.1", port=0)
        self.manager.add_server(self.health)
        informers = stamp_informers(source or client, [NAMESPACE])
        deps = StampDeps(lookup=cache_lookup(informers, [NAMESPACE]), client=client)
        self.reconciles: collections.Counter[ObjectKey] = collections.Counter()
        self.gates: dict[str, asyncio.Event] = {}  # hold the reconcile of a name until its gate opens
        self.held: set[str] = set()

        async def reconcile(key: ObjectKey) -> Result:
            try:
                if (gate := self.gates.get(key.name)) is not None:
                    self.held.add(key.name)
                    signal.notify()
                    await gate.wait()
                return await reconcile_stamp(key, deps)
            finally:
                self.reconciles[key] += 1
                signal.notify()

        self.controller = Controller(CONTROLLER, reconcile, workers=2, queue_metrics=metrics, metrics=metrics)
        for informer in informers:
            self.controller.watch(informer)
            self.manager.add_informer(informer)
        self.manager.add(self.controller)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.manager.run(), name=f"run-{self.agent}")

    async def stop(self) -> None:
        """Stop as SIGTERM does: drain, release the lease, return."""
        assert self.task is not None
        self.manager.stop()
        async with asyncio.timeout(DEADLINE_S):
            await self.task

    async def crash(self) -> None:
        """Stop without any cleanup on the API server (no lease release), like a killed process."""
        assert self.task is not None
        self.task.cancel()
        await asyncio.wait((self.task,))

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.health.port}{path}") as resp:
            return resp.status, await resp.text()


class Clients:
    """One KubeClient per user agent; the tests' own requests go out as ``tests``."""

    def __init__(self, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self._made: list[KubeClient] = []

    async def new(self, agent: str, metrics: OperatorMetrics | None = None) -> KubeClient:
        kube = await client_as(self._kubeconfig, agent, metrics)
        self._made.append(kube)
        return kube

    async def close(self) -> None:
        for kube in self._made:
            await kube.close()


async def create_configmap(client: KubeClient, name: str, **data: str) -> None:
    labels = {"app.kubernetes.io/managed-by": "rayservice"}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data}
    await client.create(CONFIG_MAPS, body, namespace=NAMESPACE)


def stamped(apiserver: LocalApiServer, name: str) -> bool:
    obj = apiserver.store.get(("", "configmaps"), NAMESPACE, name)
    annotations = (obj or {}).get("metadata", {}).get("annotations") or {}
    return obj is not None and annotations.get(STAMP_ANNOTATION) == stamp_of(obj)


def writes_by(apiserver: LocalApiServer, agent: str, since: int = 0, resource: str | None = None) -> list[RequestInfo]:
    return [
        r
        for r in apiserver.faults.log[since:]
        if r.user_agent == agent and r.verb in WRITES and (resource is None or r.resource == resource)
    ]


async def start_operator(
    operators: list[Operator], clients: Clients, signal: Signal, agent: str, **kwargs: Any
) -> Operator:
    metrics = OperatorMetrics(CollectorRegistry())
    client = await clients.new(agent, metrics)
    if kwargs.pop("observed", False):
        kwargs["source"] = ObservedSource(client, signal)
    op = Operator(agent, client, signal, metrics, **kwargs)
    operators.append(op)
    op.start()
    return op
