"""The values one RayService pass hands on: what ``observe`` read (``Observed``) and what ``plan`` decided
(``PassPlan``), for ``apply`` to carry out.

Guarantees:
1. Every value is a frozen dataclass (or an enum): a plan cannot be changed on its way to the shell.
2. ``Observed.notes`` is what ``deps.memory`` held of each owned cluster after the pass's dashboard reads;
   ``Observed.active``/``pending`` are ``upgrade.current_clusters``, found once per pass.

Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rayservice.controller.objects import RawObject
from rayservice.controller.rayservice.serve_diff import LastPut
from rayservice.controller.rayservice.upgrade import ClusterPlan
from rayservice.controller.rayservice.validate import ServiceCheck
from rayservice.ray import ServeAppStatus, observed_applications


class Submitted(enum.Enum):
    """What the Serve submission of a pass did."""

    NOTHING = "nothing"
    PUT = "put"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ServeState:
    """What one dashboard read told of a cluster: where, Ray's answer (``None`` on failure), app statuses."""

    address: str
    answer: Mapping[str, Any] | None
    statuses: Mapping[str, ServeAppStatus] = field(default_factory=dict)
    error: str | None = None

    @property
    def apps(self) -> dict[str, Mapping[str, Any]]:
        """The applications Ray reports, by name (``{}`` when the read failed)."""
        return observed_applications(self.answer) if self.answer is not None else {}


@dataclass(frozen=True, slots=True)
class Notes:
    """What ``deps.memory`` held of one cluster once the pass's dashboard reads were done."""

    last_put: LastPut | None = None
    failures: int = 0
    unreachable_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything one pass read: the RayService, its spec check, its objects in the caches, Ray's answers."""

    service: RawObject
    check: ServiceCheck
    desired_hash: str
    clusters: Mapping[str, RawObject]
    head_service: RawObject | None
    serve_service: RawObject | None
    selected: tuple[str, ...]
    serve_endpoints: int
    active: str | None = None
    pending: str | None = None
    ray: Mapping[str, ServeState] = field(default_factory=dict)
    pods: Mapping[str, Sequence[RawObject]] = field(default_factory=dict)
    notes: Mapping[str, Notes] = field(default_factory=dict)
    now_s: float = 0.0  # monotonic, as ``LastPut.at_s``
    in_flight: Mapping[str, int | None] = field(default_factory=dict)  # ``drain.decide_drain``'s readings
    gateway: RawObject | None = None  # NewClusterWithIncrementalUpgrade: the RayService's Gateway, as read
    route: RawObject | None = None  # ... and its HTTPRoute
    cluster_services: Mapping[str, RawObject] = field(default_factory=dict)  # ... per-cluster serve Services


@dataclass(frozen=True, slots=True)
class ServePut:
    """The Serve config to PUT to a cluster's head, and why; ``serve_starting``: its head turned Ready moments
    ago, so Serve may still be starting there (a transient failure is then Normal, not a Warning)."""

    cluster: str
    address: str
    config: Mapping[str, Any]
    reason: str
    first: bool
    serve_starting: bool = False


@dataclass(frozen=True, slots=True)
class Switch:
    """Traffic moves from ``old`` to ``new`` (guarantee 3)."""

    old: str | None
    new: str
    old_deadline: datetime | None = None
    upgrade_s: float | None = None


@dataclass(frozen=True, slots=True)
class StatusEvents:
    """The Warning events a status write records, by message; an empty message: no such event."""

    ignored_fields: str = ""
    serve_config_warnings: str = ""
    validation_failed: str = ""
    rollout_failed: str = ""
    rollout_policy_limited: str = ""


@dataclass(frozen=True, slots=True)
class PassPlan:
    """Everything one pass writes, in values (see the guarantees)."""

    clusters: ClusterPlan
    status: Mapping[str, Any]
    requeue_after_s: float | None
    health_clock: Literal["run", "stop"] | None = None
    status_if_create_fails: Mapping[str, Any] | None = None
    serve_put: ServePut | None = None
    labels: tuple[tuple[str, str], ...] = ()
    switch: Switch | None = None
    services: tuple[RawObject, ...] = ()
    requeue_after_put_failure_s: float | None = None
    remember_serve: tuple[str, str] | None = None  # (cluster, value of the last good Serve config annotation)
    phase: str = "idle"  # of a cluster upgrade (``phase.upgrade_phase``), for the metrics
    drain_forced: tuple[tuple[str, str], ...] = ()  # clusters deleted past their drain bound, and why
    gateway: RawObject | None = None  # NewClusterWithIncrementalUpgrade: the Gateway to have
    route: RawObject | None = None  # ... the HTTPRoute to have (weights of this pass)
    cluster_services: tuple[RawObject, ...] = ()  # ... the per-cluster serve Services to have
    incremental_why: str = ""  # ... what the step does, for the logs
    start_autoscaled: bool = False  # ... the cluster to create starts its worker groups at minReplicas
