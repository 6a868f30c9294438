"""Lease (coordination.k8s.io/v1) as kube-apiserver decodes and validates it.

Guarantees:
1. Decoding (400 BadRequest, `Lease in version "v1" cannot be handled as a Lease: ...`): `acquireTime` and
   `renewTime` are MicroTimes (exactly six fraction digits and a zone, see gotime); `leaseDurationSeconds` and
   `leaseTransitions` are int32 and `holderIdentity`, `strategy`, `preferredHolder` strings, else Go's
   `json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32`.
2. Validation (422 Invalid, kube's ValidateLeaseSpec): `leaseDurationSeconds` > 0, `leaseTransitions` >= 0,
   `strategy` one of kube's strategies or a qualified name, `preferredHolder` only with a `strategy`.
Pure and synchronous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.objectmeta import (
    field_forbidden,
    field_invalid,
    field_not_supported,
    is_qualified_name,
)
from e2e.localcluster.apiserver.schema.validation.gotime import micro_time_error
from e2e.localcluster.apiserver.schema.validation.gotypes import check_int32, check_string

__all__ = ["decode_problem", "validate"]

_STRATEGIES = ["OldestEmulationVersion"]


def decode_problem(lease: Mapping[str, Any]) -> str | None:
    spec = lease.get("spec")
    if not isinstance(spec, Mapping):
        return None
    for key in ("holderIdentity", "strategy", "preferredHolder"):
        if problem := check_string(spec.get(key), "LeaseSpec", f"spec.{key}"):
            return problem
    for key in ("leaseDurationSeconds", "leaseTransitions"):
        if problem := check_int32(spec.get(key), "LeaseSpec", f"spec.{key}"):
            return problem
    for key in ("acquireTime", "renewTime"):
        if problem := micro_time_error(spec.get(key)):
            return problem
    return None


def validate(lease: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    spec = lease.get("spec")
    if not isinstance(spec, Mapping):
        return []
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        causes.append(field_invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        causes.append(field_invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None:
        if "/" not in strategy:
            if strategy not in _STRATEGIES:
                causes.append(field_not_supported("spec.strategy.strategy", strategy, _STRATEGIES))
        else:
            causes += [field_invalid("spec.strategy.strategy", strategy, m) for m in is_qualified_name(strategy)]
    if spec.get("preferredHolder") and not strategy:
        causes.append(field_forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return causes
