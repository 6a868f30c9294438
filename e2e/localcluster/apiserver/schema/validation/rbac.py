"""RBAC objects as kube's pkg/apis/rbac/validation checks them (after v1 defaulting of apiGroups).

Guarantees (422 Invalid, kube's paths and wording):
1. Every rule has verbs (`rules[0].verbs: Required value: verbs must contain at least one value`); a resource
   rule has apiGroups and resources; a non-resource rule names no resources and, in a Role, cannot exist
   (`rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`).
2. A binding's roleRef is `rbac.authorization.k8s.io` (the default when omitted), of kind Role or ClusterRole
   (ClusterRole only for a ClusterRoleBinding), with a name; it never changes (`roleRef: Invalid value:
   {...}: cannot change roleRef`).
3. Subjects are ServiceAccount (apiGroup "", a namespace required in a ClusterRoleBinding), User or Group
   (apiGroup `rbac.authorization.k8s.io`, the default), each with a name.
4. A ClusterRole's aggregationRule has at least one clusterRoleSelector.
Pure and synchronous.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.objectmeta import (
    field_invalid,
    field_not_supported,
    field_required,
    is_dns1123_subdomain,
    is_path_segment_name,
)

__all__ = ["validate_binding", "validate_cluster_binding", "validate_cluster_role", "validate_role"]

GROUP = "rbac.authorization.k8s.io"


def _rules(obj: Mapping[str, Any], namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        if not isinstance(rule, Mapping):
            continue
        path = f"rules[{i}]"
        if not rule.get("verbs"):
            causes.append(field_required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                causes.append(field_invalid(f"{path}.nonResourceURLs", urls,
                                            "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                causes.append(field_invalid(f"{path}.nonResourceURLs", urls,
                                            "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            causes.append(field_required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            causes.append(field_required(f"{path}.resources", "resource rules must supply at least one resource"))
    return causes


def validate_role(role: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    return _rules(role, namespaced=True)


def validate_cluster_role(role: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    causes = _rules(role, namespaced=False)
    aggregation = role.get("aggregationRule")
    if isinstance(aggregation, Mapping) and not aggregation.get("clusterRoleSelectors"):
        causes.append(field_required("aggregationRule.clusterRoleSelectors",
                                     "at least one clusterRoleSelector required if aggregationRule is non-nil"))
    return causes


def _role_ref(binding: Mapping[str, Any]) -> dict[str, str]:
    ref = binding.get("roleRef") if isinstance(binding.get("roleRef"), Mapping) else {}
    assert isinstance(ref, Mapping)
    return {"APIGroup": str(ref.get("apiGroup") or GROUP), "Kind": str(ref.get("kind") or ""),
            "Name": str(ref.get("name") or "")}


def _binding(binding: Mapping[str, Any], old: Mapping[str, Any] | None, kinds: list[str],
             namespaced: bool) -> list[Cause]:
    ref = _role_ref(binding)
    causes: list[Cause] = []
    if ref["APIGroup"] != GROUP:
        causes.append(field_not_supported("roleRef.apiGroup", ref["APIGroup"], [GROUP]))
    if ref["Kind"] not in kinds:
        causes.append(field_not_supported("roleRef.kind", ref["Kind"], kinds))
    if not ref["Name"]:
        causes.append(field_required("roleRef.name"))
    else:
        causes += [field_invalid("roleRef.name", ref["Name"], m) for m in is_path_segment_name(ref["Name"])]
    for i, subject in enumerate(binding.get("subjects") or []):
        if isinstance(subject, Mapping):
            causes += _subject(subject, f"subjects[{i}]", namespaced)
    if old is not None and _role_ref(old) != ref:
        causes.append(Cause("roleRef", "FieldValueInvalid", "Invalid value: "
                            + json.dumps(ref, separators=(",", ":")) + ": cannot change roleRef"))
    return causes


def _subject(subject: Mapping[str, Any], path: str, namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    name = str(subject.get("name") or "")
    kind = subject.get("kind")
    if not name:
        causes.append(field_required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            causes += [field_invalid(f"{path}.name", name, m) for m in is_dns1123_subdomain(name)]
        if subject.get("apiGroup"):
            causes.append(field_not_supported(f"{path}.apiGroup", subject["apiGroup"], [""]))
        if not namespaced and not subject.get("namespace"):
            causes.append(field_required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        group = subject.get("apiGroup") or GROUP
        if group != GROUP:
            causes.append(field_not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        causes.append(field_not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"]))
    return causes


def validate_binding(binding: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    return _binding(binding, old, ["Role", "ClusterRole"], namespaced=True)


def validate_cluster_binding(binding: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    return _binding(binding, old, ["ClusterRole"], namespaced=False)
