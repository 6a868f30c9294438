"""EndpointSlice (discovery.k8s.io/v1) as kube's pkg/apis/discovery/validation checks it.

Guarantees (422 Invalid):
1. `addressType` is required and one of FQDN, IPv4, IPv6 (`addressType: Unsupported value: "IPv5": supported
   values: "FQDN", "IPv4", "IPv6"`).
2. Every endpoint has 1..100 addresses (`endpoints[0].addresses: Required value: must contain at least 1
   address`); with addressType IPv4 each is an IPv4 address (`must be a valid IPv4 address`).
3. Ports (after v1 defaulting: name "", protocol TCP): a name is a DNS-1123 label and unique (two unnamed ports
   are duplicates), a protocol is TCP, UDP or SCTP.
Pure and synchronous.
"""

from __future__ import annotations

import ipaddress
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

__all__ = ["validate"]

_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def validate(eps: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    causes: list[Cause] = []
    address_type = eps.get("addressType")
    if not address_type:
        causes.append(field_required("addressType"))
    elif address_type not in _ADDRESS_TYPES:
        causes.append(field_not_supported("addressType", address_type, _ADDRESS_TYPES))
    for i, endpoint in enumerate(eps.get("endpoints") or []):
        if not isinstance(endpoint, Mapping):
            continue
        path = f"endpoints[{i}].addresses"
        addresses = endpoint.get("addresses") or []
        if not addresses:
            causes.append(field_required(path, "must contain at least 1 address"))
        elif len(addresses) > 100:
            causes.append(Cause(path, "FieldValueTooMany",
                                f"Too many: {len(addresses)}: must have at most 100 items"))
        if address_type == "IPv4":
            causes += [field_invalid(f"{path}[{j}]", a, "must be a valid IPv4 address")
                       for j, a in enumerate(addresses) if not _is_ipv4(str(a))]
    names: set[str] = set()
    for i, port in enumerate(eps.get("ports") or []):
        if not isinstance(port, Mapping):
            continue
        path = f"ports[{i}]"
        name = str(port.get("name") or "")
        if name:
            causes += [field_invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            causes.append(field_duplicate(f"{path}.name", name))
        names.add(name)
        protocol = port.get("protocol") or "TCP"
        if protocol not in _PROTOCOLS:
            causes.append(field_not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    return causes
