"""The RBAC authorizer: Roles, ClusterRoles and their bindings, read from the store, as kube-apiserver uses them.

Guarantees:
1. A request is allowed when a rule of a role bound to its user allows it (`rules.rule_allows`): every
   ClusterRoleBinding counts, and for a namespaced request the RoleBindings of that namespace (to a Role of
   that namespace or to a ClusterRole, which then applies in that namespace only). Members of `system:masters`
   are always allowed, as kube's privileged-group authorizer does.
2. A binding applies to a user through a subject of kind User (the user's name), Group (one of its groups) or
   ServiceAccount (`system:serviceaccount:NS:NAME`, NS defaulting to the RoleBinding's namespace).
3. A denial's reason is "" or, when a binding points at a role that does not exist, kube's
   `RBAC: clusterrole.rbac.authorization.k8s.io "x" not found` (its listers' singular); an allowance names the
   binding, as `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to User "u"`.
4. A ClusterRole with an `aggregationRule` holds the rules of every other ClusterRole its selectors match, as
   kube's aggregation controller writes them into it (`controllers/clusterroleaggregation.py` does the same here;
   the authorizer does not wait for that write).
5. `RbacAuthorizer` answers from a snapshot indexed by subject; any write to the four RBAC resources makes the
   next answer use a fresh snapshot (store subscriptions checked synchronously, so a binding created by one
   request applies to the very next one). Cost per request: the user's grants are resolved once per (user,
   groups, namespace) and snapshot, then only the rules of its own bindings are matched.

Not guaranteed: the authorizer never writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .attributes import RequestAttributes
from .rules import PolicyRule, rule_allows, rules_from
from .user import MASTERS, UserInfo

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLES = (RBAC_GROUP, "roles")
CLUSTER_ROLES = (RBAC_GROUP, "clusterroles")
ROLE_BINDINGS = (RBAC_GROUP, "rolebindings")
CLUSTER_ROLE_BINDINGS = (RBAC_GROUP, "clusterrolebindings")
RBAC_RESOURCES = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""

    def describe(self, binding_namespace: str) -> str:
        if self.kind == "ServiceAccount":
            return f'{self.kind} "{self.name}/{self.namespace or binding_namespace}"'
        return f'{self.kind} "{self.name}"'


@dataclass(frozen=True)
class Binding:
    """A RoleBinding (namespace set) or a ClusterRoleBinding (namespace "")."""

    name: str
    namespace: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]

    @classmethod
    def from_obj(cls, obj: Obj) -> Binding:
        md = obj.get("metadata") or {}
        ref = obj.get("roleRef") or {}
        subjects = tuple(Subject(str(s.get("kind", "")), str(s.get("name", "")), str(s.get("namespace") or ""))
                         for s in obj.get("subjects") or [] if isinstance(s, Mapping))
        return cls(str(md.get("name", "")), str(md.get("namespace") or ""), str(ref.get("kind", "")),
                   str(ref.get("name", "")), subjects)

    def describe(self, subject: Subject) -> str:
        if self.namespace:
            return (f'RoleBinding "{self.name}/{self.namespace}" of {self.role_kind} "{self.role_name}" to '
                    f"{subject.describe(self.namespace)}")
        return (f'ClusterRoleBinding "{self.name}" of {self.role_kind} "{self.role_name}" to '
                f"{subject.describe('')}")


def subject_applies(user: UserInfo, subject: Subject, namespace: str) -> bool:
    if subject.kind == "User":
        return user.name == subject.name
    if subject.kind == "Group":
        return subject.name in user.groups
    if subject.kind == "ServiceAccount":
        sa_namespace = subject.namespace or namespace
        return bool(sa_namespace) and user.name == f"system:serviceaccount:{sa_namespace}:{subject.name}"
    return False


class RoleNotFound(LookupError):
    """A binding's roleRef names a role that does not exist (kube's lister NotFound, or a bad kind)."""


def aggregate_error(errors: list[str]) -> str:
    """Several errors as kube's utilerrors.Aggregate prints them."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


_MEMO_SIZE = 4096


@dataclass(frozen=True)
class _Grant:
    """A binding that applies to a user, the subject through which it applies, and the rules of its role."""

    binding: Binding
    subject: Subject
    rules: tuple[PolicyRule, ...]


