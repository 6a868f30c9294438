"""RBAC escalation prevention: a user may only grant the permissions it holds, as kube-apiserver's RBAC storage.

Guarantees:
1. `covers(owner, servant)` is kube's policy comparator: every servant rule, broken down to one verb, group,
   resource and name (or one URL and verb), must be covered by a single owner rule (`*` covers all,
   `*/sub` covers `x/sub`, a URL ending in `*` covers its prefix); it returns the uncovered pieces.
2. Creating or updating a Role or ClusterRole is allowed when the user is in `system:masters`, has the verb
   `escalate` on the kind (at the object's namespace), or holds every rule the object grants; otherwise it is a
   403 `roles.rbac.authorization.k8s.io "x" is forbidden: user "u" (groups=["g" ...]) is attempting to grant RBAC
   permissions not currently held:` followed by the missing rules, one per line, in kube's compact form. A
   ClusterRole with an `aggregationRule` also needs cluster-admin's rules (kube's `must have cluster-admin
   privileges to use the aggregationRule`).
3. Creating or updating a RoleBinding or ClusterRoleBinding is allowed when the user is in `system:masters`, has
   `bind` on the referenced role (by name, at the binding's namespace), or holds every rule of that role; a
   binding to a missing role from such a user is a 400 naming it (`clusterroles.rbac.authorization.k8s.io "x"
   not found`). An update that only touches ownerReferences or finalizers is never checked (the garbage
   collector must be able to finish its work).
4. Writes made with no request user (the server's own controllers and bootstrap) are never checked.

The seam: the HTTP layer sets `REQUEST_USER` (a ContextVar, so each aiohttp request task sees only its own user)
before it calls into the synchronous REST layer; `install_escalation_checks` wraps the per-kind create/update
hooks of the four RBAC kinds, keeping any hook already installed, which still runs first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

from e2e.localcluster.apiserver.errors import ApiError

from .attributes import Authorizer, RequestAttributes
from .forbidden import new_forbidden
from .rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    RBAC_GROUP,
    ROLE_BINDINGS,
    ROLES,
    RbacAuthorizer,
    RoleNotFound,
    aggregate_error,
)
from .rules import ALL, PolicyRule, rules_from
from .user import MASTERS, UserInfo

FULL_AUTHORITY = (PolicyRule(verbs=(ALL,), api_groups=(ALL,), resources=(ALL,)),
                  PolicyRule(verbs=(ALL,), non_resource_urls=(ALL,)))
REQUEST_USER: ContextVar[UserInfo | None] = ContextVar("localcluster_request_user", default=None)

Obj = dict[str, Any]


# ---- the policy comparator (pure) -----------------------------------------------------------------

def breakdown_rule(rule: PolicyRule) -> list[PolicyRule]:
    out: list[PolicyRule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out.extend(PolicyRule(verbs=(verb,), api_groups=(group,), resources=(resource,),
                                          resource_names=(n,)) for n in rule.resource_names)
                else:
                    out.append(PolicyRule(verbs=(verb,), api_groups=(group,), resources=(resource,)))
    for url in rule.non_resource_urls:
        out.extend(PolicyRule(verbs=(verb,), non_resource_urls=(url,)) for verb in rule.verbs)
    return out


def _resources_cover(owner: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if ALL in owner or all(w in owner for w in wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: PolicyRule, sub: PolicyRule) -> bool:
    verbs = ALL in owner.verbs or all(v in owner.verbs for v in sub.verbs)
    groups = ALL in owner.api_groups or all(g in owner.api_groups for g in sub.api_groups)
    resources = _resources_cover(owner.resources, sub.resources)
    urls = all(any(_url_covers(o, p) for o in owner.non_resource_urls) for p in sub.non_resource_urls)
    if not sub.resource_names:
        names = not owner.resource_names
    else:
        names = not owner.resource_names or all(n in owner.resource_names for n in sub.resource_names)
    return verbs and groups and resources and names and urls


def covers(owner: list[PolicyRule] | tuple[PolicyRule, ...],
           servant: list[PolicyRule] | tuple[PolicyRule, ...]) -> tuple[bool, list[PolicyRule]]:
    uncovered = [sub for rule in servant for sub in breakdown_rule(rule)
                 if not any(_rule_covers(o, sub) for o in owner)]
    return not uncovered, uncovered


def compact_rules(rules: list[PolicyRule]) -> list[PolicyRule]:
    """Rules that differ only in their verbs merge into one (kube's CompactRules)."""
    out: list[PolicyRule] = []
    simple: dict[tuple[str, str, str], PolicyRule] = {}
    for r in rules:
        if len(r.resource_names) > 1 or r.non_resource_urls or len(r.api_groups) != 1 or len(r.resources) != 1:
            out.append(r)
            continue
        key = (r.api_groups[0], r.resources[0], r.resource_names[0] if r.resource_names else "\0")
        prev = simple.get(key)
        simple[key] = r if prev is None else PolicyRule(verbs=prev.verbs + r.verbs, api_groups=prev.api_groups,
                                                        resources=prev.resources,
                                                        resource_names=prev.resource_names)
    return out + list(simple.values())


def _go_quoted_list(items: tuple[str, ...]) -> str:
    return "[" + " ".join(f'"{i}"' for i in items) + "]"


def compact_string(rule: PolicyRule) -> str:
    parts = []
    for label, values in (("APIGroups", rule.api_groups), ("Resources", rule.resources),
                          ("NonResourceURLs", rule.non_resource_urls), ("ResourceNames", rule.resource_names),
                          ("Verbs", rule.verbs)):
        if values:
            parts.append(f"{label}:{_go_quoted_list(values)}")
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: UserInfo, missing: list[PolicyRule], resolution_errors: list[str]) -> str:
    lines = sorted({compact_string(r) for r in compact_rules(missing)})
    msg = (f'user "{user.name}" (groups={_go_quoted_list(user.groups)}) is attempting to grant RBAC permissions '
           "not currently held:\n" + "\n".join(lines))
    if resolution_errors:
        msg += f"; resolution errors: [{aggregate_error(resolution_errors)}]"
    return msg


