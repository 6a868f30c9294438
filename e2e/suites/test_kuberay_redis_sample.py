# ruff: noqa: E501  (SAMPLE is KubeRay's file byte for byte, with its long comment lines)
"""KubeRay v1.7's external-Redis sample, applied unchanged, with real Ray 2.60: its Redis (a Deployment running
`redis-server /usr/local/etc/redis/redis.conf` from a ConfigMap mounted by subPath, `dir /data`, a password) and a
RayCluster with `gcsFaultToleranceOptions` whose GCS stores its tables in that Redis.

Steps, each timed and printed: apply -> Redis Ready, head and worker Ready, RayCluster ready; the GCS tables in
Redis under the cluster's storage namespace (its UID; asked with redis-cli in the Redis pod); the sample's own
scripts from its `ray-example` ConfigMap (mounted at /home/ray/samples) make a detached actor on the worker and
increment it; the head pod deleted -> a new head Ready, the tables still in Redis and the actor's count goes on
from where it was (the GCS recovered from Redis); the RayCluster deleted -> the Redis cleanup Job empties its
storage namespace and the cluster goes; then the rest of the sample is deleted and nothing of it is left.

`SAMPLE` is ray-project/kuberay v1.7.0 `ray-operator/config/samples/ray-cluster.external-redis.yaml`, byte for
byte (the local node runs `rayproject/ray*` as the installed Ray and `redis:*` as Debian's redis-server).
The RayCluster is deleted before the Redis it cleans up, as KubeRay's GCS fault tolerance guide does: deleted
together, the cleanup Job would race the Redis pod's end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for

NAME = "raycluster-external-redis"
PASSWORD = "5241590000000000"
SAMPLE = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: raycluster-external-redis
spec:
  rayVersion: "2.52.0"
  gcsFaultToleranceOptions:
    # In most cases, you don't need to set `externalStorageNamespace` because KubeRay will
    # automatically set it to the UID of RayCluster. Only modify this annotation if you fully understand
    # the behaviors of the Ray GCS FT and RayService to avoid misconfiguration.
    # [Example]:
    # externalStorageNamespace: "my-raycluster-storage"
    redisAddress: "redis:6379"
    redisPassword:
      valueFrom:
        secretKeyRef:
          name: redis-password-secret
          key: password
  headGroupSpec:
    # The `rayStartParams` are used to configure the `ray start` command.
    # See https://github.com/ray-project/kuberay/blob/master/docs/guidance/rayStartParams.md for the default settings of `rayStartParams` in KubeRay.
    # See https://docs.ray.io/en/latest/cluster/cli.html#ray-start for all available options in `rayStartParams`.
    rayStartParams:
      # Setting "num-cpus: 0" to avoid any Ray actors or tasks being scheduled on the Ray head Pod.
      num-cpus: "0"
    # Pod template
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
          resources:
            limits:
              cpu: "1"
              memory: "5Gi"
            requests:
              cpu: "1"
              memory: "2Gi"
          ports:
          - containerPort: 6379
            name: redis
          - containerPort: 8265
            name: dashboard
          - containerPort: 10001
            name: client
          volumeMounts:
          - mountPath: /tmp/ray
            name: ray-logs
          - mountPath: /home/ray/samples
            name: ray-example-configmap
        volumes:
        - name: ray-logs
          emptyDir: {}
        - name: ray-example-configmap
          configMap:
            name: ray-example
            defaultMode: 0777
            items:
            - key: detached_actor.py
              path: detached_actor.py
            - key: increment_counter.py
              path: increment_counter.py
  workerGroupSpecs:
  # the pod replicas in this group typed worker
  - replicas: 1
    minReplicas: 1
    maxReplicas: 10
    groupName: small-group
    # The `rayStartParams` are used to configure the `ray start` command.
    # See https://github.com/ray-project/kuberay/blob/master/docs/guidance/rayStartParams.md for the default settings of `rayStartParams` in KubeRay.
    # See https://docs.ray.io/en/latest/cluster/cli.html#ray-start for all available options in `rayStartParams`.
    rayStartParams: {}
    # Pod template
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:2.52.0
          volumeMounts:
          - mountPath: /tmp/ray
            name: ray-logs
          resources:
            limits:
              cpu: "1"
              memory: "1Gi"
            requests:
              cpu: "1"
              memory: "1Gi"
        volumes:
        - name: ray-logs
          emptyDir: {}
---
kind: ConfigMap
apiVersion: v1
metadata:
  name: redis-config
  labels:
    app: redis
data:
  redis.conf: |-
    dir /data
    port 6379
    bind 0.0.0.0
    appendonly yes
    protected-mode no
    requirepass 5241590000000000
    pidfile /data/redis-6379.pid
---
apiVersion: v1
kind: Service
metadata:
  name: redis
  labels:
    app: redis
spec:
  type: ClusterIP
  ports:
  - name: redis
    port: 6379
  selector:
    app: redis
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
  labels:
    app: redis
spec:
  replicas: 1
  selector:
    matchLabels:
      app: redis
  template:
    metadata:
      labels:
        app: redis
    spec:
      containers:
      - name: redis
        image: redis:7.4.0
        command:
        - "sh"
        - "-c"
        - "redis-server /usr/local/etc/redis/redis.conf"
        ports:
        - containerPort: 6379
        volumeMounts:
        - name: config
          mountPath: /usr/local/etc/redis/redis.conf
          subPath: redis.conf
      volumes:
      - name: config
        configMap:
          name: redis-config
---
# Redis password
apiVersion: v1
kind: Secret
metadata:
  name: redis-password-secret
type: Opaque
data:
  # echo -n "5241590000000000" | base64
  password: NTI0MTU5MDAwMDAwMDAwMA==
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ray-example
data:
  detached_actor.py: |
    import ray

    @ray.remote(num_cpus=1)
    class Counter:
      def __init__(self):
          self.value = 0

      def increment(self):
          self.value += 1
          return self.value

    ray.init(namespace="default_namespace")
    Counter.options(name="counter_actor", lifetime="detached").remote()
  increment_counter.py: |
    import ray

    ray.init(namespace="default_namespace")
    counter = ray.get_actor("counter_actor")
    print(ray.get(counter.increment.remote()))
"""
# In a rayproject image `python` is Ray's; on the local node the pod's PATH may put another Python first, so the
# scripts run with the `ray` command's own interpreter.
PY = '"$(head -1 "$(command -v ray)" | cut -c3-)"'
OWNED = ["deployment/redis", "service/redis", "configmap/redis-config", "configmap/ray-example",
         "secret/redis-password-secret"]


