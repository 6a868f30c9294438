"""Ray token authentication with real Ray 2.60: the local v1 sample RayService with ``authOptions: {mode: token}``.

The operator makes each cluster's Secret (a random token under ``auth_token``) before its pods, puts
``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN`` on them, and calls that cluster's dashboard with that token.
Checked, in order: Serve answers through the serve Service without a token (Ray's HTTP proxy does not check it);
the head's dashboard refuses ``/api/serve/applications/`` without a token (401) and with a wrong one (403) and
answers with the Secret's; the worker joined the token-protected GCS (two nodes alive); an in-place Serve update
(price 3 -> 4) goes through the authenticated dashboard; a zero-downtime upgrade (a head env var added) under a
steady 10 requests/s makes a new cluster with its own Secret and token (the old token is refused by the new
dashboard), the operator reads the new cluster's Serve status with the new token and switches, 0 requests fail;
the old cluster's Secret goes with it. No token in the operator's log, the RayService's status or its events.
Each step's duration and the load's numbers are printed.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for
from e2e.suites.load import Load, timeline

NAME = "rayservice-auth"
SERVE_SVC, HEAD_SVC = f"{NAME}-serve-svc", f"{NAME}-head-svc"
MANGO = '["MANGO", 2]'
DELAY_S = 5
SAMPLE = ob.V1_LOCAL.read_text().replace("name: rayservice-sample", f"name: {NAME}", 1).replace(
    "  rayClusterConfig:\n", "  rayClusterConfig:\n    authOptions:\n      mode: token\n", 1).replace(
    "rayClusterDeletionDelaySeconds: 60", f"rayClusterDeletionDelaySeconds: {DELAY_S}", 1)
PRICE_4 = SAMPLE.replace("price: 3", "price: 4", 1)
# a head template change: a new cluster (the upgrade), not an in-place update
HEAD_IMAGE = "            - name: ray-head\n              image: rayproject/ray:2.60.0\n"
HEAD_ENV = "              env:\n                - name: FRUIT_MARKET_REVISION\n                  value: \"2\"\n"
UPGRADED = PRICE_4.replace(HEAD_IMAGE, HEAD_IMAGE + HEAD_ENV, 1)
assert "mode: token" in SAMPLE and f"DeletionDelaySeconds: {DELAY_S}" in SAMPLE
assert SAMPLE != PRICE_4 != UPGRADED and "FRUIT_MARKET_REVISION" in UPGRADED
EVENTS = "/api/v1/namespaces/default/events"
SECRETS = "/api/v1/namespaces/default/secrets"


def dashboard(host: str, path: str, token: str | None) -> tuple[int, str]:
    """GET ``path`` on the dashboard at ``host``:8265 with ``Authorization: Bearer <token>`` (none when None)."""
    request = urllib.request.Request(f"http://{host}:8265{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def alive_nodes(answer: Any) -> int:
    """Ray nodes with ``state: ALIVE`` anywhere in a state API answer."""
    if isinstance(answer, dict):
        own = 1 if answer.get("state") == "ALIVE" and "node_id" in answer else 0
        return own + sum(alive_nodes(value) for value in answer.values())
    if isinstance(answer, list):
        return sum(alive_nodes(item) for item in answer)
    return 0


def token_of(stack: LocalStack, cluster: str) -> str:
    """The token in the Secret the operator made for ``cluster`` (named after it, owned by it)."""
    secret = stack.get(f"{SECRETS}/{cluster}")
    assert secret is not None, f"no Secret {cluster}"
    assert [ref["name"] for ref in secret["metadata"]["ownerReferences"]] == [cluster]
    token = base64.b64decode(secret["data"]["auth_token"]).decode()
    assert len(base64.b64decode(token)) == 32
    for pod in ob.pods(stack, cluster):
        env = {item["name"]: item for item in pod["spec"]["containers"][0]["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": cluster, "key": "auth_token"}
    return token


def events_text(stack: LocalStack) -> str:
    return json.dumps(stack.list(f"{EVENTS}?fieldSelector=involvedObject.name%3D{NAME}"))


def warnings(stack: LocalStack) -> list[tuple[str, str]]:
    return [(str(e.get("reason")), str(e.get("message")))
            for e in stack.list(f"{EVENTS}?fieldSelector=involvedObject.name%3D{NAME}") if e.get("type") == "Warning"]


@pytest.mark.timeout(330)
def test_a_token_authenticated_rayservice_refuses_anonymous_dashboard_calls_updates_and_upgrades_with_a_new_token(
    stack: LocalStack,
) -> None:
    t0 = time.monotonic()
    steps: list[str] = []
    tokens: list[str] = []
    try:
        ob.apply(stack, SAMPLE)
        running_s = ob.wait_running(stack, NAME)
        steps.append(f"Running after {running_s:.1f} s")
        (old,) = ob.clusters(stack, NAME)
        tokens.append(token := token_of(stack, old))

        serve_ip = ob.cluster_ip(stack, SERVE_SVC)
        wait_for("the answer 6 without a token", lambda: ob.answer(serve_ip, MANGO) == "6", 60)
        steps.append(f"[\"MANGO\", 2] -> 6 through {SERVE_SVC} without a token at {time.monotonic() - t0:.1f} s")

        head_ip = ob.cluster_ip(stack, HEAD_SVC)
        path = "/api/serve/applications/"
        anonymous = dashboard(head_ip, path, None)
        wrong = dashboard(head_ip, path, "not-the-token")
        right = dashboard(head_ip, path, token)
        assert anonymous[0] == 401 and "Missing authentication token" in anonymous[1], anonymous
        assert wrong[0] == 403, wrong
        assert right[0] == 200 and ob.all_running(json.loads(right[1]), ["fruit_app"]), right
        assert dashboard(head_ip, "/api/gcs_healthz", None)[0] == 200  # the probes' path needs no token
        steps.append(f"{HEAD_SVC}:8265{path}: no token -> {anonymous[0]}, a wrong one -> {wrong[0]}, the "
                     f"Secret's -> {right[0]}")

        nodes = wait_for("the head and the worker alive in the token-protected GCS",
                         lambda: (n := alive_nodes(json.loads(dashboard(head_ip, "/api/v0/nodes", token)[1])))
                         >= 2 and n, 60)
        steps.append(f"{nodes} Ray nodes alive (the worker joined with the token)")

        t1 = time.monotonic()
        ob.apply(stack, PRICE_4)
        wait_for("the answer 8", lambda: ob.answer(serve_ip, MANGO) == "8", 90)
        steps.append(f"in-place update price 3 -> 4: 8 after {time.monotonic() - t1:.1f} s")
        assert ob.clusters(stack, NAME) == [old], "an in-place update made a new cluster"

        with Load(serve_ip, 8000, MANGO, rate_per_s=10, accept={"8"}) as load:
            wait_for("load flowing", lambda: load.sent >= 10, 10)
            t2 = time.monotonic()
            ob.apply(stack, UPGRADED)
            new = wait_for("a new cluster", lambda: next((c for c in ob.clusters(stack, NAME) if c != old), None),
                           60, 0.2)
            created_s = time.monotonic() - t2
            wait_for("the traffic switched to the new cluster",
                     lambda: ob.selected_cluster(stack, SERVE_SVC) == new, 150, 0.2)
            switched_s = time.monotonic() - t2
            wait_for("the old cluster and its pods gone", lambda: old not in ob.clusters(stack, NAME)
                     and not ob.pods(stack, old), 90, 0.5)
            old_gone_s = time.monotonic() - t2
            during = load.since(t2)
        report = load.report(during)
        print(f"\nload from the upgrade's apply (requests/failed/slowest per 5 s): {timeline(during, t2)}")
        steps.append(f"upgrade {old} -> {new}: the new cluster at {created_s:.1f} s, traffic switched at "
                     f"{switched_s:.1f} s, the old cluster and its pods gone at {old_gone_s:.1f} s (delay "
                     f"{DELAY_S} s); load during it: {report.summary()}")
        assert report.failed == 0, report.failures
        assert report.sent >= 10 * (old_gone_s - 2), f"only {report.sent} requests in {old_gone_s:.1f} s"

        tokens.append(new_token := token_of(stack, new))
        assert new_token != token, "the upgrade's cluster reuses the old cluster's token"
        assert ob.selected_cluster(stack, HEAD_SVC) == new
        assert ob.status(stack, NAME)["activeServiceStatus"]["rayClusterName"] == new
        new_head = ob.head_ip(stack, new)
        assert new_head is not None
        with_old = dashboard(new_head, path, token)
        with_new = dashboard(new_head, path, new_token)
        assert with_old[0] == 403, with_old
        assert with_new[0] == 200 and ob.all_running(json.loads(with_new[1]), ["fruit_app"]), with_new
        steps.append(f"the new head's dashboard: the old token -> {with_old[0]}, its own Secret's -> {with_new[0]}")
        assert ob.answer(serve_ip, MANGO) == "8"
        wait_for("the old cluster's Secret garbage collected with it",
                 lambda: stack.get(f"{SECRETS}/{old}") is None, 60)

        described = stack.kubectl("describe", "rayservice", NAME)
        assert "FailedToSubmitServeConfig" not in described, described[-2000:]
        assert not warnings(stack), warnings(stack)
        status_text, events = json.dumps(ob.status(stack, NAME)), events_text(stack)
        for secret in tokens:
            assert secret not in described and secret not in status_text and secret not in events
    finally:
        gone_s = ob.delete_and_wait(stack, NAME)
        steps.append(f"deleted, pods gone after {gone_s:.1f} s")
        print("\ntoken auth: " + "; ".join(steps) + f"; total {time.monotonic() - t0:.1f} s")
    wait_for("every Secret garbage collected with its RayCluster", lambda: not [
        s for s in stack.list(SECRETS) if s["metadata"]["name"].startswith(NAME)], 60)
    log = stack.operator_log()
    for secret in tokens:
        assert secret not in log
