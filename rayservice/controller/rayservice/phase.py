"""Which phase of a cluster upgrade a RayService is in, from one pass's decisions, for the upgrade metrics.

Guarantees:
1. ``upgrade_phase`` is ``pending_created`` from the pass that creates a pending cluster to replace an active
   one until its head is ready, ``pods_ready`` from then until the pass that switches traffic to it,
   ``switched`` from that pass until no cluster but the active one is left (the old one's deletion delay and
   deletion), and ``idle`` otherwise, including a RayService's first cluster (nothing is upgraded).
2. The Serve-running step has no phase of its own: traffic switches in the very pass whose Serve read shows
   the pending cluster running every application, so that step lasts no time.

Pure.
"""

from __future__ import annotations

from typing import Final, Literal

from rayservice.controller.objects import is_deleting
from rayservice.controller.rayservice.pass_values import Observed, Switch
from rayservice.controller.rayservice.upgrade import ClusterPlan

Phase = Literal["idle", "pending_created", "pods_ready", "switched"]
PHASES: Final[tuple[Phase, ...]] = ("idle", "pending_created", "pods_ready", "switched")


def upgrade_phase(observed: Observed, clusters: ClusterPlan, switch: Switch | None) -> Phase:
    """Guarantees 1-2."""
    if switch is not None:
        return "switched" if switch.old is not None and switch.old != switch.new else "idle"
    if observed.active is None:
        return "idle"
    if clusters.create is not None or (clusters.pending is not None and clusters.pending not in observed.ray):
        return "pending_created"
    if clusters.pending is not None:
        return "pods_ready"
    others = [name for name in observed.clusters if name != clusters.active]
    return "switched" if others or any(is_deleting(c) for c in observed.clusters.values()) else "idle"
