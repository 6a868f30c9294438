"""Autoscaling a RayService end to end with real Ray 2.60: Serve's replicas drive the Ray autoscaler, which drives
the operator's worker pods, under steady load and with zero failed requests.

The RayService runs ``slow.app`` (e2e/apps/slow_echo: each answer waits 0.3 s) with ``autoscaling_config`` from 1
to 3 replicas at ``target_ongoing_requests: 1``; each replica needs a whole CPU, the head offers none
(``num-cpus: "0"``) and each worker has one, so every replica needs its own worker. The cluster has
``enableInTreeAutoscaling`` and a worker group from ``minReplicas: 1`` to ``maxReplicas: 3`` with a short idle
timeout. 10 requests/s keep ~3 requests ongoing: Serve asks for 3 replicas, two of them cannot be placed, the
autoscaler raises the group's ``replicas``, the operator starts the workers and the replicas come up RUNNING on
them. Then the load drops to 2 requests/s (one replica's worth): Serve removes two replicas, the autoscaler names
the idle workers in ``workersToDelete``, the operator deletes them and clears the list, while the light load still
flows through the serve Service. Asserted: no request fails in either phase; the group's ``replicas`` only ever
moves the autoscaler's way: it starts at 1, peaks at 3, ends at 1, and every step down comes in the same version
as a ``workersToDelete`` list naming the workers to go (the autoscaler writes both in one patch; the RayService's
own ``replicas: 1`` written over it would arrive without one). Autoscaler v2 may retire a new worker whose replica
is still starting once it has been idle for the group's timeout and ask for another: that is 3, 2, 3, and allowed.
Printed: load start to the first new worker Running and to all replicas RUNNING, load drop to the scale-down done,
requests and failures.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from e2e import observe as ob
from e2e.localstack import BIN, LocalStack, wait_for
from e2e.suites.load import Load, timeline

NAME = "serveauto"
APP = "slow"
DEPLOYMENT = "SlowEcho"
GROUP = "cpu"
IDLE_S = 10
HIGH_RATE, LOW_RATE = 10.0, 2.0
# Autoscaler v2 runs in `make e2e`; v1 too with E2E_SERVE_AUTOSCALING_V1=1 (each run takes ~2.5 min, and CI's
# e2e budget holds one).
VERSIONS = ["v2", *(["v1"] if os.environ.get("E2E_SERVE_AUTOSCALING_V1") == "1" else [])]


def rayservice_yaml(version: str) -> str:
    serve = {
        "applications": [
            {
                "name": APP,
                "import_path": "slow.app",
                "route_prefix": "/",
                "runtime_env": {"working_dir": "file:///var/lib/localcluster/apps/slow_echo.zip"},
                "deployments": [
                    {
                        "name": DEPLOYMENT,
                        "max_ongoing_requests": 20,
                        "autoscaling_config": {
                            "min_replicas": 1,
                            "max_replicas": 3,
                            "target_ongoing_requests": 1,
                            "look_back_period_s": 5,
                            "upscale_delay_s": 2,
                            "downscale_delay_s": 5,
                        },
                        "ray_actor_options": {"num_cpus": 1},
                    }
                ],
            }
        ]
    }
    # Serve's proxies and handles report ongoing requests every 10 s by default; 1 s makes Serve decide sooner.
    env = [
        {"name": "RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "value": "1"},
        {"name": "RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "value": "1"},
    ]

    def container(name: str, memory: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": "rayproject/ray:2.60.0",
            "env": env,
            "resources": {"limits": {"cpu": "1", "memory": memory}, "requests": {"cpu": "1", "memory": memory}},
        }

    group: dict[str, Any] = {
        "groupName": GROUP,
        "replicas": 1,
        "minReplicas": 1,
        "maxReplicas": 3,
        "rayStartParams": {},
        "template": {"spec": {"containers": [container("ray-worker", "1Gi")]}},
    }
    options: dict[str, Any] = {"version": version, "idleTimeoutSeconds": IDLE_S}
    if version == "v2":
        group["idleTimeoutSeconds"] = IDLE_S  # per group: autoscaler v2 only
    body = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": NAME},
        "spec": {
            "rayClusterDeletionDelaySeconds": 5,
            "serveConfigV2": yaml.safe_dump(serve),
            "rayClusterConfig": {
                "rayVersion": "2.60.0",
                "enableInTreeAutoscaling": True,
                "autoscalerOptions": options,
                "headGroupSpec": {
                    "rayStartParams": {"num-cpus": "0"},
                    "template": {"spec": {"containers": [container("ray-head", "3Gi")]}},
                },
                "workerGroupSpecs": [group],
            },
        },
    }
    return yaml.safe_dump(body)


def the_group(stack: LocalStack, cluster: str) -> dict[str, Any]:
    groups = ((stack.get(f"{ob.RC_PATH}/{cluster}") or {}).get("spec") or {}).get("workerGroupSpecs") or [{}]
    return dict(groups[0])


def workers(stack: LocalStack, cluster: str) -> list[dict[str, Any]]:
    return [p for p in ob.pods(stack, cluster) if p["metadata"]["labels"].get("ray.io/node-type") == "worker"]


def running_replicas(head: str) -> int:
    apps = (ob.serve_apps(head) or {}).get("applications") or {}
    deployment = (((apps.get(APP) or {}).get("deployments") or {}).get(DEPLOYMENT)) or {}
    return sum(1 for r in deployment.get("replicas") or [] if r.get("state") == "RUNNING")


@dataclass
class ReplicasWatch:
    """Every version of the RayCluster (``kubectl get --watch``): each change of the worker group's ``replicas``
    and each ``workersToDelete`` list it held, with the time it was seen."""

    stack: LocalStack
    cluster: str
    changes: list[tuple[float, int]] = field(default_factory=list)
    steps: list[tuple[int, list[str]]] = field(default_factory=list)
    deletions: list[tuple[float, list[str]]] = field(default_factory=list)
    versions: int = 0
    _process: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    def __enter__(self) -> ReplicasWatch:
        argv = [str(BIN / "kubectl"), "--kubeconfig", str(self.stack.kubeconfig), "get", "raycluster", self.cluster,
                "--watch", "-o", "json"]  # fmt: skip
        self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, args=(self._process,), daemon=True)
        self._reader.start()
        wait_for("the RayCluster watched", lambda: self.versions > 0, 30)
        return self

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        decoder, buffer = json.JSONDecoder(), ""
        for line in process.stdout:
            buffer += line
            try:
                obj, end = decoder.raw_decode(buffer.lstrip())
            except json.JSONDecodeError:
                continue
            buffer = buffer.lstrip()[end:]
            self._seen(obj)

    def _seen(self, obj: dict[str, Any]) -> None:
        self.versions += 1
        group = dict(((obj.get("spec") or {}).get("workerGroupSpecs") or [{}])[0])
        replicas = int(group.get("replicas") or 0)
        if not self.changes or self.changes[-1][1] != replicas:
            self.changes.append((time.monotonic(), replicas))
        named = list((group.get("scaleStrategy") or {}).get("workersToDelete") or [])
        if not self.steps or self.steps[-1] != (replicas, named):
            self.steps.append((replicas, named))
        if named and (not self.deletions or self.deletions[-1][1] != named):
            self.deletions.append((time.monotonic(), named))

    def values(self) -> list[int]:
        return [r for _, r in self.changes]


def only_the_autoscalers_way(steps: list[tuple[int, list[str]]], low: int, high: int) -> bool:
    """From ``low`` up to ``high`` and back to ``low``, each step down in a version that names at least as many
    workers to delete as ``replicas`` dropped by."""
    values = [replicas for replicas, _ in steps]
    if not values or values[0] != low or values[-1] != low or max(values) != high:
        return False
    pairs = itertools.pairwise(steps)
    return all(len(named) >= before - after for (before, _), (after, named) in pairs if after < before)


def test_replicas_direction_check_catches_an_overwrite() -> None:
    one, two = ["w-a"], ["w-b", "w-c"]
    assert only_the_autoscalers_way([(1, []), (2, []), (3, []), (2, one), (2, []), (1, ["w-b"]), (1, [])], 1, 3)
    assert only_the_autoscalers_way([(1, []), (3, []), (1, two), (1, [])], 1, 3)
    assert only_the_autoscalers_way([(1, []), (3, []), (2, one), (2, []), (3, []), (1, two), (1, [])], 1, 3)
    assert not only_the_autoscalers_way([(1, []), (3, []), (1, []), (3, []), (1, two)], 1, 3)
    assert not only_the_autoscalers_way([(1, []), (3, []), (1, one), (1, [])], 1, 3)
    assert not only_the_autoscalers_way([(1, []), (2, []), (1, ["w-a"]), (1, [])], 1, 3)
    assert not only_the_autoscalers_way([(1, []), (3, []), (2, one)], 1, 3)


@pytest.mark.timeout(480)
@pytest.mark.parametrize("version", VERSIONS)
def test_serve_autoscaling_grows_and_shrinks_the_worker_group_with_no_failed_request(
    stack: LocalStack, version: str
) -> None:
    t_start = time.monotonic()
    try:
        ob.apply(stack, rayservice_yaml(version))
        up_s = ob.wait_running(stack, NAME, 300)
        (cluster,) = ob.clusters(stack, NAME)
        ip = ob.cluster_ip(stack, f"{NAME}-serve-svc")
        head = ob.head_ip(stack, cluster)
        assert head
        wait_for("the app answers", lambda: ob.answer(ip, "{}") == "done", 60)
        (first,) = [p["metadata"]["name"] for p in workers(stack, cluster)]
        assert the_group(stack, cluster).get("replicas") == 1 and running_replicas(head) == 1

        with ReplicasWatch(stack, cluster) as watch:
            with Load(ip, 8000, "{}", rate_per_s=HIGH_RATE, accept={'"done"', "done"}, timeout_s=30) as high:
                t0 = time.monotonic()
                wait_for(
                    "a new worker Running",
                    lambda: any(ob.is_ready(p) and p["metadata"]["name"] != first for p in workers(stack, cluster)),
                    180,
                    0.5,
                )
                worker_s = time.monotonic() - t0
                wait_for("3 replicas RUNNING", lambda: running_replicas(head) == 3, 180, 0.5)
                replicas_s = time.monotonic() - t0
                peak_workers = sum(1 for p in workers(stack, cluster) if ob.is_ready(p))
            high_report = high.report()
            print(f"\n{version} high load timeline (requests/failed/slowest per 5 s): {timeline(high.outcomes, t0)}")

            with Load(ip, 8000, "{}", rate_per_s=LOW_RATE, accept={'"done"', "done"}, timeout_s=30) as low:
                t1 = time.monotonic()

                def scaled_down() -> bool:
                    group = the_group(stack, cluster)
                    pods = workers(stack, cluster)
                    return (
                        group.get("replicas") == 1
                        and len(pods) == 1
                        and ob.is_ready(pods[0])
                        and not (group.get("scaleStrategy") or {}).get("workersToDelete")
                    )

                wait_for("back to one worker, workersToDelete cleared", scaled_down, 240, 0.5)
                down_s = time.monotonic() - t1
                remaining = running_replicas(head)
            low_report = low.report()
            print(f"{version} light load timeline: {timeline(low.outcomes, t1)}")

        events = stack.list(f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{cluster}")
        reasons = Counter(str(e.get("reason")) for e in events for _ in range(int(e.get("count") or 1)))
        values = watch.values()
        print(
            f"serve autoscaling ({version}): RayService Running after {up_s:.1f} s; {HIGH_RATE:.0f} req/s "
            f"start -> first new worker Running {worker_s:.1f} s, -> 3 replicas RUNNING {replicas_s:.1f} s "
            f"({peak_workers} workers); drop to {LOW_RATE:.0f} req/s -> back to 1 worker, workersToDelete cleared "
            f"{down_s:.1f} s ({remaining} replica RUNNING); group replicas {values}, workersToDelete "
            f"{[pods for _, pods in watch.deletions]} ({watch.versions} versions watched), "
            f"DeletedWorkerPod events {reasons['DeletedWorkerPod']}\n"
            f"  high load: {high_report.summary()}\n  light load: {low_report.summary()}"
        )
        assert high_report.failed == 0, high_report.failures[:5]
        assert low_report.failed == 0, low_report.failures[:5]
        assert peak_workers == 3 and remaining == 1
        assert only_the_autoscalers_way(watch.steps, 1, 3), watch.steps
        assert all(t >= t0 for t, r in watch.changes[1:] if r > 1), "replicas rose before the load started"
        named = {pod for _, pods in watch.deletions for pod in pods}
        assert len(named) >= 2 and reasons["DeletedWorkerPod"] >= len(named), (watch.deletions, reasons)
        assert not named & {p["metadata"]["name"] for p in workers(stack, cluster)}
    finally:
        ob.delete_and_wait(stack, NAME, timeout_s=180)
        print(f"serve autoscaling ({version}): whole run {time.monotonic() - t_start:.1f} s")
