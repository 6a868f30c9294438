"""Which RayClusters a RayService keeps, makes, scales and deletes: the upgrade decision, as a pure function.

Guarantees:
1. Active is the first cluster the Services select that exists and is not being deleted, else the recorded
   active one (``status.activeServiceStatus.rayClusterName``). Pending is the recorded pending one, unless it
   is the active one.
2. Without an active cluster, a pending cluster with the desired hash is made ready. An active cluster with the
   desired hash keeps no pending one (a spec reverted mid-upgrade drops it) but a replacement of an unhealthy
   one. An active cluster with another hash gets, under ``NewCluster`` and ``NewClusterWithIncrementalUpgrade``,
   a pending cluster with the desired hash (one with another hash is replaced: a newer spec mid-upgrade); under
   ``None``, or ``hold`` (a rollout given up with ``onFailure: Rollback``), it is kept and no pending one is.
3. A pending cluster that must be made gets its recorded name when it has one (the name was written to
   status before a create that may not have happened), else an owned cluster with the desired hash that no
   one selects, records or is deleting (adopted: a create whose status write was lost), else a fresh random
   name. ``create`` is set only when the pending cluster does not exist; the caller records ``pending`` in
   status before it creates anything.
4. Dropped and replaced pending clusters never served traffic: they are deleted at once (``drop``), before
   any new one is created, so no more than two clusters (plus those waiting for a deadline) ever exist.
5. Every other owned cluster that is neither active nor pending, nor selected or recorded (a stale cache
   may lag), gets a deletion deadline of now + ``rayClusterDeletionDelaySeconds`` (``mark``) if it has none,
   and is deleted (``delete``) once its deadline passed. ``unmark`` lists active or pending clusters that carry
   a deadline. ``wake_at`` is the earliest deadline, threshold or backoff end still ahead.
6. ``scale`` lists the active and pending clusters whose hash is the desired one: scaling-only changes are
   applied to them in place.
7. An active cluster whose hash is the desired one is replaced when ``health.replacement_due`` says so (opt-in
   thresholds, backoff between replacements), only when no pending cluster exists and the strategy is not
   ``None``; the new cluster counts one more replacement in a row than the one it replaces.
8. ``keep_pending`` (an incremental upgrade's rollback) keeps a live pending cluster next to a live active one.

Pure: time and randomness come in as arguments.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from rayservice.api.labels import CLUSTER_HASH_ANNOTATION, DELETE_AFTER_ANNOTATION
from rayservice.controller import names
from rayservice.controller.objects import (
    RawObject,
    annotations_of,
    is_deleting,
    metadata,
    name_of,
    parse_time,
    part,
    raycluster_spec,
    rayservice_spec,
    rayservice_status,
    text,
    whole_number,
)
from rayservice.controller.rayservice.desired import REPLACEMENTS_ANNOTATION
from rayservice.controller.rayservice.serve_health import Health, replacement_due

DEFAULT_DELETION_DELAY_S: Final = 60


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What the decision needs to know of one RayCluster the RayService owns."""

    name: str
    config_hash: str
    created: datetime | None = None
    delete_after: datetime | None = None
    deleting: bool = False
    replacements: int = 0


@dataclass(frozen=True, slots=True)
class NewCluster:
    """A pending cluster to create: its name and, for a replacement, how many replacements in a row."""

    name: str
    replacements: int = 0


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """The clusters after this pass and the writes that get there (see the guarantees)."""

    active: str | None
    pending: str | None
    create: NewCluster | None = None
    drop: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    mark: tuple[tuple[str, datetime], ...] = ()
    unmark: tuple[str, ...] = ()
    scale: tuple[str, ...] = ()
    wake_at: datetime | None = None
    replacing: str | None = None
    kept_outdated: bool = False


def cluster_facts(cluster: RawObject) -> ClusterFacts:
    """The facts of one raw RayCluster; a cluster without the hash annotation is hashed from its spec."""
    annotations = annotations_of(cluster)
    config_hash = annotations.get(CLUSTER_HASH_ANNOTATION)
    count = str(annotations.get(REPLACEMENTS_ANNOTATION, "0"))
    replacements = int(count) if count.isdecimal() else 0  # a negative or garbled count reads as none
    return ClusterFacts(
        name=name_of(cluster),
        config_hash=str(config_hash) if config_hash else names.cluster_config_hash(raycluster_spec(cluster)),
        created=parse_time(metadata(cluster).get("creationTimestamp")),
        delete_after=parse_time(annotations.get(DELETE_AFTER_ANNOTATION)),
        deleting=is_deleting(cluster),
        replacements=replacements,
    )


