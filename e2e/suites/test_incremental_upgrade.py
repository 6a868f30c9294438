"""``NewClusterWithIncrementalUpgrade`` end to end with real Ray 2.60, through the local cluster's Gateway API data
plane: traffic moves from the old cluster to the new one in steps of 25 %, and back on a reverted spec.

The RayService is the fruit-market sample (local working_dir) with the autoscaler and ``stepSizePercent: 25``,
``intervalSeconds: 6``; the load (10 requests/s, each on a new connection) goes to the Gateway's address. The old
config prices a mango at 3 (the answer to ``["MANGO", 2]`` is 6), the new one at 4 (8), so each answer says which
cluster served it. A thread samples the HTTPRoute's weights; for every weight the test prints the share of
answers 8 among the requests sent while it held (each span trimmed by 0.5 s at both ends: the data plane
follows the route within a watch event) and asserts it within 12 points of the weight. Asserted too: no request
fails, the weights go 0 -> 25 -> 50 -> 75 -> 100 with nothing skipped, the old cluster is deleted after the last
step. Then a rollback: a third spec (price 3 again, on a new cluster) is applied and, once a quarter of the
traffic reached it, reverted: traffic returns step by step, the new cluster is deleted, no request fails and
every answer is 8 again.

``test_kuberays_incremental_upgrade_sample_...`` applies KubeRay v1.7's ``ray-service.incremental-upgrade.yaml``
and its ``gateway-api/istio-class.yaml`` unchanged but for the working_dir and asks the sample through its Gateway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for
from e2e.suites.load import Load, Outcome, timeline

NAME = "incremental"
MANGO = '["MANGO", 2]'
STEP, INTERVAL_S, RATE = 25, 6, 10.0
GW_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways"
ROUTE_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"
KUBERAY_SAMPLES = Path(__file__).resolve().parent / "kuberay_samples"


def manifest(price: int, mark: str) -> str:
    body: dict[str, Any] = yaml.safe_load(ob.V1_LOCAL.read_text())
    body["metadata"]["name"] = NAME
    spec = body["spec"]
    spec["rayClusterDeletionDelaySeconds"] = 5
    spec["upgradeStrategy"] = {"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": {
        "gatewayClassName": "localcluster", "stepSizePercent": STEP, "intervalSeconds": INTERVAL_S}}
    assert spec["serveConfigV2"].count("price: 3") == 1
    spec["serveConfigV2"] = spec["serveConfigV2"].replace("price: 3", f"price: {price}")
    cluster = spec["rayClusterConfig"]
    cluster["enableInTreeAutoscaling"] = True
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    head["env"] = [*head.get("env", []), {"name": "UPGRADE_MARK", "value": mark}]
    return yaml.safe_dump(body)


def ask(ip: str, path: str = "/") -> tuple[int, str] | None:
    """One request to the Gateway (port 80); ``None`` when the connection fails."""
    try:
        return ob.ask(ip, MANGO, path=path, port=80)
    except OSError:
        return None


def gateway_address(stack: LocalStack, name: str) -> str:
    gateway = stack.get(f"{GW_PATH}/{name}") or {}
    addresses = (gateway.get("status") or {}).get("addresses") or [{}]
    return str(addresses[0].get("value") or "")


def route_weights(stack: LocalStack, name: str) -> dict[str, int]:
    route = stack.get(f"{ROUTE_PATH}/{name}") or {}
    rules = (route.get("spec") or {}).get("rules") or [{}]
    return {str(ref["name"]): int(ref.get("weight", 1)) for ref in rules[0].get("backendRefs") or []}


@dataclass
class WeightWatch:
    """The HTTPRoute's weight for the new cluster over time, sampled every 0.2 s: (since, weight) per change."""

    stack: LocalStack
    old_svc: str
    changes: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> WeightWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            weights = route_weights(self.stack, f"{NAME}-httproute")
            if not weights:
                continue
            new = 100 - weights[self.old_svc] if self.old_svc in weights else 100
            if not self.changes or self.changes[-1][1] != new:
                self.changes.append((time.monotonic(), new))

    def spans(self, end: float) -> Iterator[tuple[float, float, int]]:
        for i, (since, weight) in enumerate(self.changes):
            until = self.changes[i + 1][0] if i + 1 < len(self.changes) else end
            yield since, until, weight


