"""What the RayService reconciler works with: the API writes it makes, its caches, Ray, events, metrics, time.

Guarantees:
1. Each interface is the few calls the reconciler makes (``KubeWriter`` and ``EventEmitter`` are the ones
   of ``rayservice.controller.objects``, shared with the RayCluster reconciler): ``KubeClient`` is a
   ``KubeWriter``, ``EventRecorder`` an ``EventEmitter``, ``functools.partial(HttpDashboardClient, session=...)`` a
   ``DashboardFactory``; tests pass fakes.
2. ``RayServiceMetrics`` receives, per reconcile, whether each RayService is Ready and upgrading, and each
   finished upgrade's duration; ``NO_RAYSERVICE_METRICS`` drops them.
3. ``Deps.dashboard_port`` ``None`` reaches each cluster's dashboard on its head's ``dashboard-port`` start
   parameter (8265 by default); a number overrides it for every cluster. Every dashboard call is bounded by
   ``dashboard_timeout_s`` (2 s).
4. ``Deps.tokens`` gives each cluster's own Ray auth token (``authOptions.mode: token``), which the reconciler
   hands to ``dashboard_factory`` for every call to that cluster's dashboard; a cluster without one gets the
   factory's default (the global token, if any).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final, Protocol, final

from rayservice.api import ObjectKey
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.controller.caches import Caches
from rayservice.controller.objects import EventEmitter, KubeWriter, RawObject
from rayservice.controller.rayservice.checks import SpecChecks
from rayservice.controller.rayservice.memory import ClusterMemory
from rayservice.ray import DashboardClient
from rayservice.runtime import WrittenVersions

DEFAULT_DASHBOARD_TIMEOUT_S: Final = 2.0

class DashboardFactory(Protocol):
    """Makes the client of the dashboard at a base URL (``http://<head pod IP>:<port>``) that sends ``token``
    (a cluster's own Ray auth token; ``None``: the operator's global ``--dashboard-token-file`` token, if any)."""

    def __call__(self, base_url: str, /, *, token: str | None = None) -> DashboardClient: ...


class TokenSource(Protocol):
    """Each cluster's Ray auth token; ``rayservice.controller.raycluster.ClusterTokens`` is one."""

    async def token_for(self, cluster: RawObject) -> str | None:
        """The token to send to ``cluster``'s dashboard, ``None`` when it has none of its own; raises a
        ``DashboardError`` when it has one that cannot be read."""
        ...

    def forget(self, key: ObjectKey) -> None:
        """The cluster's dashboard refused its token: read it again next time."""
        ...


class RayServiceMetrics(Protocol):
    """Receives what ``kuberay_service_*`` and the upgrade duration histogram report."""

    def service_observed(self, name: str, namespace: str, *, ready: bool, upgrading: bool) -> None:
        """The RayService exists; its Ready and UpgradeInProgress conditions are as given."""
        ...

    def forget_service(self, name: str, namespace: str) -> None:
        """The RayService is gone: drop its series."""
        ...

    def service_upgraded(self, name: str, namespace: str, duration_s: float) -> None:
        """Traffic moved to a new cluster ``duration_s`` after that cluster was created."""
        ...

    def rollout_ended(self, name: str, namespace: str, *, kind: str, outcome: str, duration_s: float) -> None:
        """A rollout under ``rolloutPolicy`` (``kind`` Cluster or Serve) ended ``duration_s`` after it started:
        ``outcome`` succeeded, rolled_back or failed (given up, nothing rolled back)."""
        ...

    def upgrade_phase(self, name: str, namespace: str, phase: str, at_s: float) -> None:
        """The RayService's cluster upgrade is in ``phase`` at ``at_s`` (monotonic seconds)."""
        ...


@final
class _NoRayServiceMetrics:
    __slots__ = ()

    def service_observed(self, name: str, namespace: str, *, ready: bool, upgrading: bool) -> None:
        pass

    def forget_service(self, name: str, namespace: str) -> None:
        pass

    def service_upgraded(self, name: str, namespace: str, duration_s: float) -> None:
        pass

    def rollout_ended(self, name: str, namespace: str, *, kind: str, outcome: str, duration_s: float) -> None:
        pass

    def upgrade_phase(self, name: str, namespace: str, phase: str, at_s: float) -> None:
        pass

    def __repr__(self) -> str:
        return "NO_RAYSERVICE_METRICS"


NO_RAYSERVICE_METRICS: Final[RayServiceMetrics] = _NoRayServiceMetrics()


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything one reconcile reads from and writes to."""

    kube: KubeWriter
    caches: Caches
    dashboard_factory: DashboardFactory
    events: EventEmitter
    clock: Clock = SYSTEM_CLOCK
    rng: random.Random = field(default_factory=random.Random)
    metrics: RayServiceMetrics = NO_RAYSERVICE_METRICS
    memory: ClusterMemory = field(default_factory=ClusterMemory)
    checks: SpecChecks = field(default_factory=SpecChecks)
    written: WrittenVersions = field(default_factory=WrittenVersions)
    dashboard_port: int | None = None
    dashboard_timeout_s: float = DEFAULT_DASHBOARD_TIMEOUT_S
    tokens: TokenSource = field(kw_only=True)
