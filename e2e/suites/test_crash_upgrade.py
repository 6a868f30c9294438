"""Crash safety with real Ray: the operator SIGKILLed at seeded random points of zero-downtime upgrades under load.

Two trials on one RayService (the alpha local sample under its own name, deletion delay 5 s). Each trial changes
the head's `num-cpus` (1 <-> 2: a new cluster), kills the operator at a seeded random moment of the upgrade (its
pod's processes SIGKILLed and the pod removed, as a node failure would: the Lease is not released), waits a short
pause and for the ReplicaSet's replacement pod, and waits until the upgrade is finished: the new cluster active, no
pending one, `Running`, the old cluster and its pods gone. Meanwhile a watcher checks every 0.2 s that the
RayService never has more than two clusters besides those waiting for their deletion deadline, and that whenever
the serve Service selects a new cluster, that cluster's apps are all RUNNING. Steady load (20 requests/s) runs
through the serve Service for the whole trial, and every request's outcome is counted.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for
from e2e.suites.load import Load
from rayservice.api.labels import DELETE_AFTER_ANNOTATION, ORIGINATED_FROM_CR_NAME_LABEL

NAME = "rayservice-crash"
SERVE_SVC = f"{NAME}-serve-svc"
MANGO = '["MANGO", 2]'
DELAY_S = 5
TRIALS = 2
SEED = 20261126
SAMPLE = ob.ALPHA_LOCAL.read_text().replace("name: rayservice-sample", f"name: {NAME}", 1).replace(
    "spec:\n", f"spec:\n  rayClusterDeletionDelaySeconds: {DELAY_S}\n", 1)
assert f"name: {NAME}" in SAMPLE and 'num-cpus: "1"' in SAMPLE


@dataclass
class Watch:
    """What the invariant watcher saw during one trial."""

    max_clusters: int = 0
    max_live_clusters: int = 0
    switches: list[tuple[str, bool]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _watch(stack: LocalStack, seen: Watch, stop: threading.Event) -> None:
    selected = ob.selected_cluster(stack, SERVE_SVC)
    while not stop.wait(0.2):
        try:
            owned = [c for c in stack.list("/apis/ray.io/v1/namespaces/default/rayclusters")
                     if (c["metadata"].get("labels") or {}).get(ORIGINATED_FROM_CR_NAME_LABEL) == NAME]
            waiting = [c for c in owned if DELETE_AFTER_ANNOTATION in (c["metadata"].get("annotations") or {})]
            seen.max_clusters = max(seen.max_clusters, len(owned))
            seen.max_live_clusters = max(seen.max_live_clusters, len(owned) - len(waiting))
            now = ob.selected_cluster(stack, SERVE_SVC)
            if now is not None and now != selected:
                ip = ob.head_ip(stack, now)
                seen.switches.append((now, ip is not None and ob.all_running(ob.serve_apps(ip), ["default"])))
                selected = now
        except OSError as exc:
            seen.errors.append(str(exc))


def _finished(stack: LocalStack, old: str) -> bool:
    st = ob.status(stack, NAME)
    active = (st.get("activeServiceStatus") or {}).get("rayClusterName")
    return (st.get("serviceStatus") == "Running" and "pendingServiceStatus" not in st and active not in (None, old)
            and ob.selected_cluster(stack, SERVE_SVC) == active and ob.clusters(stack, NAME) == [active]
            and not ob.pods(stack, old))


@pytest.fixture(scope="module")
def crash_sample(stack: LocalStack) -> Iterator[LocalStack]:
    try:
        ob.apply(stack, SAMPLE)
        ob.wait_running(stack, NAME)
        yield stack
    finally:
        ob.delete_and_wait(stack, NAME)
        if not stack.operator_running:
            stack.start_operator()


@pytest.mark.timeout(900)
def test_operator_killed_at_random_points_of_upgrades_under_load(crash_sample: LocalStack) -> None:
    stack = crash_sample
    rng = random.Random(SEED)
    ip = ob.cluster_ip(stack, SERVE_SVC)
    wait_for("the answer 6", lambda: ob.answer(ip, MANGO) == "6", 60)
    rows = []
    total_sent = total_failed = 0
    for trial in range(TRIALS):
        old = ob.clusters(stack, NAME)[0]
        cpus = "2" if trial % 2 == 0 else "1"
        kill_after_s = rng.uniform(0.0, 30.0)  # the new cluster serves ~25 s after the edit
        down_s = rng.uniform(0.5, 3.0)
        seen, stop = Watch(), threading.Event()
        watcher = threading.Thread(target=_watch, args=(stack, seen, stop), daemon=True)
        watcher.start()
        try:
            with Load(ip, 8000, MANGO, rate_per_s=20, accept={"6"}) as load:
                wait_for("load flowing", lambda: load.sent >= 20, 10)
                t0 = time.monotonic()
                stack.kubectl("patch", "rayservice", NAME, "--type=json", "-p",
                              '[{"op": "replace", "path": "/spec/rayClusterConfig/headGroupSpec/rayStartParams/'
                              f'num-cpus", "value": "{cpus}"}}]')
                time.sleep(kill_after_s)  # the seeded kill point; nothing to wait for but time itself
                st = ob.status(stack, NAME)
                stage = ("switched" if (st.get("activeServiceStatus") or {}).get("rayClusterName") != old
                         else "pending" if st.get("pendingServiceStatus") else "not started")
                stack.kill_operator()
                time.sleep(down_s)
                stack.start_operator()
                restarted = time.monotonic()
                wait_for(f"trial {trial}: upgrade finished", functools.partial(_finished, stack, old), 300,
                         interval_s=0.5)
                converged_s = time.monotonic() - restarted
            report = load.report()
        finally:
            stop.set()
            watcher.join(5)
        total_sent += report.sent
        total_failed += report.failed
        rows.append(f"trial {trial}: kill at {kill_after_s:.1f} s ({stage}), down {down_s:.1f} s, converged "
                    f"{converged_s:.1f} s after the restart (whole upgrade {time.monotonic() - t0:.1f} s); clusters "
                    f"max {seen.max_clusters} ({seen.max_live_clusters} not waiting for their deadline); switches "
                    f"{[(c[-5:], ok) for c, ok in seen.switches]}; {report.summary()}")
        assert seen.max_live_clusters <= 2, rows[-1]
        assert seen.switches and all(ok for _, ok in seen.switches), rows[-1]
        assert report.failed == 0, (rows[-1], report.failures)
    print("\ncrash safety with real Ray:\n  " + "\n  ".join(rows))
    print(f"crash safety: {TRIALS} trials, {TRIALS} kills, {total_sent} requests, {total_failed} failed")