def recorded_clusters(service: RawObject) -> tuple[str | None, str | None]:
    """The active and pending cluster names the RayService's status records."""
    status = rayservice_status(service)
    active = part(status.get("activeServiceStatus")).get("rayClusterName")
    pending = part(status.get("pendingServiceStatus")).get("rayClusterName")
    return (str(active) if active else None, str(pending) if pending else None)


def deletion_deadline(service: RawObject, now: datetime) -> datetime:
    """When a cluster traffic moves away from now may be deleted: rounded up to a whole second, because the
    annotation stores whole seconds and a deadline cut down would delete the cluster before its delay."""
    delay = whole_number(rayservice_spec(service).get("rayClusterDeletionDelaySeconds"), DEFAULT_DELETION_DELAY_S)
    deadline = now + timedelta(seconds=delay)
    if deadline.microsecond:
        deadline = deadline.replace(microsecond=0) + timedelta(seconds=1)
    return deadline


def current_clusters(
    service: RawObject, live: Collection[str], *, selected: Sequence[str]
) -> tuple[str | None, str | None]:
    """The active and pending clusters before this pass changes anything (guarantee 1); ``live`` holds the
    names of the owned clusters that exist and are not being deleted."""
    recorded_active, recorded_pending = recorded_clusters(service)
    active = next((name for name in selected if name in live), None)
    if active is None and recorded_active in live:
        active = recorded_active
    return active, (recorded_pending if recorded_pending != active else None)


def decide(
    service: RawObject,
    clusters: Iterable[ClusterFacts],
    *,
    selected: Sequence[str],
    desired_hash: str,
    health: Health,
    now: datetime,
    rng: random.Random,
    current: tuple[str | None, str | None] | None = None,
    hold: bool = False, keep_pending: bool = False,
) -> ClusterPlan:
    """The clusters to keep, make, scale and delete (guarantees 1-8); ``current``: ``current_clusters``, if known."""
    everything = {facts.name: facts for facts in clusters}
    live = {name: facts for name, facts in everything.items() if not facts.deleting}
    active, pending = current if current is not None else current_clusters(service, live, selected=selected)
    protected = frozenset(name for name in (*selected, *recorded_clusters(service)) if name)
    scene = _Scene(service, everything, live, protected, desired_hash, rng, hold)
    keep = keep_pending and active in live and pending in live
    choice = _Choice(pending) if keep else _choose(scene, active, pending, health, now)  # guarantee 8
    kept = {name for name in (active, choice.pending) if name}
    mark, delete, wakes = _garbage(scene, kept | set(choice.drop), now)
    unmark = tuple(name for name in sorted(kept) if name in live and live[name].delete_after is not None)
    scale = tuple(name for name in (active, choice.pending) if name in live and live[name].config_hash == desired_hash)
    return ClusterPlan(
        active=active,
        pending=choice.pending,
        create=choice.create,
        drop=choice.drop,
        delete=tuple(delete),
        mark=tuple(mark),
        unmark=unmark,
        scale=scale,
        wake_at=min((*wakes, *([choice.wake] if choice.wake else [])), default=None),
        replacing=choice.replacing,
        kept_outdated=choice.kept_outdated,
    )


@dataclass(frozen=True, slots=True)
class _Choice:  # the pending cluster after this pass, and how it comes to be
    pending: str | None
    create: NewCluster | None = None
    drop: tuple[str, ...] = ()
    replacing: str | None = None
    kept_outdated: bool = False
    wake: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Scene:  # the RayService's clusters as one decision sees them
    service: RawObject
    everything: Mapping[str, ClusterFacts]
    live: Mapping[str, ClusterFacts]
    protected: frozenset[str]
    desired_hash: str
    rng: random.Random
    hold: bool = False

    def dropped(self, pending: str | None) -> tuple[str, ...]:
        """Guarantee 4: a pending cluster given up is deleted at once, unless it is gone or going."""
        facts = self.everything.get(pending) if pending is not None else None
        return (facts.name,) if facts is not None and not facts.deleting else ()

    def unusable(self, pending: str | None) -> bool:
        facts = self.everything.get(pending) if pending is not None else None  # gone, going, or outdated
        return facts is not None and (facts.deleting or facts.config_hash != self.desired_hash)

    def make(self, pending: str | None, replacements: int = 0, replacing: str | None = None) -> _Choice:
        """Guarantee 3: drop ``pending``, then adopt a cluster (not for a replacement) or name a new one."""
        drop = self.dropped(pending)
        adopted = _adoptable(self.live.values(), self.protected, self.desired_hash)
        if adopted is not None and replacements == 0:
            return _Choice(adopted, drop=drop)
        name = _fresh_name(self.service, self.rng, taken=set(self.everything) | self.protected)
        return _Choice(name, NewCluster(name, replacements), drop, replacing)


