"""Service names for pods' hosts files: what cluster DNS would answer, as (address, names) lines (pure).

Guarantees:
1. A Service with a ClusterIP gives one line `<ip> <svc>.<ns>.svc.cluster.local <svc>.<ns>.svc <svc>.<ns>`,
   plus the bare `<svc>` for pods of the same namespace (hosts files have no search domains).
2. A headless Service (`clusterIP: None`) gives one line per ready endpoint address of its EndpointSlices
   with the same names, and `<hostname>.<svc>.<ns>.svc.cluster.local` for endpoints that carry a hostname.
3. Output is sorted and deterministic, so an unchanged cluster rewrites no hosts file.
4. `hosts_file` and `resolv_conf` are what a pod sees as /etc/hosts and /etc/resolv.conf: localhost, its own
   name, then the service lines; unknown names go to the pod's own loopback, where nothing answers (fast
   failure, no query leaves the pod).
5. `ServiceIndex` keeps Services and EndpointSlices from list/watch handlers (no I/O) and sets `changed` on
   every change that can alter a hosts file, and `services_synced` once the Services were listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DOMAIN = "svc.cluster.local"


def _names(name: str, ns: str, same_namespace: bool) -> list[str]:
    names = [f"{name}.{ns}.{DOMAIN}", f"{name}.{ns}.svc", f"{name}.{ns}"]
    return [*names, name] if same_namespace else names


def slices_by_service(slices: Iterable[Obj]) -> dict[Key, list[Obj]]:
    out: dict[Key, list[Obj]] = {}
    for s in slices:
        meta = s.get("metadata") or {}
        svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            out.setdefault((str(meta.get("namespace") or ""), str(svc)), []).append(s)
    return out


def ready_addresses(slices: Iterable[Obj]) -> list[tuple[str, str]]:
    """(address, hostname or "") of every ready endpoint; `ready` unset counts as ready, as in kube."""
    found: set[tuple[str, str]] = set()
    for s in slices:
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for address in ep.get("addresses") or []:
                found.add((str(address), str(ep.get("hostname") or "")))
    return sorted(found)


def service_entries(services: Mapping[Key, Obj], slices: Mapping[Key, list[Obj]],
                    namespace: str) -> list[tuple[str, list[str]]]:
    lines: list[tuple[str, list[str]]] = []
    for (ns, name), svc in sorted(services.items()):
        spec = svc.get("spec") or {}
        names = _names(name, ns, ns == namespace)
        cluster_ip = spec.get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            lines.append((str(cluster_ip), names))
        elif cluster_ip == "None":
            for address, hostname in ready_addresses(slices.get((ns, name), [])):
                extra = [f"{hostname}.{name}.{ns}.{DOMAIN}"] if hostname else []
                lines.append((address, extra + names))
    return lines


def hosts_file(pod_ip: str, hostname: str, entries: Iterable[tuple[str, list[str]]]) -> str:
    lines = ["# Kubernetes-managed hosts file (localcluster node agent).", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", f"{pod_ip}\t{hostname}"]
    lines += [f"{ip}\t{' '.join(names)}" for ip, names in entries if names]
    return "\n".join(lines) + "\n"


def resolv_conf(namespace: str) -> str:
    return (f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 127.0.0.1\noptions ndots:1 timeout:1 attempts:1\n")


class ServiceIndex:
    def __init__(self) -> None:
        self.services: dict[Key, Obj] = {}
        self.slices: dict[Key, Obj] = {}
        self.changed = asyncio.Event()
        self.services_synced = asyncio.Event()

    def sync_services(self, items: list[Obj]) -> None:
        self._sync(self.services, items)
        self.services_synced.set()

    def service_event(self, kind: str, obj: Obj) -> None:
        self._event(self.services, kind, obj)

    def sync_slices(self, items: list[Obj]) -> None:
        self._sync(self.slices, items)

    def slice_event(self, kind: str, obj: Obj) -> None:
        self._event(self.slices, kind, obj)

    def entries(self, namespace: str) -> list[tuple[str, list[str]]]:
        return service_entries(self.services, slices_by_service(self.slices.values()), namespace)

    def _sync(self, cache: dict[Key, Obj], items: list[Obj]) -> None:
        cache.clear()
        for obj in items:
            cache[_key(obj)] = obj
        self.changed.set()

    def _event(self, cache: dict[Key, Obj], kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            cache.pop(_key(obj), None)
        else:
            cache[_key(obj)] = obj
        self.changed.set()


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
