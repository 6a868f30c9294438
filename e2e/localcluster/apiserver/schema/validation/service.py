"""Service spec validation as kube's ValidateService does it (after defaulting: protocol TCP, targetPort = port).

Guarantees (422 Invalid, kube's field paths and wording):
1. `spec.type` is ClusterIP, NodePort, LoadBalancer or ExternalName; `spec.sessionAffinity` ClientIP or None.
2. `spec.ports` is required unless the Service is headless (`clusterIP: None`) or ExternalName.
3. Per port: a name is required when there are several (`spec.ports[1].name: Required value`), is a DNS-1123
   label and unique; `port` is 1..65535; `protocol` is TCP, UDP or SCTP; `targetPort` is a port number or an
   IANA-style port name.
4. No two ports share protocol and port: `spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP",...}`
   as Go renders kube's internal ServicePort key.
Pure and synchronous.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.objectmeta import (
    field_duplicate,
    field_invalid,
    field_not_supported,
    field_required,
    is_dns1123_label,
)
from e2e.localcluster.apiserver.schema.validation.ports import port_name_errors, port_num_errors

__all__ = ["validate"]

_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_AFFINITIES = ["ClientIP", "None"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def validate(svc: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    spec = svc.get("spec")
    if not isinstance(spec, Mapping):
        return []
    causes: list[Cause] = []
    kind = spec.get("type") or "ClusterIP"
    headless = spec.get("clusterIP") == "None"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    if not ports and not headless and kind != "ExternalName":
        causes.append(field_required("spec.ports"))
    if kind not in _TYPES:
        causes.append(field_not_supported("spec.type", kind, _TYPES))
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in _AFFINITIES:
        causes.append(field_not_supported("spec.sessionAffinity", affinity, _AFFINITIES))
    names: set[str] = set()
    for i, port in enumerate(ports):
        causes += _port(port, f"spec.ports[{i}]", len(ports) > 1, names)
    seen: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        key = (str(port.get("protocol") or ""), int(port.get("port") or 0))
        if key in seen:
            causes.append(Cause(f"spec.ports[{i}]", "FieldValueDuplicate", "Duplicate value: " + json.dumps(
                {"Name": "", "Protocol": key[0], "AppProtocol": None, "Port": key[1], "TargetPort": 0,
                 "NodePort": 0}, separators=(",", ":"))))
        seen.add(key)
    return causes


def _port(port: Mapping[str, Any], path: str, require_name: bool, names: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    name = str(port.get("name") or "")
    if require_name and not name:
        causes.append(field_required(f"{path}.name"))
    elif name:
        causes += [field_invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            causes.append(field_duplicate(f"{path}.name", name))
        names.add(name)
    number = int(port.get("port") or 0)
    causes += [field_invalid(f"{path}.port", number, m) for m in port_num_errors(number)]
    protocol = str(port.get("protocol") or "")
    if not protocol:
        causes.append(field_required(f"{path}.protocol"))
    elif protocol not in _PROTOCOLS:
        causes.append(field_not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, str):
        causes += [field_invalid(f"{path}.targetPort", target, m) for m in port_name_errors(target)]
    elif isinstance(target, int):
        causes += [field_invalid(f"{path}.targetPort", target, m) for m in port_num_errors(target)]
    return causes
