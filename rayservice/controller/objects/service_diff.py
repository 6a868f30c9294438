"""The merge patch that brings an existing Service to the fields its owner (a RayCluster or a RayService) sets,
or ``None`` when none is needed: one comparison for both reconcilers.

The fields owned are the ones the desired Service sets. Everything else (``clusterIP``, allocated
``nodePort``s, fields the API server defaults, other controllers' labels) belongs to the API server or to
someone else.

Guarantees:
1. ``service_patch`` is ``None`` exactly when the observed Service already has every owned field as desired:
   labels and annotations as "every desired key has the desired value" (other keys are kept); the selector
   exactly; ports by ``name``, ``port``, ``targetPort`` (unset: ``port``, the API server's default) and
   ``protocol`` (unset: ``TCP``), in any order, ignoring fields the server adds; ``type`` (unset:
   ``ClusterIP``); every other desired spec field as "the observed value contains the desired one";
   ownerReferences as "a reference with the desired controller's uid and ``controller`` flag is present".
   ``clusterIP``/``clusterIPs`` are set on create only (they are immutable).
2. The patch holds only the owned fields that differ, so applying it never touches ``clusterIP``. A selector
   patch sets the keys to remove to ``null`` (a merge patch merges maps); a ports patch keeps the
   ``nodePort`` of a port of the same name while the type still has node ports, so no port is reallocated.
3. An ownerReferences patch is the desired references followed by the other, non-controller ones (a stale
   controller reference, say of an earlier incarnation, is replaced).
4. ``controlled_by_other`` is true when the Service's controller reference names an object of another kind
   or name than ``owner``: a Service left by an earlier incarnation of the same kind and name is adopted.

Why these defaults: the API server fills ``targetPort`` and ``protocol`` in every port it stores, so a
comparison that does not default them would patch a converged Service on every pass; an ownerReference
is matched by uid and flag because the server may add or reorder fields of the reference.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.controller.objects.access import mapping, metadata, name_of, sequence, spec_of
from rayservice.raw import RawObject

_IMMUTABLE: Final = frozenset({"clusterIP", "clusterIPs"})
_NODE_PORT_TYPES: Final = frozenset({"NodePort", "LoadBalancer"})
_HANDLED: Final = frozenset({"selector", "type", "ports"}) | _IMMUTABLE


def service_patch(observed: RawObject, desired: RawObject) -> dict[str, Any] | None:
    """Guarantees 1-3."""
    meta = _metadata_patch(observed, desired)
    have, want = spec_of(observed), spec_of(desired)
    spec: dict[str, Any] = {}
    if dict(mapping(have.get("selector"))) != dict(mapping(want.get("selector"))):
        spec["selector"] = {key: None for key in mapping(have.get("selector"))} | dict(mapping(want.get("selector")))
    wanted_type = str(want.get("type") or "ClusterIP")
    type_changed = str(have.get("type") or "ClusterIP") != wanted_type
    if type_changed:
        spec["type"] = wanted_type
    have_ports, want_ports = sequence(have.get("ports")), sequence(want.get("ports"))
    if type_changed or _port_keys(have_ports) != _port_keys(want_ports):
        spec["ports"] = _ports(have_ports, want_ports, wanted_type)
    for key, value in want.items():
        if key not in _HANDLED and not _contains(have.get(key), value):
            spec[key] = value
    patch: dict[str, Any] = {}
    if meta:
        patch["metadata"] = meta
    if spec:
        patch["spec"] = spec
    return patch or None


def controlled_by_other(service: RawObject, owner: RawObject, *, kind: str | None = None) -> bool:
    """Guarantee 4; ``kind`` is the owner's (default: its ``kind`` field, which listed objects may lack)."""
    kind = kind if kind is not None else owner.get("kind")
    for ref in sequence(metadata(service).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref.get("kind") != kind or ref.get("name") != name_of(owner)
    return False


def _metadata_patch(observed: RawObject, desired: RawObject) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for field in ("labels", "annotations"):
        have, want = mapping(metadata(observed).get(field)), mapping(metadata(desired).get(field))
        missing = {key: value for key, value in want.items() if have.get(key) != value}
        if missing:
            meta[field] = missing
    owners = _owner_references(sequence(metadata(observed).get("ownerReferences")), desired)
    if owners is not None:
        meta["ownerReferences"] = owners
    return meta


def _owner_references(have: Sequence[Any], desired: RawObject) -> list[Any] | None:
    wanted = [dict(ref) for ref in sequence(metadata(desired).get("ownerReferences")) if isinstance(ref, Mapping)]
    if all(any(_same_owner(ref, mapping(got)) for got in have) for ref in wanted):
        return None
    others = [dict(ref) for ref in have if isinstance(ref, Mapping) and ref.get("controller") is not True]
    return wanted + [ref for ref in others if ref not in wanted]


def _same_owner(want: Mapping[str, Any], got: Mapping[str, Any]) -> bool:
    return got.get("uid") == want.get("uid") and got.get("controller") == want.get("controller")


def _port_keys(ports: Sequence[Any]) -> list[tuple[str, ...]]:
    keys = []
    for port in ports:
        port = mapping(port)
        target = port.get("targetPort", port.get("port"))
        keys.append((str(port.get("name")), str(port.get("port")), str(target), str(port.get("protocol") or "TCP")))
    return sorted(keys)


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


def _contains(have: Any, want: Any) -> bool:
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(_contains(have.get(key), value) for key, value in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(_contains, have, want))
    return bool(have == want)
