"""RBAC rule matching, request attributes and the 403 messages, as kube-apiserver evaluates and words them."""

from __future__ import annotations

import pytest

from e2e.localcluster.apiserver.auth.attributes import RequestAttributes
from e2e.localcluster.apiserver.auth.forbidden import forbidden
from e2e.localcluster.apiserver.auth.requestinfo import request_attributes
from e2e.localcluster.apiserver.auth.rules import PolicyRule, rule_allows
from e2e.localcluster.apiserver.auth.user import UserInfo, service_account_user

OPERATOR = service_account_user("ray-system", "ray-operator")
ALICE = UserInfo(name="alice", groups=("system:authenticated",))


def res(verb: str, group: str, resource: str, sub: str = "", name: str = "", ns: str = "default") -> RequestAttributes:
    return RequestAttributes(user=ALICE, verb=verb, resource_request=True, api_group=group, resource=resource,
                             subresource=sub, name=name, namespace=ns)


def url(verb: str, path: str) -> RequestAttributes:
    return RequestAttributes(user=ALICE, verb=verb, resource_request=False, path=path)


def rule(**kw: list[str]) -> PolicyRule:
    return PolicyRule.from_dict({"verbs": kw.get("verbs", ["get"]), "apiGroups": kw.get("groups", [""]),
                                 "resources": kw.get("resources", []), "resourceNames": kw.get("names", []),
                                 "nonResourceURLs": kw.get("urls", [])})


@pytest.mark.parametrize(("r", "attrs", "allowed"), [
    (rule(resources=["pods"]), res("get", "", "pods"), True),
    (rule(resources=["pods"]), res("list", "", "pods"), False),
    (rule(verbs=["*"], resources=["pods"]), res("deletecollection", "", "pods"), True),
    (rule(resources=["pods"]), res("get", "apps", "pods"), False),
    (rule(groups=["*"], resources=["pods"]), res("get", "apps", "pods"), True),
    (rule(groups=["ray.io"], resources=["*"]), res("get", "ray.io", "rayclusters"), True),
    (rule(groups=["ray.io"], resources=["*"]), res("update", "ray.io", "rayservices", "status"), False),
    (rule(verbs=["update"], groups=["ray.io"], resources=["*"]), res("update", "ray.io", "rayservices", "status"),
     True),
    # a subresource needs resource/sub or */sub; the plain resource does not grant it
    (rule(verbs=["update"], groups=["ray.io"], resources=["rayservices"]),
     res("update", "ray.io", "rayservices", "status"), False),
    (rule(verbs=["update"], groups=["ray.io"], resources=["rayservices/status"]),
     res("update", "ray.io", "rayservices", "status"), True),
    (rule(verbs=["update"], groups=["ray.io"], resources=["rayservices/status"]),
     res("update", "ray.io", "rayservices"), False),
    (rule(verbs=["get"], groups=["apps"], resources=["*/scale"]), res("get", "apps", "deployments", "scale"), True),
    (rule(verbs=["get"], groups=["apps"], resources=["*/scale"]), res("get", "apps", "deployments"), False),
    (rule(verbs=["get"], groups=["apps"], resources=["*/scale"]), res("get", "apps", "deployments", "status"), False),
    # resourceNames: only requests that name one of them
    (rule(resources=["configmaps"], names=["a"]), res("get", "", "configmaps", name="a"), True),
    (rule(resources=["configmaps"], names=["a"]), res("get", "", "configmaps", name="b"), False),
    (rule(verbs=["list"], resources=["configmaps"], names=["a"]), res("list", "", "configmaps"), False),
    (rule(verbs=["create"], resources=["configmaps"], names=["a"]), res("create", "", "configmaps"), False),
    # non-resource URLs: exact, trailing *, and never for resource requests
    (rule(urls=["/healthz"]), url("get", "/healthz"), True),
    (rule(urls=["/healthz"]), url("get", "/healthz/etcd"), False),
    (rule(urls=["/apis/*"]), url("get", "/apis/ray.io/v1"), True),
    (rule(urls=["/apis/*"]), url("get", "/apis"), False),
    (rule(urls=["*"]), url("get", "/anything"), True),
    (rule(urls=["/healthz"]), url("post", "/healthz"), False),
    (rule(urls=["*"], verbs=["*"]), res("get", "", "pods"), False),
    (rule(groups=["*"], resources=["*"], verbs=["*"]), url("get", "/version"), False),
])
def test_rule_matches_as_kube_does(r: PolicyRule, attrs: RequestAttributes, allowed: bool) -> None:
    assert rule_allows(attrs, r) is allowed


