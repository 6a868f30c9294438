"""Which checks each served built-in kind gets: decoding problems (400) and field validation (422).

Guarantees:
1. `check_decodable(rt, obj)` raises kube's 400 `<Kind> in version "<v>" cannot be handled as a <Kind>: <Go
   decoding error>` for a value Go's typed decoding rejects (Lease and Event times, Lease integer and string
   fields, Secret base64 data); other kinds and custom resources pass. `decode_problem` is that error alone
   (a patch quotes it in kube's 422 `patch: Invalid value: "<patched object>": <error>`).
2. `validate_kind(rt, obj, old)` lists the field problems of kube's per-kind validation for Lease, Service,
   Event, ConfigMap, Secret, Pod (on create only: its update rules live in builtins), EndpointSlice and the four
   RBAC kinds; `old` is the stored object on update, None on create. Namespace names follow objectmeta's
   DNS-1123 label rule; Deployments and the other workloads are checked by schema/workloads.
Pure and synchronous.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.schema.validation import endpointslice, event, keys, lease, pod, rbac, service

__all__ = ["check_decodable", "decode_problem", "validate_kind"]

Obj = Mapping[str, Any]
_Validate = Callable[[Obj, Obj | None], list[Cause]]

_DECODE: Mapping[tuple[str, str], Callable[[Obj], str | None]] = {
    ("coordination.k8s.io", "leases"): lease.decode_problem,
    ("", "events"): event.decode_problem,
    ("", "secrets"): keys.decode_secret_problem,
}


def _on_create(validate: _Validate) -> _Validate:
    return lambda obj, old: validate(obj, None) if old is None else []


_VALIDATE: Mapping[tuple[str, str], _Validate] = {
    ("coordination.k8s.io", "leases"): lease.validate,
    ("", "services"): service.validate,
    ("", "events"): event.validate,
    ("", "configmaps"): keys.validate_configmap,
    ("", "secrets"): keys.validate_secret,
    ("", "pods"): _on_create(pod.validate),
    ("discovery.k8s.io", "endpointslices"): endpointslice.validate,
    ("rbac.authorization.k8s.io", "roles"): rbac.validate_role,
    ("rbac.authorization.k8s.io", "clusterroles"): rbac.validate_cluster_role,
    ("rbac.authorization.k8s.io", "rolebindings"): rbac.validate_binding,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): rbac.validate_cluster_binding,
}


def decode_problem(rt: ResourceType, obj: Obj) -> str | None:
    """Go's decoding error for `obj` as a `rt`, or None when it decodes."""
    decode = None if rt.is_custom else _DECODE.get(rt.group_resource)
    return decode(obj) if decode is not None else None


def check_decodable(rt: ResourceType, obj: Obj) -> None:
    if problem := decode_problem(rt, obj):
        raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {problem}')


def validate_kind(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    validate = None if rt.is_custom else _VALIDATE.get(rt.group_resource)
    return validate(obj, old) if validate is not None else []
