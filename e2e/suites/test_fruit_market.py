"""The seed user guide's journey with real Ray: the fruit market from the alpha sample, through its whole life.

In file order (each test also runs alone: the `sample` fixture brings the RayService up when it is missing):
walkthrough -> in-place update (price 3 -> 4) -> zero-downtime upgrade (head num-cpus 1 -> 2) -> head pod
deleted -> RayService deleted. Every test prints what it measured. Traffic is real HTTP to the serve Service's
ClusterIP from the host, through the local service proxy; the load generator counts every request.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from e2e import observe as ob
from e2e.localstack import OPERATOR_NAMESPACE, LocalStack, wait_for
from e2e.suites.conftest import PREFIX
from e2e.suites.load import Load, timeline

NAME = "rayservice-sample"
HEAD_SVC, SERVE_SVC = f"{NAME}-head-svc", f"{NAME}-serve-svc"
MANGO = '["MANGO", 2]'
SAMPLE = ob.ALPHA_LOCAL.read_text()
PRICE_4 = SAMPLE.replace("price: 3", "price: 4", 1)
DELAY_S = 10
UPGRADE_RATE_PER_S = 20
# the seed's upgrade: a cluster spec change (here the head's num-cpus), plus a short deletion delay for the test
UPGRADED = PRICE_4.replace('num-cpus: "1"', 'num-cpus: "2"', 1).replace(
    "spec:\n", f"spec:\n  rayClusterDeletionDelaySeconds: {DELAY_S}\n", 1)
assert UPGRADED.count('num-cpus: "2"') == 1 and PRICE_4 != SAMPLE


@pytest.fixture(scope="module")
def sample(stack: LocalStack) -> Iterator[LocalStack]:
    try:
        yield stack
    finally:
        ob.delete_and_wait(stack, NAME)


def _warnings(stack: LocalStack) -> dict[str, tuple[int, str, str]]:
    """The RayService's Warning events: name -> (count, reason, message)."""
    events = stack.list(f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{NAME}")
    return {e["metadata"]["name"]: (int(e.get("count") or 1), str(e.get("reason")), str(e.get("message")))
            for e in events
            if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get("kind") == "RayService"}


def _ensure_sample(stack: LocalStack) -> None:
    if ob.rayservice(stack, NAME) is None:
        ob.apply(stack, SAMPLE)
    ob.wait_running(stack, NAME)


@pytest.mark.timeout(420)
def test_walkthrough_apply_serves_the_fruit_market_with_four_services_and_events(sample: LocalStack) -> None:
    stack = sample
    t0 = time.monotonic()
    out = ob.apply(stack, SAMPLE)
    assert f"rayservice.ray.io/{NAME}" in out
    running_s = ob.wait_running(stack, NAME)
    cluster = ob.clusters(stack, NAME)[-1]

    def head_and_worker_ready() -> bool:
        all_pods = ob.pods(stack, cluster)
        kinds = sorted(p["metadata"]["labels"]["ray.io/node-type"] for p in all_pods)
        return kinds == ["head", "worker"] and all(ob.is_ready(p) for p in all_pods)

    wait_for("the head and the worker pod Running and ready", head_and_worker_ready, 120)
    pods_s = time.monotonic() - t0
    services = {f"{NAME}-head-svc", f"{NAME}-serve-svc", f"{cluster}-head-svc", f"{cluster}-dashboard-svc"}
    assert all(ob.service(stack, s) is not None for s in services)
    got = wait_for("the answer 6", lambda: ob.answer(ob.cluster_ip(stack, SERVE_SVC), MANGO) == "6", 60)
    answer_s = time.monotonic() - t0
    assert got
    assert ob.answer(ob.cluster_ip(stack, SERVE_SVC), '["KIWI", 1]') == "-1"
    described = stack.kubectl("describe", "rayservice", NAME)
    reasons = ["CreatedCluster", "SubmittedServeConfig", "SwitchedTraffic"]
    for reason in reasons:
        assert reason in described, described[-2000:]
    dashboard = ob.serve_apps(ob.cluster_ip(stack, HEAD_SVC))
    assert ob.all_running(dashboard, ["default"]), dashboard
    table = stack.kubectl("get", "rayservice,raycluster,pods,services")
    print(f"\n{table}\nwalkthrough: Running after {running_s:.1f} s; head and worker ready at {pods_s:.1f} s; "
          f"[\"MANGO\", 2] -> 6 at {answer_s:.1f} s; 4 Services; events {reasons} in describe; the dashboard "
          f"answers through {HEAD_SVC}:8265 (application default RUNNING)")


@pytest.mark.timeout(300)
def test_in_place_update_changes_the_price_under_load_with_zero_failures(sample: LocalStack) -> None:
    stack = sample
    _ensure_sample(stack)
    before = ob.clusters(stack, NAME)
    ip = ob.cluster_ip(stack, SERVE_SVC)
    with Load(ip, 8000, MANGO, rate_per_s=40, accept={"6", "8"}) as load:
        wait_for("load flowing", lambda: load.sent >= 80, 10)
        t0 = time.monotonic()
        ob.apply(stack, PRICE_4)
        wait_for("the answer 8", lambda: any(o.body == "8" for o in load.since(t0)), 60, interval_s=0.1)
        first_8 = min(o.sent_s for o in load.since(t0) if o.body == "8")
        settle = time.monotonic()
        wait_for("5 s of answers after the update", lambda: time.monotonic() - settle > 5, 10)
    report = load.report()
    late = [o for o in load.since(settle) if o.body != "8"]
    print(f"\nin-place update: first 8 after {first_8 - t0:.2f} s; {report.summary()}")
    assert report.failed == 0, report.failures
    assert not late, late[:5]
    assert ob.clusters(stack, NAME) == before, "an in-place update made a new cluster"
    assert ob.answer(ip, MANGO) == "8"


@dataclass
class Timeline:
    """First times (monotonic) of what the upgrade goes through, observed every 100 ms."""

    old: str
    pending: str | None = None
    marks: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    probes: list[tuple[float, str, str, str]] = field(default_factory=list)

    def mark(self, what: str) -> None:
        self.marks.setdefault(what, time.monotonic())


def _probe_pods(stack: LocalStack, tl: Timeline, stop: threading.Event) -> None:
    """Diagnostics: every 0.5 s, each pod of the new cluster asked directly on :8000 (2 s timeout)."""
    while not stop.wait(0.5):
        if tl.pending is None:
            continue
        try:
            pods = ob.pods(stack, tl.pending)
        except OSError:
            continue
        for pod in pods:
            ip = (pod.get("status") or {}).get("podIP")
            if not ip:
                continue
            name = pod["metadata"]["name"].rsplit("-", 2)[-2]  # head | group
            label = pod["metadata"]["labels"].get("ray.io/serve")
            t = time.monotonic()
            try:
                code, _ = ob.ask(ip, MANGO, timeout_s=2.0)
                kind = str(code)
            except (OSError, http.client.HTTPException) as exc:
                kind = type(exc).__name__
            tl.probes.append((t, name, kind, str(label)))


def _probe_summary(tl: Timeline, t0: float) -> str:
    """Per pod: runs of the same answer, e.g. `head: refused 3.0-9.5s (label true), 200 10.0-80.0s (label true)`."""
    out = []
    for pod in sorted({p[1] for p in tl.probes}):
        runs: list[list[Any]] = []
        for t, name, kind, label in tl.probes:
            if name != pod:
                continue
            if runs and runs[-1][0] == (kind, label):
                runs[-1][2] = t - t0
            else:
                runs.append([(kind, label), t - t0, t - t0])
        out.append(f"{pod}: " + ", ".join(f"{k} {a:.1f}-{b:.1f}s (label {lab})" for (k, lab), a, b in runs))
    return "; ".join(out)


def _watch_upgrade(stack: LocalStack, tl: Timeline, stop: threading.Event) -> None:
    while not stop.wait(0.1):
        try:
            st = ob.status(stack, NAME)
            pending = (st.get("pendingServiceStatus") or {}).get("rayClusterName")
            if pending and pending != tl.old:
                tl.pending = pending
                tl.mark("pending_in_status")
            if tl.pending is not None and "pending_serving" not in tl.marks:
                ip = ob.head_ip(stack, tl.pending)
                if ip and ob.all_running(ob.serve_apps(ip), ["default"]):
                    tl.mark("pending_serving")
            selected = ob.selected_cluster(stack, SERVE_SVC)
            if tl.pending is not None and selected == tl.pending:
                tl.mark("switched")
            if "switched" in tl.marks and tl.old not in ob.clusters(stack, NAME):
                tl.mark("old_cluster_deleted")
            if "old_cluster_deleted" in tl.marks and not ob.pods(stack, tl.old):
                tl.mark("old_pods_gone")
                return
        except OSError as exc:  # the API server is local: keep watching, but remember
            tl.errors.append(str(exc))


def _ranges(times: list[float], gap_s: float = 1.0) -> str:
    spans: list[list[float]] = []
    for t in sorted(times):
        if spans and t - spans[-1][1] <= gap_s:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    return ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in spans) or "none"


