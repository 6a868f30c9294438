"""Access reviews and impersonation: what `kubectl auth can-i` and `--as` get back."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.attributes import AllowAll
from e2e.localcluster.apiserver.auth.impersonation import impersonate
from e2e.localcluster.apiserver.auth.rbac import RbacAuthorizer
from e2e.localcluster.apiserver.auth.reviews import review
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from e2e.localcluster.apiserver.auth.user import ADMIN, UserInfo, service_account_user
from e2e.localcluster.apiserver.errors import ApiError

RBAC = "rbac.authorization.k8s.io"
ALICE = UserInfo(name="alice", groups=("system:authenticated",))
OPERATOR = service_account_user("ray-system", "ray-operator")


@pytest.fixture
def authz() -> RbacAuthorizer:
    server = LocalApiServer()
    authorizer = enable_rbac(server)
    create = server.api.create
    create(server.registry.lookup(RBAC, "v1", "clusterroles"), "", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "ray-operator"},
        "rules": [{"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["create", "list"]},
                  {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]})
    create(server.registry.lookup(RBAC, "v1", "clusterrolebindings"), "", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ray-operator"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "ray-operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "ray-operator", "namespace": "ray-system"}]})
    return authorizer


def ssar(verb: str, resource: str, group: str = "", namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                            "namespace": namespace}}}


class TestAccessReviews:
    def test_self_subject_access_review_answers_for_the_requester(self, authz: RbacAuthorizer) -> None:
        yes = review("selfsubjectaccessreviews", ssar("create", "rayclusters", "ray.io"), OPERATOR, authz)
        assert yes["kind"] == "SelfSubjectAccessReview" and yes["apiVersion"] == "authorization.k8s.io/v1"
        assert yes["status"]["allowed"] is True
        assert yes["status"]["reason"].startswith('RBAC: allowed by ClusterRoleBinding "ray-operator"')
        no = review("selfsubjectaccessreviews", ssar("get", "secrets"), OPERATOR, authz)
        assert no["status"] == {"allowed": False}
        assert no["spec"] == ssar("get", "secrets")["spec"]

    def test_subject_access_review_answers_for_the_named_user(self, authz: RbacAuthorizer) -> None:
        body = {"spec": {"user": OPERATOR.name, "groups": list(OPERATOR.groups),
                         "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}}
        assert review("subjectaccessreviews", body, ADMIN, authz)["status"]["allowed"] is True
        body["spec"]["user"] = "alice"
        body["spec"]["groups"] = []
        assert review("subjectaccessreviews", body, ADMIN, authz)["status"]["allowed"] is False

    def test_subject_access_review_without_user_or_group_is_invalid(self, authz: RbacAuthorizer) -> None:
        with pytest.raises(ApiError) as err:
            review("subjectaccessreviews", {"spec": {"resourceAttributes": {"verb": "get"}}}, ADMIN, authz)
        assert err.value.code == 422
        assert "at least one of user or group must be specified" in err.value.message

    def test_review_needs_exactly_one_kind_of_attributes(self, authz: RbacAuthorizer) -> None:
        with pytest.raises(ApiError) as err:
            review("selfsubjectaccessreviews", {"spec": {}}, ALICE, authz)
        assert err.value.code == 422
        assert err.value.message == ('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                                     'spec.resourceAttributes: Invalid value: "null": exactly one of '
                                     "nonResourceAttributes or resourceAttributes must be specified")
        both = {"spec": {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/x"}}}
        with pytest.raises(ApiError) as err:
            review("selfsubjectaccessreviews", both, ALICE, authz)
        assert err.value.message.endswith('spec.nonResourceAttributes: Invalid value: {"path":"/x"}: cannot be '
                                          "specified in combination with resourceAttributes")

    def test_local_review_must_stay_in_its_namespace(self, authz: RbacAuthorizer) -> None:
        body = {"spec": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods",
                                                                 "namespace": "other"}}}
        with pytest.raises(ApiError) as err:
            review("localsubjectaccessreviews", body, ADMIN, authz, namespace="default")
        assert "must match metadata.namespace" in err.value.message

    def test_rules_review_lists_the_requester_rules(self, authz: RbacAuthorizer) -> None:
        out = review("selfsubjectrulesreviews", {"spec": {"namespace": "default"}}, OPERATOR, authz)
        status = out["status"]
        assert {"verbs": ["create", "list"], "apiGroups": ["ray.io"], "resources": ["rayclusters"]} in \
            status["resourceRules"]
        assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in status["resourceRules"]
        assert {"verbs": ["get"], "nonResourceURLs": ["/metrics"]} in status["nonResourceRules"]
        assert status["incomplete"] is False
        admin = review("selfsubjectrulesreviews", {"spec": {"namespace": "default"}}, ADMIN, authz)["status"]
        assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in admin["resourceRules"]


class TestImpersonation:
    def test_no_headers_keep_the_requester(self, authz: RbacAuthorizer) -> None:
        assert impersonate(ALICE, [("Accept", "application/json")], authz) is ALICE

    def test_admin_impersonates_a_service_account_with_its_groups(self, authz: RbacAuthorizer) -> None:
        user = impersonate(ADMIN, [("Impersonate-User", OPERATOR.name)], authz)
        assert user == OPERATOR

    def test_admin_impersonates_user_groups_uid_and_extra(self, authz: RbacAuthorizer) -> None:
        user = impersonate(ADMIN, [("Impersonate-User", "bob"), ("Impersonate-Group", "devs"),
                                   ("Impersonate-Group", "ops"), ("Impersonate-Uid", "u-1"),
                                   ("Impersonate-Extra-Scopes", "view")], authz)
        assert user == UserInfo(name="bob", uid="u-1", groups=("devs", "ops", "system:authenticated"),
                                extra=(("scopes", ("view",)),))

    def test_non_admin_may_not_impersonate(self, authz: RbacAuthorizer) -> None:
        with pytest.raises(ApiError) as err:
            impersonate(ALICE, [("Impersonate-User", "bob")], authz)
        assert err.value.code == 403
        assert err.value.message == ('users "bob" is forbidden: User "alice" cannot impersonate resource "users" '
                                     'in API group "" at the cluster scope')
        with pytest.raises(ApiError) as err:
            impersonate(ALICE, [("Impersonate-User", OPERATOR.name)], authz)
        assert err.value.message == ('serviceaccounts "ray-operator" is forbidden: User "alice" cannot impersonate '
                                     'resource "serviceaccounts" in API group "" in the namespace "ray-system"')

    def test_groups_without_a_user_are_a_bad_request(self) -> None:
        with pytest.raises(ApiError) as err:
            impersonate(ADMIN, [("Impersonate-Group", "devs")], AllowAll())
        assert err.value.code == 400 and "without impersonating a user" in err.value.message
