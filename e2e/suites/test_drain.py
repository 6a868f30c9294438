"""Graceful drain with real Ray: requests in flight across a zero-downtime upgrade's switch and across the old
cluster's deletion deadline all complete, because the operator deletes the old cluster only once its Serve
proxies report none in flight. Prints what it measured.

Two steady loads through the serve Service, each request on a new connection: 3 s requests at 4/s and 12 s
requests at 0.5/s (the slow app, e2e/apps/slow). ``rayClusterDeletionDelaySeconds: 1`` makes the old cluster's
deletion come due while both kinds are still in flight on it; without the drain those would be cut.

The same upgrade is watched through a real Prometheus (e2e/suites/prometheus.py: Debian's prometheus in a pod,
discovering the operator through `kubernetes_sd_configs` with its ServiceAccount token): while it runs, the
upgrade's phases and UpgradeInProgress show in Prometheus; once it is over, every PromQL query of the Grafana
dashboard (manifests/grafana) returns data, the rate and quantile panels a number.
"""

from __future__ import annotations

import calendar
import functools
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for
from e2e.suites.load import Load, Outcome
from e2e.suites.prometheus import SCRAPE_S, Prometheus, dashboard_queries

NAME = "rayservice-drain"
SERVE_SVC = f"{NAME}-serve-svc"
DELAY_S = 1
SHORT_S, LONG_S = 3.0, 12.0
SAMPLE = f"""\
apiVersion: ray.io/v1
kind: RayService
metadata:
  name: {NAME}
spec:
  rayClusterDeletionDelaySeconds: {DELAY_S}
  rolloutPolicy:
    timeoutSeconds: 600
  serveConfigV2: |
    applications:
      - name: slow
        import_path: slow.app
        route_prefix: /
        runtime_env:
          working_dir: "file:///var/lib/localcluster/apps/slow.zip"
        deployments:
          - name: Slow
            num_replicas: 1
            max_ongoing_requests: 200
            graceful_shutdown_timeout_s: 30
            ray_actor_options:
              num_cpus: 0
  rayClusterConfig:
    rayVersion: "2.60.0"
    headGroupSpec:
      rayStartParams:
        num-cpus: "1"
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray:2.60.0
              resources:
                limits: {{cpu: "1", memory: 3Gi}}
                requests: {{cpu: 500m, memory: 1Gi}}
"""
UPGRADED = SAMPLE.replace('num-cpus: "1"', 'num-cpus: "2"', 1)
assert UPGRADED != SAMPLE


@dataclass
class Marks:
    old: str
    times: dict[str, float] = field(default_factory=dict)
    deadline: float | None = None  # the old cluster's deletion deadline, on the monotonic clock
    errors: list[str] = field(default_factory=list)


def _watch(stack: LocalStack, marks: Marks, stop: threading.Event) -> None:
    """Every 0.2 s: when the serve Service left the old cluster, its deadline, its deletion, its pods gone."""
    while not stop.is_set() and "old_pods_gone" not in marks.times:
        try:
            now = time.monotonic()
            if "switched" not in marks.times and ob.selected_cluster(stack, SERVE_SVC) not in (None, marks.old):
                marks.times["switched"] = now
            cluster = stack.get(f"/apis/ray.io/v1/namespaces/default/rayclusters/{marks.old}")
            annotations = (cluster or {}).get("metadata", {}).get("annotations") or {}
            if marks.deadline is None and "rayservice.ray.io/delete-after" in annotations:
                wall = calendar.timegm(time.strptime(annotations["rayservice.ray.io/delete-after"],
                                                     "%Y-%m-%dT%H:%M:%SZ"))
                marks.deadline = wall - (time.time() - time.monotonic())
            if "deleted" not in marks.times and (cluster is None or cluster["metadata"].get("deletionTimestamp")):
                marks.times["deleted"] = now
            if "deleted" in marks.times and not ob.pods(stack, marks.old):
                marks.times["old_pods_gone"] = now
        except Exception as exc:  # a diagnostic thread must not die on one failed poll
            marks.errors.append(repr(exc))
        stop.wait(0.2)


def _sample_phases(prom: Prometheus, seen: dict[str, float], stop: threading.Event) -> None:
    """Every scrape interval: the upgrade phase Prometheus holds for the RayService, and when the dashboard's
    "upgrades in progress" panel first showed one."""
    upgrading = next(e for e in dashboard_queries("default", "1m") if "upgrade_in_progress" in e)  # its stat panel
    queries = {"phase": f'rayservice_upgrade_phase{{name="{NAME}"}} == 1', "upgrading": upgrading}
    while not stop.is_set():
        for what, expr in queries.items():
            try:
                for sample in prom.query(expr):
                    if what == "phase":
                        seen.setdefault(sample["metric"]["phase"], time.monotonic())
                    elif float(sample["value"][1]) >= 1:
                        seen.setdefault("UpgradeInProgress", time.monotonic())
            except Exception as exc:  # one failed query must not end the sampling
                seen.setdefault(f"error {exc!r}", time.monotonic())
        stop.wait(SCRAPE_S)


def _spans(outcomes: list[Outcome], at: float | None, cluster: str | None = None) -> int:
    """Requests sent before ``at`` and answered after it (by ``cluster``'s pods, when given)."""
    if at is None:
        return 0
    return sum(1 for o in outcomes if o.sent_s < at < o.sent_s + o.latency_s
               and (cluster is None or cluster in o.body))


@pytest.fixture
def drain_service(stack: LocalStack) -> Iterator[LocalStack]:
    ob.apply(stack, SAMPLE)
    try:
        ob.wait_running(stack, NAME, timeout_s=240)
        yield stack
    finally:
        ob.delete_and_wait(stack, NAME)


