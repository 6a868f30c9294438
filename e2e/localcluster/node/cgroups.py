"""CPU shares per pod, as kubelet gives them: each pod in its own cgroup, weighted by its CPU requests.

On one machine every pod of every cluster shares the same cores. Without cgroups the kernel shares CPU time per
thread, so a pod that starts many processes (a new Ray cluster: GCS, raylet, dashboard, workers) takes the cores
from a pod that serves traffic with few (the old cluster's HTTP proxy), and the serving pod's answers take
seconds. kubelet prevents that with one cgroup per pod under a node-wide group; this module does the same.

Guarantees:
1. `pod_cpu_request_milli(pod)` is the pod's effective CPU request as Kubernetes computes it: the larger of the
   sum of its containers' requests and the largest init container request; a container without a CPU request
   but with a CPU limit requests its limit (the API server's defaulting). `cpu_shares(milli)` is kubelet's
   `MilliCPUToShares`: `milli * 1024 / 1000`, at least 2 (a BestEffort pod gets 2), at most 262144;
   `cpu_weight(shares)` is the cgroup v2 weight kubelet derives from it (1..10000).
2. `CpuCgroups.detect(name)` finds a writable CPU controller: cgroup v1's `cpu` hierarchy or cgroup v2 with the
   `cpu` controller; it creates the node group `name` (weight: 1024 per core of the machine, as kubelet's
   `kubepods`), or returns None when neither is usable (not root, read-only, no CPU controller): pods then run
   without one, as before.
3. `pod(uid, milli)` creates the pod's group with its shares (idempotent: the shares are set again) and returns a
   `PodCgroup`; `PodCgroup.enter_argv()` is a command prefix that moves the process running it into the group
   and then executes the rest: every process started through it, and everything they start, is in the pod's
   group (no race between a fork and a move: the process moves itself before it runs anything else).
4. `PodCgroup.remove()` removes the group once its processes have gone (bounded retries; a group that stays
   busy is left and reported in the log); `CpuCgroups.close()` removes the node group and every empty pod group
   left in it (a previous agent's included).

Not guaranteed: CPU limits (CFS quota), memory or pids limits, QoS classes' intermediate groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MIN_SHARES, MAX_SHARES = 2, 262144
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
          "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}


def cpu_milli(quantity: object) -> int:
    """A CPU quantity ("500m", "2", 1.5) in millicores, rounded up as Kubernetes does; 0 when unreadable."""
    text = str(quantity).strip()
    match = _QUANTITY.match(text)
    if match is None:
        return 0
    number, suffix = float(match.group(1)), match.group(2) or ""
    milli = number if suffix == "m" else number * _SCALE[suffix] * 1000
    return int(-(-milli // 1))


def _container_milli(container: Mapping[str, Any]) -> int:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if "cpu" in requests:
        return cpu_milli(requests["cpu"])
    return cpu_milli(limits["cpu"]) if "cpu" in limits else 0


def pod_cpu_request_milli(pod: Mapping[str, Any]) -> int:
    spec = pod.get("spec") or {}
    containers = sum(_container_milli(c) for c in spec.get("containers") or [])
    inits = max((_container_milli(c) for c in spec.get("initContainers") or []), default=0)
    return max(containers, inits)


def cpu_shares(milli: int) -> int:
    return max(MIN_SHARES, min(MAX_SHARES, milli * 1024 // 1000))


def cpu_weight(shares: int) -> int:
    """cgroup v2 `cpu.weight` for v1 shares (kubelet's CpuSharesToCpuWeight)."""
    return 1 + ((max(MIN_SHARES, min(MAX_SHARES, shares)) - 2) * 9999) // 262142


def _mounts(text: str) -> Iterable[tuple[str, str, set[str]]]:
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            yield fields[1], fields[2], set(fields[3].split(","))


@dataclass(frozen=True)
class _Hierarchy:
    root: Path
    v2: bool

    def set_weight(self, group: Path, shares: int) -> None:
        if self.v2:
            (group / "cpu.weight").write_text(str(cpu_weight(shares)))
        else:
            (group / "cpu.shares").write_text(str(shares))


def _find(mounts_text: str) -> _Hierarchy | None:
    mounts = list(_mounts(mounts_text))
    for target, fstype, options in mounts:
        if fstype == "cgroup" and "cpu" in options:
            return _Hierarchy(Path(target), v2=False)
    for target, fstype, _ in mounts:
        if fstype == "cgroup2":
            controllers = Path(target, "cgroup.controllers")
            with contextlib.suppress(OSError):
                if "cpu" in controllers.read_text().split():
                    return _Hierarchy(Path(target), v2=True)
    return None


@dataclass
class PodCgroup:
    path: Path

    def enter_argv(self) -> list[str]:
        # The shell writes its own pid (echo is a builtin), then becomes the command: nothing of the command runs
        # before it is in the group.
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs")]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    async def remove(self, attempts: int = 50, pause_s: float = 0.1) -> bool:
        for _ in range(attempts):
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:  # still busy: its last processes are exiting
                await asyncio.sleep(pause_s)
        log.warning("pod cgroup %s still has processes %s; left in place", self.path, self.pids())
        return False


class CpuCgroups:
    def __init__(self, hierarchy: _Hierarchy, group: Path) -> None:
        self.hierarchy = hierarchy
        self.group = group

    @classmethod
    def detect(cls, name: str, *, mounts_text: str | None = None, cores: int | None = None) -> CpuCgroups | None:
        try:
            text = Path("/proc/mounts").read_text() if mounts_text is None else mounts_text
        except OSError:
            return None
        hierarchy = _find(text)
        if hierarchy is None:
            log.info("no writable CPU cgroup controller: pods share the CPU without per-pod weights")
            return None
        group = hierarchy.root / name
        try:
            if hierarchy.v2:
                _enable_cpu(hierarchy.root)
            group.mkdir(exist_ok=True)
            if hierarchy.v2:
                _enable_cpu(group)
            hierarchy.set_weight(group, 1024 * (cores or os.cpu_count() or 1))
        except OSError as exc:
            log.info("CPU cgroups not usable (%s): pods share the CPU without per-pod weights", exc)
            return None
        return cls(hierarchy, group)

    def pod(self, uid: str, milli: int) -> PodCgroup | None:
        path = self.group / f"pod{uid}"
        try:
            path.mkdir(exist_ok=True)
            self.hierarchy.set_weight(path, cpu_shares(milli))
        except OSError as exc:
            log.warning("no cgroup for pod %s: %s", uid, exc)
            return None
        return PodCgroup(path)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            for child in self.group.iterdir():
                if child.is_dir() and child.name.startswith("pod"):
                    with contextlib.suppress(OSError):
                        child.rmdir()
        with contextlib.suppress(OSError):
            self.group.rmdir()


def _enable_cpu(group: Path) -> None:
    control = group / "cgroup.subtree_control"
    if "cpu" not in control.read_text().split():
        control.write_text("+cpu")