def _choose(scene: _Scene, active: str | None, pending: str | None, health: Health, now: datetime) -> _Choice:
    """Guarantees 2 and 8: the pending cluster for each state of the upgrade."""
    strategy = text(part(rayservice_spec(scene.service).get("upgradeStrategy")).get("type"), "NewCluster")
    active_facts = scene.live.get(active) if active is not None else None
    pending_facts = scene.live.get(pending) if pending is not None else None
    missing = pending is not None and pending_facts is None and not scene.unusable(pending)
    if active_facts is None:
        if pending is None or scene.unusable(pending):
            return scene.make(pending)
        return _Choice(pending, NewCluster(pending)) if pending_facts is None else _Choice(pending)
    if active_facts.config_hash == scene.desired_hash:
        return _keep_or_replace(scene, active_facts, pending, strategy, health, now)
    if strategy == "None" or scene.hold:
        return _Choice(None, drop=scene.dropped(pending), kept_outdated=strategy == "None")
    if pending_facts is not None and pending_facts.config_hash == scene.desired_hash:
        return _Choice(pending)
    if missing and pending is not None:
        return _Choice(pending, NewCluster(pending))
    return scene.make(pending)


def _keep_or_replace(
    scene: _Scene, active: ClusterFacts, pending: str | None, strategy: str, health: Health, now: datetime
) -> _Choice:
    """Guarantees 2 and 7: an up-to-date active cluster keeps serving, unless it is due for replacement."""
    reason, wake = replacement_due(rayservice_spec(scene.service), active.created, active.replacements, health, now)
    wanted = reason if strategy != "None" else None
    wake = wake if strategy != "None" and pending is None else None
    pending_facts = scene.live.get(pending) if pending is not None else None
    next_count = active.replacements + 1
    if (
        pending_facts is not None
        and pending_facts.config_hash == scene.desired_hash
        and pending_facts.replacements > active.replacements
    ):
        return _Choice(pending, wake=wake)  # a replacement is under way
    if pending is not None and pending_facts is None and not scene.unusable(pending) and wanted is not None:
        return _Choice(pending, NewCluster(pending, next_count), replacing=wanted, wake=wake)
    if wanted is not None:
        return dataclasses.replace(scene.make(pending, next_count, wanted), wake=wake)
    return _Choice(None, drop=scene.dropped(pending), wake=wake)


def _garbage(
    scene: _Scene, keep: set[str], now: datetime
) -> tuple[list[tuple[str, datetime]], list[str], list[datetime]]:
    """Guarantee 5: deadlines to set, clusters whose deadline passed, and the deadlines still ahead."""
    mark: list[tuple[str, datetime]] = []
    delete: list[str] = []
    wakes: list[datetime] = []
    for name, facts in sorted((n, f) for n, f in scene.live.items() if n not in keep and n not in scene.protected):
        if facts.delete_after is None:
            mark.append((name, deletion_deadline(scene.service, now)))
            wakes.append(mark[-1][1])
        elif facts.delete_after <= now:
            delete.append(name)
        else:
            wakes.append(facts.delete_after)
    return mark, delete, wakes


def _adoptable(clusters: Iterable[ClusterFacts], protected: Collection[str], desired_hash: str) -> str | None:
    candidates = sorted(
        (facts for facts in clusters if facts.name not in protected),
        key=lambda facts: (facts.created is None, facts.created, facts.name),
    )
    for facts in candidates:
        if facts.config_hash == desired_hash and facts.delete_after is None and facts.replacements == 0:
            return facts.name
    return None


def _fresh_name(service: RawObject, rng: random.Random, *, taken: set[str]) -> str:
    while (name := names.rayservice_cluster_name(name_of(service), rng)) in taken:
        pass
    return name