@pytest.mark.timeout(420)
def test_zero_downtime_upgrade_switches_to_a_new_cluster_without_failed_requests(sample: LocalStack) -> None:
    stack = sample
    _ensure_sample(stack)
    (old,) = ob.clusters(stack, NAME)
    ip = ob.cluster_ip(stack, SERVE_SVC)
    tl = Timeline(old=old)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_upgrade, args=(stack, tl, stop), daemon=True)
    prober = threading.Thread(target=_probe_pods, args=(stack, tl, stop), daemon=True)
    warned_before = _warnings(stack)
    # 20/s, not the in-place update's 40/s: on 2 cores the new cluster's boot (two Ray nodes) starves the old
    # cluster's Serve processes, and at 40/s their answers fall behind the arrivals until every request waits
    # past the load's 10 s timeout (a congestion collapse on the old cluster that no switch could avoid).
    with Load(ip, 8000, MANGO, rate_per_s=UPGRADE_RATE_PER_S, accept={"6", "8"}) as load:
        wait_for("load flowing", lambda: load.sent >= UPGRADE_RATE_PER_S, 10)
        watcher.start()
        prober.start()
        t0 = time.monotonic()
        ob.apply(stack, UPGRADED)
        try:
            wait_for("the old cluster deleted and its pods gone", lambda: "old_pods_gone" in tl.marks, 360, 0.5)
        finally:
            stop.set()
            watcher.join()
            prober.join()
        during = load.since(t0)
    report = load.report()
    window = load.report(during)
    m = {k: v - t0 for k, v in tl.marks.items()}
    switch_after_serving = tl.marks["switched"] - tl.marks["pending_serving"]
    print(f"\nzero-downtime upgrade {old} -> {tl.pending}: pending in status at {m['pending_in_status']:.1f} s, "
          f"pending serving at {m['pending_serving']:.1f} s, switched at {m['switched']:.1f} s "
          f"({switch_after_serving:.2f} s after the pending cluster served), old cluster deleted at "
          f"{m['old_cluster_deleted']:.1f} s ({m['old_cluster_deleted'] - m['switched']:.1f} s after the switch; "
          f"delay {DELAY_S} s), its pods gone at {m['old_pods_gone']:.1f} s\n"
          f"during the upgrade: {window.summary()}\nwhole run: {report.summary()}\n"
          f"timeline from the apply (requests/failed/slowest per 5 s): {timeline(during, t0)}\n"
          f"failed requests sent at: {_ranges([o.sent_s - t0 for o in during if load.is_failure(o)])}\n"
          f"new cluster's pods asked directly: {_probe_summary(tl, t0)}")
    assert report.failed == 0, report.failures
    assert window.sent >= 40 * UPGRADE_RATE_PER_S, f"only {window.sent} requests during the upgrade"
    assert abs(window.rate_per_s - UPGRADE_RATE_PER_S) < UPGRADE_RATE_PER_S / 10, \
        f"the load was not steady: {window.rate_per_s:.1f}/s"
    assert m["pending_in_status"] < m["pending_serving"] <= m["switched"] + 0.2
    assert switch_after_serving <= 5.0, f"traffic switched {switch_after_serving:.2f} s after the cluster served"
    # the deadline (rounded up to whole seconds) is stamped after the switch; both times are seen through 100 ms polls
    assert m["old_cluster_deleted"] - m["switched"] >= DELAY_S - 0.3
    assert ob.clusters(stack, NAME) == [tl.pending]
    assert ob.selected_cluster(stack, HEAD_SVC) == tl.pending
    assert ob.answer(ip, MANGO) == "8"
    assert not tl.errors, tl.errors[:3]
    # a normal upgrade reads as one: the new cluster's dashboard still starting is no Warning
    warned = [w for name, w in _warnings(stack).items() if w[0] > warned_before.get(name, (0, "", ""))[0]]
    assert not warned, warned


