"""Access reviews of authorization.k8s.io/v1 (what `kubectl auth can-i` sends), answered as kube-apiserver does.

Guarantees:
1. SelfSubjectAccessReview asks about the requesting user; SubjectAccessReview about `spec.user`, `spec.groups`,
   `spec.uid` and `spec.extra`; LocalSubjectAccessReview the same within its own namespace. The answer is the
   review as sent, plus `status.allowed` and the authorizer's `status.reason`.
2. SelfSubjectRulesReview lists the requesting user's rules in `spec.namespace`: every rule of its bindings
   (`resourceRules`, `nonResourceRules`), with `*` rules for `system:masters`, and `incomplete: false`.
3. A body that is not an object is a 400. A review that names both or neither of `resourceAttributes` and
   `nonResourceAttributes`, a SubjectAccessReview without a user or group, or a LocalSubjectAccessReview whose
   namespace differs from its own, is a 422 Invalid with kube's field path and wording. Nothing is ever stored.

Pure apart from the authorizer call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError, Cause, invalid

from .attributes import Authorizer, RequestAttributes
from .rbac import RbacAuthorizer
from .rules import PolicyRule
from .user import MASTERS, UserInfo

GROUP = "authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
KINDS = {
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "subjectaccessreviews": "SubjectAccessReview",
    "localsubjectaccessreviews": "LocalSubjectAccessReview",
    "selfsubjectrulesreviews": "SelfSubjectRulesReview",
}
REVIEW_RESOURCES = frozenset((GROUP, plural) for plural in KINDS)


def review(plural: str, body: Any, requester: UserInfo, authorizer: Authorizer, namespace: str = "") -> dict[str, Any]:
    """The answered review for a POST to `plural` (one of KINDS), made by `requester`."""
    kind = KINDS[plural]
    if not isinstance(body, Mapping):
        raise ApiError(400, "BadRequest", f"{kind} in version \"v1\" cannot be handled as a {kind}: "
                       "json: cannot unmarshal into Go value of type map[string]interface {}")
    spec = body.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise invalid(GROUP, kind, "", [Cause("spec", "FieldValueInvalid", "Invalid value: must be an object")])
    out: dict[str, Any] = {"kind": kind, "apiVersion": API_VERSION,
                           "metadata": {"creationTimestamp": None, **dict(body.get("metadata") or {})},
                           "spec": dict(spec)}
    if plural == "selfsubjectrulesreviews":
        out["status"] = rules_review(requester, authorizer, str(spec.get("namespace") or ""))
        return out
    user = requester
    if plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
        user = _spec_user(kind, spec)
    _check_attributes(kind, spec, plural, namespace)
    attrs = attributes_of(spec, user)
    allowed, reason = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    out["status"] = status
    return out


def _spec_user(kind: str, spec: Mapping[str, Any]) -> UserInfo:
    name = str(spec.get("user") or "")
    groups = tuple(str(g) for g in spec.get("groups") or [])
    if not name and not groups:
        raise invalid(GROUP, kind, "", [Cause("spec.user", "FieldValueInvalid",
                                              'Invalid value: "": at least one of user or group must be specified')])
    extra = tuple((str(k), tuple(str(x) for x in v)) for k, v in (spec.get("extra") or {}).items())
    return UserInfo(name=name, uid=str(spec.get("uid") or ""), groups=groups, extra=extra)


def _go_value(value: Any) -> str:
    return "null" if value is None else json.dumps(value, separators=(",", ":"))


def _check_attributes(kind: str, spec: Mapping[str, Any], plural: str, namespace: str) -> None:
    res, non_res = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if res is not None and non_res is not None:
        raise invalid(GROUP, kind, "", [Cause("spec.nonResourceAttributes", "FieldValueInvalid",
                                              f"Invalid value: {_go_value(non_res)}: cannot be specified in "
                                              "combination with resourceAttributes")])
    if res is None and non_res is None:
        raise invalid(GROUP, kind, "", [Cause("spec.resourceAttributes", "FieldValueInvalid",
                                              'Invalid value: "null": exactly one of nonResourceAttributes or '
                                              "resourceAttributes must be specified")])
    if plural == "localsubjectaccessreviews":
        if non_res is not None:
            raise invalid(GROUP, kind, "", [Cause("spec.nonResourceAttributes", "FieldValueInvalid",
                                                  f"Invalid value: {_go_value(non_res)}: disallowed on this kind "
                                                  "of request")])
        ns = str((res or {}).get("namespace") or "")
        if ns != namespace:
            raise invalid(GROUP, kind, "", [Cause("spec.resourceAttributes.namespace", "FieldValueInvalid",
                                                  f'Invalid value: "{ns}": must match metadata.namespace')])


def attributes_of(spec: Mapping[str, Any], user: UserInfo) -> RequestAttributes:
    res = spec.get("resourceAttributes")
    if isinstance(res, Mapping):
        return RequestAttributes(user=user, verb=str(res.get("verb") or ""), resource_request=True,
                                 api_group=str(res.get("group") or ""), api_version=str(res.get("version") or ""),
                                 resource=str(res.get("resource") or ""),
                                 subresource=str(res.get("subresource") or ""),
                                 namespace=str(res.get("namespace") or ""), name=str(res.get("name") or ""))
    non_res = spec.get("nonResourceAttributes") or {}
    return RequestAttributes(user=user, verb=str(non_res.get("verb") or ""), resource_request=False,
                             path=str(non_res.get("path") or ""))


_MASTERS_RULES = [PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",)),
                  PolicyRule(verbs=("*",), non_resource_urls=("*",))]


def rules_review(user: UserInfo, authorizer: Authorizer, namespace: str) -> dict[str, Any]:
    rules: list[PolicyRule] = list(_MASTERS_RULES) if MASTERS in user.groups else []
    errors: list[str] = []
    if isinstance(authorizer, RbacAuthorizer):
        found, errors = authorizer.rules_for(user, namespace)
        rules += found
    elif MASTERS not in user.groups:
        rules = list(_MASTERS_RULES)  # an allow-all server: everything is allowed to everyone
    resource_rules = [{k: v for k, v in (("verbs", list(r.verbs)), ("apiGroups", list(r.api_groups)),
                                          ("resources", list(r.resources)),
                                          ("resourceNames", list(r.resource_names))) if v or k == "verbs"}
                      for r in rules if r.resources]
    non_resource_rules = [{"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)}
                          for r in rules if r.non_resource_urls]
    status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                              "incomplete": False}
    if errors:
        status["evaluationError"] = "; ".join(errors)
    return status
