"""A RayCluster create the API server refuses shows on the RayService, not only in the operator's log."""

from __future__ import annotations

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import FaultRule, LocalApiServer
from rayservice.kube import RAY_SERVICES, KubeClient
from tests.integration.rayservice_harness import (
    NAMESPACE,
    Operator,
    clusters_of,
    events_of,
    sample_rayservice,
)

NAME = "rayservice-sample"


async def test_a_refused_cluster_create_is_one_warning_event_counted_per_attempt_until_it_succeeds(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    refused = server.faults.add(FaultRule(code=500, count=2, resource="rayclusters", verb="create"))
    await user.create(RAY_SERVICES, sample_rayservice(), namespace=NAMESPACE)
    await operator.until(lambda: refused.hits == 2 and len(events_of(server, NAME, "CreatedCluster")) == 1)
    (made,) = clusters_of(server, NAME)
    (failed,) = events_of(server, NAME, "FailedToCreateRayCluster")
    assert failed["type"] == "Warning" and failed["count"] == 2
    assert failed["message"].startswith(f"Failed to create RayCluster {NAMESPACE}/{made}: 500 ")
    assert "injected failure" in failed["message"]