@pytest.mark.timeout(420)
def test_head_pod_deleted_under_load_serve_is_restored(sample: LocalStack) -> None:
    stack = sample
    _ensure_sample(stack)
    (cluster,) = ob.clusters(stack, NAME)
    ip = ob.cluster_ip(stack, SERVE_SVC)
    expected = ob.answer(ip, MANGO)
    assert expected in ("6", "8")
    (head,) = [p["metadata"]["name"] for p in ob.pods(stack, cluster)
               if p["metadata"]["labels"]["ray.io/node-type"] == "head"]
    restarts_before = _worker_restarts(stack, cluster)
    quiet_s = 15.0
    # 5/s: right after the restart the new replicas are slow (Serve's router probes time out while the restarted
    # worker rejoins); at 20/s on 2 cores the fruit app stays over capacity and the backlog never drains.
    with Load(ip, 8000, MANGO, rate_per_s=5, accept={expected}) as load:
        wait_for("load flowing", lambda: load.sent >= 5, 10)
        t0 = time.monotonic()
        stack.kubectl("delete", "pod", head, "--wait=false")
        new_head = wait_for("a new head pod ready", lambda: next(
            (p["metadata"]["name"] for p in ob.pods(stack, cluster) if p["metadata"]["name"] != head
             and p["metadata"]["labels"]["ray.io/node-type"] == "head" and ob.is_ready(p)), None), 120)
        head_ready = time.monotonic() - t0
        marks: dict[str, float] = {}
        states: list[str] = []

        def restored() -> bool:
            if not states or time.monotonic() - t0 >= 5.0 * len(states):
                states.append(f"{time.monotonic() - t0:5.1f} s {_cluster_state(stack, cluster)}")
            # The workers lose the old GCS and restart into the new head (Ray without GCS fault tolerance);
            # Serve counts as restored once that happened and no request failed for quiet_s since.
            now = time.monotonic()
            if "worker_restarted" not in marks and _worker_restarts(stack, cluster) > restarts_before:
                marks["worker_restarted"] = now
            settled = marks.get("worker_restarted", t0 + 75.0 if now - t0 > 75.0 else now)
            failures = [o.sent_s for o in load.since(t0) if load.is_failure(o)]
            return now - max([settled, *failures]) >= quiet_s

        try:
            wait_for("Serve restored (no failed request for 15 s)", restored, 240, 1.0)
        finally:
            print("\n" + "\n".join(states))
            print(f"timeline (requests/failed/slowest per 5 s): {timeline(load.since(t0), t0)}")
    during = load.since(t0)
    report = load.report(during)
    failures = [o for o in during if load.is_failure(o)]
    last_failure = max((o.sent_s for o in failures), default=t0) - t0
    first_failure = min((o.sent_s for o in failures), default=t0) - t0
    restarted = marks["worker_restarted"] - t0 if "worker_restarted" in marks else None
    print(f"\nhead pod deleted: new head {new_head} ready after {head_ready:.1f} s; worker restarted at "
          f"{'-' if restarted is None else f'{restarted:.1f} s'}; {report.failed} failed requests of "
          f"{report.sent} (first at {first_failure:.1f} s, last at {last_failure:.1f} s); recovery time "
          f"{last_failure:.1f} s\n{report.summary()}")
    final = [o for o in during if o.sent_s > max(o.sent_s for o in during) - quiet_s]
    assert final and not any(load.is_failure(o) for o in final)
    assert ob.answer(ip, MANGO) == expected
    assert ob.clusters(stack, NAME) == [cluster]


