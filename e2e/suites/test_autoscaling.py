"""KubeRay v1.7's own autoscaler samples (v2 and v1), applied unchanged, with real Ray 2.60: the head comes up with
the ``autoscaler`` sidecar running; a task that needs a CPU the head does not offer (``num-cpus: "0"``) makes the
autoscaler raise the worker group's replicas, the operator start a worker, and the task finish; once the worker
has been idle for ``idleTimeoutSeconds`` (60) the autoscaler names it in ``workersToDelete``, the operator deletes
it and the list is cleared.

The manifest below is ray-project/kuberay v1.7.0 ``ray-operator/config/samples/ray-cluster.autoscaler-v2.yaml``
with its comments left out (the local node runs every ``rayproject/ray*`` image as the installed Ray 2.60);
``ray-cluster.autoscaler.yaml`` (v1) is the same manifest without ``version: v2``. Autoscaler v1 removes an
idle worker after ``idleTimeoutSeconds`` too.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for

NAME = "raycluster-autoscaler"
GROUP = "small-group"
KUBERAY_SAMPLE_V2 = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: raycluster-autoscaler
spec:
  rayVersion: "2.52.0"
  enableInTreeAutoscaling: true
  autoscalerOptions:
    version: v2
    upscalingMode: Default
    idleTimeoutSeconds: 60
    imagePullPolicy: IfNotPresent
    securityContext: {}
    env: []
    envFrom: []
    resources:
      limits:
        cpu: "500m"
        memory: "512Mi"
      requests:
        cpu: "500m"
        memory: "512Mi"
  headGroupSpec:
    rayStartParams:
      num-cpus: "0"
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
          ports:
          - containerPort: 6379
            name: gcs
          - containerPort: 8265
            name: dashboard
          - containerPort: 10001
            name: client
          resources:
            limits:
              cpu: "1"
              memory: "5Gi"
            requests:
              cpu: "1"
              memory: "2Gi"
          volumeMounts:
          - mountPath: /home/ray/samples
            name: ray-example-configmap
        volumes:
        - name: ray-example-configmap
          configMap:
            name: ray-example
            defaultMode: 0777
            items:
            - key: detached_actor.py
              path: detached_actor.py
            - key: terminate_detached_actor.py
              path: terminate_detached_actor.py
  workerGroupSpecs:
  - replicas: 0
    minReplicas: 0
    maxReplicas: 10
    groupName: small-group
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:2.52.0
          resources:
            limits:
              cpu: "1"
              memory: "1Gi"
            requests:
              cpu: "1"
              memory: "1Gi"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ray-example
data:
  detached_actor.py: |
    import ray
    import sys

    @ray.remote(num_cpus=1)
    class Actor:
      pass

    ray.init(namespace="default_namespace")
    Actor.options(name=sys.argv[1], lifetime="detached").remote()

  terminate_detached_actor.py: |
    import ray
    import sys

    ray.init(namespace="default_namespace")
    detached_actor = ray.get_actor(sys.argv[1])
    ray.kill(detached_actor)
"""
KUBERAY_SAMPLE_V1 = KUBERAY_SAMPLE_V2.replace("    version: v2\n", "", 1)
SAMPLES = {"v2": KUBERAY_SAMPLE_V2, "v1": KUBERAY_SAMPLE_V1}
# The driver needs one CPU, which only a worker has. In a rayproject image `python` is Ray's; on the local node the
# pod's PATH is the host's, which may put another Python first, so the driver runs with the `ray` command's own.
TASK = (
    '"$(head -1 "$(command -v ray)" | cut -c3-)" -c '
    "'import ray; ray.init(); print(ray.get(ray.remote(num_cpus=1)(lambda: 40 + 2).remote()))'"
)


def cluster(stack: LocalStack) -> dict[str, Any]:
    return stack.get(f"{ob.RC_PATH}/{NAME}") or {}


