"""The merge patch that brings an existing Service back to the fields a RayCluster owns, or None if none is needed.

The fields owned are the ones ``desired_head_service``/``desired_dashboard_service`` set: ``spec.selector``,
``spec.ports``, ``spec.type``, ``metadata.labels``, ``metadata.annotations`` and ``metadata.ownerReferences``.
Everything else (``clusterIP``, allocated ``nodePort``s, other controllers' labels) belongs to the API server or
to someone else.

Guarantees:
1. ``service_patch`` is ``None`` exactly when the observed Service already has every owned field as desired:
   labels and annotations are compared as "every desired key has the desired value" (other keys are kept);
   ports by name, ``port``, ``targetPort`` and ``protocol``, in any order (fields the server adds are
   ignored); the selector exactly; the ownerReferences as "the desired controller reference is present".
2. The patch holds only the owned fields that differ, so applying it never touches ``clusterIP``. A selector
   patch sets the keys to remove to ``null`` (a merge patch merges maps); a ports patch keeps the
   ``nodePort`` of a port of the same name while the type still has node ports, so no port is reallocated.
3. An ownerReferences patch keeps the other, non-controller references.
4. ``controlled_by_other`` is true when the Service's controller is not a RayCluster of this name (a Service
   of a previous RayCluster with the same name is ours to adopt; one of a RayService is not).

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.controller.raycluster._objects import RawObject, mapping, metadata, name_of, sequence, spec_of

_PORT_KEYS: Final = ("name", "port", "targetPort", "protocol")
_NODE_PORT_TYPES: Final = frozenset({"NodePort", "LoadBalancer"})


def service_patch(observed: RawObject, desired: RawObject) -> dict[str, Any] | None:
    """A merge patch for the owned fields of ``observed`` that differ from ``desired`` (guarantees 1-3)."""
    meta: dict[str, Any] = {}
    for field in ("labels", "annotations"):
        missing = _missing_entries(mapping(metadata(observed).get(field)), mapping(metadata(desired).get(field)))
        if missing:
            meta[field] = missing
    owners = _owner_references(sequence(metadata(observed).get("ownerReferences")), desired)
    if owners is not None:
        meta["ownerReferences"] = owners
    spec: dict[str, Any] = {}
    have, want = spec_of(observed), spec_of(desired)
    if dict(mapping(have.get("selector"))) != dict(mapping(want.get("selector"))):
        spec["selector"] = {key: None for key in mapping(have.get("selector"))} | dict(mapping(want.get("selector")))
    wanted_type = str(want.get("type") or "ClusterIP")
    type_changed = str(have.get("type") or "ClusterIP") != wanted_type
    if type_changed:
        spec["type"] = wanted_type
    if type_changed or _port_keys(sequence(have.get("ports"))) != _port_keys(sequence(want.get("ports"))):
        spec["ports"] = _ports(sequence(have.get("ports")), sequence(want.get("ports")), wanted_type)
    patch: dict[str, Any] = {}
    if meta:
        patch["metadata"] = meta
    if spec:
        patch["spec"] = spec
    return patch or None


def controlled_by_other(service: RawObject, cluster: RawObject) -> bool:
    """Guarantee 4."""
    for owner in sequence(metadata(service).get("ownerReferences")):
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            return owner.get("kind") != "RayCluster" or owner.get("name") != name_of(cluster)
    return False


def _missing_entries(have: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in want.items() if have.get(key) != value}


def _owner_references(have: Sequence[Any], desired: RawObject) -> list[Any] | None:
    wanted = [ref for ref in sequence(metadata(desired).get("ownerReferences")) if isinstance(ref, Mapping)]
    if all(ref in have for ref in wanted):
        return None
    others = [dict(ref) for ref in have if isinstance(ref, Mapping) and ref.get("controller") is not True]
    return [dict(ref) for ref in wanted] + [ref for ref in others if ref not in wanted]


def _port_keys(ports: Sequence[Any]) -> list[tuple[Any, ...]]:
    return sorted((tuple(mapping(port).get(key) for key in _PORT_KEYS) for port in ports), key=repr)


def _ports(have: Sequence[Any], want: Sequence[Any], service_type: str) -> list[dict[str, Any]]:
    node_ports = {mapping(port).get("name"): mapping(port).get("nodePort") for port in have}
    ports = []
    for port in want:
        port = dict(mapping(port))
        node_port = node_ports.get(port.get("name"))
        if service_type in _NODE_PORT_TYPES and node_port and "nodePort" not in port:
            port["nodePort"] = node_port
        ports.append(port)
    return ports