def shares(watch: WeightWatch, outcomes: list[Outcome], end: float) -> list[tuple[int, int, float]]:
    """Per weight span: (weight, requests sent inside it, share answered 8), each span trimmed by 0.5 s."""
    out = []
    for since, until, weight in watch.spans(end):
        inside = [o for o in outcomes if since + 0.5 <= o.sent_s < until - 0.5 and o.kind == "ok"]
        if inside:
            out.append((weight, len(inside), sum(o.body.strip() == "8" for o in inside) / len(inside)))
    return out


@pytest.fixture(scope="module")
def incremental(stack: LocalStack) -> Iterator[LocalStack]:
    ob.apply(stack, manifest(3, "a"))
    try:
        ob.wait_running(stack, NAME, 300)
        yield stack
    finally:
        ob.delete_and_wait(stack, NAME, timeout_s=180)


@pytest.mark.timeout(900)
def test_traffic_follows_the_route_weights_step_by_step_with_no_failed_request_and_rolls_back(
    incremental: LocalStack,
) -> None:
    stack = incremental
    (first,) = ob.clusters(stack, NAME)
    ip = wait_for("the Gateway's address", lambda: gateway_address(stack, f"{NAME}-gateway"), 60)
    wait_for("6 through the Gateway", lambda: (ask(ip) or (0, ""))[1] == "6", 120, 0.5)
    t_start = time.monotonic()

    with WeightWatch(stack, f"{first}-serve-svc") as watch, \
            Load(ip, 80, MANGO, rate_per_s=RATE, accept={"6", "8"}, timeout_s=30) as load:
        wait_for("load flowing", lambda: load.sent >= RATE, 10)
        t0 = time.monotonic()
        ob.apply(stack, manifest(4, "b"))
        wait_for("the old cluster deleted", lambda: first not in ob.clusters(stack, NAME), 600, 0.5)
        done_s = time.monotonic() - t0
        (second,) = ob.clusters(stack, NAME)
        wait_for("10 s more of load", lambda: time.monotonic() - t0 > done_s + 10, 20)
        during = load.since(t0)
    end = time.monotonic()
    upgrade = load.report(during)
    measured = shares(watch, during, end)
    status = ob.status(stack, NAME)
    print(f"\nincremental upgrade {first} -> {second}: old cluster deleted {done_s:.1f} s after the apply; "
          f"weights of the new cluster {[w for _, w in watch.changes]} at "
          f"{[round(t - t0, 1) for t, _ in watch.changes]} s\n"
          + "\n".join(f"  weight {w:3d} %: {n:3d} requests, {share * 100:5.1f} % answered 8 (new cluster)"
                      for w, n, share in measured)
          + f"\nunder load: {upgrade.summary()}\ntimeline (requests/failed/slowest per 5 s): {timeline(during, t0)}")
    assert upgrade.failed == 0, upgrade.failures[:5]
    assert [w for _, w in watch.changes] == [0, 25, 50, 75, 100], watch.changes
    for weight, count, share in measured:
        if count >= 20:
            assert abs(share * 100 - weight) <= 12, (weight, count, share)
    assert len([m for m in measured if m[1] >= 20]) >= 4, measured
    active = status.get("activeServiceStatus") or {}
    assert (active.get("rayClusterName"), active.get("targetCapacity"), active.get("trafficRoutedPercent")) == (
        second, 100, 100)
    assert route_weights(stack, f"{NAME}-httproute") == {f"{second}-serve-svc": 100}

    # A -> B -> A: a third spec, reverted once a quarter of the traffic reached it
    with Load(ip, 80, MANGO, rate_per_s=RATE, accept={"6", "8"}, timeout_s=30) as back:
        wait_for("load flowing", lambda: back.sent >= RATE, 10)
        t1 = time.monotonic()
        ob.apply(stack, manifest(3, "c"))
        wait_for("25 % on the third cluster",
                 lambda: route_weights(stack, f"{NAME}-httproute").get(f"{second}-serve-svc", 100) <= 75, 400, 0.5)
        third = next(c for c in ob.clusters(stack, NAME) if c != second)
        reverted_s = time.monotonic() - t1
        ob.apply(stack, manifest(4, "b"))

        def rolling_back() -> bool:
            conditions = ob.status(stack, NAME).get("conditions") or []
            return any(c.get("type") == "RollbackInProgress" and c.get("status") == "True" for c in conditions)

        wait_for("RollbackInProgress", rolling_back, 60, 0.5)
        wait_for("the third cluster deleted", lambda: ob.clusters(stack, NAME) == [second], 300, 0.5)
        gone_s = time.monotonic() - t1
        wait_for("10 s more of load", lambda: time.monotonic() - t1 > gone_s + 10, 20)
        rolled = back.since(t1)
    report = back.report(rolled)
    tail = [o for o in rolled if o.sent_s >= t1 + gone_s]
    print(f"rollback: {third} took 25 % of the traffic {reverted_s:.1f} s after the third spec, reverted then; "
          f"deleted {gone_s:.1f} s after the third spec\nunder load: {report.summary()}\n"
          f"timeline (requests/failed/slowest per 5 s): {timeline(rolled, t1)}\n"
          f"whole test {time.monotonic() - t_start:.1f} s")
    assert report.failed == 0, report.failures[:5]
    assert "6" in {o.body.strip() for o in rolled}, "the third cluster never answered"
    assert tail and all(o.body.strip() == "8" for o in tail)
    assert not rolling_back() and ob.selected_cluster(stack, f"{NAME}-serve-svc") == second
    assert route_weights(stack, f"{NAME}-httproute") == {f"{second}-serve-svc": 100}