class RbacPolicy:
    """An immutable snapshot of the RBAC objects, with bindings indexed by the subjects they name."""

    def __init__(self, roles: Sequence[Obj], cluster_roles: Sequence[Obj], role_bindings: Sequence[Obj],
                 cluster_role_bindings: Sequence[Obj]) -> None:
        self._roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        for r in roles:
            md = r.get("metadata") or {}
            self._roles[(md.get("namespace") or "", md.get("name", ""))] = rules_from(r)
        self._cluster_roles = cluster_role_rules(cluster_roles)
        self._crbs = [Binding.from_obj(b) for b in cluster_role_bindings]
        self._crb_index = _index(self._crbs)
        self._rbs: dict[str, list[Binding]] = {}
        for b in role_bindings:
            binding = Binding.from_obj(b)
            self._rbs.setdefault(binding.namespace, []).append(binding)
        self._rb_index = {ns: _index(bs) for ns, bs in self._rbs.items()}
        self._memo: dict[tuple[str, tuple[str, ...], str], tuple[tuple[_Grant, ...], tuple[str, ...]]] = {}

    # ---- lookups -------------------------------------------------------------------------------

    def role_reference_rules(self, role_kind: str, role_name: str, namespace: str, *,
                             lister: bool = False) -> tuple[PolicyRule, ...]:
        """The rules a roleRef grants; raises RoleNotFound with kube's message: the registry's (`roles.rbac...`)
        by default, the authorizer's informer listers' (`role.rbac...`, singular) with `lister`."""
        if role_kind == "Role":
            rules = self._roles.get((namespace, role_name))
            if rules is None:
                raise RoleNotFound(f'{"role" if lister else "roles"}.{RBAC_GROUP} "{role_name}" not found')
            return rules
        if role_kind == "ClusterRole":
            rules = self._cluster_roles.get(role_name)
            if rules is None:
                raise RoleNotFound(f'{"clusterrole" if lister else "clusterroles"}.{RBAC_GROUP} "{role_name}" '
                                   "not found")
            return rules
        raise RoleNotFound(f'unsupported role reference kind: "{role_kind}"')

    def _resolve(self, user: UserInfo, namespace: str) -> tuple[tuple[_Grant, ...], tuple[str, ...]]:
        """The user's grants in the namespace (ClusterRoleBindings first, then the namespace's RoleBindings) and
        the errors of bindings to missing roles; memoized per (user, groups, namespace) for this snapshot."""
        key = (user.name, user.groups, namespace)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        grants: list[_Grant] = []
        errors: list[str] = []
        scopes: list[tuple[list[Binding], dict[tuple[str, str], list[int]], str]] = [
            (self._crbs, self._crb_index, "")]
        if namespace and namespace in self._rbs:
            scopes.append((self._rbs[namespace], self._rb_index[namespace], namespace))
        for bindings, index, ns in scopes:
            for i in _candidates(index, user):
                binding = bindings[i]
                subject = next((s for s in binding.subjects if subject_applies(user, s, ns)), None)
                if subject is None:
                    continue
                try:
                    grants.append(_Grant(binding, subject,
                                         self.role_reference_rules(binding.role_kind, binding.role_name, ns,
                                                                   lister=True)))
                except RoleNotFound as err:
                    errors.append(str(err))
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        hit = self._memo[key] = (tuple(grants), tuple(errors))
        return hit

    def visit_rules_for(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, PolicyRule | None, str]]:
        """(source, rule, "") for every rule bound to the user in the namespace, then ("", None, error) for each
        binding whose role is missing."""
        grants, errors = self._resolve(user, namespace)
        for grant in grants:
            source = grant.binding.describe(grant.subject)
            for rule in grant.rules:
                yield source, rule, ""
        for error in errors:
            yield "", None, error

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        """Every rule that applies to the user in the namespace, and the resolution errors met on the way."""
        grants, errors = self._resolve(user, namespace)
        return [rule for grant in grants for rule in grant.rules], list(errors)

    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]:
        if MASTERS in attrs.user.groups:
            return True, ""
        grants, errors = self._resolve(attrs.user, attrs.namespace)
        for grant in grants:
            for rule in grant.rules:
                if rule_allows(attrs, rule):
                    return True, f"RBAC: allowed by {grant.binding.describe(grant.subject)}"
        return False, f"RBAC: {aggregate_error(list(errors))}" if errors else ""


