"""A new cluster's Serve still starting is no failure: a transient PUT failure right after its head turned Ready is
a Normal event and is retried; a refused config or a failure that lasts stays a Warning (plan guarantee 7)."""

from __future__ import annotations

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import LocalApiServer
from rayservice.kube import RAY_SERVICES, KubeClient
from tests.integration.rayservice_harness import NAMESPACE, Operator, events_of, puts, sample_rayservice, status_of

NAME = "rayservice-sample"


def warnings_of(server: LocalApiServer) -> list[dict[str, object]]:
    return [e for e in server.store.list(("", "events"), NAMESPACE)
            if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get("name") == NAME]


async def test_a_put_the_new_clusters_dashboard_does_not_take_yet_is_a_normal_event_and_is_retried(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    dashboard.fail_next(2, 503, method="PUT", body="Serve is starting")
    await user.create(RAY_SERVICES, sample_rayservice(), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) == 3)  # two not taken, then the one that is
    (retrying,) = events_of(server, NAME, "RetryingServeConfig")
    assert retrying["type"] == "Normal" and retrying["count"] == 2
    assert "is still starting Serve (PUT /api/serve/applications/: HTTP 503: Serve is starting)" in retrying["message"]
    dashboard.advance(10)
    await operator.until(lambda: (status_of(server, NAME).get("activeServiceStatus") or {}).get("rayClusterName"))
    assert warnings_of(server) == []
    assert len(events_of(server, NAME, "SubmittedServeConfig")) == 1


async def test_a_refused_config_on_a_new_cluster_is_still_a_warning_at_once(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    dashboard.fail_next(1, 400, method="PUT", body="Invalid Serve config: injected")
    await user.create(RAY_SERVICES, sample_rayservice(), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) == 2)
    assert [e["reason"] for e in warnings_of(server)] == ["FailedToSubmitServeConfig"]
    assert events_of(server, NAME, "RetryingServeConfig") == []