@pytest.mark.timeout(600)
def test_kuberays_incremental_upgrade_sample_applied_unchanged_serves_through_its_gateway(stack: LocalStack) -> None:
    sample = (KUBERAY_SAMPLES / "ray-service.incremental-upgrade.yaml").read_text()
    local = sample.replace(
        '"https://github.com/ray-project/test_dag/archive/78b4a5da38796123d9f9ffff59bab2792a043e95.zip"',
        '"file:///var/lib/localcluster/apps/fruit_market.zip"')
    assert local != sample
    body = yaml.safe_load(local)
    name = body["metadata"]["name"]
    ob.apply(stack, (KUBERAY_SAMPLES / "istio-class.yaml").read_text())
    ob.apply(stack, local)
    try:
        up_s = ob.wait_running(stack, name, 420)
        ip = wait_for("the Gateway's address", lambda: gateway_address(stack, f"{name}-gateway"), 60)
        _, answer = wait_for("the sample through its Gateway",
                             lambda: (r if (r := ask(ip, "/fruit")) is not None and r[0] == 200 else None), 120, 0.5)
        status = ob.status(stack, name)
        active = status.get("activeServiceStatus") or {}
        print(f"\nKubeRay's incremental-upgrade sample: Running after {up_s:.1f} s, {MANGO} -> {answer} through "
              f"Gateway {name}-gateway ({ip}:80), targetCapacity {active.get('targetCapacity')}, "
              f"trafficRoutedPercent {active.get('trafficRoutedPercent')}")
        assert answer.strip() == "8"  # the sample prices a mango at 4
        assert (active.get("targetCapacity"), active.get("trafficRoutedPercent")) == (100, 100)
        assert route_weights(stack, f"{name}-httproute") == {f"{active['rayClusterName']}-serve-svc": 100}
        gateway = stack.get(f"{GW_PATH}/{name}-gateway") or {}
        assert gateway["spec"]["gatewayClassName"] == "istio"
    finally:
        ob.delete_and_wait(stack, name, timeout_s=180)


