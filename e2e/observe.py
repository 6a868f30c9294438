"""What the suites and the demo look at: a RayService's status, clusters, pods, Services and answers.

Reads go to the API server over plain HTTP (cheap enough to poll every 100-250 ms) and to Serve through the serve
Service's ClusterIP, from the host, through the local service proxy: the path a client inside the cluster takes.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

from e2e.localstack import ROOT, LocalStack, StackError, wait_for

SAMPLES = ROOT / "manifests" / "samples"
ALPHA_LOCAL = SAMPLES / "ray.io_v1alpha1_rayservice_local.yaml"
V1_LOCAL = SAMPLES / "ray.io_v1_rayservice_local.yaml"
MULTIAPP_LOCAL = SAMPLES / "ray.io_v1_rayservice_multiapp_local.yaml"
NS = "default"
RS_PATH = "/apis/ray.io/v1/namespaces/default/rayservices"
RC_PATH = "/apis/ray.io/v1/namespaces/default/rayclusters"
PODS_PATH = "/api/v1/namespaces/default/pods"
SVC_PATH = "/api/v1/namespaces/default/services"


def rayservice(stack: LocalStack, name: str) -> dict[str, Any] | None:
    return stack.get(f"{RS_PATH}/{name}")


def status(stack: LocalStack, name: str) -> dict[str, Any]:
    return dict((rayservice(stack, name) or {}).get("status") or {})


def clusters(stack: LocalStack, name: str) -> list[str]:
    """Names of the RayClusters made for RayService `name`, oldest first."""
    items = stack.list(f"{RC_PATH}?labelSelector=ray.io/originated-from-cr-name%3D{name}")
    return [c["metadata"]["name"] for c in sorted(items, key=lambda c: c["metadata"]["creationTimestamp"])]


def pods(stack: LocalStack, cluster: str | None = None) -> list[dict[str, Any]]:
    query = f"?labelSelector=ray.io/cluster%3D{cluster}" if cluster else ""
    return stack.list(PODS_PATH + query)


def is_ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or [])
    return st.get("phase") == "Running" and ready and not pod["metadata"].get("deletionTimestamp")


def service(stack: LocalStack, name: str) -> dict[str, Any] | None:
    return stack.get(f"{SVC_PATH}/{name}")


def cluster_ip(stack: LocalStack, name: str) -> str:
    svc = service(stack, name)
    if svc is None:
        raise StackError(f"Service {name} does not exist")
    return str(svc["spec"]["clusterIP"])


def selected_cluster(stack: LocalStack, service_name: str) -> str | None:
    svc = service(stack, service_name)
    return ((svc or {}).get("spec") or {}).get("selector", {}).get("ray.io/cluster") if svc else None


def ask(host: str, body: str, *, path: str = "/", port: int = 8000, timeout_s: float = 5.0) -> tuple[int, str]:
    """One POST on a new connection: (HTTP status, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("POST", path, body=body.encode(),
                     headers={"Content-Type": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace").strip()
    finally:
        conn.close()


def answer(host: str, body: str, *, path: str = "/") -> str | None:
    try:
        code, text = ask(host, body, path=path)
    except (OSError, http.client.HTTPException):
        return None
    return text if code == 200 else None


def serve_apps(pod_ip: str, port: int = 8265) -> dict[str, Any] | None:
    """Ray's `/api/serve/applications/` answer from a head, or None."""
    try:
        with urllib.request.urlopen(f"http://{pod_ip}:{port}/api/serve/applications/", timeout=2) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def head_ip(stack: LocalStack, cluster: str) -> str | None:
    heads = [p for p in pods(stack, cluster) if p["metadata"]["labels"].get("ray.io/node-type") == "head"
             and is_ready(p)]
    return str(heads[0]["status"]["podIP"]) if heads else None


def all_running(apps_answer: dict[str, Any] | None, names: list[str]) -> bool:
    apps = (apps_answer or {}).get("applications") or {}
    return bool(names) and all((apps.get(n) or {}).get("status") == "RUNNING" for n in names)


def apply(stack: LocalStack, text: str) -> str:
    return stack.kubectl("apply", "-f", "-", stdin=text)


def wait_running(stack: LocalStack, name: str, timeout_s: float = 240.0) -> float:
    """Seconds until the RayService reports `serviceStatus: Running`."""
    t0 = time.monotonic()
    wait_for(f"RayService {name} Running", lambda: status(stack, name).get("serviceStatus") == "Running",
             timeout_s)
    return time.monotonic() - t0


def delete_and_wait(stack: LocalStack, name: str, timeout_s: float = 120.0) -> float:
    """Delete RayService `name` (if it exists); seconds until its clusters and their pods are gone.

    A pod of its clusters that is being deleted is then deleted again with grace period 0, as `kubectl delete
    --force --grace-period=0` does: a test's cleanup need not wait out the 30 s a Ray container's `ray start`
    drains on SIGTERM. The operator's part (the RayService's and the clusters' deletion, their finalizers) runs
    as ever. The suites that check the graceful deletion (the fruit market's deletion test, the seed guide)
    delete on their own.
    """
    t0 = time.monotonic()
    owned = clusters(stack, name)
    if rayservice(stack, name) is not None:
        stack.kubectl("delete", "rayservice", name, "--wait=false")

    def gone() -> bool:
        left = [p for c in owned for p in pods(stack, c)]
        doomed = [p["metadata"]["name"] for p in left if p["metadata"].get("deletionTimestamp")]
        if doomed:
            stack.kubectl("delete", "pod", *doomed, "--grace-period=0", "--force", "--ignore-not-found",
                          "--wait=false")
        return rayservice(stack, name) is None and not clusters(stack, name) and not left

    wait_for(f"RayService {name} and its pods gone", gone, timeout_s, interval_s=0.5)
    return time.monotonic() - t0


def netns_inodes(prefix: str) -> dict[str, int]:
    """The node's pod network namespaces (`/run/netns/<prefix>-*`) -> inode."""
    found: dict[str, int] = {}
    base = Path("/run/netns")
    for entry in base.glob(f"{prefix}-*") if base.is_dir() else []:
        try:
            found[entry.name] = entry.stat().st_ino
        except OSError:
            continue
    return found


def processes_in(inodes: set[int]) -> list[int]:
    """PIDs of processes whose network namespace is one of `inodes`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids
