"""Pod status from process states, and the restart rules (e2e/localcluster/node/status.py)."""

from __future__ import annotations

import pytest

from e2e.localcluster.node.status import (
    STABLE_RUN_S,
    ContainerView,
    CrashLoopBackoff,
    PodView,
    Terminated,
    compute_pod_status,
    pod_phase,
    should_restart,
)

DONE_OK = Terminated(0, "Completed", "t0", "t1")
DONE_BAD = Terminated(2, "Error", "t0", "t1")


def running(name: str = "c", ready: bool = True) -> ContainerView:
    return ContainerView(name, state="running", started_at="t0", ready=ready, started=True)


def ended(result: Terminated, name: str = "c") -> ContainerView:
    return ContainerView(name, state="terminated", terminated=result)


def pod(*containers: ContainerView, inits: tuple[ContainerView, ...] = (), sandbox: bool = True) -> PodView:
    return PodView(pod_ip="10.0.0.2", host_ip="10.0.0.1", start_time="t0", sandbox_ready=sandbox,
                   init_containers=inits, containers=containers)


@pytest.mark.parametrize(("view", "policy", "phase"), [
    (pod(ContainerView("c"), sandbox=False), "Always", "Pending"),
    (pod(ContainerView("c")), "Always", "Pending"),
    (pod(running(), inits=(ContainerView("i"),)), "Always", "Pending"),
    (pod(running()), "Always", "Running"),
    (pod(ended(DONE_OK)), "Always", "Running"),             # Always: it will be restarted
    (pod(ended(DONE_OK)), "OnFailure", "Succeeded"),
    (pod(ended(DONE_BAD)), "OnFailure", "Running"),         # restarted after the failure
    (pod(ended(DONE_BAD)), "Never", "Failed"),
    (pod(ended(DONE_OK), ended(DONE_BAD, "d")), "Never", "Failed"),
    (pod(ended(DONE_OK), running("d")), "Never", "Running"),
    (pod(ContainerView("c", last=DONE_BAD, reason="CrashLoopBackOff")), "Always", "Running"),
    (pod(ContainerView("c"), inits=(ended(DONE_BAD, "i"),)), "Never", "Failed"),
])
def test_pod_phase_is_kubelets(view: PodView, policy: str, phase: str) -> None:
    assert pod_phase(view, policy) == phase


def test_conditions_keep_their_transition_time_until_their_status_changes() -> None:
    spec = {"spec": {"restartPolicy": "Always"}, "status": {"conditions": [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t-sched"}]}}
    first = compute_pod_status(spec, pod(running(ready=False)), "t1")
    conditions = {c["type"]: c for c in first["conditions"]}
    assert conditions["PodScheduled"]["lastTransitionTime"] == "t-sched"
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "ContainersNotReady")
    assert conditions["Ready"]["message"] == "containers with unready status: [c]"
    second = compute_pod_status({**spec, "status": first}, pod(running(ready=False)), "t2")
    assert second == first
    third = compute_pod_status({**spec, "status": first}, pod(running(ready=True)), "t3")
    ready = {c["type"]: c for c in third["conditions"]}["Ready"]
    assert (ready["status"], ready["lastTransitionTime"]) == ("True", "t3")
    assert {c["type"]: c for c in third["conditions"]}["Initialized"]["lastTransitionTime"] == "t1"


def test_container_statuses_carry_state_last_state_and_restart_count() -> None:
    view = ContainerView("c", image="img", state="running", started_at="t5", last=DONE_BAD, restart_count=2,
                         ready=True, started=True, container_id="localcluster://x")
    status = compute_pod_status({"spec": {}}, pod(view), "t6")
    [c] = status["containerStatuses"]
    assert c["state"] == {"running": {"startedAt": "t5"}}
    assert c["lastState"]["terminated"]["exitCode"] == 2
    assert (c["restartCount"], c["ready"], c["image"], c["containerID"]) == (2, True, "img", "localcluster://x")
    assert (status["podIP"], status["hostIP"], status["startTime"]) == ("10.0.0.2", "10.0.0.1", "t0")


def test_a_completed_pod_is_not_ready_with_reason_pod_completed() -> None:
    status = compute_pod_status({"spec": {"restartPolicy": "Never"}}, pod(ended(DONE_OK)), "t1")
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (status["phase"], ready["status"], ready["reason"]) == ("Succeeded", "False", "PodCompleted")


@pytest.mark.parametrize(("policy", "code", "init", "restart"), [
    ("Always", 0, False, True), ("Always", 1, False, True), ("OnFailure", 0, False, False),
    ("OnFailure", 1, False, True), ("Never", 1, False, False),
    ("Always", 0, True, False), ("Always", 1, True, True), ("Never", 1, True, False)])
def test_should_restart_follows_restart_policy(policy: str, code: int, init: bool, restart: bool) -> None:
    assert should_restart(policy, code, init) is restart


def test_crash_loop_backoff_restarts_at_once_then_doubles_to_the_cap_and_resets_after_a_long_run() -> None:
    backoff = CrashLoopBackoff(10, 40)
    assert [backoff.next(1) for _ in range(5)] == [0, 10, 20, 40, 40]
    assert backoff.next(STABLE_RUN_S) == 0