def _cluster_state(stack: LocalStack, cluster: str) -> str:
    """Diagnostics: what Ray and Kubernetes say of a cluster, and how each pod answers on :8000, in one line."""
    parts = []
    ip = ob.head_ip(stack, cluster)
    apps = ob.serve_apps(ip) if ip else None
    if apps is None:
        parts.append("dashboard: no answer")
    else:
        parts.append("apps " + ",".join(f"{name}={app.get('status')}" for name, app in (apps.get(
            "applications") or {}).items()))
        parts.append("proxies " + ",".join(f"{p.get('node_ip')}={p.get('status')}" for p in (apps.get(
            "proxies") or {}).values()))
    for pod in ob.pods(stack, cluster):
        st = pod.get("status") or {}
        pod_ip = st.get("podIP") or ""
        try:
            code, _ = ob.ask(pod_ip, MANGO, timeout_s=2.0) if pod_ip else (0, "")
            answer = str(code)
        except (OSError, http.client.HTTPException) as exc:
            answer = type(exc).__name__
        restarts = sum(c.get("restartCount", 0) for c in st.get("containerStatuses") or [])
        parts.append(f"{pod['metadata']['name'].rsplit('-', 2)[-2]}@{pod_ip} ready={ob.is_ready(pod)} "
                     f"serve={pod['metadata']['labels'].get('ray.io/serve')} restarts={restarts} :8000->{answer}")
    return "; ".join(parts)