# ---- the checks ------------------------------------------------------------------------------------

def _only_gc_fields_changed(old: Obj, new: Obj) -> bool:
    def strip(o: Obj) -> Obj:
        md = {k: v for k, v in (o.get("metadata") or {}).items()
              if k not in ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")}
        return {**o, "metadata": md}
    return strip(old) == strip(new)


class EscalationGuard:
    """Runs the checks of the module docstring against the server's current authorizer."""

    def __init__(self, authorizer: Callable[[], Authorizer]) -> None:
        self._authorizer = authorizer

    def _allowed(self, user: UserInfo, verb: str, group: str, resource: str, namespace: str, name: str) -> bool:
        attrs = RequestAttributes(user=user, verb=verb, resource_request=True, api_group=group, api_version="*",
                                  resource=resource, namespace=namespace, name=name)
        return self._authorizer().authorize(attrs)[0]

    def _confirm_no_escalation(self, user: UserInfo, namespace: str, plural: str, name: str,
                               rules: tuple[PolicyRule, ...]) -> None:
        authorizer = self._authorizer()
        if not isinstance(authorizer, RbacAuthorizer):
            return
        owner, errors = authorizer.rules_for(user, namespace)
        ok, missing = covers(owner, rules)
        if not ok:
            raise new_forbidden(RBAC_GROUP, plural, name, escalation_message(user, missing, errors))

    def check_role(self, user: UserInfo | None, plural: str, namespace: str, name: str, obj: Mapping[str, Any],
                   *, url_name: str = "") -> None:
        if user is None or MASTERS in user.groups:
            return
        if self._allowed(user, "escalate", RBAC_GROUP, plural, namespace, url_name):
            return
        if plural == "clusterroles" and obj.get("aggregationRule") is not None:
            try:
                self._confirm_no_escalation(user, namespace, plural, name, FULL_AUTHORITY)
            except ApiError:
                raise new_forbidden(RBAC_GROUP, plural, name,
                                    "must have cluster-admin privileges to use the aggregationRule") from None
        self._confirm_no_escalation(user, namespace, plural, name, rules_from(obj))

    def check_binding(self, user: UserInfo | None, plural: str, namespace: str, name: str,
                      obj: Mapping[str, Any]) -> None:
        if user is None or MASTERS in user.groups:
            return
        ref = obj.get("roleRef") or {}
        kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind in ("Role", "ClusterRole"):
            resource = "roles" if kind == "Role" else "clusterroles"
            if self._allowed(user, "bind", str(ref.get("apiGroup", "")), resource, namespace, role_name):
                return
        authorizer = self._authorizer()
        if not isinstance(authorizer, RbacAuthorizer):
            return
        try:
            rules = authorizer.policy.role_reference_rules(kind, role_name, namespace)
        except RoleNotFound as err:
            raise ApiError(400, "BadRequest", str(err)) from None
        self._confirm_no_escalation(user, namespace, plural, name, rules)


class _Kind(Protocol):
    @property
    def plural(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...


class _Hooks(Protocol):
    """The per-kind hook tables of the REST layer (`KindHooks`)."""

    @property
    def prepare_create(self) -> dict[tuple[str, str], Callable[..., Obj]]: ...
    @property
    def prepare_update(self) -> dict[tuple[str, str], Callable[..., Obj]]: ...


def _where(rt: _Kind, obj: Obj) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return (str(md.get("namespace") or "") if rt.namespaced else ""), str(md.get("name") or "")


def install_escalation_checks(hooks: _Hooks, guard: EscalationGuard) -> None:
    """Wrap the create and update hooks of Roles, ClusterRoles and their bindings with the guard's checks."""
    for gr, is_role in ((ROLES, True), (CLUSTER_ROLES, True), (ROLE_BINDINGS, False),
                        (CLUSTER_ROLE_BINDINGS, False)):
        hooks.prepare_create[gr] = _create_hook(guard, is_role, hooks.prepare_create.get(gr))
        hooks.prepare_update[gr] = _update_hook(guard, is_role, hooks.prepare_update.get(gr))


def _create_hook(guard: EscalationGuard, is_role: bool,
                 prev: Callable[..., Obj] | None) -> Callable[[Any, Any, Obj], Obj]:
    def hook(api: Any, rt: Any, obj: Obj) -> Obj:
        if prev is not None:
            obj = prev(api, rt, obj)
        namespace, name = _where(rt, obj)
        if is_role:
            guard.check_role(REQUEST_USER.get(), rt.plural, namespace, name, obj)
        else:
            guard.check_binding(REQUEST_USER.get(), rt.plural, namespace, name, obj)
        return obj
    return hook


def _update_hook(guard: EscalationGuard, is_role: bool,
                 prev: Callable[..., Obj] | None) -> Callable[[Any, Any, Obj, Obj], Obj]:
    def hook(api: Any, rt: Any, old: Obj, new: Obj) -> Obj:
        if prev is not None:
            new = prev(api, rt, old, new)
        if _only_gc_fields_changed(old, new):
            return new
        namespace, name = _where(rt, new)
        if is_role:
            guard.check_role(REQUEST_USER.get(), rt.plural, namespace, name, new, url_name=name)
        else:
            guard.check_binding(REQUEST_USER.get(), rt.plural, namespace, name, new)
        return new
    return hook
