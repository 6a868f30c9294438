"""API faults (DESIGN §8): with 10 % of the operator's requests failing (500, 409, 429 with Retry-After),
its watches dropped every few seconds and forced 410s, 100 RayServices still converge, the operator process
never dies, and the retries stay within what the rate limiters allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from e2e.localcluster.apiserver.faults import FaultRule
from rayservice.kube import RAY_SERVICES
from tests.reliability.harness import (
    NAMESPACE,
    OPERATOR_AGENT,
    Invariants,
    Operators,
    RecordProperty,
    World,
    converged,
    rayservice,
    report,
    requests_by,
    status_of,
    tally,
    world,
)

SEED = 9
SERVICES = 100
FAULT_SHARE = 0.10
FAULT_EVERY_S = 3.0  # drop every watch, and make the next re-watches start with a 410, this often
DEADLINE_S = 150.0
STEADY_S = 2 * FAULT_EVERY_S
# Request bound, justified: converging one RayService without faults takes ~16 operator requests (measured:
# status writes, the cluster, two Services of the RayService, head and worker pods and two Services of the
# cluster, their status, events); allow 20. Each injected failure costs at most one retried reconcile, a
# handful of requests (5). Each dropped watch or 410 costs each of the six informers a re-watch and a relist.
# A hot loop would instead run at the client's QPS limit (100/s) for the whole test.
REQUESTS_PER_SERVICE = 20
REQUESTS_PER_FAILURE = 5
INFORMERS = 6
# In steady state (everything converged, faults and watch drops going on) only informers re-list and re-watch.
STEADY_REQUESTS_BOUND = 100

def log_levels(text: str) -> tuple[dict[str, int], int]:
    """The operator's JSON log records counted by ``level:event``, and how many above debug speak of a 409."""
    counts: Counter[str] = Counter()
    conflicts = 0
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            counts["unparsed"] += 1
            continue
        counts[f"{record.get('level')}:{record.get('event')}"] += 1
        if record.get("level") != "debug" and ("409" in str(record.get("error", "")) or "Conflict" in
                                                str(record.get("error_type", ""))):
            conflicts += 1
    return dict(sorted(counts.items())), conflicts


async def chaos(w: World, stop: asyncio.Event, rng: random.Random, counts: Counter[str]) -> None:
    """Every few seconds: end every watch stream, and make the next re-watches answer 410 Gone."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FAULT_EVERY_S * rng.uniform(0.7, 1.3)):
                await stop.wait()
        if stop.is_set():
            return
        counts["watches_dropped"] += w.server.store.drop_watches()
        expire = rng.randint(1, 3)
        w.server.faults.expire_next_watches += expire
        counts["watch_410s_armed"] += expire
        counts["chaos_rounds"] += 1


@pytest.mark.timeout(240)
async def test_100_rayservices_converge_through_api_errors_dropped_watches_and_410s_without_a_crash(
    tmp_path: Path, record_testsuite_property: RecordProperty
) -> None:
    rng = random.Random(SEED)
    names = [f"chaos-{i:03d}" for i in range(SERVICES)]
    async with world(tmp_path) as w:
        w.server.faults.rng.seed(SEED)
        operators = Operators(w)
        invariants = Invariants(w, set(names))
        chaos_counts: Counter[str] = Counter()
        stop = asyncio.Event()
        try:
            async with invariants.watching():
                op = await operators.start("operator")
                rule = w.server.faults.add(FaultRule(code=0, codes=[500, 409, 429], count=None,
                                                     probability=FAULT_SHARE, user_agent=OPERATOR_AGENT))
                started = time.monotonic()
                chaos_task = asyncio.create_task(chaos(w, stop, rng, chaos_counts))
                try:
                    for name in names:
                        await w.user.create(RAY_SERVICES, rayservice(name), namespace=NAMESPACE)
                    took = await w.until(
                        lambda: all(converged(w, n, 0) for n in names), deadline_s=DEADLINE_S, poll_s=0.25,
                        what="100 RayServices converged under faults",
                        explain=lambda: {n: status_of(w, n).get("conditions") for n in names
                                         if not converged(w, n, 0)},
                    )
                    # some more faulty time in steady state: the operator must stay up and quiet
                    steady_from = len(w.server.faults.log)
                    await asyncio.sleep(STEADY_S)
                    steady = [r for r in requests_by(w, OPERATOR_AGENT, since=steady_from) if r.verb != "watch"]
                finally:
                    stop.set()
                    await chaos_task
                elapsed_s = time.monotonic() - started
                alive, returncode = op.alive, op.process.returncode if op.process else None
                ours = requests_by(w, OPERATOR_AGENT)
                hits = rule.hits
                injected = dict(sorted(w.server.faults.injected.items()))
                retry_after_429 = sum(1 for r in ours if r.code == 429)
        finally:
            await operators.close()
        non_watch = [r for r in ours if r.verb != "watch"]
        levels, conflicts_logged_above_debug = log_levels(op.log())
        bound = (SERVICES * REQUESTS_PER_SERVICE + REQUESTS_PER_FAILURE * hits
                 + INFORMERS * 2 * (chaos_counts["chaos_rounds"] + chaos_counts["watch_410s_armed"] + 1))
        figures = {
            "rayservices": SERVICES,
            "converged_s": round(took, 1),
            "operator_requests": len(ours),
            "operator_requests_excluding_watches": len(non_watch),
            "request_bound": int(bound),
            "hot_loop_would_make": int(100 * elapsed_s),
            "steady_requests_in_window": len(steady),
            "steady_window_s": STEADY_S,
            "requests_by_verb_code": tally(ours),
            "faults_injected_by_code": injected,
            "fault_hits": hits,
            "fault_share": round(hits / max(1, len(ours)), 3),
            "answered_429_with_retry_after": retry_after_429,
            **dict(chaos_counts),
            "max_clusters_per_rayservice": invariants.max_clusters,
            "operator_log_records_by_level_event": levels,
            "operator_alive": alive,
            "exit_code": returncode,
        }
        report(record_testsuite_property, "api faults", figures)
        assert alive and returncode is None
        assert invariants.violations == []
        assert hits >= 0.05 * len(ours)  # the faults really were there
        assert chaos_counts["watches_dropped"] > 0
        assert len(ours) < bound
        assert len(steady) < STEADY_REQUESTS_BOUND, tally(steady)
        assert conflicts_logged_above_debug == 0  # DESIGN §8: 409s are normal, no error log spam