def _worker_restarts(stack: LocalStack, cluster: str) -> int:
    return sum(c.get("restartCount", 0) for p in ob.pods(stack, cluster)
               if p["metadata"]["labels"]["ray.io/node-type"] == "worker"
               for c in (p.get("status") or {}).get("containerStatuses") or [])


def _ray_pod_netns() -> dict[str, int]:
    """The pods' network namespaces but the operator's (its pod stays)."""
    return {name: inode for name, inode in ob.netns_inodes(PREFIX).items()
            if not name.startswith(f"{PREFIX}-{OPERATOR_NAMESPACE}-")}


@pytest.mark.timeout(300)
def test_deleting_the_rayservice_removes_every_pod_service_cluster_namespace_and_process(
        sample: LocalStack) -> None:
    stack = sample
    _ensure_sample(stack)
    owned = ob.clusters(stack, NAME)
    # a head pod an earlier test deleted may still be in its grace period: start from the two pods at rest
    wait_for("the sample's two pods only", lambda: len(_ray_pod_netns()) == 2, 90, 0.5)
    inodes = _ray_pod_netns()
    assert len(inodes) == 2 and ob.processes_in(set(inodes.values()))
    t0 = time.monotonic()
    stack.kubectl("delete", "rayservice", NAME, "--wait=false")
    def services() -> list[str]:
        return [s["metadata"]["name"] for s in stack.list(ob.SVC_PATH) if s["metadata"]["name"] != "kubernetes"]

    wait_for("everything gone", lambda: ob.rayservice(stack, NAME) is None and not ob.clusters(stack, NAME)
             and not ob.pods(stack) and not services(), 180, 0.5)
    gone_s = time.monotonic() - t0
    wait_for("the pods' namespaces removed", lambda: not _ray_pod_netns(), 30)
    netns_s = time.monotonic() - t0
    left = ob.processes_in(set(inodes.values()))
    print(f"\ndelete: RayService {NAME}, RayClusters {owned}, their pods and 4 Services gone after {gone_s:.1f} s; "
          f"network namespaces removed after {netns_s:.1f} s; processes left in them: {len(left)}")
    assert not left
    assert not stack.list(ob.RC_PATH)
