"""KubeRay v1.7's token authentication sample, applied unchanged, with real Ray 2.60: the RayCluster comes up
(head with the ``autoscaler`` sidecar, one worker), the operator's Secret holds its token, the dashboard refuses
a call without a token (401) or with a wrong one (403) and answers with the Secret's: two nodes alive, and a job
submitted with the token runs a task on the worker.

The manifest below is ray-project/kuberay v1.7.0 ``ray-operator/config/samples/ray-cluster.auth.yaml``, byte for
byte (it has no comments; the local node runs every ``rayproject/ray*`` image as the installed Ray 2.60 and does
not schedule by resource requests, so its 4-CPU, 8 GiB pods fit a small machine).
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
from e2e.suites.test_auth import alive_nodes

NAME = "ray-cluster-with-auth"
KUBERAY_SAMPLE = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: ray-cluster-with-auth
spec:
  enableInTreeAutoscaling: true
  authOptions:
    mode: token
  rayVersion: "2.53.0"
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.53.0
          resources:
            limits:
              cpu: "4"
              memory: "8Gi"
            requests:
              cpu: "4"
              memory: "8Gi"
          ports:
          - containerPort: 6379
            name: gcs-server
          - containerPort: 8265
            name: dashboard
          - containerPort: 10001
            name: client
  workerGroupSpecs:
  - replicas: 1
    minReplicas: 1
    maxReplicas: 5
    groupName: workergroup
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:2.53.0
          resources:
            limits:
              cpu: "4"
              memory: "8Gi"
            requests:
              cpu: "4"
              memory: "8Gi"
"""
# A task on a node other than the driver's (the head's): the worker. `python` on the local node may not be Ray's,
# so the driver runs with the `ray` command's own interpreter (as in test_autoscaling.py).
TASK = (
    '"$(head -1 "$(command -v ray)" | cut -c3-)" -c \'import ray; from ray.util.scheduling_strategies import '
    "NodeAffinitySchedulingStrategy as On; ray.init(); here = ray.get_runtime_context().get_node_id(); "
    "there = [n[\"NodeID\"] for n in ray.nodes() if n[\"Alive\"] and n[\"NodeID\"] != here][0]; "
    "f = ray.remote(lambda: ray.get_runtime_context().get_node_id()); "
    "print(\"elsewhere\" if ray.get(f.options(scheduling_strategy=On(there, soft=False)).remote()) == there "
    "else \"same\")'"
)


def call(ip: str, method: str, path: str, token: str | None, body: dict[str, Any] | None = None) -> tuple[int, str]:
    """``method path`` on the dashboard at ``ip``:8265, with ``Authorization: Bearer <token>`` unless None."""
    request = urllib.request.Request(f"http://{ip}:8265{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def containers(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """``<node type>/<container>`` -> its status, for every pod of the cluster."""
    return {f"{p['metadata']['labels'].get('ray.io/node-type')}/{s['name']}": s for p in ob.pods(stack, NAME)
            for s in (p.get("status") or {}).get("containerStatuses") or []}


def up(stack: LocalStack) -> bool:
    pods = ob.pods(stack, NAME)
    running = {name for name, s in containers(stack).items() if "running" in (s.get("state") or {})}
    return len(pods) == 2 and all(ob.is_ready(p) for p in pods) and {
        "head/ray-head", "head/autoscaler", "worker/ray-worker"} <= running


@pytest.mark.timeout(240)
def test_kuberays_token_auth_sample_comes_up_and_its_dashboard_answers_only_with_the_token(stack: LocalStack) -> None:
    t0 = time.monotonic()
    steps: list[str] = []
    try:
        ob.apply(stack, KUBERAY_SAMPLE)
        wait_for("the head (with its autoscaler sidecar) and the worker Running and ready", lambda: up(stack), 150, 1.0)
        steps.append(f"head + autoscaler + worker ready after {time.monotonic() - t0:.1f} s")
        secret = stack.get(f"/api/v1/namespaces/default/secrets/{NAME}")
        assert secret is not None and [r["name"] for r in secret["metadata"]["ownerReferences"]] == [NAME]
        token = base64.b64decode(secret["data"]["auth_token"]).decode()
        head = ob.cluster_ip(stack, f"{NAME}-head-svc")

        anonymous = call(head, "GET", "/api/v0/nodes", None)
        wrong = call(head, "GET", "/api/v0/nodes", "not-the-token")
        assert anonymous[0] == 401 and "Missing authentication token" in anonymous[1], anonymous
        assert wrong[0] == 403, wrong
        nodes = wait_for("two Ray nodes alive", lambda: (n := alive_nodes(json.loads(call(
            head, "GET", "/api/v0/nodes", token)[1]))) >= 2 and n, 60, 1.0)
        steps.append(f"{NAME}-head-svc:8265/api/v0/nodes: no token -> {anonymous[0]}, a wrong one -> {wrong[0]}, "
                     f"the Secret's -> {nodes} nodes alive")

        t1 = time.monotonic()
        assert call(head, "POST", "/api/jobs/", None, {"entrypoint": TASK})[0] == 401
        code, text = call(head, "POST", "/api/jobs/", token, {"entrypoint": TASK})
        assert code == 200, (code, text)
        job = json.loads(text)["submission_id"]
        final = wait_for("the job finished", lambda: (info := json.loads(call(
            head, "GET", f"/api/jobs/{job}", token)[1]))["status"] in ("SUCCEEDED", "FAILED") and info, 90, 1.0)
        logs = json.loads(call(head, "GET", f"/api/jobs/{job}/logs", token)[1])["logs"]
        assert final["status"] == "SUCCEEDED" and "elsewhere" in logs, (final, logs[-2000:])
        steps.append(f"a job (submitted with the token) ran a task on the worker in {time.monotonic() - t1:.1f} s")
        restarts = {name: s.get("restartCount", 0) for name, s in containers(stack).items()}
        assert not any(restarts.values()), restarts
        code, text = call(head, "GET", "/api/cluster_status", token)  # the autoscaler reached the GCS with it
        report = json.loads(text)["data"]["clusterStatus"]["autoscalerReport"]
        assert code == 200 and report["activeNodes"] == {"headgroup": 1, "workergroup": 1}, (code, text[:2000])
    finally:
        if stack.get(f"{ob.RC_PATH}/{NAME}"):
            stack.kubectl("delete", "raycluster", NAME, "--wait=false")
        wait_for("the cluster's pods gone", lambda: not ob.pods(stack, NAME), 120, 0.5)
        steps.append(f"deleted, pods gone at {time.monotonic() - t0:.1f} s")
        print(f"\nKubeRay's ray-cluster.auth.yaml: {'; '.join(steps)}")
    wait_for("the Secret garbage collected", lambda: stack.get(f"/api/v1/namespaces/default/secrets/{NAME}") is None,
             60)
    assert token not in stack.operator_log()
