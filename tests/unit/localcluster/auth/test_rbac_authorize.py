"""The authorization step of a request: impersonation, RBAC, kube's 403, and WebSocket upgrades to exec."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.authorize import authorize_request
from e2e.localcluster.apiserver.auth.rbac import RbacAuthorizer
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from e2e.localcluster.apiserver.auth.user import ADMIN, UserInfo
from e2e.localcluster.apiserver.errors import ApiError

RBAC = "rbac.authorization.k8s.io"
ALICE = UserInfo(name="alice", groups=("system:authenticated",))
EXEC = "/api/v1/namespaces/default/pods/p1/exec"
UPGRADE = [("Connection", "Upgrade"), ("Upgrade", "websocket")]


def bind(server: LocalApiServer, verbs: list[str]) -> None:
    create = server.api.create
    create(server.registry.lookup(RBAC, "v1", "clusterroles"), "", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "exec"},
        "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": verbs}]})
    create(server.registry.lookup(RBAC, "v1", "clusterrolebindings"), "", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "alice-exec"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "exec"},
        "subjects": [{"kind": "User", "name": "alice"}]})


@pytest.fixture
def server() -> LocalApiServer:
    s = LocalApiServer()
    enable_rbac(s)
    return s


def authorize(server: LocalApiServer, user: UserInfo, method: str, path: str,
              headers: list[tuple[str, str]] | None = None, query: dict[str, str] | None = None) -> Any:
    assert isinstance(server.authorizer, RbacAuthorizer)
    return authorize_request(server.authorizer, user, method, path, query or {}, headers or [])


def test_websocket_exec_needs_create_as_well_as_get(server: LocalApiServer) -> None:
    bind(server, ["get"])
    authorize(server, ALICE, "GET", EXEC)  # a plain GET needs get only
    with pytest.raises(ApiError) as err:
        authorize(server, ALICE, "GET", EXEC, UPGRADE)
    assert err.value.code == 403
    assert err.value.message == ('pods "p1" is forbidden: User "alice" cannot create resource "pods/exec" in API '
                                 'group "" in the namespace "default"')


def test_websocket_exec_with_get_and_create_is_allowed(server: LocalApiServer) -> None:
    bind(server, ["get", "create"])
    user, attrs = authorize(server, ALICE, "GET", EXEC, UPGRADE)
    assert user is ALICE and (attrs.verb, attrs.subresource) == ("get", "exec")


def test_impersonated_user_is_the_one_authorized(server: LocalApiServer) -> None:
    bind(server, ["create"])
    user, _ = authorize(server, ADMIN, "POST", EXEC, [("Impersonate-User", "alice")])
    assert user.name == "alice" and "system:authenticated" in user.groups
    with pytest.raises(ApiError) as err:
        authorize(server, ADMIN, "POST", "/api/v1/namespaces/default/pods", [("Impersonate-User", "alice")])
    assert err.value.message.startswith('pods is forbidden: User "alice" cannot create resource "pods"')
