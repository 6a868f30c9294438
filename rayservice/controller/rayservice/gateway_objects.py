"""The Gateway API objects of an incremental upgrade: their names and shapes (KubeRay v1.7's), what the operator
compares before writing them, and how it reads their readiness and weights.

Guarantees:
1. The Gateway ``<rayservice>-gateway`` of ``gatewayClassName`` has one listener ``http``, HTTP, port 80; the
   HTTPRoute ``<rayservice>-httproute`` has that Gateway as its parent and one rule (path prefix ``/``) whose
   backendRefs are per-cluster serve Services ``<cluster>-serve-svc`` in the RayService's namespace, on the serve
   port, weighted. Both are controlled by the RayService. Only standard fields: any conformant Gateway API
   implementation serves them.
2. ``gateway_differs``/``route_differs`` compare only the fields the operator sets (an implementation may add
   defaults: the API server fills ``group``, ``kind`` and ``weight``); a missing weight counts as 1.
3. ``gateway_ready``: Accepted and Programmed True; ``route_ready``: Accepted and ResolvedRefs True for the
   RayService's Gateway (KubeRay's ``IsGatewayReady`` and ``IsHTTPRouteReady``). ``route_weight`` reads one
   cluster's weight from the first rule, ``None`` when the route does not name that cluster.

Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from rayservice.controller.objects import (
    RawObject,
    find_condition,
    name_of,
    namespace_of,
    owner_reference,
    part,
    sequence,
)

GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
LISTENER_NAME: Final = "http"
LISTENER_PORT: Final = 80
Differs = Callable[[RawObject, RawObject], bool]


def gateway_name(service: RawObject) -> str:
    return f"{name_of(service)}-gateway"


def route_name(service: RawObject) -> str:
    return f"{name_of(service)}-httproute"


def cluster_serve_service_name(cluster: str) -> str:
    return f"{cluster}-serve-svc"


def desired_gateway(service: RawObject, gateway_class: str) -> dict[str, Any]:
    """Guarantee 2: the Gateway."""
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": gateway_name(service), "namespace": namespace_of(service),
                     "ownerReferences": [owner_reference(service, "RayService")]},
        "spec": {"gatewayClassName": gateway_class,
                 "listeners": [{"name": LISTENER_NAME, "protocol": "HTTP", "port": LISTENER_PORT}]},
    }


def desired_route(service: RawObject, backends: list[tuple[str, int, int]]) -> dict[str, Any]:
    """Guarantee 2: the HTTPRoute, ``backends`` as (cluster, serve port, weight)."""
    namespace = namespace_of(service)
    refs = [{"group": "", "kind": "Service", "name": cluster_serve_service_name(cluster), "namespace": namespace,
             "port": port, "weight": weight} for cluster, port, weight in backends]
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": route_name(service), "namespace": namespace,
                     "ownerReferences": [owner_reference(service, "RayService")]},
        "spec": {
            "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name(service),
                            "namespace": namespace}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": refs}],
        },
    }


def gateway_differs(observed: RawObject, desired: RawObject) -> bool:
    """The fields the operator sets (class, listeners' name, protocol, port) differ."""
    def shape(gw: RawObject) -> tuple[Any, ...]:
        spec = part(gw.get("spec"))
        listeners = tuple((part(x).get("name"), part(x).get("protocol"), part(x).get("port"))
                          for x in sequence(spec.get("listeners")))
        return spec.get("gatewayClassName"), listeners
    return shape(observed) != shape(desired)


def route_differs(observed: RawObject, desired: RawObject) -> bool:
    """The fields the operator sets (parents, matches, backends' name, namespace, port, weight) differ."""
    def shape(route: RawObject) -> tuple[Any, ...]:
        spec = part(route.get("spec"))
        parents = tuple((part(p).get("name"), part(p).get("namespace")) for p in sequence(spec.get("parentRefs")))
        rules = tuple(
            (repr(part(r).get("matches")),
             tuple((part(b).get("name"), part(b).get("namespace"), part(b).get("port"), part(b).get("weight", 1))
                   for b in sequence(part(r).get("backendRefs"))))
            for r in sequence(spec.get("rules")))
        return parents, rules, tuple(sequence(spec.get("hostnames")))
    return shape(observed) != shape(desired)


def gateway_ready(gateway: RawObject | None) -> bool:
    """Accepted and Programmed (KubeRay's ``IsGatewayReady``)."""
    conditions = part(gateway.get("status") if gateway else None).get("conditions")
    return all((find_condition(conditions, kind) or {}).get("status") == "True" for kind in ("Accepted", "Programmed"))


def route_ready(service: RawObject, route: RawObject | None) -> bool:
    """Accepted with ResolvedRefs for the RayService's Gateway (KubeRay's ``IsHTTPRouteReady``)."""
    for parent in sequence(part(route.get("status") if route else None).get("parents")):
        ref = part(part(parent).get("parentRef"))
        if ref.get("name") != gateway_name(service) or ref.get("namespace", namespace_of(service)) != namespace_of(
            service
        ):
            continue
        conditions = part(parent).get("conditions")
        if all((find_condition(conditions, kind) or {}).get("status") == "True"
               for kind in ("Accepted", "ResolvedRefs")):
            return True
    return False


def route_weight(route: RawObject | None, cluster: str) -> int | None:
    """The weight of ``cluster``'s serve Service on the route's first rule (``None``: not there)."""
    rules = sequence(part(route.get("spec") if route else None).get("rules"))
    for ref in sequence(part(rules[0]).get("backendRefs")) if rules else ():
        if part(ref).get("name") == cluster_serve_service_name(cluster):
            weight = part(ref).get("weight", 1)
            return int(weight) if isinstance(weight, int) else 1
    return None