def test_malformed_rule_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="verbs must be a list of strings"):
        PolicyRule.from_dict({"verbs": "get"})
    with pytest.raises(ValueError, match="must be an object"):
        PolicyRule.from_dict(["get"])


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true"}, ("watch", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "0"}, ("list", "", "pods", "", "default", "")),
    ("GET", "/api/v1/watch/namespaces/default/pods", {}, ("watch", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods/p1", {}, ("get", "", "pods", "", "default", "p1")),
    ("GET", "/api/v1/namespaces/default/pods/p1/log", {}, ("get", "", "pods", "log", "default", "p1")),
    ("GET", "/api/v1/pods", {}, ("list", "", "pods", "", "", "")),
    ("POST", "/apis/ray.io/v1/namespaces/ns1/rayclusters", {}, ("create", "ray.io", "rayclusters", "", "ns1", "")),
    ("PUT", "/apis/ray.io/v1/namespaces/ns1/rayservices/s/status", {},
     ("update", "ray.io", "rayservices", "status", "ns1", "s")),
    ("PATCH", "/apis/apps/v1/namespaces/ns1/deployments/d/scale", {},
     ("patch", "apps", "deployments", "scale", "ns1", "d")),
    ("DELETE", "/api/v1/namespaces/default/pods/p1", {}, ("delete", "", "pods", "", "default", "p1")),
    ("DELETE", "/api/v1/namespaces/default/pods", {}, ("deletecollection", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "namespaces", "", "", "")),
    ("GET", "/api/v1/namespaces/ns1", {}, ("get", "", "namespaces", "", "ns1", "ns1")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", {}, ("update", "", "namespaces", "finalize", "ns1", "ns1")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", {},
     ("get", "rbac.authorization.k8s.io", "clusterroles", "", "", "admin")),
    ("GET", "/api/v1/namespaces/default/configmaps", {"fieldSelector": "metadata.name=c1"},
     ("list", "", "configmaps", "", "default", "c1")),
    ("GET", "/api/v1/namespaces/default/configmaps", {"fieldSelector": "metadata.name!=c1"},
     ("list", "", "configmaps", "", "default", "")),
])
def test_request_attributes_follow_kube_request_info(method: str, path: str, query: dict[str, str],
                                                     expected: tuple[str, ...]) -> None:
    a = request_attributes(ALICE, method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expected


@pytest.mark.parametrize("path", ["/api", "/apis", "/apis/ray.io", "/apis/ray.io/v1", "/api/v1", "/healthz",
                                  "/openapi/v2", "/version"])
def test_discovery_and_health_paths_are_non_resource_requests(path: str) -> None:
    a = request_attributes(ALICE, "GET", path)
    assert not a.resource_request
    assert (a.verb, a.path) == ("get", path)


def test_forbidden_in_a_namespace_is_kube_message_and_status() -> None:
    attrs = RequestAttributes(user=OPERATOR, verb="delete", resource_request=True, resource="pods",
                              namespace="default")
    status = forbidden(attrs).to_status()
    assert status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods is forbidden: User "system:serviceaccount:ray-system:ray-operator" cannot delete '
                   'resource "pods" in API group "" in the namespace "default"',
        "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}


def test_forbidden_named_subresource_cluster_scope_and_path_variants() -> None:
    named = forbidden(request_attributes(ALICE, "PUT", "/apis/ray.io/v1/namespaces/ns1/rayservices/s1/status"))
    assert named.message == ('rayservices.ray.io "s1" is forbidden: User "alice" cannot update resource '
                             '"rayservices/status" in API group "ray.io" in the namespace "ns1"')
    assert named.details == {"name": "s1", "group": "ray.io", "kind": "rayservices"}
    cluster = forbidden(request_attributes(ALICE, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"))
    assert cluster.message == ('clusterroles.rbac.authorization.k8s.io is forbidden: User "alice" cannot list '
                               'resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope')
    path = forbidden(request_attributes(ALICE, "GET", "/metrics"))
    assert path.message == 'forbidden: User "alice" cannot get path "/metrics"'
    assert path.details == {}
    with_reason = forbidden(request_attributes(ALICE, "GET", "/api/v1/nodes"), 'RBAC: clusterroles "x" not found')
    assert with_reason.message.endswith('at the cluster scope: RBAC: clusterroles "x" not found')
    escaped = forbidden(request_attributes(UserInfo(name="<b>&"), "GET", "/x"))
    assert escaped.message == 'forbidden: User "&lt;b&gt;&amp;" cannot get path "/x"'
