"""Which listeners of our Gateways an HTTPRoute attaches to, and why not when it does not (pure).

Guarantees:
1. `attach_route(route, gateways, namespace_labels)` returns one `ParentResult` per parentRef of the route that
   names one of `gateways` (group gateway.networking.k8s.io, kind Gateway; the namespace defaults to the
   route's), in parentRef order; refs to other parents are not ours and are left out.
2. A ref attaches to the accepted listeners that match its `sectionName` and `port` (when set), admit
   HTTPRoute from the route's namespace, and share a hostname with the route. Reasons when it attaches to
   none, first that applies: `NoMatchingParent` (no listener has that sectionName/port), `NotAllowedByListeners`
   (none of those is accepted and admits the route), `NoMatchingListenerHostname`.
3. `attached_counts` is, per (gateway, listener), the number of distinct routes attached there: the
   listener's `attachedRoutes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .hostnames import intersect
from .listeners import HTTPROUTE_KIND, Listener, gateway_listeners, namespace_allowed
from .names import GROUP

Obj = Mapping[str, Any]
GatewayKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class ParentResult:
    ref: Obj  # the parentRef as the route's spec holds it
    gateway: GatewayKey
    listeners: tuple[str, ...]  # names of the listeners attached to
    hostnames: Mapping[str, tuple[str, ...]]  # listener -> the route's hostnames there (() = any)
    reason: str  # "Accepted" when attached
    message: str

    @property
    def accepted(self) -> bool:
        return self.reason == "Accepted"


def parent_gateway(route_namespace: str, ref: Obj) -> GatewayKey | None:
    if (ref.get("group", GROUP), ref.get("kind", "Gateway")) != (GROUP, "Gateway"):
        return None
    return (str(ref.get("namespace") or route_namespace), str(ref.get("name")))


def attach_route(route: Obj, gateways: Mapping[GatewayKey, Obj],
                 namespace_labels: Mapping[str, Mapping[str, str]]) -> list[ParentResult]:
    meta, spec = route.get("metadata") or {}, route.get("spec") or {}
    namespace = str(meta.get("namespace"))
    out = []
    for ref in spec.get("parentRefs") or []:
        key = parent_gateway(namespace, ref)
        if key is None or key not in gateways:
            continue
        out.append(_attach(ref, key, gateway_listeners(gateways[key]), namespace,
                           list(spec.get("hostnames") or []), namespace_labels))
    return out


def _attach(ref: Obj, key: GatewayKey, listeners: list[Listener], namespace: str, hostnames: list[str],
            namespace_labels: Mapping[str, Mapping[str, str]]) -> ParentResult:
    section, port = ref.get("sectionName"), ref.get("port")
    named = [ls for ls in listeners if (section is None or ls.name == section) and (port is None or ls.port == port)]
    if not named:
        return ParentResult(ref, key, (), {}, "NoMatchingParent",
                            f"Gateway {key[0]}/{key[1]} has no listener with sectionName {section!r} and port "
                            f"{port!r}")
    allowed = [ls for ls in named if ls.accepted and HTTPROUTE_KIND in ls.supported_kinds
               and namespace_allowed(ls, key[0], namespace, namespace_labels)]
    if not allowed:
        return ParentResult(ref, key, (), {}, "NotAllowedByListeners",
                            f"no accepted listener of Gateway {key[0]}/{key[1]} admits HTTPRoutes from namespace "
                            f"{namespace}")
    hosts = {ls.name: h for ls in allowed if (h := intersect(ls.hostname, hostnames)) is not None}
    if not hosts:
        return ParentResult(ref, key, (), {}, "NoMatchingListenerHostname",
                            "the route's hostnames match no listener's hostname")
    return ParentResult(ref, key, tuple(hosts), hosts, "Accepted", "Accepted by the local cluster's gateway")


def attached_counts(results: Iterable[tuple[GatewayKey, ParentResult]]) -> dict[tuple[GatewayKey, str], int]:
    """`results`: (route key, result) pairs; counts each route once per listener."""
    seen: set[tuple[GatewayKey, GatewayKey, str]] = set()
    for route_key, result in results:
        for listener in result.listeners:
            seen.add((route_key, result.gateway, listener))
    counts: dict[tuple[GatewayKey, str], int] = {}
    for _, gateway, listener in seen:
        counts[(gateway, listener)] = counts.get((gateway, listener), 0) + 1
    return counts
