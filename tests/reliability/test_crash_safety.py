"""Crash safety (DESIGN §4 invariants, §8): ``python -m rayservice run`` SIGKILLed at random points of
zero-downtime upgrades always converges after a restart.

Design: 50 seeded trials = 10 rounds x 5 RayServices on one operator process at a time. Each round edits the
cluster spec of all five RayServices at random offsets in [0, 2] s and SIGKILLs the operator, in odd rounds
at a random time in [0.1, 2.5] s after the first edit, in even rounds right after its k-th accepted write of
the round (k random in [1, 60]); in a third of the rounds a second SIGKILL follows at a random point of the
restarted process's own recovery. So each RayService is caught at a different phase of its upgrade: the
phase of each at the kill is recorded and printed. After the last restart every RayService must converge
(new cluster active and Running, both Services on it, nothing pending, the old cluster deleted after
``rayClusterDeletionDelaySeconds: 1``). Throughout, the server's event feed is checked: never more than two
clusters per RayService that are not waiting for their deletion deadline, and the serve Service never
selects a cluster whose applications are not all RUNNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from rayservice.kube import RAY_SERVICES
from tests.reliability.harness import (
    CLUSTERS_GR,
    DELETE_AFTER,
    NAMESPACE,
    OPERATOR_AGENT,
    WRITES,
    Invariants,
    Operators,
    RecordProperty,
    World,
    clusters_of,
    converged,
    generation_of_cluster,
    percentile,
    rayservice,
    report,
    requests_by,
    status_of,
    world,
)

SEED = 20261126
ROUNDS = 10
SERVICES_PER_ROUND = 5
CONVERGE_DEADLINE_S = 45.0
WRITES_PER_ROUND = 60  # an upgrade of one RayService is ~12 operator writes (status, cluster, pods, Services, ...)
QUIET_S = 3.0
SETTLE_S = 0.5  # a converged upgrade takes ~3 s; restart, sync, requeues and load add the rest


def phase(w: World, name: str, generation: int) -> str:
    """Where the upgrade of ``name`` to ``generation`` stood (as the server holds it)."""
    status = status_of(w, name)
    clusters = clusters_of(w, name)
    newest = [c for c in clusters if generation_of_cluster(c) == generation]
    active = (status.get("activeServiceStatus") or {}).get("rayClusterName")
    pending = (status.get("pendingServiceStatus") or {}).get("rayClusterName")
    if any(c["metadata"]["name"] == active for c in newest):
        waiting = any(DELETE_AFTER in (c["metadata"].get("annotations") or {}) for c in clusters)
        return "switched, old cluster waiting" if waiting else "switched, old cluster gone"
    if newest:
        return "pending cluster created"
    if pending:
        return "pending name recorded"
    return "edit not acted on"


def written(w: World, since: int, count: int) -> bool:
    """The operator made at least ``count`` accepted writes since request log entry ``since``."""
    return sum(1 for r in w.server.faults.log[since:]
               if r.user_agent == OPERATOR_AGENT and r.verb in WRITES and r.code < 300) >= count


async def settle(w: World, quiet_s: float, deadline_s: float = 15.0) -> None:
    """Return once the operator made no write for ``quiet_s``."""
    async with asyncio.timeout(deadline_s):
        while True:
            mark = len(requests_by(w, OPERATOR_AGENT))
            await asyncio.sleep(quiet_s)
            if len(requests_by(w, OPERATOR_AGENT)) == mark:
                return


def upgrade_state(w: World, name: str) -> object:
    return status_of(w, name), [(c["metadata"]["name"], generation_of_cluster(c)) for c in clusters_of(w, name)]


@pytest.mark.timeout(300)
async def test_an_operator_killed_at_random_points_of_upgrades_converges_with_at_most_two_clusters(
    tmp_path: Path, record_testsuite_property: RecordProperty
) -> None:
    rng = random.Random(SEED)
    names = [f"crash-{i}" for i in range(SERVICES_PER_ROUND)]
    async with world(tmp_path) as w:
        operators = Operators(w)
        invariants = Invariants(w, set(names))
        phases: Counter[str] = Counter()
        converge_s: list[float] = []
        kills = 0
        started = time.monotonic()
        try:
            async with invariants.watching():
                op = await operators.start("operator")
                for name in names:
                    await w.user.create(RAY_SERVICES, rayservice(name, generation=0), namespace=NAMESPACE)
                await w.until(lambda: all(converged(w, n, 0) for n in names), deadline_s=CONVERGE_DEADLINE_S,
                              what="the first deployment", explain=lambda: {n: status_of(w, n) for n in names})
                for generation in range(1, ROUNDS + 1):
                    offsets = sorted((rng.uniform(0.0, 2.0), name) for name in names)
                    # odd rounds: SIGKILL at a random time; even rounds: right after the operator's k-th write
                    # of the round, wherever in an upgrade that falls (a write is an accepted step)
                    kill_at = rng.uniform(0.1, 2.5)
                    kill_after_writes = rng.randint(1, WRITES_PER_ROUND) if generation % 2 == 0 else None
                    second_kill = rng.random() < 1 / 3

                    async def edit(delay_s: float, name: str, generation: int = generation) -> None:
                        await asyncio.sleep(delay_s)
                        body = rayservice(name, generation=generation)
                        await w.user.patch(RAY_SERVICES, name, {"spec": {"rayClusterConfig":
                                                                         body["spec"]["rayClusterConfig"]}},
                                           namespace=NAMESPACE)

                    begun = time.monotonic()
                    round_from = len(w.server.faults.log)
                    async with asyncio.TaskGroup() as edits:
                        for delay_s, name in offsets:
                            edits.create_task(edit(delay_s, name))
                        if kill_after_writes is None:
                            await asyncio.sleep(kill_at)
                        else:
                            with contextlib.suppress(AssertionError):  # fewer writes than drawn: kill at the end
                                await w.until(functools.partial(written, w, round_from, kill_after_writes),
                                              deadline_s=5.0, poll_s=0.01, what="the k-th write")
                        await op.kill()
                        kills += 1
                        for name in names:
                            phases[phase(w, name, generation)] += 1
                    op = await operators.start("operator")
                    restarted = time.monotonic()
                    if second_kill:
                        await asyncio.sleep(rng.uniform(0.5, 2.5))  # the restart's own recovery, interrupted
                        await op.kill()
                        kills += 1
                        op = await operators.start("operator")
                        restarted = time.monotonic()
                    for name in names:
                        await w.until(
                            functools.partial(converged, w, name, generation),
                            deadline_s=max(1.0, CONVERGE_DEADLINE_S - (time.monotonic() - restarted)),
                            what=f"{name} converged on generation {generation}",
                            explain=functools.partial(upgrade_state, w, name),
                        )
                        converge_s.append(time.monotonic() - restarted)
                    assert op.alive, op.log()[-2000:]
                    when = (f"after write {kill_after_writes}" if kill_after_writes is not None
                            else f"at {kill_at:.2f} s")
                    print(f"round {generation}: edits at {[round(o, 2) for o, _ in offsets]} s, kill {when}"
                          f"{' + a second kill' if second_kill else ''}, converged "
                          f"{time.monotonic() - begun:.1f} s after the first edit")
                # DESIGN §2: a converged RayService costs no writes (the steady requeue is 72-108 s away). The
                # DeletedCluster events follow the deletes that made the RayServices converge: let them land.
                await settle(w, SETTLE_S)
                quiet_from = len(w.server.faults.log)
                events_before = {e["metadata"]["name"]: e.get("count")
                                 for e in w.server.store.list(("", "events"), NAMESPACE)}
                await asyncio.sleep(QUIET_S)
                quiet_writes = [(r.verb, r.resource, r.name, r.code) for r in
                                requests_by(w, OPERATOR_AGENT, since=quiet_from) if r.verb in WRITES]
                quiet_events = [(e["involvedObject"].get("name"), e.get("reason"), e.get("message"), e.get("count"))
                                for e in w.server.store.list(("", "events"), NAMESPACE)
                                if events_before.get(e["metadata"]["name"]) != e.get("count")]
                orphans = [c["metadata"]["name"] for c in w.server.store.list(CLUSTERS_GR, NAMESPACE)
                           if not any(c["metadata"]["name"] == status_of(w, n)["activeServiceStatus"]["rayClusterName"]
                                      for n in names)]
                secrets = [r for r in requests_by(w, OPERATOR_AGENT) if r.resource == "secrets"]
        finally:
            await operators.close()
        trials = ROUNDS * SERVICES_PER_ROUND
        figures = {
            "trials": trials,
            "kills": kills,
            "max_clusters_per_rayservice": invariants.max_clusters,
            "max_clusters_not_waiting_for_deletion": invariants.max_live_clusters,
            "serve_switches_checked": invariants.switches,
            "converge_p50_s": round(percentile(converge_s, 50), 2),
            "converge_max_s": round(max(converge_s), 2),
            "phases_at_kill": dict(phases),
            "writes_in_converged_quiet_window": len(quiet_writes),
            "wall_s": round(time.monotonic() - started, 1),
        }
        report(record_testsuite_property, "crash safety", figures)
        assert invariants.violations == []
        assert invariants.max_live_clusters <= 2
        assert orphans == []
        assert quiet_writes == [], quiet_events
        assert secrets == []
        assert len(converge_s) == trials
        assert kills >= ROUNDS
        # the kill points really are spread over the upgrade, not all before or after it
        assert len(phases) >= 3, phases