def _subject_key(subject: Subject, binding_namespace: str) -> tuple[str, str] | None:
    if subject.kind == "User":
        return ("User", subject.name)
    if subject.kind == "Group":
        return ("Group", subject.name)
    if subject.kind == "ServiceAccount":
        ns = subject.namespace or binding_namespace
        return ("User", f"system:serviceaccount:{ns}:{subject.name}") if ns else None
    return None


def _index(bindings: list[Binding]) -> dict[tuple[str, str], list[int]]:
    index: dict[tuple[str, str], list[int]] = {}
    for i, b in enumerate(bindings):
        for s in b.subjects:
            key = _subject_key(s, b.namespace)
            if key is not None and (not index.get(key) or index[key][-1] != i):
                index.setdefault(key, []).append(i)
    return index


def _candidates(index: dict[tuple[str, str], list[int]], user: UserInfo) -> list[int]:
    """Positions of the bindings that may apply to the user, in the store's (name) order, as kube visits them."""
    found: set[int] = set(index.get(("User", user.name), ()))
    for g in user.groups:
        found.update(index.get(("Group", g), ()))
    return sorted(found)


def cluster_role_rules(cluster_roles: Sequence[Obj]) -> dict[str, tuple[PolicyRule, ...]]:
    """Each ClusterRole's effective rules: its own, or for an aggregated one what kube's aggregation controller
    writes: for each selector in order, the rules of the other ClusterRoles it matches (by name), without
    repeats."""
    ordered = sorted(cluster_roles, key=lambda c: str((c.get("metadata") or {}).get("name", "")))
    own = {(c.get("metadata") or {}).get("name", ""): rules_from(c) for c in ordered}
    out = dict(own)
    for c in ordered:
        selectors = (c.get("aggregationRule") or {}).get("clusterRoleSelectors")
        if not isinstance(selectors, list):
            continue
        name = (c.get("metadata") or {}).get("name", "")
        merged: list[PolicyRule] = []
        for selector in selectors:
            for other in ordered:
                other_name = (other.get("metadata") or {}).get("name", "")
                labels = (other.get("metadata") or {}).get("labels") or {}
                if other_name == name or not selector_matches(selector, labels):
                    continue
                merged.extend(r for r in own[other_name] if r not in merged)
        out[name] = tuple(merged)
    return out


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels, matchExpressions) against labels; an empty selector matches
    everything, as kube's LabelSelectorAsSelector makes it."""
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for e in exprs:
        key, op, values = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class _Queue(Protocol):
    def empty(self) -> bool: ...
    def get_nowait(self) -> Any: ...


class RbacStore(Protocol):
    """What the authorizer reads of the store."""

    def list(self, gr: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]: ...
    def subscribe(self, gr: tuple[str, str] | None, *, droppable: bool = False) -> Any: ...
    def unsubscribe(self, sub: Any) -> None: ...


class RbacAuthorizer:
    """`Authorizer` over the store's RBAC objects; see the module guarantees."""

    def __init__(self, store: RbacStore) -> None:
        self._store = store
        self._subs: list[Any] = [store.subscribe(gr) for gr in RBAC_RESOURCES]
        self._policy = self._build()
        self.rebuilds = 0

    def close(self) -> None:
        for sub in self._subs:
            self._store.unsubscribe(sub)
        self._subs = []

    def _build(self) -> RbacPolicy:
        s = self._store
        return RbacPolicy(s.list(ROLES), s.list(CLUSTER_ROLES), s.list(ROLE_BINDINGS), s.list(CLUSTER_ROLE_BINDINGS))

    @property
    def policy(self) -> RbacPolicy:
        """The current snapshot, rebuilt when an RBAC object changed since the last call."""
        changed = False
        for sub in self._subs:
            queue: _Queue = sub.queue
            while not queue.empty():
                queue.get_nowait()
                changed = True
        if changed:
            self._policy = self._build()
            self.rebuilds += 1
        return self._policy

    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]:
        if MASTERS in attrs.user.groups:
            return True, ""
        return self.policy.authorize(attrs)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        return self.policy.rules_for(user, namespace)

