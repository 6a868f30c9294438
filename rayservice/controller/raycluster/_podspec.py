"""What the operator adds to the Ray container of a pod template: command, env, ports, probes, volumes.

Guarantees:
1. The Ray container is the one named ``ray-head`` (head) or ``ray-worker`` (worker), else the first one.
2. Anything the user set wins: an env variable, a container port (same name or same number), a readiness or
   liveness probe, a volume mounted at ``/dev/shm``, an init container named ``wait-gcs-ready``. Ours are
   added after the user's and never duplicate them.
3. The command is ``["/bin/bash", "-lc", "--"]`` with one argument ``ulimit -n 65536; ray start ...``, as
   KubeRay writes it. When the user's own command and args (joined with spaces, as KubeRay joins them)
   already contain ``ray start``, or the cluster has the annotation ``ray.io/overwrite-container-cmd: "true"``,
   the user's command is kept; otherwise it runs first, followed by ``&&`` and ours. The generated
   ``ray start`` line is always in the env variable ``KUBERAY_GEN_RAY_START_CMD``.
4. Probes are ``httpGet`` (what every kubelet and the local node agent run without tools in the image).
   A container has one readiness probe, so the head's readiness asks the dashboard agent for the raylet's
   health (``:52365/api/local_raylet_healthz``: the raylet, and so the node, is up; the dashboard starts
   before the raylet in ``ray start --head``) and its liveness asks the dashboard for the GCS's health
   (``:8265/api/gcs_healthz``; the agent's raylet health when ``include-dashboard`` is ``false``); a
   worker's readiness and liveness both ask its agent for the raylet's health.

Pure: functions return new values or fill in the fresh copies ``desired`` hands them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.controller.objects import mapping, sequence
from rayservice.controller.raycluster._quantity import whole_cpus
from rayservice.controller.raycluster._raystart import DEFAULT_GCS_PORT, param_port

OVERWRITE_COMMAND_ANNOTATION: Final = "ray.io/overwrite-container-cmd"
COMMAND: Final = ("/bin/bash", "-lc", "--")
ULIMIT: Final = "ulimit -n 65536"
WAIT_FOR_GCS: Final = "wait-gcs-ready"
SHARED_MEMORY_VOLUME: Final = "shared-mem"
AGENT_HEALTH_PATH: Final = "/api/local_raylet_healthz"
GCS_HEALTH_PATH: Final = "/api/gcs_healthz"

DASHBOARD_PORT: Final = 8265
CLIENT_PORT: Final = 10001
SERVE_PORT: Final = 8000
AGENT_PORT: Final = 52365

# (port name, rayStartParams key that moves it, default): the names KubeRay's users and our Services use.
_HEAD_PORTS: Final = (
    ("gcs", "port", DEFAULT_GCS_PORT),
    ("dashboard", "dashboard-port", DASHBOARD_PORT),
    ("client", "ray-client-server-port", CLIENT_PORT),
    ("serve", "", SERVE_PORT),
    ("dashboard-agent", "dashboard-agent-listen-port", AGENT_PORT),
)
_WORKER_PORTS: Final = _HEAD_PORTS[3:]

# Readiness decides when a head is usable; liveness restarts only a node that stayed broken for 10 minutes.
_READINESS: Final = {
    "initialDelaySeconds": 2,
    "periodSeconds": 2,
    "timeoutSeconds": 2,
    "successThreshold": 1,
    "failureThreshold": 10,
}
_LIVENESS: Final = {
    "initialDelaySeconds": 30,
    "periodSeconds": 5,
    "timeoutSeconds": 2,
    "successThreshold": 1,
    "failureThreshold": 120,
}
# The init container only polls the GCS; fixed small resources keep it inside namespace quotas.
_WAIT_RESOURCES: Final = {"cpu": "200m", "memory": "256Mi"}


def ray_container_index(containers: Sequence[Any], *, head: bool) -> int:
    """Guarantee 1."""
    wanted = "ray-head" if head else "ray-worker"
    for index, container in enumerate(containers):
        if mapping(container).get("name") == wanted:
            return index
    return 0


def container_cpus(container: Mapping[str, Any]) -> int | None:
    """Whole CPUs of the container's limit, else its request; ``None`` when unset or unreadable."""
    resources = mapping(container.get("resources"))
    for kind in ("limits", "requests"):
        cpu = mapping(resources.get(kind)).get("cpu")
        if cpu is not None:
            try:
                return whole_cpus(cpu)
            except ValueError:
                return None
    return None


def default_ports(params: Mapping[str, str], *, head: bool) -> list[tuple[str, int]]:
    """Our named ports, moved where ``rayStartParams`` moved them."""
    table = _HEAD_PORTS if head else _WORKER_PORTS
    return [(name, param_port(params, key, default) if key else default) for name, key, default in table]


