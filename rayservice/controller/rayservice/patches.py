"""The merge patches that bring an existing RayCluster or Service to what its RayService wants, or None.

Guarantees:
1. ``scale_patch`` is ``None`` exactly when every worker group of the cluster already has the desired
   ``replicas``, ``minReplicas``, ``maxReplicas`` and ``scaleStrategy.workersToDelete`` (unset fields read as
   KubeRay's defaults: 0, 0, 2147483647, none). Otherwise it replaces ``spec.workerGroupSpecs`` by the
   cluster's own groups with the desired scaling values, so nothing but scaling ever changes in place. With
   ``enableInTreeAutoscaling`` the autoscaler owns ``replicas``: the cluster's value is kept.
2. The caller applies ``scale_patch`` only to a cluster whose config hash equals the desired one: the groups
   then differ in scaling alone, and are matched by ``groupName``.
3. ``service_patch`` is ``None`` exactly when the Service already has every field the RayService sets: labels
   and annotations as "every desired key has the desired value"; the selector exactly; ports by ``name``,
   ``port``, ``targetPort`` (default: ``port``) and ``protocol`` (default ``TCP``), in any order; ``type``
   (default ``ClusterIP``); every other template field as "the observed value contains the desired one";
   the RayService's controller ownerReference present. ``clusterIP``/``clusterIPs`` are set on create only
   (they are immutable).
4. A Service patch holds only the fields that differ: a selector patch sets removed keys to ``null``; a ports
   patch keeps allocated ``nodePort``s of ports of the same name while the type has node ports.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from rayservice.controller.objects import RawObject, mapping, metadata, sequence, spec_of, whole_number

_INT32_MAX: Final = 2**31 - 1
_IMMUTABLE: Final = frozenset({"clusterIP", "clusterIPs"})
_NODE_PORT_TYPES: Final = frozenset({"NodePort", "LoadBalancer"})


def scale_patch(cluster: RawObject, desired_spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """Guarantees 1-2."""
    autoscaled = spec_of(cluster).get("enableInTreeAutoscaling") is True
    wanted = {str(group.get("groupName")): group for group in _groups(desired_spec)}
    changed = False
    groups: list[dict[str, Any]] = []
    for group in _groups(spec_of(cluster)):
        patched = dict(group)
        want = wanted.get(str(group.get("groupName")))
        if want is not None:
            for key, default in (("replicas", 0), ("minReplicas", 0), ("maxReplicas", _INT32_MAX)):
                if key == "replicas" and autoscaled:
                    continue
                value = whole_number(want.get(key), default)
                if whole_number(group.get(key), default) != value:
                    patched[key] = value
                    changed = True
            to_delete = [str(pod) for pod in sequence(mapping(want.get("scaleStrategy")).get("workersToDelete"))]
            if [str(pod) for pod in sequence(mapping(group.get("scaleStrategy")).get("workersToDelete"))] != to_delete:
                patched["scaleStrategy"] = {**mapping(group.get("scaleStrategy")), "workersToDelete": to_delete}
                changed = True
        groups.append(patched)
    return {"spec": {"workerGroupSpecs": groups}} if changed else None


def service_patch(observed: RawObject, desired: RawObject) -> dict[str, Any] | None:
    """Guarantees 3-4."""
    meta: dict[str, Any] = {}
    for field in ("labels", "annotations"):
        have, want = mapping(metadata(observed).get(field)), mapping(metadata(desired).get(field))
        missing = {key: value for key, value in want.items() if have.get(key) != value}
        if missing:
            meta[field] = missing
    owners = _owner_references(sequence(metadata(observed).get("ownerReferences")), desired)
    if owners is not None:
        meta["ownerReferences"] = owners
    have_spec, want_spec = spec_of(observed), spec_of(desired)
    spec: dict[str, Any] = {}
    if dict(mapping(have_spec.get("selector"))) != dict(mapping(want_spec.get("selector"))):
        selector = {key: None for key in mapping(have_spec.get("selector"))}
        spec["selector"] = selector | dict(mapping(want_spec.get("selector")))
    wanted_type = str(want_spec.get("type") or "ClusterIP")
    type_changed = str(have_spec.get("type") or "ClusterIP") != wanted_type
    if type_changed:
        spec["type"] = wanted_type
    have_ports, want_ports = sequence(have_spec.get("ports")), sequence(want_spec.get("ports"))
    if type_changed or _port_keys(have_ports) != _port_keys(want_ports):
        spec["ports"] = _ports(have_ports, want_ports, wanted_type)
    for key, value in want_spec.items():
        if key in ("selector", "type", "ports") or key in _IMMUTABLE:
            continue
        if not _contains(have_spec.get(key), value):
            spec[key] = value
    patch: dict[str, Any] = {}
    if meta:
        patch["metadata"] = meta
    if spec:
        patch["spec"] = spec
    return patch or None


def _groups(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [mapping(group) for group in sequence(spec.get("workerGroupSpecs")) if isinstance(group, Mapping)]


def _owner_references(have: Sequence[Any], desired: RawObject) -> list[Any] | None:
    wanted = [dict(ref) for ref in sequence(metadata(desired).get("ownerReferences")) if isinstance(ref, Mapping)]
    if all(any(_same_owner(ref, mapping(got)) for got in have) for ref in wanted):
        return None
    others = [dict(ref) for ref in have if isinstance(ref, Mapping) and ref.get("controller") is not True]
    return wanted + others


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
