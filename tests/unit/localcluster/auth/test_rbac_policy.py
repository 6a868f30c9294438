"""The RBAC authorizer over the store: bindings to users, groups and ServiceAccounts, scopes, aggregation, and
answers that follow every write at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.attributes import RequestAttributes
from e2e.localcluster.apiserver.auth.bootstrap import bootstrap_policy
from e2e.localcluster.apiserver.auth.rbac import RbacAuthorizer
from e2e.localcluster.apiserver.auth.requestinfo import request_attributes
from e2e.localcluster.apiserver.auth.user import ADMIN, UserInfo, service_account_user

REPO_ROOT = Path(__file__).resolve().parents[4]
RBAC = "rbac.authorization.k8s.io"
OPERATOR = service_account_user("ray-system", "ray-operator")
ALICE = UserInfo(name="alice", groups=("devs", "system:authenticated"))


def role(name: str, rules: list[dict[str, Any]], namespace: str = "", labels: dict[str, str] | None = None,
         aggregate: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "Role" if namespace else "ClusterRole",
                           "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    if aggregate:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
    return obj


def binding(name: str, role_kind: str, role_name: str, subjects: list[dict[str, str]],
            namespace: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
                           "metadata": {"name": name}, "subjects": subjects,
                           "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name}}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    return obj


class Cluster:
    def __init__(self) -> None:
        self.server = LocalApiServer()
        self.authz = RbacAuthorizer(self.server.store)

    def put(self, obj: dict[str, Any]) -> None:
        kind = obj["kind"]
        plural = {"Role": "roles", "ClusterRole": "clusterroles", "RoleBinding": "rolebindings",
                  "ClusterRoleBinding": "clusterrolebindings", "Namespace": "namespaces"}[kind]
        group = "" if kind == "Namespace" else RBAC
        rt = self.server.registry.lookup(group, "v1", plural)
        assert rt is not None
        ns = obj["metadata"].get("namespace", "")
        if ns and self.server.store.get(("", "namespaces"), "", ns) is None:
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.server.api.create(rt, ns, obj)

    def delete(self, plural: str, namespace: str, name: str) -> None:
        rt = self.server.registry.lookup(RBAC, "v1", plural)
        assert rt is not None
        self.server.api.delete(rt, namespace, name, {})

    def can(self, user: UserInfo, method: str, path: str, query: dict[str, str] | None = None) -> bool:
        return self.authz.authorize(request_attributes(user, method, path, query))[0]


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


POD_READER = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_system_masters_is_always_allowed_without_any_binding(cluster: Cluster) -> None:
    assert cluster.can(ADMIN, "DELETE", "/api/v1/namespaces/default/secrets/s")
    assert cluster.can(ADMIN, "GET", "/metrics")


def test_nothing_is_allowed_without_a_binding(cluster: Cluster) -> None:
    assert not cluster.can(ALICE, "GET", "/api/v1/namespaces/default/pods")
    assert cluster.authz.authorize(request_attributes(ALICE, "GET", "/api/v1/pods")) == (False, "")


def test_cluster_role_binding_to_a_service_account_applies_in_every_namespace(cluster: Cluster) -> None:
    cluster.put(role("ray-operator", [{"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["create"]}]))
    cluster.put(binding("ray-operator", "ClusterRole", "ray-operator",
                        [{"kind": "ServiceAccount", "name": "ray-operator", "namespace": "ray-system"}]))
    assert cluster.can(OPERATOR, "POST", "/apis/ray.io/v1/namespaces/team-a/rayclusters")
    assert cluster.can(OPERATOR, "POST", "/apis/ray.io/v1/namespaces/default/rayclusters")
    assert not cluster.can(OPERATOR, "GET", "/api/v1/namespaces/default/secrets")
    other = service_account_user("default", "ray-operator")
    assert not cluster.can(other, "POST", "/apis/ray.io/v1/namespaces/default/rayclusters")
    allowed, reason = cluster.authz.authorize(
        request_attributes(OPERATOR, "POST", "/apis/ray.io/v1/namespaces/x/rayclusters"))
    assert allowed
    assert reason == ('RBAC: allowed by ClusterRoleBinding "ray-operator" of ClusterRole "ray-operator" to '
                      'ServiceAccount "ray-operator/ray-system"')


def test_role_binding_applies_only_in_its_namespace(cluster: Cluster) -> None:
    cluster.put(role("pod-reader", POD_READER, namespace="team-a"))
    cluster.put(binding("alice-reads", "Role", "pod-reader", [{"kind": "User", "name": "alice"}], namespace="team-a"))
    assert cluster.can(ALICE, "GET", "/api/v1/namespaces/team-a/pods")
    assert not cluster.can(ALICE, "GET", "/api/v1/namespaces/team-b/pods")
    assert not cluster.can(ALICE, "GET", "/api/v1/pods")  # across all namespaces needs a cluster-wide grant


def test_role_binding_to_a_cluster_role_grants_it_in_that_namespace_only(cluster: Cluster) -> None:
    cluster.put(role("pod-reader", POD_READER))
    cluster.put(binding("devs-read", "ClusterRole", "pod-reader", [{"kind": "Group", "name": "devs"}],
                        namespace="team-a"))
    assert cluster.can(ALICE, "GET", "/api/v1/namespaces/team-a/pods/p")
    assert not cluster.can(ALICE, "GET", "/api/v1/namespaces/team-b/pods/p")


def test_service_account_subject_defaults_to_the_role_binding_namespace(cluster: Cluster) -> None:
    cluster.put(role("pod-reader", POD_READER, namespace="team-a"))
    cluster.put(binding("sa-reads", "Role", "pod-reader", [{"kind": "ServiceAccount", "name": "builder"}],
                        namespace="team-a"))
    assert cluster.can(service_account_user("team-a", "builder"), "GET", "/api/v1/namespaces/team-a/pods")
    assert not cluster.can(service_account_user("team-b", "builder"), "GET", "/api/v1/namespaces/team-a/pods")


def test_a_new_binding_applies_to_the_very_next_request_and_a_deleted_one_stops(cluster: Cluster) -> None:
    cluster.put(role("pod-reader", POD_READER))
    assert not cluster.can(ALICE, "GET", "/api/v1/namespaces/default/pods")
    cluster.put(binding("alice", "ClusterRole", "pod-reader", [{"kind": "User", "name": "alice"}]))
    assert cluster.can(ALICE, "GET", "/api/v1/namespaces/default/pods")
    cluster.delete("clusterrolebindings", "", "alice")
    assert not cluster.can(ALICE, "GET", "/api/v1/namespaces/default/pods")


def test_unrelated_writes_do_not_rebuild_the_index(cluster: Cluster) -> None:
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "busy"}})
    before = cluster.authz.rebuilds
    cluster.can(ALICE, "GET", "/api/v1/pods")
    assert cluster.authz.rebuilds == before


def test_binding_to_a_missing_role_denies_with_kube_reason(cluster: Cluster) -> None:
    cluster.put(binding("alice", "ClusterRole", "ghost", [{"kind": "User", "name": "alice"}]))
    allowed, reason = cluster.authz.authorize(request_attributes(ALICE, "GET", "/api/v1/pods"))
    assert (allowed, reason) == (False, 'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found')


def test_aggregated_cluster_role_holds_the_rules_of_the_roles_it_selects(cluster: Cluster) -> None:
    cluster.put(role("monitoring", [], aggregate={"example.com/aggregate-to-monitoring": "true"}))
    cluster.put(binding("alice", "ClusterRole", "monitoring", [{"kind": "User", "name": "alice"}]))
    assert not cluster.can(ALICE, "GET", "/api/v1/namespaces/default/pods")
    cluster.put(role("pods-for-monitoring", POD_READER, labels={"example.com/aggregate-to-monitoring": "true"}))
    assert cluster.can(ALICE, "GET", "/api/v1/namespaces/default/pods")


def test_bootstrap_view_edit_admin_aggregate_as_kube_does(cluster: Cluster) -> None:
    for _gr, obj in bootstrap_policy():
        cluster.put(obj)
    for name in ("view", "edit", "admin"):
        cluster.put(binding(f"alice-{name}", "ClusterRole", name, [{"kind": "User", "name": f"u-{name}"}],
                            namespace="team-a"))
    viewer, editor, admin = (UserInfo(name=f"u-{n}", groups=("system:authenticated",)) for n in ("view", "edit",
                                                                                                   "admin"))
    get_pods, create_pods = ("GET", "/api/v1/namespaces/team-a/pods"), ("POST", "/api/v1/namespaces/team-a/pods")
    secrets = ("GET", "/api/v1/namespaces/team-a/secrets")
    roles = ("POST", f"/apis/{RBAC}/v1/namespaces/team-a/roles")
    assert [cluster.can(viewer, *r) for r in (get_pods, create_pods, secrets, roles)] == [True, False, False, False]
    assert [cluster.can(editor, *r) for r in (get_pods, create_pods, secrets, roles)] == [True, True, True, False]
    assert [cluster.can(admin, *r) for r in (get_pods, create_pods, secrets, roles)] == [True, True, True, True]


def test_bootstrap_lets_every_authenticated_user_discover_and_ask(cluster: Cluster) -> None:
    for _gr, obj in bootstrap_policy():
        cluster.put(obj)
    anyone = UserInfo(name="bob", groups=("system:authenticated",))
    anonymous = UserInfo(name="system:anonymous", groups=("system:unauthenticated",))
    assert cluster.can(anyone, "GET", "/apis/ray.io/v1")
    assert cluster.can(anyone, "GET", "/openapi/v3")
    assert cluster.can(anyone, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert not cluster.can(anyone, "GET", "/api/v1/namespaces/default/pods")
    assert cluster.can(anonymous, "GET", "/healthz")
    assert not cluster.can(anonymous, "GET", "/apis")


def test_ray_operator_manifests_grant_what_the_operator_uses_and_secrets_only_by_name(cluster: Cluster) -> None:
    for name in ("cluster_role.yaml", "cluster_role_binding.yaml", "leader_election_role.yaml",
                 "leader_election_role_binding.yaml"):
        cluster.put(yaml.safe_load((REPO_ROOT / "manifests" / "rbac" / name).read_text()))
    checks = {
        ("POST", "/apis/ray.io/v1/namespaces/default/rayclusters"): True,
        ("PUT", "/apis/ray.io/v1/namespaces/default/rayservices/s/status"): True,
        ("PUT", "/apis/ray.io/v1/namespaces/default/rayservices/s"): False,
        ("GET", "/api/v1/namespaces/default/secrets/s"): True,  # a Ray auth token, read by name
        ("POST", "/api/v1/namespaces/default/secrets"): True,  # the generated one
        ("GET", "/api/v1/namespaces/default/secrets"): False,  # never listed
        ("PUT", "/api/v1/namespaces/default/secrets/s"): False,
        ("DELETE", "/api/v1/namespaces/default/secrets/s"): False,
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/ray-system/leases/rayservice-operator"): True,
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/rayservice-operator"): False,
    }
    assert {k: cluster.can(OPERATOR, *k) for k in checks} == checks


def test_rules_for_lists_cluster_then_namespace_rules(cluster: Cluster) -> None:
    cluster.put(role("pod-reader", POD_READER))
    cluster.put(role("cm", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}], namespace="a"))
    cluster.put(binding("c", "ClusterRole", "pod-reader", [{"kind": "Group", "name": "devs"}]))
    cluster.put(binding("n", "Role", "cm", [{"kind": "User", "name": "alice"}], namespace="a"))
    rules, errors = cluster.authz.rules_for(ALICE, "a")
    assert [r.resources for r in rules] == [("pods",), ("configmaps",)] and errors == []
    assert [r.resources for r in cluster.authz.rules_for(ALICE, "b")[0]] == [("pods",)]


def test_unknown_subject_kinds_and_role_kinds_grant_nothing(cluster: Cluster) -> None:
    cluster.put(role("pod-reader", POD_READER))
    # kube-apiserver's RBAC validation rejects a Robot subject, so such a binding can only be in storage already
    cluster.server.store.put((RBAC, "clusterrolebindings"),
                             binding("odd", "ClusterRole", "pod-reader", [{"kind": "Robot", "name": "alice"}]))
    attrs = RequestAttributes(user=ALICE, verb="get", resource_request=True, resource="pods", namespace="x")
    assert cluster.authz.authorize(attrs) == (False, "")
