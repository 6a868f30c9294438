"""``spec.rolloutPolicy`` with real Ray, under steady load: a cluster upgrade whose new Serve config has a bad import
path is rolled back within ``timeoutSeconds`` plus a margin, the active cluster serving every request meanwhile, and
no new pending cluster is made for the same spec in the minute after. Prints what it measured."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for
from e2e.suites.load import Load, timeline

NAME = "rayservice-sample"
SERVE_SVC = f"{NAME}-serve-svc"
MANGO = '["MANGO", 2]'
TIMEOUT_S = 240
SAMPLE = ob.ALPHA_LOCAL.read_text().replace(
    "spec:\n", f"spec:\n  rolloutPolicy:\n    timeoutSeconds: {TIMEOUT_S}\n  rayClusterDeletionDelaySeconds: 5\n", 1
)
# a cluster spec change (the head's num-cpus) whose Serve config cannot import its graph
BROKEN = SAMPLE.replace('num-cpus: "1"', 'num-cpus: "2"', 1).replace(
    "importPath: fruit.deployment_graph", "importPath: fruit.no_such_graph", 1
)
assert BROKEN.count("fruit.no_such_graph") == 1 and BROKEN.count('num-cpus: "2"') == 1


@pytest.fixture
def sample(stack: LocalStack) -> Iterator[LocalStack]:
    ob.apply(stack, SAMPLE)
    ob.wait_running(stack, NAME)
    try:
        yield stack
    finally:
        ob.delete_and_wait(stack, NAME)


@pytest.mark.timeout(720)
def test_a_cluster_upgrade_with_a_bad_import_path_is_rolled_back_without_failed_requests_and_not_retried(
    sample: LocalStack,
) -> None:
    stack = sample
    (old,) = ob.clusters(stack, NAME)
    ip = ob.cluster_ip(stack, SERVE_SVC)
    seen: set[str] = set()

    def rolled_back() -> bool:
        seen.update(ob.clusters(stack, NAME))
        failed = ob.status(stack, NAME).get("failedRollout") or {}
        return bool(failed) and ob.clusters(stack, NAME) == [old]

    with Load(ip, 8000, MANGO, rate_per_s=20, accept={"6"}) as load:
        wait_for("load flowing", lambda: load.sent >= 20, 10)
        t0 = time.monotonic()
        ob.apply(stack, BROKEN)
        wait_for("the upgrade given up and its cluster deleted", rolled_back, TIMEOUT_S + 120, 0.5)
        rolled_back_s = time.monotonic() - t0
        quiet = time.monotonic()
        wait_for("a minute without a new cluster", lambda: time.monotonic() - quiet > 60, 70, 1.0)
        during = load.since(t0)
    after = ob.clusters(stack, NAME)
    failed = ob.status(stack, NAME).get("failedRollout") or {}
    report = load.report(during)
    print(
        f"\nrolled-back upgrade: {failed.get('reason')} ({failed.get('action')}) on {failed.get('rayClusterName')}, "
        f"its cluster deleted {rolled_back_s:.1f} s after the apply (timeoutSeconds {TIMEOUT_S}); clusters seen "
        f"{sorted(seen)}, a minute later {after}\nunder load: {report.summary()}\n"
        f"timeline from the apply (requests/failed/slowest per 5 s): {timeline(during, t0)}"
    )
    assert failed.get("action") == "RolledBack" and failed.get("reason") in ("DeployFailed", "Timeout")
    assert rolled_back_s <= TIMEOUT_S + 60
    assert report.failed == 0, report.failures
    assert after == [old] and len(seen) == 2, "a second pending cluster was made for the same spec"
    assert ob.selected_cluster(stack, SERVE_SVC) == old
    assert ob.answer(ip, MANGO) == "6"
