"""A Gateway's listeners as the local data plane sees them: which are accepted, which conflict (pure).

Guarantees:
1. `gateway_listeners(gateway)` returns one `Listener` per spec listener, in spec order.
2. Only protocol HTTP is accepted; any other protocol is `UnsupportedProtocol` (never served).
3. Listeners sharing a port with different protocols all get `ProtocolConflict`; HTTP listeners sharing a port
   and a hostname (absent counts as one hostname) get `HostnameConflict`. A conflicted listener is not
   accepted (the spec: its port should not be configured).
4. `allowedRoutes.kinds` absent means HTTPRoute (the HTTP protocol's kind); a listed kind other than
   `gateway.networking.k8s.io/HTTPRoute` makes ResolvedRefs False (`InvalidRouteKinds`) and is left out of
   `supported_kinds`; a listener with no supported kind admits no route.
5. `namespace_allowed` follows `allowedRoutes.namespaces.from`: Same (the default), All, or Selector
   (`matchLabels` and `matchExpressions` with In, NotIn, Exists, DoesNotExist).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .names import GROUP

Obj = Mapping[str, Any]
HTTPROUTE_KIND = (GROUP, "HTTPRoute")


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None
    accepted_reason: str  # "Accepted" when accepted, else why not
    conflicted_reason: str  # "NoConflicts", "HostnameConflict" or "ProtocolConflict"
    supported_kinds: tuple[tuple[str, str], ...]
    invalid_kinds: bool
    allowed_routes: Obj

    @property
    def accepted(self) -> bool:
        return self.accepted_reason == "Accepted"


def gateway_listeners(gateway: Obj) -> list[Listener]:
    specs = list((gateway.get("spec") or {}).get("listeners") or [])
    protocols_by_port: dict[int, set[str]] = {}
    hosts_by_port: dict[tuple[int, str | None], int] = {}
    for spec in specs:
        port = int(spec.get("port") or 0)
        protocols_by_port.setdefault(port, set()).add(str(spec.get("protocol") or ""))
        key = (port, spec.get("hostname"))
        hosts_by_port[key] = hosts_by_port.get(key, 0) + 1
    out = []
    for spec in specs:
        port, protocol, hostname = int(spec.get("port") or 0), str(spec.get("protocol") or ""), spec.get("hostname")
        conflict = "NoConflicts"
        if len(protocols_by_port[port]) > 1:
            conflict = "ProtocolConflict"
        elif hosts_by_port[(port, hostname)] > 1:
            conflict = "HostnameConflict"
        if protocol != "HTTP":
            accepted = "UnsupportedProtocol"
        else:
            accepted = "Accepted" if conflict == "NoConflicts" else conflict
        allowed = spec.get("allowedRoutes") or {}
        kinds = [(str(k.get("group", GROUP)), str(k.get("kind"))) for k in allowed.get("kinds") or []]
        if protocol != "HTTP":
            supported: tuple[tuple[str, str], ...] = ()
            invalid = bool(kinds)
        elif kinds:
            supported = tuple(k for k in kinds if k == HTTPROUTE_KIND)
            invalid = len(supported) != len(kinds)
        else:
            supported, invalid = (HTTPROUTE_KIND,), False
        out.append(Listener(str(spec.get("name")), port, protocol, hostname, accepted, conflict, supported,
                            invalid, allowed))
    return out


def namespace_allowed(listener: Listener, gateway_namespace: str, route_namespace: str,
                      namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    namespaces = listener.allowed_routes.get("namespaces") or {}
    source = namespaces.get("from") or "Same"
    if source == "All":
        return True
    if source == "Same":
        return route_namespace == gateway_namespace
    if source == "Selector":
        return _selects(namespaces.get("selector") or {}, namespace_labels.get(route_namespace) or {})
    return False


def _selects(selector: Obj, labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {"In": key in labels and labels[key] in values, "NotIn": key not in labels or labels[key] not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(str(op), False)
        if not ok:
            return False
    return True
