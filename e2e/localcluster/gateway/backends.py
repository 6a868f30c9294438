"""What an HTTPRoute's backendRef points at (pure): a Service's ClusterIP and port, or why not.

Decided here: cross-namespace backendRefs are never permitted. ReferenceGrant, which would permit them, is not
in the standard channel the local cluster serves, so as a real implementation without a grant does, such a ref
is `RefNotPermitted` and its share of the requests gets 500.

Guarantees:
1. `resolve_backend(route_namespace, ref, services)` gives `Resolved(address=(clusterIP, port))` for a ref to an
   existing Service (group "" and kind Service, the defaults) in the route's namespace that has a ClusterIP and
   exposes that port; otherwise `address` is None and `reason` is `InvalidKind` (another kind),
   `RefNotPermitted` (another namespace) or `BackendNotFound` (no such Service, no such port, headless or
   ExternalName).
2. `weight` is the ref's weight, 1 when absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]
ServiceKey = tuple[str, str]


@dataclass(frozen=True)
class Resolved:
    name: str  # "namespace/name:port", for logs and weighted-selection state
    address: tuple[str, int] | None
    weight: int
    reason: str  # "ResolvedRefs" when resolved
    message: str


def resolve_backend(route_namespace: str, ref: Obj, services: Mapping[ServiceKey, Obj]) -> Resolved:
    namespace = str(ref.get("namespace") or route_namespace)
    name, port, weight = str(ref.get("name")), ref.get("port"), int(ref.get("weight", 1))
    label = f"{namespace}/{name}:{port}"
    if (ref.get("group", ""), ref.get("kind", "Service")) != ("", "Service"):
        return Resolved(label, None, weight, "InvalidKind",
                        f"backendRef {name} is a {ref.get('kind')}; only Services are supported")
    if namespace != route_namespace:
        return Resolved(label, None, weight, "RefNotPermitted",
                        f"backendRef to Service {namespace}/{name} crosses namespaces; ReferenceGrant is not served")
    svc = services.get((namespace, name))
    if svc is None:
        return Resolved(label, None, weight, "BackendNotFound", f"Service {namespace}/{name} not found")
    spec = svc.get("spec") or {}
    ip = spec.get("clusterIP")
    if not ip or ip == "None" or spec.get("type") == "ExternalName":
        return Resolved(label, None, weight, "BackendNotFound", f"Service {namespace}/{name} has no ClusterIP")
    if port is None or all(p.get("port") != port for p in spec.get("ports") or []):
        return Resolved(label, None, weight, "BackendNotFound", f"Service {namespace}/{name} has no port {port}")
    return Resolved(label, (str(ip), int(port)), weight, "ResolvedRefs", "")
