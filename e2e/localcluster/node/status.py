"""Pod status from what the node knows of its processes, as kubelet reports it (pure).

Guarantees:
1. `pod_phase` is kubelet's: Pending while the sandbox or an init container is not done or a container has
   never started; Running while a container runs or will be restarted; Succeeded when every container exited
   0 and none restarts; Failed when one failed and none restarts (or an init container failed under Never).
2. Conditions PodReadyToStartContainers, Initialized, ContainersReady, Ready (and the scheduler's
   PodScheduled, kept) with kubelet's reasons and messages; a condition's lastTransitionTime changes only
   when its status does.
3. containerStatuses / initContainerStatuses carry state (waiting reason, running startedAt, terminated
   exitCode, reason, times), lastState, ready, started, restartCount, image and a containerID.
4. podIP(s), hostIP(s) and startTime once the sandbox has an address; fields the node does not own
   (qosClass, ...) are left to the caller's merge patch. Readiness gates are not evaluated.
5. `should_restart` and `CrashLoopBackoff` are kubelet's restart rules: init containers restart only after a
   failure (never under Never); containers always under Always, after a failure under OnFailure. The first
   restart comes at once, then base, 2*base, ... up to the cap; 10 minutes of running resets the backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Obj = dict[str, Any]
StateKind = Literal["waiting", "running", "terminated"]
STABLE_RUN_S = 600.0


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str
    started_at: str
    finished_at: str
    message: str = ""

    def as_state(self, container_id: str) -> Obj:
        out: Obj = {"exitCode": self.exit_code, "reason": self.reason, "startedAt": self.started_at,
                    "finishedAt": self.finished_at, "containerID": container_id}
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str = ""
    state: StateKind = "waiting"
    reason: str = "PodInitializing"  # when waiting
    message: str = ""
    started_at: str = ""  # when running
    terminated: Terminated | None = None  # when terminated
    last: Terminated | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    container_id: str = ""


@dataclass(frozen=True)
class PodView:
    pod_ip: str = ""
    host_ip: str = ""
    start_time: str = ""
    sandbox_ready: bool = False
    init_containers: Sequence[ContainerView] = field(default_factory=tuple)
    containers: Sequence[ContainerView] = field(default_factory=tuple)


def is_success(view: ContainerView) -> bool:
    return view.state == "terminated" and view.terminated is not None and view.terminated.exit_code == 0


def init_done(view: PodView) -> bool:
    return all(is_success(c) for c in view.init_containers)


def init_failed_for_good(view: PodView, restart_policy: str) -> bool:
    return restart_policy == "Never" and any(c.state == "terminated" and not is_success(c)
                                             for c in view.init_containers)


def pod_phase(view: PodView, restart_policy: str) -> str:
    if init_failed_for_good(view, restart_policy):
        return "Failed"
    if not view.sandbox_ready or not init_done(view):
        return "Pending"
    running = stopped = succeeded = waiting = 0
    for c in view.containers:
        if c.state == "running":
            running += 1
        elif c.state == "terminated":
            stopped += 1
            succeeded += is_success(c)
        elif c.last is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded and all(c.state == "terminated" for c in view.containers):
        return "Succeeded"
    if restart_policy == "Never":
        return "Failed"
    return "Running"  # OnFailure: the failed ones are restarted


def container_status(view: ContainerView) -> Obj:
    if view.state == "running":
        state: Obj = {"running": {"startedAt": view.started_at}}
    elif view.state == "terminated" and view.terminated is not None:
        state = {"terminated": view.terminated.as_state(view.container_id)}
    else:
        state = {"waiting": {"reason": view.reason, **({"message": view.message} if view.message else {})}}
    out: Obj = {"name": view.name, "state": state,
                "lastState": {"terminated": view.last.as_state(view.container_id)} if view.last else {},
                "ready": view.ready, "restartCount": view.restart_count, "image": view.image, "imageID": "",
                "started": view.started}
    if view.container_id:
        out["containerID"] = view.container_id
    return out


def _condition(ctype: str, ok: bool, now: str, previous: Sequence[Obj], reason: str = "",
               message: str = "") -> Obj:
    status = "True" if ok else "False"
    before = next((c for c in previous if c.get("type") == ctype), None)
    since = before.get("lastTransitionTime") if before and before.get("status") == status else None
    out: Obj = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": since or now}
    if not ok and reason:
        out["reason"] = reason
        if message:
            out["message"] = message
    return out


def compute_pod_status(pod: Obj, view: PodView, now: str) -> Obj:
    """The status the node reports for `pod` given its process view; `now` is an RFC 3339 time."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    policy = str(spec.get("restartPolicy") or "Always")
    previous = list(status.get("conditions") or [])
    phase = pod_phase(view, policy)
    done_init = init_done(view)
    pending_init = [c.name for c in view.init_containers if not is_success(c)]
    unready = [c.name for c in view.containers if not c.ready]
    terminal = phase in ("Succeeded", "Failed")
    not_ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    not_ready_message = "" if terminal else f"containers with unready status: [{' '.join(unready)}]"
    conditions = [c for c in previous if c.get("type") == "PodScheduled"]
    conditions += [
        _condition("PodReadyToStartContainers", view.sandbox_ready and not terminal, now, previous),
        _condition("Initialized", done_init, now, previous, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(pending_init)}]"),
        _condition("Ready", not unready and not terminal, now, previous, not_ready_reason, not_ready_message),
        _condition("ContainersReady", not unready and not terminal, now, previous, not_ready_reason,
                   not_ready_message)]
    out: Obj = {"phase": phase, "conditions": conditions,
                "containerStatuses": [container_status(c) for c in view.containers]}
    if view.init_containers:
        out["initContainerStatuses"] = [container_status(c) for c in view.init_containers]
    if view.host_ip:
        out["hostIP"] = view.host_ip
        out["hostIPs"] = [{"ip": view.host_ip}]
    if view.pod_ip:
        out["podIP"] = view.pod_ip
        out["podIPs"] = [{"ip": view.pod_ip}]
    if view.start_time:
        out["startTime"] = view.start_time
    return out


def should_restart(policy: str, exit_code: int, init: bool) -> bool:
    if init:
        return exit_code != 0 and policy != "Never"
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class CrashLoopBackoff:
    def __init__(self, base_s: float, cap_s: float) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self._next = 0.0

    def next(self, ran_s: float) -> float:
        if ran_s >= STABLE_RUN_S:
            self._next = 0.0
        delay, self._next = self._next, min(self.cap_s, max(self.base_s, self._next * 2))
        return delay
