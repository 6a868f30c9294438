"""RBAC policy rules and how one rule matches a request, as kube-apiserver's RBAC authorizer evaluates them.

Guarantees:
1. A resource request matches a rule when the verb, the API group, the resource and the resource name all
   match: `*` matches any verb, group or resource; a resource request with a subresource matches
   `resource/subresource` or `*/subresource`, never plain `resource`; a rule with `resourceNames` matches
   only requests that name one of them (so never a list or a create without a name).
2. A non-resource request matches a rule when the verb matches and one of its `nonResourceURLs` is `*`, the
   exact path, or a prefix ending in `*` (`/apis/*` matches `/apis/ray.io/v1`).
3. `PolicyRule.from_dict` keeps the rule as written; a rule that is not an object, or whose fields are not
   lists of strings, raises `ValueError` naming the field.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .attributes import RequestAttributes

ALL = "*"
_FIELDS = (("verbs", "verbs"), ("api_groups", "apiGroups"), ("resources", "resources"),
           ("resource_names", "resourceNames"), ("non_resource_urls", "nonResourceURLs"))


@dataclass(frozen=True)
class PolicyRule:
    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Any) -> PolicyRule:
        if not isinstance(raw, Mapping):
            raise ValueError("a policy rule must be an object")
        values: dict[str, tuple[str, ...]] = {}
        for attr, key in _FIELDS:
            items = raw.get(key) or []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError(f"{key} must be a list of strings")
            values[attr] = tuple(items)
        return cls(**values)

    def to_dict(self) -> dict[str, list[str]]:
        """The rule as the API writes it: empty fields left out."""
        return {key: list(getattr(self, attr)) for attr, key in _FIELDS if getattr(self, attr)}


def rules_from(obj: Mapping[str, Any]) -> tuple[PolicyRule, ...]:
    """The rules of a Role or ClusterRole object; malformed rules are skipped (validation rejects them on write)."""
    out = []
    for raw in obj.get("rules") or []:
        try:
            out.append(PolicyRule.from_dict(raw))
        except ValueError:
            continue
    return tuple(out)


def rule_allows(attrs: RequestAttributes, rule: PolicyRule) -> bool:
    if not (ALL in rule.verbs or attrs.verb in rule.verbs):
        return False
    if not attrs.resource_request:
        return any(url_matches(url, attrs.path) for url in rule.non_resource_urls)
    if not (ALL in rule.api_groups or attrs.api_group in rule.api_groups):
        return False
    if not resource_matches(rule.resources, attrs.resource, attrs.subresource):
        return False
    return not rule.resource_names or attrs.name in rule.resource_names


def rules_allow(attrs: RequestAttributes, rules: tuple[PolicyRule, ...] | list[PolicyRule]) -> bool:
    return any(rule_allows(attrs, r) for r in rules)


def resource_matches(rule_resources: tuple[str, ...], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule_resources:
        if candidate == ALL or candidate == combined:
            return True
        if subresource and candidate == "*/" + subresource:
            return True
    return False


def url_matches(rule_url: str, path: str) -> bool:
    if rule_url == ALL or rule_url == path:
        return True
    return rule_url.endswith("*") and path.startswith(rule_url.rstrip("*"))
