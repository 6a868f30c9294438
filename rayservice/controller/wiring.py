"""What both controllers are made of the same way: a reconcile function bound to its dependencies, and the
watch of their own kind that skips the echo of their own status writes.

Guarantees:
1. ``controller_for`` returns a ``Controller`` named ``name`` whose reconcile is ``reconcile(key, deps)``,
   with ``workers`` workers on ``deps.clock``, reporting its queue and reconciles to ``metrics``.
2. Every informer in ``own`` enqueues the object of each event, except the echo of the controller's own
   status write that ``deps.written`` says need not wake it (``ignore_own_echo``).

Caller must: add the other watches its controller needs, and the controller to the manager.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from rayservice.clock import Clock
from rayservice.informers import Informer, enqueue_self
from rayservice.keys import ObjectKey
from rayservice.queue import QueueMetrics
from rayservice.runtime import Controller, ReconcileMetrics, Result, WrittenVersions, ignore_own_echo


class ControllerDeps(Protocol):
    """What the wiring reads of a reconciler's dependencies."""

    @property
    def clock(self) -> Clock: ...

    @property
    def written(self) -> WrittenVersions: ...


DepsT = TypeVar("DepsT", bound=ControllerDeps)


class ControllerMetrics(QueueMetrics, ReconcileMetrics, Protocol):
    """What every controller reports: its queue and its reconciles."""


def controller_for(
    name: str,
    reconcile: Callable[[ObjectKey, DepsT], Awaitable[Result]],
    deps: DepsT,
    *,
    own: Iterable[Informer],
    workers: int,
    metrics: ControllerMetrics,
) -> Controller:
    """Guarantees 1-2."""

    async def bound(key: ObjectKey) -> Result:
        return await reconcile(key, deps)

    controller = Controller(name, bound, workers=workers, clock=deps.clock, queue_metrics=metrics, metrics=metrics)
    for informer in own:
        controller.watch(informer, enqueue_self(ignore_update=ignore_own_echo(deps.written)))
    return controller
