"""The statuses the local Gateway controller writes, as the Gateway API spec defines them (pure).

Guarantees:
1. Every condition carries `observedGeneration` (the object's generation) and keeps the `lastTransitionTime`
   of the condition it replaces when its status did not change, so a status computed twice from the same
   inputs is equal, and the controller writes nothing when converged.
2. `compute_gatewayclass_status`: Accepted True (reason Accepted) and SupportedVersion True.
3. `compute_gateway_status`: `addresses: [{type: IPAddress, value: address}]` once there is an address;
   Accepted True (reason Accepted, or ListenersNotValid when only some listeners are valid), False with
   ListenersNotValid when none is, or UnsupportedAddress when `spec.addresses` asks for one; Programmed True
   when accepted with an address, else False (AddressNotAssigned, Invalid). One `listeners[]` entry per spec
   listener with `attachedRoutes`, `supportedKinds` and conditions Accepted, Programmed, ResolvedRefs and
   Conflicted (see listeners.py for the reasons).
4. `compute_route_status`: one `parents[]` entry per parentRef naming one of our Gateways (its `parentRef` as in
   the spec, our `controllerName`), with Accepted (see attach.py for the reasons) and ResolvedRefs (True, or
   False with the first unresolved backendRef's reason, see backends.py). Entries written by other
   controllers are kept, before ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .attach import GatewayKey, ParentResult
from .backends import Resolved
from .listeners import gateway_listeners

Obj = Mapping[str, Any]


def _conditions(obj: Obj, now: str, old: Sequence[Obj],
                specs: Iterable[tuple[str, bool, str, str]]) -> list[dict[str, Any]]:
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    previous = {str(c.get("type")): c for c in old}
    out = []
    for ctype, ok, reason, message in specs:
        status = "True" if ok else "False"
        before = previous.get(ctype)
        since = before.get("lastTransitionTime") if before and before.get("status") == status else now
        out.append({"type": ctype, "status": status, "reason": reason, "message": message,
                    "observedGeneration": generation, "lastTransitionTime": since or now})
    return out


def compute_gatewayclass_status(gatewayclass: Obj, now: str) -> dict[str, Any]:
    old = (gatewayclass.get("status") or {}).get("conditions") or []
    return {**(gatewayclass.get("status") or {}), "conditions": _conditions(gatewayclass, now, old, [
        ("Accepted", True, "Accepted", "served by the local cluster's gateway controller"),
        ("SupportedVersion", True, "SupportedVersion", "Gateway API v1.4.1 standard channel")])}


def compute_gateway_status(gateway: Obj, address: str | None, attached: Mapping[str, int], now: str) -> dict[str, Any]:
    """`attached`: listener name -> attached routes."""
    status = gateway.get("status") or {}
    listeners = gateway_listeners(gateway)
    valid = [ls for ls in listeners if ls.accepted]
    if (gateway.get("spec") or {}).get("addresses"):
        accepted = (False, "UnsupportedAddress", "the local cluster assigns Gateway addresses itself")
    elif not valid:
        accepted = (False, "ListenersNotValid", "no listener is valid: only HTTP listeners are supported")
    elif len(valid) < len(listeners):
        accepted = (True, "ListenersNotValid", "some listeners are not valid: only HTTP listeners are supported")
    else:
        accepted = (True, "Accepted", "accepted by the local cluster's gateway controller")
    if not accepted[0]:
        programmed = (False, "Invalid", "not accepted")
    elif address is None:
        programmed = (False, "AddressNotAssigned", "waiting for the data-plane Service's ClusterIP")
    else:
        programmed = (True, "Programmed", f"served by the local service proxy at {address}")
    old_listeners = {str(ls.get("name")): ls for ls in status.get("listeners") or []}
    listener_status = []
    for ls in listeners:
        ok = ls.accepted and accepted[0]
        prog = (True, "Programmed", "") if ok and address else (False, "Invalid" if not ok else "Pending", "")
        old = (old_listeners.get(ls.name) or {}).get("conditions") or []
        listener_status.append({
            "name": ls.name,
            "supportedKinds": [{"group": g, "kind": k} for g, k in ls.supported_kinds],
            "attachedRoutes": attached.get(ls.name, 0) if ok else 0,
            "conditions": _conditions(gateway, now, old, [
                ("Accepted", ls.accepted, ls.accepted_reason, _listener_message(ls.accepted_reason, ls.protocol)),
                ("Programmed", prog[0], prog[1], prog[2]),
                ("ResolvedRefs", not ls.invalid_kinds, "InvalidRouteKinds" if ls.invalid_kinds else "ResolvedRefs",
                 "only HTTPRoute is supported" if ls.invalid_kinds else ""),
                ("Conflicted", ls.conflicted_reason != "NoConflicts", ls.conflicted_reason, "")])})
    out: dict[str, Any] = {**status, "conditions": _conditions(gateway, now, status.get("conditions") or [], [
        ("Accepted", *accepted), ("Programmed", *programmed)]), "listeners": listener_status}
    if address is not None and accepted[0]:
        out["addresses"] = [{"type": "IPAddress", "value": address}]
    else:
        out.pop("addresses", None)
    return out


def _listener_message(reason: str, protocol: str) -> str:
    return {"Accepted": "", "UnsupportedProtocol": f"protocol {protocol} is not supported; only HTTP is"}.get(
        reason, "the listener conflicts with another one on its port")


def compute_route_status(route: Obj, results: Sequence[ParentResult], backends: Sequence[Resolved],
                         controller_for: Callable[[GatewayKey], str], ours: Iterable[str], now: str) -> dict[str, Any]:
    status = route.get("status") or {}
    mine = set(ours)
    old_parents = [p for p in status.get("parents") or [] if p.get("controllerName") in mine]
    others = [p for p in status.get("parents") or [] if p.get("controllerName") not in mine]
    unresolved = next((b for b in backends if b.address is None), None)
    resolved = (True, "ResolvedRefs", "") if unresolved is None else (False, unresolved.reason, unresolved.message)
    parents = []
    for result in results:
        ref = dict(result.ref)
        old = next((p.get("conditions") or [] for p in old_parents if p.get("parentRef") == ref), [])
        parents.append({"parentRef": ref, "controllerName": controller_for(result.gateway),
                        "conditions": _conditions(route, now, old, [
                            ("Accepted", result.accepted, result.reason, result.message),
                            ("ResolvedRefs", *resolved)])})
    return {**status, "parents": [*others, *parents]}


def route_backends(route: Obj, resolve: Callable[[str, Obj], Resolved]) -> list[Resolved]:
    """Every backendRef of every rule, resolved."""
    namespace = str((route.get("metadata") or {}).get("namespace"))
    return [resolve(namespace, ref) for rule in (route.get("spec") or {}).get("rules") or []
            for ref in rule.get("backendRefs") or []]
