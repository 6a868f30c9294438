"""Leader election on a ``coordination.k8s.io/v1`` Lease, written directly: one replica leads, the rest wait.

Guarantees:
1. Every write is a create (after a 404) or an update conditional on the resourceVersion just read, so two
   electors never both believe a write made them leader: the loser gets a 409.
2. A follower takes the lease when its holder released it (empty holder), or when the record has not
   changed for the lease duration as measured on the follower's own monotonic clock from when it first
   saw that record (client-go's rule: clock skew between replicas does not matter).
3. A leader renews every retry period. It stops leading at once, calls ``on_stopped_leading`` (synchronously,
   before anything else runs) and makes ``run()`` raise ``LeadershipLost``, when either
   - no renewal succeeded for the renew deadline, counted from the start of the last successful one (so
     it stops well inside the lease duration others honour), a hung request included; or
   - it reads the lease and finds another holder.
   It never campaigns again: the process is expected to exit.
   The renew deadline is also watched by an event-loop timer callback (not a task), so after the process
   was paused past the deadline (SIGSTOP, a frozen VM, CPU starvation) leadership ends in the first loop
   iteration after it resumes, before any task woken by I/O that piled up meanwhile takes a step (found by
   tests/reliability/test_leader_failover.py: without it, workers resumed by API answers sent new writes
   before the elector's own task noticed).
4. Lease times go out as MicroTime with six fraction digits and ``Z`` (``rayservice.kube.lease_body``).
5. ``state_known`` becomes true once an attempt learned who holds the lease (this replica or another).
6. ``release()``, after ``run()`` was cancelled, clears the holder if this replica still holds the lease, so
   a follower takes over on its next retry instead of waiting for the lease to expire.
7. Every wait and deadline uses the injected ``Clock``; jitter uses the injected ``random.Random``.

Caller must:
- stop every write when ``on_stopped_leading`` is called, and exit.

Not guaranteed:
- that a request already in flight when leadership is lost never lands: only that none starts afterwards.
- that a task step already scheduled before a pause runs after the deadline callback: such a step runs first
  in the iteration after the pause (only a check on the write path itself could fence it).

Tasks: ``run()`` in one task owned by the caller; ``release()`` after that task ended; the properties
from anywhere on the loop.
"""

from __future__ import annotations

import asyncio
import enum
import math
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar, final

import structlog

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.kube import (
    LEASES,
    AlreadyExists,
    Conflict,
    KubeError,
    LeaseRecord,
    NotFound,
    Resource,
    lease_body,
    lease_record,
)

_T = TypeVar("_T")
_JITTER: Final = 1.2  # client-go's JitterFactor: campaign retries are spread over [1, 1.2) retry periods

_log = structlog.get_logger(__name__)


class LeaseApi(Protocol):
    """The Lease calls an elector makes; ``rayservice.kube.KubeClient`` is one."""

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any]: ...

    async def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]: ...

    async def replace(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]: ...


class LeaderMetrics(Protocol):
    """Receives leadership changes; ``rayservice.metrics`` turns them into ``leader_election_master_status``."""

    def leader_status(self, name: str, leading: bool) -> None: ...


@final
class _NoLeaderMetrics:
    __slots__ = ()

    def leader_status(self, name: str, leading: bool) -> None:
        pass


NO_LEADER_METRICS: Final[LeaderMetrics] = _NoLeaderMetrics()


class LeadershipLost(Exception):
    """This replica was leader and no longer is; it must stop writing and exit."""


@dataclass(frozen=True, slots=True)
class LeaderElectionConfig:
    """Which Lease to compete for, as whom, and how fast (defaults: 15 s lease, 10 s deadline, 2 s retry)."""

    namespace: str
    identity: str
    name: str = "rayservice-operator"
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not (self.namespace and self.identity and self.name):
            raise ValueError("leader election needs a namespace, a lease name and an identity")
        if self.retry_period_s <= 0:
            raise ValueError("retry_period_s must be positive")
        if self.renew_deadline_s <= _JITTER * self.retry_period_s:
            raise ValueError(f"renew_deadline_s must exceed {_JITTER} * retry_period_s")
        if self.lease_duration_s <= self.renew_deadline_s:
            raise ValueError("lease_duration_s must exceed renew_deadline_s")


def default_identity(environ: Mapping[str, str], hostname: str, pid: int) -> str:
    """``POD_NAME`` when set (unique per replica in a Deployment), else ``<hostname>_<pid>``."""
    return environ.get("POD_NAME") or f"{hostname}_{pid}"


class _Attempt(enum.Enum):
    HELD = "held"  # this replica holds the lease now
    TAKEN = "taken"  # another replica holds a valid lease
    FAILED = "failed"  # unknown: the API failed, timed out or a write lost a race