def cluster(stack: LocalStack) -> dict[str, Any]:
    return stack.get(f"{ob.RC_PATH}/{NAME}") or {}


def of_type(stack: LocalStack, node_type: str) -> list[dict[str, Any]]:
    return [p for p in ob.pods(stack, NAME) if p["metadata"]["labels"].get("ray.io/node-type") == node_type]


def redis_pod(stack: LocalStack) -> str | None:
    ready = [p for p in stack.list(f"{ob.PODS_PATH}?labelSelector=app%3Dredis") if ob.is_ready(p)]
    return str(ready[0]["metadata"]["name"]) if ready else None


def redis_keys(stack: LocalStack, pattern: str) -> list[str]:
    """`KEYS pattern` with redis-cli inside the sample's Redis pod."""
    pod = redis_pod(stack)
    assert pod, "no Redis pod Ready"
    out = stack.kubectl("exec", pod, "--", "redis-cli", "-a", PASSWORD, "--no-auth-warning", "KEYS", pattern)
    return sorted(line for line in out.splitlines() if line.strip())


def in_head(stack: LocalStack, script: str) -> str:
    (head,) = [p["metadata"]["name"] for p in of_type(stack, "head") if ob.is_ready(p)]
    return stack.kubectl("exec", head, "-c", "ray-head", "--", "sh", "-c", script, timeout_s=180).strip()


def timed(steps: list[tuple[str, float]], what: str, step: Callable[[], Any]) -> Any:
    t0 = time.monotonic()
    result = step()
    steps.append((what, time.monotonic() - t0))
    return result


def cluster_ready(stack: LocalStack) -> bool:
    heads, workers = of_type(stack, "head"), of_type(stack, "worker")
    state = (cluster(stack).get("status") or {}).get("state")
    return (state == "ready" and len(heads) == 1 and len(workers) == 1
            and all(ob.is_ready(p) for p in heads + workers))


def operator_restarts(stack: LocalStack) -> dict[str, int]:
    return {p["metadata"]["name"]: sum(c.get("restartCount", 0) for c in (p.get("status") or {}).get(
        "containerStatuses") or []) for p in stack.operator_pods()}