def group(stack: LocalStack) -> dict[str, Any]:
    groups = (cluster(stack).get("spec") or {}).get("workerGroupSpecs") or [{}]
    return dict(groups[0])


def workers(stack: LocalStack) -> list[dict[str, Any]]:
    return [p for p in ob.pods(stack, NAME) if p["metadata"]["labels"].get("ray.io/node-type") == "worker"]


def sidecar_running(stack: LocalStack) -> bool:
    heads = [p for p in ob.pods(stack, NAME) if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
    statuses = {s["name"]: s for head in heads for s in (head.get("status") or {}).get("containerStatuses") or []}
    return (
        "running" in ((statuses.get("autoscaler") or {}).get("state") or {}) and bool(heads) and ob.is_ready(heads[0])
    )


def dashboard(ip: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://{ip}:8265{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return dict(json.loads(resp.read()))


@pytest.mark.timeout(720)
@pytest.mark.parametrize("version", ["v2", "v1"])
def test_kuberays_autoscaler_sample_scales_up_for_a_task_and_back_down_when_idle(
    stack: LocalStack, version: str
) -> None:
    assert "version:" not in SAMPLES["v1"] and "version: v2" in SAMPLES["v2"]
    t0 = time.monotonic()
    try:
        ob.apply(stack, SAMPLES[version])
        wait_for("the head Ready with its autoscaler sidecar running", lambda: sidecar_running(stack), 300, 1.0)
        up_s = time.monotonic() - t0
        ip = ob.head_ip(stack, NAME)
        assert ip
        assert workers(stack) == [] and group(stack).get("replicas") == 0

        t1 = time.monotonic()
        job = wait_for("the job submitted", lambda: dashboard(ip, "POST", "/api/jobs/", {"entrypoint": TASK}), 60, 2.0)
        job_id = job["submission_id"]
        wait_for("the autoscaler raises replicas", lambda: (group(stack).get("replicas") or 0) >= 1, 180, 1.0)
        raised_s = time.monotonic() - t1
        wait_for("a worker Running", lambda: any(ob.is_ready(p) for p in workers(stack)), 240, 1.0)
        worker_s = time.monotonic() - t1
        final = wait_for(
            "the job finished",
            lambda: (
                info
                if (info := dashboard(ip, "GET", f"/api/jobs/{job_id}"))["status"] in ("SUCCEEDED", "FAILED")
                else None
            ),
            240,
            2.0,
        )
        assert final["status"] == "SUCCEEDED", final
        logs = dashboard(ip, "GET", f"/api/jobs/{job_id}/logs")["logs"]
        assert "42" in logs, logs
        done_s = time.monotonic() - t1
        (worker,) = [p["metadata"]["name"] for p in workers(stack)]

        t2 = time.monotonic()
        wait_for("the idle worker removed", lambda: not workers(stack) and group(stack).get("replicas") == 0, 300, 1.0)
        down_s = time.monotonic() - t2
        wait_for(
            "workersToDelete cleared",
            lambda: not ((group(stack).get("scaleStrategy") or {}).get("workersToDelete")),
            60,
            1.0,
        )
        events = stack.kubectl("get", "events", "--field-selector", f"involvedObject.name={NAME}", "-o", "json")
        reasons = [e.get("reason") for e in json.loads(events)["items"]]
        assert "DeletedWorkerPod" in reasons, reasons
        print(
            f"\nautoscaling (KubeRay {version} sample): head + sidecar up {up_s:.1f} s; task submitted -> replicas 1 "
            f"{raised_s:.1f} s, -> worker {worker} Running {worker_s:.1f} s, -> task done {done_s:.1f} s; "
            f"idle -> worker removed through workersToDelete {down_s:.1f} s"
        )
    finally:
        if cluster(stack):
            stack.kubectl("delete", "raycluster", NAME, "--wait=false")
        stack.kubectl("delete", "configmap", "ray-example", "--ignore-not-found", "--wait=false")
        wait_for("the cluster's pods gone", lambda: not ob.pods(stack, NAME), 120, 0.5)