class LeaderElector:
    """Campaigns for, holds and gives up one Lease (see the module docstring)."""

    def __init__(
        self,
        api: LeaseApi,
        config: LeaderElectionConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        metrics: LeaderMetrics = NO_LEADER_METRICS,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._api = api
        self._clock = clock
        self._rng = rng or random.Random()
        self._metrics = metrics
        self._on_started: list[Callable[[], None]] = [on_started_leading] if on_started_leading else []
        self._on_stopped: list[Callable[[], None]] = [on_stopped_leading] if on_stopped_leading else []
        self._duration_written = max(1, math.ceil(config.lease_duration_s))
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._last_renew = 0.0
        self._leading = False
        self._may_hold = False
        self._state_known = False
        self._ran = False
        self._lost_reason: str | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    @property
    def is_leader(self) -> bool:
        """Leading, and the renew deadline has not passed on the injected clock: false from the deadline on,
        even before the watchdog callback or the elector's task has run (a write fence may rely on it)."""
        return self._leading and self._clock.monotonic() < self._last_renew + self.config.renew_deadline_s

    @property
    def state_known(self) -> bool:
        """Whether an attempt has learned who holds the lease yet."""
        return self._state_known

    @property
    def holder(self) -> str | None:
        """The holder in the last lease record seen or written."""
        return self._observed.holder_identity if self._observed else None

    def add_callbacks(
        self, *, on_started: Callable[[], None] | None = None, on_stopped: Callable[[], None] | None = None
    ) -> None:
        """Also call these when leading starts / is lost; must not raise or await."""
        if on_started is not None:
            self._on_started.append(on_started)
        if on_stopped is not None:
            self._on_stopped.append(on_stopped)

    async def run(self) -> None:
        """Campaign until leading, then renew; raise ``LeadershipLost`` when leadership is lost."""
        if self._ran:
            raise RuntimeError("a LeaderElector runs once")
        self._ran = True
        self._metrics.leader_status(self.config.name, False)
        try:
            await self._campaign()
            reason = await self._keep_leading()
        finally:
            self._disarm_watchdog()
            was_leading, self._leading = self._leading, False
            if was_leading:
                self._metrics.leader_status(self.config.name, False)
        if self._lost_reason is None:
            self._stop_leading(reason)
        raise LeadershipLost(f"lost the lease {self.config.namespace}/{self.config.name}: {self._lost_reason}")

    async def release(self) -> None:
        """Give the lease up if this replica still holds it; errors are logged, never raised."""
        if not self._may_hold or self._leading:
            return
        self._may_hold = False
        outcome = await self._bounded(self._release(), self.config.renew_deadline_s)
        if outcome is None:
            _log.warning("leader_election_release_timed_out", lease=self.config.name)

    def _stop_leading(self, reason: str) -> None:
        """Leadership ends now (synchronous: nothing else runs between this and the callbacks)."""
        self._lost_reason = reason
        if self._leading:
            self._leading = False
            self._metrics.leader_status(self.config.name, False)
        self._may_hold = False  # a lost lease is never written again, not even to release it
        _log.warning("leader_election_lost", lease=self.config.name, identity=self.config.identity, reason=reason)
        for callback in self._on_stopped:
            callback()

    # ---- the renew-deadline watchdog ----------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        """(Re)start the timer callback that ends leadership at the renew deadline (guarantee 3)."""
        self._disarm_watchdog()
        delay_s = self._last_renew + self.config.renew_deadline_s - self._clock.monotonic()
        self._watchdog = asyncio.get_running_loop().call_later(max(delay_s, 0.0), self._on_watchdog)

    def _disarm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _on_watchdog(self) -> None:
        self._watchdog = None
        if not self._leading or self._lost_reason is not None:
            return
        if self._last_renew + self.config.renew_deadline_s > self._clock.monotonic():
            self._arm_watchdog()  # renewed meanwhile, or an injected clock that has not got there yet
            return
        self._stop_leading(f"no successful renewal for {self.config.renew_deadline_s} s")

    # ---- the two phases -------------------------------------------------------------------------

    async def _campaign(self) -> None:
        while True:
            started = self._clock.monotonic()
            outcome = await self._bounded(self._try_acquire_or_renew(), self.config.renew_deadline_s)
            if outcome is _Attempt.HELD:
                self._last_renew = started
                self._leading = True
                self._arm_watchdog()
                self._metrics.leader_status(self.config.name, True)
                _log.info("leader_election_won", lease=self.config.name, identity=self.config.identity)
                for callback in self._on_started:
                    callback()
                return
            await self._clock.sleep(self.config.retry_period_s * (1 + (_JITTER - 1) * self._rng.random()))

    async def _keep_leading(self) -> str:
        """Renew until it fails for the renew deadline or the lease is taken; return why leading ended."""
        while True:
            deadline = self._last_renew + self.config.renew_deadline_s
            await self._clock.sleep(min(self.config.retry_period_s, deadline - self._clock.monotonic()))
            remaining = deadline - self._clock.monotonic()
            if self._lost_reason is not None:
                return self._lost_reason  # the watchdog ended leadership while this task slept
            if remaining <= 0:
                return f"no successful renewal for {self.config.renew_deadline_s} s"
            started = self._clock.monotonic()
            outcome = await self._bounded(self._try_acquire_or_renew(), remaining)
            if self._lost_reason is not None:
                return self._lost_reason  # a renewal that lands after the deadline does not revive leadership
            if outcome is _Attempt.HELD:
                self._last_renew = started
                self._arm_watchdog()
            elif outcome is _Attempt.TAKEN:
                return f"the lease is held by {self.holder}"

    # ---- one attempt ----------------------------------------------------------------------------

    async def _try_acquire_or_renew(self) -> _Attempt:
        now = self._clock.now()
        read_at = self._clock.monotonic()
        ns, name = self.config.namespace, self.config.name
        try:
            lease = await self._api.get(LEASES, name, namespace=ns)
        except NotFound:
            return await self._create(now)
        except KubeError as exc:
            _log.warning("leader_election_read_failed", lease=name, error=str(exc))
            return _Attempt.FAILED
        record = lease_record(lease)
        self._observe(record, read_at)
        self._state_known = True
        if self._held_by_other(record, read_at):
            return _Attempt.TAKEN
        if self._lost_reason is not None or (self._leading and not self.is_leader):
            return _Attempt.FAILED  # the renew deadline passed while the read was out (a pause): no late renewal
        ours = self._our_record(record, now)
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        try:
            await self._api.replace(LEASES, name, lease_body(ns, name, ours, resource_version=version), namespace=ns)
        except Conflict:
            _log.debug("leader_election_update_conflict", lease=name)
            return _Attempt.FAILED  # someone wrote first; the next read says who holds it
        except KubeError as exc:
            _log.warning("leader_election_update_failed", lease=name, error=str(exc))
            return _Attempt.FAILED
        self._hold(ours)
        return _Attempt.HELD

    async def _create(self, now: datetime) -> _Attempt:
        ns, name = self.config.namespace, self.config.name
        ours = LeaseRecord(self.config.identity, self._duration_written, now, now, 0)
        try:
            await self._api.create(LEASES, lease_body(ns, name, ours), namespace=ns)
        except (AlreadyExists, Conflict):  # another replica created it first
            self._state_known = True
            return _Attempt.FAILED
        except KubeError as exc:
            _log.warning("leader_election_create_failed", lease=name, error=str(exc))
            return _Attempt.FAILED
        self._hold(ours)
        return _Attempt.HELD

    async def _release(self) -> bool:
        ns, name = self.config.namespace, self.config.name
        try:
            lease = await self._api.get(LEASES, name, namespace=ns)
            if lease_record(lease).holder_identity != self.config.identity:
                return False
            now = self._clock.now()
            cleared = LeaseRecord(None, 1, now, now, lease_record(lease).lease_transitions)
            version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
            await self._api.replace(LEASES, name, lease_body(ns, name, cleared, resource_version=version), namespace=ns)
        except KubeError as exc:
            _log.warning("leader_election_release_failed", lease=name, error=str(exc))
            return False
        _log.info("leader_election_released", lease=name, identity=self.config.identity)
        return True

    # ---- pure-ish decisions ---------------------------------------------------------------------

    def _observe(self, record: LeaseRecord, at: float) -> None:
        if record != self._observed:
            self._observed = record
            self._observed_at = at
            if record.holder_identity not in (None, self.config.identity):
                _log.info("leader_election_following", lease=self.config.name, holder=record.holder_identity)

    def _held_by_other(self, record: LeaseRecord, at: float) -> bool:
        if not record.holder_identity or record.holder_identity == self.config.identity:
            return False
        duration_s = record.lease_duration_s or self._duration_written
        return self._observed_at + duration_s > at

    def _our_record(self, current: LeaseRecord, now: datetime) -> LeaseRecord:
        if current.holder_identity == self.config.identity:
            return LeaseRecord(
                self.config.identity,
                self._duration_written,
                current.acquire_time or now,
                now,
                current.lease_transitions,
            )
        return LeaseRecord(self.config.identity, self._duration_written, now, now, current.lease_transitions + 1)

    def _hold(self, record: LeaseRecord) -> None:
        self._observed = record
        self._observed_at = self._clock.monotonic()
        self._may_hold = True
        self._state_known = True

    async def _bounded(self, work: Coroutine[Any, Any, _T], timeout_s: float) -> _T | None:
        """``work``'s result, or None when it did not finish within ``timeout_s`` of the injected clock."""
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self._clock.sleep(timeout_s))
        try:
            await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            task.cancel()
            timer.cancel()
            await asyncio.wait((task, timer))
        if task.cancelled():
            return None
        return task.result()