def merge_ports(user_ports: Sequence[Any], defaults: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """The user's container ports, then each of ours that the user did not declare (guarantee 2)."""
    ports = [dict(port) for port in user_ports if isinstance(port, Mapping)]
    names = {port.get("name") for port in ports}
    numbers = {port.get("containerPort") for port in ports}
    for name, number in defaults:
        if name not in names and number not in numbers:
            ports.append({"name": name, "containerPort": number, "protocol": "TCP"})
    return ports


def merge_env(user_env: Sequence[Any], ours: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The user's env, then each of ours whose name the user did not set (guarantee 2)."""
    env = [dict(item) for item in user_env if isinstance(item, Mapping)]
    taken = {item.get("name") for item in env}
    return env + [dict(item) for item in ours if item["name"] not in taken]


def value_env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def command_and_args(
    container: Mapping[str, Any], ray_start: str, *, overwrite: bool
) -> tuple[list[str], list[str]] | None:
    """Guarantee 3: the new command and args, or ``None`` to keep the user's."""
    command = [str(word) for word in sequence(container.get("command"))]
    args = [str(word) for word in sequence(container.get("args"))]
    user_line = " ".join(command + args)
    if overwrite or "ray start" in user_line:
        return None
    line = f"{ULIMIT}; {ray_start}"
    if user_line:
        line = f"{user_line} && {line}"
    return list(COMMAND), [line]


def http_probe(path: str, port: int, *, liveness: bool) -> dict[str, Any]:
    timing = _LIVENESS if liveness else _READINESS
    return {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}, **timing}


def add_probes(container: dict[str, Any], params: Mapping[str, str], *, head: bool) -> None:
    """Guarantee 4; a probe the user set is kept."""
    agent = http_probe(AGENT_HEALTH_PATH, param_port(params, "dashboard-agent-listen-port", AGENT_PORT), liveness=False)
    if not container.get("readinessProbe"):
        container["readinessProbe"] = agent
    if not container.get("livenessProbe"):
        if head and str(params.get("include-dashboard", "")).lower() != "false":
            port = param_port(params, "dashboard-port", DASHBOARD_PORT)
            container["livenessProbe"] = http_probe(GCS_HEALTH_PATH, port, liveness=True)
        else:
            container["livenessProbe"] = {**agent, **_LIVENESS}


def add_shared_memory(pod_spec: dict[str, Any], container: dict[str, Any]) -> None:
    """Mount a memory-backed ``/dev/shm`` for Ray's object store unless something is mounted there."""
    mounts = [dict(mount) for mount in sequence(container.get("volumeMounts")) if isinstance(mount, Mapping)]
    if any(mount.get("mountPath") == "/dev/shm" for mount in mounts):
        return
    volumes = [dict(volume) for volume in sequence(pod_spec.get("volumes")) if isinstance(volume, Mapping)]
    if not any(volume.get("name") == SHARED_MEMORY_VOLUME for volume in volumes):
        empty_dir: dict[str, Any] = {"medium": "Memory"}
        resources = mapping(container.get("resources"))
        memory = mapping(resources.get("limits")).get("memory") or mapping(resources.get("requests")).get("memory")
        if memory is not None:
            empty_dir["sizeLimit"] = memory
        volumes.append({"name": SHARED_MEMORY_VOLUME, "emptyDir": empty_dir})
        pod_spec["volumes"] = volumes
    mounts.append({"name": SHARED_MEMORY_VOLUME, "mountPath": "/dev/shm"})
    container["volumeMounts"] = mounts


def add_wait_for_gcs(pod_spec: dict[str, Any], container: Mapping[str, Any], address: str) -> None:
    """An init container that returns once the head's GCS answers at ``address`` (already shell-quoted).

    Without it a worker started before its head fails ``ray start`` and waits out the kubelet's crash
    backoff; KubeRay injects the same container.
    """
    init = [dict(item) for item in sequence(pod_spec.get("initContainers")) if isinstance(item, Mapping)]
    if any(item.get("name") == WAIT_FOR_GCS for item in init):
        return
    script = (
        f"until ray health-check --address={address} >/dev/null 2>&1; do "
        f"echo waiting for the GCS at {address}; sleep 2; done"
    )
    waiter: dict[str, Any] = {
        "name": WAIT_FOR_GCS,
        "image": container.get("image"),
        "command": list(COMMAND),
        "args": [script],
        "resources": {"limits": dict(_WAIT_RESOURCES), "requests": dict(_WAIT_RESOURCES)},
    }
    for key in ("imagePullPolicy", "env", "envFrom", "volumeMounts", "securityContext"):
        if container.get(key) is not None:
            waiter[key] = copy.deepcopy(container[key])
    pod_spec["initContainers"] = [*init, {key: value for key, value in waiter.items() if value is not None}]
