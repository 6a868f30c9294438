"""Pod basics kube's ValidatePodCreate checks (after defaulting), beyond the update rules in builtins.

Guarantees (422 Invalid, kube's paths and wording):
1. `spec.containers` is required; every container (and init container) has a DNS-1123 label `name`, unique
   across both lists (`spec.containers[1].name: Duplicate value: "app"`), and an `image`.
2. Container ports: `containerPort` 1..65535, `hostPort` 0 or 1..65535, `protocol` TCP, UDP or SCTP, a `name`
   that is an IANA-style port name.
3. `spec.restartPolicy` is Always, OnFailure or Never; `spec.dnsPolicy` ClusterFirstWithHostNet, ClusterFirst,
   Default or None.
Pure and synchronous.
"""

from __future__ import annotations

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

_RESTART = ["Always", "OnFailure", "Never"]
_DNS = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def validate(pod: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        return [field_required("spec.containers")]
    causes: list[Cause] = []
    names: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            if isinstance(c, Mapping):
                causes += _container(c, f"spec.{key}[{i}]", names)
    if not spec.get("containers"):
        causes.append(field_required("spec.containers"))
    restart = spec.get("restartPolicy")
    if restart is not None and restart not in _RESTART:
        causes.append(field_not_supported("spec.restartPolicy", restart, _RESTART))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in _DNS:
        causes.append(field_not_supported("spec.dnsPolicy", dns, _DNS))
    return causes


def _container(c: Mapping[str, Any], path: str, names: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    name = str(c.get("name") or "")
    if not name:
        causes.append(field_required(f"{path}.name"))
    else:
        causes += [field_invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            causes.append(field_duplicate(f"{path}.name", name))
        names.add(name)
    if not c.get("image"):
        causes.append(field_required(f"{path}.image"))
    for i, port in enumerate(c.get("ports") or []):
        if isinstance(port, Mapping):
            causes += _container_port(port, f"{path}.ports[{i}]")
    return causes


def _container_port(port: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = port.get("name")
    if name:
        causes += [field_invalid(f"{path}.name", name, m) for m in port_name_errors(str(name))]
    number = int(port.get("containerPort") or 0)
    if number == 0:
        causes.append(field_required(f"{path}.containerPort"))
    else:
        causes += [field_invalid(f"{path}.containerPort", number, m) for m in port_num_errors(number)]
    host = int(port.get("hostPort") or 0)
    if host:
        causes += [field_invalid(f"{path}.hostPort", host, m) for m in port_num_errors(host)]
    protocol = str(port.get("protocol") or "")
    if not protocol:
        causes.append(field_required(f"{path}.protocol"))
    elif protocol not in _PROTOCOLS:
        causes.append(field_not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    return causes