@pytest.fixture
def prometheus(drain_service: LocalStack) -> Iterator[Prometheus]:
    with Prometheus(drain_service) as prom:
        yield prom


@pytest.mark.timeout(480)
def test_requests_in_flight_across_the_switch_and_the_deletion_deadline_all_complete(
    drain_service: LocalStack, prometheus: Prometheus,
) -> None:
    stack, started = drain_service, time.monotonic()
    (old,) = ob.clusters(stack, NAME)
    ip = ob.cluster_ip(stack, SERVE_SVC)
    marks, stop = Marks(old), threading.Event()
    watcher = threading.Thread(target=_watch, args=(stack, marks, stop), daemon=True)
    phases: dict[str, float] = {}
    sampler = threading.Thread(target=_sample_phases, args=(prometheus, phases, stop), daemon=True)
    short = Load(ip, 8000, json.dumps({"sleep_s": SHORT_S}), rate_per_s=4, timeout_s=60)
    long = Load(ip, 8000, json.dumps({"sleep_s": LONG_S}), rate_per_s=0.5, timeout_s=90)
    with short, long:
        wait_for("short requests answered", lambda: any(o.kind == "ok" for o in short.since(0)), 30)
        watcher.start()
        sampler.start()
        t0 = time.monotonic()
        ob.apply(stack, UPGRADED)
        try:
            wait_for("the old cluster deleted and its pods gone", lambda: "old_pods_gone" in marks.times, 300, 0.5)
        finally:
            stop.set()
            watcher.join()
            sampler.join()
    window = f"{int(time.monotonic() - started) + 120}s"  # the whole upgrade, as a dashboard's time range
    for expr, within_s in ((f'rayservice_upgrade_phase{{name="{NAME}", phase="idle"}} == 1', 60),  # upgrade over
                           ('rayservice_rollouts_total{namespace="default", outcome="succeeded"} > 0', 30)):
        wait_for(f"Prometheus: {expr}", functools.partial(prometheus.query, expr), within_s, SCRAPE_S)
    answers = {expr: prometheus.query(expr) for expr in dashboard_queries("default", window)}
    outcomes = short.since(0) + long.since(0)
    report, long_report = short.report(), long.report()
    failed = [o for o in outcomes if o.kind != "ok"]
    switched, deleted = marks.times.get("switched"), marks.times.get("deleted")
    on_old = [o for o in outcomes if o.kind == "ok" and old in o.body]
    last_old_answer = max((o.sent_s + o.latency_s for o in on_old), default=t0)
    at_switch, at_deadline = _spans(outcomes, switched), _spans(outcomes, marks.deadline, old)
    at_deletion = _spans(outcomes, deleted, old)
    latencies = sorted(o.latency_s for o in outcomes)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    rel = {k: v - t0 for k, v in marks.times.items()}
    deadline_rel = marks.deadline - t0 if marks.deadline is not None else float("nan")
    warnings = [e for e in stack.list(f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{NAME}")
                if e.get("type") == "Warning"]
    print(f"\ndrain: {len(outcomes)} requests ({report.sent} of {SHORT_S:g} s, {long_report.sent} of {LONG_S:g} s), "
          f"{len(failed)} failed, p99 {p99:.2f} s; {len(on_old)} answered by the old cluster {old}\n"
          f"in flight at the switch {at_switch}, on the old cluster at its deletion deadline {at_deadline}, "
          f"at its deletion {at_deletion}\n"
          f"from the apply: switched {rel.get('switched', float('nan')):.1f} s, deadline {deadline_rel:.1f} s, "
          f"deleted {rel.get('deleted', float('nan')):.1f} s ({(deleted or 0) - (switched or 0):.1f} s after the "
          f"switch; the last old answer {last_old_answer - t0:.1f} s), pods gone {rel['old_pods_gone']:.1f} s; "
          f"test took {time.monotonic() - started:.0f} s\n{report.summary()}\n{long_report.summary()}\n"
          f"Prometheus saw, from the apply: "
          + ", ".join(f"{k} {v - t0:.1f} s" for k, v in sorted(phases.items(), key=lambda kv: kv[1])) + "\n"
          + "\n".join(f"  {expr}\n    -> {_values(result)}" for expr, result in answers.items()))
    assert not failed, failed[:5]
    assert switched is not None and deleted is not None and marks.deadline is not None
    assert at_switch > 0 and at_deadline > 0, "no request was in flight on the old cluster when it came due"
    assert at_deletion == 0 and deleted >= last_old_answer - 0.5
    assert not [w for w in warnings if w.get("reason") == "DrainTimedOut"], warnings
    assert ob.clusters(stack, NAME) != [old] and len(ob.clusters(stack, NAME)) == 1
    assert not marks.errors, marks.errors[:3]
    assert not [k for k in phases if k.startswith("error")], phases
    assert {"UpgradeInProgress", "pending_created", "pods_ready", "switched"} <= set(phases), phases
    assert phases["pending_created"] < phases["switched"], phases
    assert not [expr for expr, result in answers.items() if not result], "a dashboard query returned nothing"
    assert not [expr for expr, result in answers.items() if not any(math.isfinite(v) for v in _numbers(result))], \
        "a dashboard query returned only NaN"


def _numbers(result: list[dict[str, Any]]) -> list[float]:
    return [float(sample["value"][1]) for sample in result]


def _values(result: list[dict[str, Any]]) -> str:
    return "; ".join(f"{ {k: v for k, v in s['metric'].items() if k not in ('job', 'instance', 'pod')} } "
                     f"{s['value'][1]}" for s in result) or "nothing"
