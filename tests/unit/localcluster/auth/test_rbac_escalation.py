"""Escalation prevention: a user may only grant what it holds, unless it has `escalate` or `bind`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.escalation import (
    REQUEST_USER,
    compact_string,
    covers,
    escalation_message,
)
from e2e.localcluster.apiserver.auth.rules import PolicyRule
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from e2e.localcluster.apiserver.auth.user import ADMIN, UserInfo
from e2e.localcluster.apiserver.errors import ApiError

RBAC = "rbac.authorization.k8s.io"
ALICE = UserInfo(name="alice", groups=("system:authenticated",))


def r(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> PolicyRule:
    return PolicyRule.from_dict({"apiGroups": groups, "resources": resources, "verbs": verbs,
                                 "resourceNames": names or []})


class TestCovers:
    @pytest.mark.parametrize(("owner", "servant", "ok"), [
        ([r([""], ["pods"], ["get", "list"])], [r([""], ["pods"], ["get"])], True),
        ([r([""], ["pods"], ["get"])], [r([""], ["pods"], ["get", "list"])], False),
        ([r(["*"], ["*"], ["*"])], [r(["ray.io"], ["rayclusters", "rayclusters/status"], ["update"])], True),
        ([r([""], ["*/status"], ["get"])], [r([""], ["pods/status"], ["get"])], True),
        ([r([""], ["*/status"], ["get"])], [r([""], ["pods"], ["get"])], False),
        ([r([""], ["configmaps"], ["get"], ["a"])], [r([""], ["configmaps"], ["get"])], False),
        ([r([""], ["configmaps"], ["get"])], [r([""], ["configmaps"], ["get"], ["a", "b"])], True),
        ([PolicyRule(verbs=("get",), non_resource_urls=("/apis/*",))],
         [PolicyRule(verbs=("get",), non_resource_urls=("/apis/ray.io",))], True),
        ([PolicyRule(verbs=("get",), non_resource_urls=("/apis",))],
         [PolicyRule(verbs=("get",), non_resource_urls=("/apis/ray.io",))], False),
    ])
    def test_owner_rules_cover_servant_rules_as_kube_compares_them(self, owner: list[PolicyRule],
                                                                   servant: list[PolicyRule], ok: bool) -> None:
        assert covers(owner, servant)[0] is ok

    def test_uncovered_pieces_are_reported_compactly(self) -> None:
        ok, missing = covers([r([""], ["pods"], ["get"])], [r([""], ["pods", "secrets"], ["get", "list"])])
        assert not ok
        message = escalation_message(ALICE, missing, [])
        assert message == (
            'user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
            'held:\n{APIGroups:[""], Resources:["pods"], Verbs:["list"]}\n'
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}')

    def test_compact_string_names_urls_and_resource_names(self) -> None:
        assert compact_string(PolicyRule(verbs=("get",), non_resource_urls=("/x",))) == \
            '{NonResourceURLs:["/x"], Verbs:["get"]}'
        assert compact_string(r([""], ["configmaps"], ["get"], ["a"])) == \
            '{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}'


def _rt(server: LocalApiServer, plural: str) -> Any:
    group = "" if plural in ("namespaces",) else RBAC
    return server.registry.lookup(group, "v1", plural)


@pytest.fixture
def server() -> Iterator[LocalApiServer]:
    s = LocalApiServer()
    enable_rbac(s)
    s.api.create(_rt(s, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    yield s


def as_user(user: UserInfo) -> Any:
    class _Ctx:
        def __enter__(self) -> None:
            self.token = REQUEST_USER.set(user)

        def __exit__(self, *exc: object) -> None:
            REQUEST_USER.reset(self.token)
    return _Ctx()


def grant(server: LocalApiServer, name: str, rules: list[dict[str, Any]], user: str = "alice") -> None:
    """As the admin: a ClusterRole with `rules`, bound to `user` in namespace team."""
    server.api.create(_rt(server, "clusterroles"), "", {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                                                        "metadata": {"name": name}, "rules": rules})
    server.api.create(_rt(server, "rolebindings"), "team", {
        "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": name, "namespace": "team"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "User", "name": user}]})


def new_role(rules: list[dict[str, Any]], name: str = "r") -> dict[str, Any]:
    return {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": name, "namespace": "team"},
            "rules": rules}


MANAGE_ROLES = {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": ["create", "update", "get"]}
READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


def test_creating_a_role_with_rules_not_held_is_refused_with_kube_message(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES, READ_PODS])
    with as_user(ALICE), pytest.raises(ApiError) as err:
        server.api.create(_rt(server, "roles"), "team", new_role([READ_PODS, SECRETS]))
    assert err.value.code == 403 and err.value.reason == "Forbidden"
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=["system:authenticated"]) is '
        'attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], '
        'Verbs:["get"]}')
    assert err.value.details == {"name": "r", "group": RBAC, "kind": "roles"}
    assert server.store.get((RBAC, "roles"), "team", "r") is None


def test_creating_a_role_with_held_rules_is_allowed(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES, READ_PODS])
    with as_user(ALICE):
        server.api.create(_rt(server, "roles"), "team", new_role([READ_PODS]))
    assert server.store.get((RBAC, "roles"), "team", "r") is not None


def test_escalate_verb_allows_granting_more_than_held(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES, {"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["escalate"]}])
    with as_user(ALICE):
        server.api.create(_rt(server, "roles"), "team", new_role([SECRETS]))
    assert server.store.get((RBAC, "roles"), "team", "r") is not None


def test_updating_a_role_to_add_rules_not_held_is_refused(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES, READ_PODS])
    with as_user(ALICE):
        created = server.api.create(_rt(server, "roles"), "team", new_role([READ_PODS])).obj
        with pytest.raises(ApiError) as err:
            server.api.update(_rt(server, "roles"), "team", "r", {**created, "rules": [READ_PODS, SECRETS]})
    assert err.value.code == 403 and "not currently held" in err.value.message


def test_gc_only_updates_of_a_role_are_never_checked(server: LocalApiServer) -> None:
    server.api.create(_rt(server, "roles"), "team", new_role([SECRETS]))  # by the admin (no request user)
    old = server.store.get((RBAC, "roles"), "team", "r")
    assert old is not None
    grant(server, "manager", [MANAGE_ROLES])
    with as_user(ALICE):
        server.api.update(_rt(server, "roles"), "team", "r",
                          {**old, "metadata": {**old["metadata"], "finalizers": ["example.com/x"]}})


def test_binding_to_a_role_not_held_is_refused_and_bind_allows_it(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES])
    grant(server, "secret-reader", [SECRETS], user="someone-else")
    rb = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "team"},
          "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "secret-reader"},
          "subjects": [{"kind": "User", "name": "mallory"}]}
    with as_user(ALICE), pytest.raises(ApiError) as err:
        server.api.create(_rt(server, "rolebindings"), "team", rb)
    assert err.value.code == 403
    assert err.value.message.startswith('rolebindings.rbac.authorization.k8s.io "b" is forbidden: user "alice"')
    grant(server, "binder", [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["bind"],
                              "resourceNames": ["secret-reader"]}])
    with as_user(ALICE):
        server.api.create(_rt(server, "rolebindings"), "team", rb)


def test_binding_to_a_role_whose_rules_are_held_is_allowed(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES, SECRETS])
    grant(server, "secret-reader", [SECRETS], user="someone-else")
    rb = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "team"},
          "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "secret-reader"},
          "subjects": [{"kind": "User", "name": "bob"}]}
    with as_user(ALICE):
        server.api.create(_rt(server, "rolebindings"), "team", rb)


def test_binding_to_a_missing_role_is_a_bad_request(server: LocalApiServer) -> None:
    grant(server, "manager", [MANAGE_ROLES])
    rb = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "team"},
          "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "ghost"}, "subjects": [{"kind": "User", "name": "x"}]}
    with as_user(ALICE), pytest.raises(ApiError) as err:
        server.api.create(_rt(server, "rolebindings"), "team", rb)
    assert (err.value.code, err.value.message) == (400, 'roles.rbac.authorization.k8s.io "ghost" not found')


def test_cluster_role_needs_cluster_wide_rules_namespace_grants_do_not_count(server: LocalApiServer) -> None:
    grant(server, "manager", [READ_PODS, {"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["create"]}])
    cr = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "c"}, "rules": [READ_PODS]}
    with as_user(ALICE), pytest.raises(ApiError) as err:
        server.api.create(_rt(server, "clusterroles"), "", cr)
    assert err.value.message.startswith('clusterroles.rbac.authorization.k8s.io "c" is forbidden')


def test_admins_and_requests_without_a_user_are_never_checked(server: LocalApiServer) -> None:
    with as_user(ADMIN):
        server.api.create(_rt(server, "roles"), "team", new_role([SECRETS], "by-admin"))
    server.api.create(_rt(server, "roles"), "team", new_role([SECRETS], "by-server"))
    assert server.store.get((RBAC, "roles"), "team", "by-admin") is not None
    assert server.store.get((RBAC, "roles"), "team", "by-server") is not None


def test_aggregation_rule_needs_cluster_admin_rules(server: LocalApiServer) -> None:
    create_cluster_roles = {"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["create"]}
    server.api.create(_rt(server, "clusterrolebindings"), "", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "alice-crs"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "all-resources"},
        "subjects": [{"kind": "User", "name": "alice"}]})
    server.api.create(_rt(server, "clusterroles"), "", {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                                                        "metadata": {"name": "all-resources"},
                                                        "rules": [create_cluster_roles, PODS_RULE]})
    aggregated = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "agg"},
                  "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}, "rules": []}
    with as_user(ALICE), pytest.raises(ApiError) as err:
        server.api.create(_rt(server, "clusterroles"), "", aggregated)
    assert err.value.message == ('clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have '
                                 "cluster-admin privileges to use the aggregationRule")
    with as_user(ALICE):  # without the aggregationRule, holding the granted rules is enough
        server.api.create(_rt(server, "clusterroles"), "", {**aggregated, "aggregationRule": None,
                                                            "rules": [PODS_RULE]})


PODS_RULE = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
