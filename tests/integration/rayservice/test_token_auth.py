"""A RayService with ``authOptions.mode: token`` against the embedded API server and a fake dashboard that demands
the cluster's token: the operator makes the cluster's Secret before its pods, reads the token from it and sends
it on every dashboard call to that cluster; a user's ``secretName`` is read, never written; a missing Secret is
the cluster's dashboard failure, in words."""

from __future__ import annotations

import base64
from typing import Any

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import LocalApiServer
from rayservice.kube import RAY_SERVICES, KubeClient, Resource
from tests.integration.rayservice_harness import NAMESPACE, Operator, puts, sample_rayservice, status_of, stored

NAME = "rayservice-sample"
SECRETS = Resource("", "v1", "secrets", kind="Secret")


def with_auth(**options: Any) -> dict[str, Any]:
    body = sample_rayservice()
    body["spec"]["rayClusterConfig"]["authOptions"] = {"mode": "token", **options}
    return body


def cluster_name(server: LocalApiServer) -> str:
    for side in ("activeServiceStatus", "pendingServiceStatus"):
        name = (status_of(server, NAME).get(side) or {}).get("rayClusterName")
        if name:
            return str(name)
    return ""


def running(server: LocalApiServer) -> bool:
    return status_of(server, NAME).get("serviceStatus") == "Running"


def presented(dashboard: FakeRayDashboard) -> set[str]:
    return {header for (_, header), count in dashboard.authorizations.items() if count}


async def test_the_generated_secrets_token_is_sent_on_every_dashboard_call(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    dashboard.token = "not-yet-known"  # every call is refused (401) until the test learns the cluster's token
    await user.create(RAY_SERVICES, with_auth(), namespace=NAMESPACE)
    await operator.until(lambda: bool(cluster_name(server)) and stored(server, ("", "secrets"), cluster_name(server)))
    cluster = cluster_name(server)
    secret = stored(server, ("", "secrets"), cluster) or {}
    assert secret["metadata"]["ownerReferences"][0]["name"] == cluster
    token = base64.b64decode(secret["data"]["auth_token"]).decode()
    dashboard.token = token
    await operator.until(lambda: puts(dashboard) >= 1)
    dashboard.advance(10)
    await operator.until(lambda: running(server))
    assert presented(dashboard) <= {f"Bearer {token}", ""}  # "" only on the unauthenticated health path
    assert f"Bearer {token}" in presented(dashboard)
    pods = [p for p in server.store.list(("", "pods"), NAMESPACE)
            if (p["metadata"].get("labels") or {}).get("ray.io/cluster") == cluster]
    for pod in pods:
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": cluster, "key": "auth_token"}}
        assert token not in str(pod)


async def test_a_users_secret_is_read_and_never_written(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    dashboard.token = "users-own-token"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ray-token", "namespace": NAMESPACE},
              "data": {"auth_token": base64.b64encode(b"users-own-token").decode()}}
    await user.create(SECRETS, secret, namespace=NAMESPACE)
    before = stored(server, ("", "secrets"), "ray-token")
    await user.create(RAY_SERVICES, with_auth(secretName="ray-token"), namespace=NAMESPACE)
    await operator.until(lambda: puts(dashboard) >= 1)
    dashboard.advance(10)
    await operator.until(lambda: running(server))
    assert stored(server, ("", "secrets"), "ray-token") == before
    assert stored(server, ("", "secrets"), cluster_name(server)) is None
    assert "Bearer users-own-token" in presented(dashboard)


async def test_a_missing_secret_is_the_clusters_dashboard_failure_in_words(
    server: LocalApiServer, dashboard: FakeRayDashboard, user: KubeClient, operator: Operator
) -> None:
    await user.create(RAY_SERVICES, with_auth(secretName="absent"), namespace=NAMESPACE)

    def reported() -> bool:
        return any(f"Secret {NAMESPACE}/absent does not exist" in str(c.get("message"))
                   for c in status_of(server, NAME).get("conditions") or [])

    await operator.until(reported)
    assert puts(dashboard) == 0
