"""Property: plans applied against a cache that lags behind the API server never overshoot and converge.

The simulated API server applies every create and delete at once and records an event for it; the cache
replays those events only when the test says so. The reconciler remembers the names it created until the
cache shows them or it deletes them (``in_flight``), as the real one does. Pods fail at random, replicas
change at random.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rayservice.controller.raycluster import desired_worker_counts, plan_pods
from tests.unit.controller.raycluster.samples import cluster, group, observed

Step = tuple[str, int]


class Simulation:
    def __init__(self, spec: dict[str, Any], seed: int) -> None:
        self.spec = spec
        self.rng = random.Random(seed)
        self.server: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.cache: dict[str, dict[str, Any]] = {}
        self.replayed = 0
        self.in_flight: set[str] = set()
        self.tick = 0

    def _record(self, kind: str, pod: dict[str, Any]) -> None:
        self.events.append((kind, copy.deepcopy(pod)))

    def reconcile(self) -> None:
        self.in_flight -= set(self.cache)
        observed_pods = list(self.cache.values())
        plan = plan_pods(self.spec, observed_pods, in_flight=self.in_flight, rng=self.rng)
        terminating_in_cache = {name for name, pod in self.cache.items() if pod["metadata"].get("deletionTimestamp")}
        assert not terminating_in_cache & set(plan.delete), "a terminating pod was deleted again"
        assert len(plan.delete) == len(set(plan.delete))
        for name in plan.delete:
            pod = self.server.get(name)
            if pod is not None and not pod["metadata"].get("deletionTimestamp"):
                pod["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z"
                self._record("put", pod)
        self.in_flight -= set(plan.delete)
        for new in plan.create:
            name = new["metadata"]["name"]
            assert name not in self.server, "a name was reused"
            self.tick += 1
            pod = observed(new, created=f"2026-01-01T00:{self.tick // 60:02d}:{self.tick % 60:02d}Z")
            self.server[name] = pod
            self.in_flight.add(name)
            self._record("put", pod)

    def sync(self, count: int) -> None:
        for kind, pod in self.events[self.replayed : self.replayed + count]:
            name = pod["metadata"]["name"]
            if kind == "put":
                self.cache[name] = pod
            else:
                self.cache.pop(name, None)
        self.replayed = min(len(self.events), self.replayed + count)

    def reap(self) -> None:
        """The kubelet finishes every pending deletion."""
        for name in [name for name, pod in self.server.items() if pod["metadata"].get("deletionTimestamp")]:
            self._record("delete", self.server.pop(name))

    def fail(self, index: int) -> None:
        live = sorted(self.live())
        if live:
            pod = self.server[live[index % len(live)]]
            pod["status"]["phase"] = "Failed"
            self._record("put", pod)

    def live(self) -> dict[str, dict[str, Any]]:
        return {
            name: pod
            for name, pod in self.server.items()
            if not pod["metadata"].get("deletionTimestamp") and pod["status"]["phase"] not in ("Failed", "Succeeded")
        }

    def counts(self) -> Counter[str]:
        return Counter(pod["metadata"]["labels"]["ray.io/group"] for pod in self.live().values())


steps = st.lists(
    st.one_of(
        st.tuples(st.just("reconcile"), st.just(0)),
        st.tuples(st.just("sync"), st.integers(1, 6)),
        st.tuples(st.just("reap"), st.just(0)),
        st.tuples(st.just("fail"), st.integers(0, 20)),
        st.tuples(st.just("scale"), st.integers(0, 4)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(small=st.integers(0, 4), large=st.integers(0, 3), seed=st.integers(0, 2**16), script=steps)
def test_plans_on_a_lagging_cache_never_overshoot_and_converge_to_the_desired_pods(
    small: int, large: int, seed: int, script: list[Step]
) -> None:
    spec = cluster(groups=[group("small", small), group("large", large)])
    sim = Simulation(spec, seed)
    for action, value in script:
        if action == "reconcile":
            sim.reconcile()
            wanted = desired_worker_counts(spec)
            counts = sim.counts()
            assert counts["headgroup"] <= 1
            for name, count in wanted.items():
                assert counts[name] <= count, (name, counts, wanted)
        elif action == "sync":
            sim.sync(value)
        elif action == "reap":
            sim.reap()
        elif action == "fail":
            sim.fail(value)
        else:
            spec["spec"]["workerGroupSpecs"][0]["replicas"] = value

    for _ in range(6):
        sim.sync(len(sim.events))
        sim.reconcile()
        sim.reap()
    sim.sync(len(sim.events))

    assert plan_pods(spec, list(sim.cache.values()), in_flight=sim.in_flight - set(sim.cache), rng=sim.rng).is_empty
    assert sim.counts() == Counter({"headgroup": 1, **{k: v for k, v in desired_worker_counts(spec).items() if v}})
    assert len(sim.server) == sum(sim.counts().values()), "failed or terminating pods were left behind"
