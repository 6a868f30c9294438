"""The node's Node object, as a kubelet keeps it: registered before any pod is taken, then heartbeats.

Guarantees:
1. `node_status` (pure) carries Ready=True (KubeletReady) and the pressure conditions False, with
   lastHeartbeatTime `now` and lastTransitionTime `since`; addresses InternalIP (the bridge gateway, which pods
   and the node both reach) and Hostname; this machine's CPU count and memory as capacity and allocatable.
2. `keep_registered` creates the Node (an existing one is kept: 409 is fine), patches its status (merge patch
   on `/status`, so servers that drop status on create still get it), sets `registered`, and repeats the
   status patch every `heartbeat_s`; failures are logged and retried after 1 s until it is registered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from .client import ApiClient, ApiError

Obj = dict[str, Any]
log = logging.getLogger(__name__)


def capacity() -> dict[str, str]:
    mem_kib = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:")), "0")
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki", "pods": "110",
            "ephemeral-storage": "100Gi"}


def node_status(address: str, name: str, since: str, now: str) -> Obj:
    def cond(ctype: str, status: str, reason: str, message: str) -> Obj:
        return {"type": ctype, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": since}

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"conditions": [cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "sufficient memory"),
                           cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "no disk pressure"),
                           cond("PIDPressure", "False", "KubeletHasSufficientPID", "sufficient PID"),
                           cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")],
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "capacity": capacity(), "allocatable": capacity(),
            "nodeInfo": {"kubeletVersion": "v1.36.0-localcluster", "operatingSystem": "linux", "architecture": arch,
                         "kernelVersion": platform.release(), "osImage": "localcluster",
                         "containerRuntimeVersion": "localcluster://0.1"}}


async def keep_registered(client: ApiClient, *, name: str, address: str, heartbeat_s: float,
                          registered: asyncio.Event, now: Callable[[], str]) -> None:
    """Until cancelled; `now()` gives RFC 3339 times."""
    since = now()
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}}}
    while True:
        status = node_status(address, name, since, now())
        try:
            if not registered.is_set():
                try:
                    await client.post("/api/v1/nodes", {**node, "status": status})
                except ApiError as exc:
                    if exc.code != 409:
                        raise
            await client.patch(f"/api/v1/nodes/{name}/status", {"status": status})
            registered.set()
        except (ApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("node_status_failed node=%s: %s", name, exc)
        await asyncio.sleep(heartbeat_s if registered.is_set() else 1.0)