def leftovers(stack: LocalStack) -> list[str]:
    found = [f"pod/{p['metadata']['name']}" for p in ob.pods(stack, NAME)]
    found += [f"pod/{p['metadata']['name']}" for p in stack.list(f"{ob.PODS_PATH}?labelSelector=app%3Dredis")]
    found += [f"job/{j['metadata']['name']}" for j in stack.list("/apis/batch/v1/namespaces/default/jobs")
              if j["metadata"]["name"].startswith(NAME)]
    found += ["raycluster/" + NAME] if cluster(stack) else []
    found += [kind_name for kind_name in OWNED
              if stack.kubectl("get", kind_name, "--ignore-not-found", "-o", "name").strip()]
    return found


@pytest.mark.timeout(600)
def test_kuberays_external_redis_sample_stores_the_gcs_in_its_redis_and_survives_the_head_pod(
    stack: LocalStack,
) -> None:
    steps: list[tuple[str, float]] = []
    t_start = time.monotonic()
    restarts = operator_restarts(stack)
    try:
        timed(steps, "apply -> Redis Ready", lambda: (ob.apply(stack, SAMPLE), wait_for(
            "the sample's Redis Ready", lambda: redis_pod(stack), 120, 0.5)))
        timed(steps, "-> head and worker Ready, RayCluster ready", lambda: wait_for(
            "the RayCluster ready", lambda: cluster_ready(stack), 300, 1.0))
        uid = str(cluster(stack)["metadata"]["uid"])
        stored = timed(steps, "-> GCS tables in Redis", lambda: wait_for(
            "the GCS tables in Redis", lambda: redis_keys(stack, f"RAY{uid}@*"), 60, 1.0))
        assert all(key.startswith(f"RAY{uid}@") for key in stored), stored

        first = timed(steps, "the sample's detached actor made and incremented", lambda: in_head(
            stack, f"{PY} /home/ray/samples/detached_actor.py && {PY} /home/ray/samples/increment_counter.py"))
        assert first.splitlines()[-1] == "1", first

        (old_head,) = [p["metadata"]["name"] for p in of_type(stack, "head")]
        stack.kubectl("delete", "pod", old_head, "--wait=false")
        timed(steps, "head pod deleted -> a new head Ready", lambda: wait_for(
            "a new head Ready", lambda: cluster_ready(stack) and old_head not in
            [p["metadata"]["name"] for p in of_type(stack, "head")], 300, 1.0))
        assert cluster(stack)["metadata"]["uid"] == uid
        kept = redis_keys(stack, f"RAY{uid}@*")
        assert set(stored) <= set(kept), (stored, kept)
        again = timed(steps, "-> the detached actor increments on from 1", lambda: wait_for(
            "the counter after the head loss", lambda: in_head(stack, f"{PY} /home/ray/samples/increment_counter.py"),
            120, 2.0))
        assert again.splitlines()[-1] == "2", again  # the actor and its name survived: the GCS came back from Redis

        stack.kubectl("delete", "raycluster", NAME, "--wait=false")
        timed(steps, "RayCluster deleted -> its Redis keys and the cluster gone", lambda: wait_for(
            "the storage namespace emptied and the cluster gone",
            lambda: not redis_keys(stack, f"RAY{uid}@*") and not cluster(stack) and not ob.pods(stack, NAME),
            240, 1.0))
        timed(steps, "the rest of the sample deleted -> nothing left", lambda: (
            stack.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=true", stdin=SAMPLE, timeout_s=120),
            wait_for("nothing of the sample left", lambda: not leftovers(stack), 120, 1.0)))
    finally:
        if cluster(stack) or redis_pod(stack):
            stack.kubectl("delete", "raycluster", NAME, "--ignore-not-found", "--wait=false")
            wait_for("the cluster gone", lambda: not cluster(stack) and not ob.pods(stack, NAME), 300, 1.0)
        stack.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=true", stdin=SAMPLE, timeout_s=120)
        after = operator_restarts(stack)
        if after != restarts:
            for pod in after:
                print(f"\n---- operator {pod} restarted ({restarts} -> {after}); its previous log:\n"
                      + stack.kubectl("logs", "-n", "ray-system", pod, "--previous")[-6000:])
    print(f"\nKubeRay external-Redis sample ({len(stored)} GCS tables under RAY{uid}): "
          + "; ".join(f"{what} {s:.1f} s" for what, s in steps) + f"; whole test {time.monotonic() - t_start:.1f} s")
