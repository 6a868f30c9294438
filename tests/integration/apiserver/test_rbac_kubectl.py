"""RBAC enforced by the embedded API server, seen through kubectl 1.37: `auth can-i` (with `--as` and `--list`),
kube's 403 messages, escalation refused, the repo's own operator RBAC, and, over HTTPS with ServiceAccount tokens,
what a non-admin may and may not do (impersonation included)."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.setup import enable_rbac
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

REPO = Path(__file__).resolve().parents[3]
OPERATOR = "system:serviceaccount:ray-system:ray-operator"


@pytest.fixture
async def rbac_server() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, bookmark_interval_s=0.5)
    enable_rbac(server)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def kubectl(kubectl_bin: str, rbac_server: LocalApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_bin, rbac_server.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "cache")


@pytest.fixture
async def installed(kubectl: Kubectl) -> Kubectl:
    """The operator's namespace, CRDs and RBAC from the repo's manifests, applied by the admin."""
    await kubectl.run("apply", "-f", str(REPO / "manifests" / "default" / "namespace.yaml"))
    await kubectl.run("apply", "-k", str(REPO / "manifests" / "crd"))
    await kubectl.run("apply", "-k", str(REPO / "manifests" / "rbac"))
    return kubectl


async def test_operator_service_account_may_create_rayclusters_but_not_list_secrets(installed: Kubectl) -> None:
    # The operator GETs (and creates) only the Secret that a cluster's authOptions names: it can neither list,
    # watch, update nor delete Secrets.
    for verb in ("list", "watch", "update", "delete"):
        code, out, _ = await installed.run("auth", "can-i", verb, "secrets", f"--as={OPERATOR}", ok=False)
        assert (verb, code, out.strip()) == (verb, 1, "no")
    code, out, _ = await installed.run("auth", "can-i", "get", "secrets", f"--as={OPERATOR}")
    assert (code, out.strip()) == (0, "yes")
    code, out, _ = await installed.run("auth", "can-i", "create", "rayclusters.ray.io", f"--as={OPERATOR}")
    assert (code, out.strip()) == (0, "yes")
    code, out, _ = await installed.run("auth", "can-i", "update", "rayservices.ray.io", "--subresource=status",
                                       f"--as={OPERATOR}", "-n", "team-a")
    assert out.strip() == "yes"
    code, out, _ = await installed.run("auth", "can-i", "update", "leases.coordination.k8s.io", f"--as={OPERATOR}",
                                       "-n", "default", ok=False)
    assert (code, out.strip()) == (1, "no")
    code, out, _ = await installed.run("auth", "can-i", "update", "leases.coordination.k8s.io", f"--as={OPERATOR}",
                                       "-n", "ray-system")
    assert out.strip() == "yes"


async def test_can_i_list_shows_the_operator_rules(installed: Kubectl) -> None:
    _, out, _ = await installed.run("auth", "can-i", "--list", f"--as={OPERATOR}", "-n", "ray-system")
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    verbs = rows["rayclusters.ray.io"].split("[")[-1].rstrip("]").split()
    assert {"list", "watch", "create", "patch", "delete"} <= set(verbs)
    assert "leases.coordination.k8s.io" in rows
    assert rows["secrets"].split("[")[-1].rstrip("]").split() == ["get", "create"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows  # system:basic-user, as for every user


async def test_admin_can_do_anything(installed: Kubectl) -> None:
    _, out, _ = await installed.run("auth", "can-i", "delete", "secrets", "--all-namespaces")
    assert out.strip() == "yes"
    _, out, _ = await installed.run("auth", "can-i", "*", "*")
    assert out.strip() == "yes"


async def test_denied_request_gets_kube_forbidden_message(installed: Kubectl) -> None:
    code, _, err = await installed.run("get", "secrets", "-n", "default", f"--as={OPERATOR}", ok=False)
    assert code == 1
    assert ('Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:ray-system:'
            'ray-operator" cannot list resource "secrets" in API group "" in the namespace "default"') in err
    code, _, err = await installed.run("delete", "pod", "p1", "-n", "default", f"--as={OPERATOR}", ok=False)
    assert code == 1
    assert 'pods "p1" not found' in err  # allowed to delete pods: the request reaches the store


async def test_discovery_works_for_any_authenticated_user(installed: Kubectl) -> None:
    _, out, _ = await installed.run("api-resources", "--api-group=ray.io", "--as=nobody")
    assert "rayservices" in out and "rayclusters" in out


async def test_escalation_is_refused_unless_the_user_holds_the_rules(installed: Kubectl) -> None:
    await installed.run("create", "namespace", "team")
    await installed.run("create", "role", "role-manager", "-n", "team", "--verb=create,get,patch",
                        "--resource=roles,rolebindings,pods")
    await installed.run("create", "rolebinding", "alice-manages", "-n", "team", "--role=role-manager",
                        "--user=alice")
    code, _, err = await installed.run("create", "role", "secret-reader", "-n", "team", "--verb=get",
                                       "--resource=secrets", "--as=alice", ok=False)
    assert code == 1
    assert ('roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "alice" (groups=["system:'
            'authenticated"]) is attempting to grant RBAC permissions not currently held:') in err
    assert '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}' in err
    await installed.run("create", "role", "pod-reader", "-n", "team", "--verb=get", "--resource=pods", "--as=alice")
    add_secrets = '[{"op": "add", "path": "/rules/-", "value": {"apiGroups": [""], "resources": ["secrets"], ' \
        '"verbs": ["get"]}}]'
    code, _, err = await installed.run("patch", "role", "pod-reader", "-n", "team", "--type=json", "-p", add_secrets,
                                       "--as=alice", ok=False)
    assert code == 1 and 'roles.rbac.authorization.k8s.io "pod-reader" is forbidden' in err
    assert "not currently held" in err
    code, _, err = await installed.run("create", "rolebinding", "bob-admin", "-n", "team", "--clusterrole=admin",
                                       "--user=bob", "--as=alice", ok=False)
    assert code == 1 and "is attempting to grant RBAC permissions not currently held" in err
    await installed.run("create", "clusterrole", "bind-admin", "--verb=bind", "--resource=clusterroles",
                        "--resource-name=admin")
    await installed.run("create", "rolebinding", "alice-binds", "-n", "team", "--clusterrole=bind-admin",
                        "--user=alice")
    await installed.run("create", "rolebinding", "bob-admin", "-n", "team", "--clusterrole=admin", "--user=bob",
                        "--as=alice")
    _, out, _ = await installed.run("auth", "can-i", "create", "secrets", "-n", "team", "--as=bob")
    assert out.strip() == "yes"


@pytest.fixture
async def tls_admin(kubectl_bin: str, tmp_path: Path) -> AsyncIterator[tuple[Kubectl, Path]]:
    """An HTTPS server with RBAC on by default, and kubectl as its admin (client certificate)."""
    server = LocalApiServer(port=0, tls=True, state_dir=tmp_path / "state", bookmark_interval_s=0.5)
    await server.start()
    try:
        config = server.write_kubeconfig(tmp_path / "admin.kubeconfig")
        yield Kubectl(kubectl_bin, config, tmp_path / "cache"), config
    finally:
        await server.stop()


async def as_service_account(admin: tuple[Kubectl, Path], kubectl_bin: str, tmp_path: Path,
                             name: str) -> tuple[Kubectl, str]:
    """kubectl with only a bearer token of ServiceAccount `name` in default, and that token."""
    kubectl, config = admin
    await kubectl.run("create", "serviceaccount", name)
    _, token, _ = await kubectl.run("create", "token", name, "--duration", "1h")
    cfg = yaml.safe_load(config.read_text())
    cfg["users"][0]["user"] = {"token": token.strip()}
    target = tmp_path / f"{name}.kubeconfig"
    target.write_text(yaml.safe_dump(cfg))
    return Kubectl(kubectl_bin, target, tmp_path / f"cache-{name}"), token.strip()


async def test_service_account_lists_pods_once_bound_to_a_role(tls_admin: tuple[Kubectl, Path], kubectl_bin: str,
                                                               tmp_path: Path) -> None:
    admin, _ = tls_admin
    reader, _ = await as_service_account(tls_admin, kubectl_bin, tmp_path, "reader")
    code, _, err = await reader.run("get", "pods", ok=False)
    assert code == 1
    assert ('pods is forbidden: User "system:serviceaccount:default:reader" cannot list resource "pods" in API '
            'group "" in the namespace "default"') in err
    await admin.run("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    await admin.run("create", "rolebinding", "reader", "--role=pod-reader", "--serviceaccount=default:reader")
    _, out, err = await reader.run("get", "pods")
    assert "No resources found in default namespace." in out + err
    code, _, err = await reader.run("get", "pods", "-n", "kube-system", ok=False)
    assert code == 1 and 'in the namespace "kube-system"' in err
    _, out, _ = await reader.run("auth", "can-i", "--list")
    assert "pods " in out and "[get list watch]" in out


async def test_impersonation_is_refused_to_a_non_admin(tls_admin: tuple[Kubectl, Path], kubectl_bin: str,
                                                       tmp_path: Path) -> None:
    admin, config = tls_admin
    user, token = await as_service_account(tls_admin, kubectl_bin, tmp_path, "plain")
    code, _, err = await user.run("get", "pods", "--as=bob", ok=False)
    assert code == 1 and "Error from server (Forbidden)" in err
    cfg = yaml.safe_load(config.read_text())
    server = cfg["clusters"][0]["cluster"]["server"]
    ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode()

    async def get_pods(**impersonate: str) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}", **impersonate}
        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cadata=ca))
        async with aiohttp.ClientSession(connector=connector) as session, \
                session.get(f"{server}/api/v1/namespaces/default/pods", headers=headers) as resp:
            return resp.status, await resp.json()

    status, body = await get_pods(**{"Impersonate-User": "bob"})
    assert status == 403
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'users "bob" is forbidden: User "system:serviceaccount:default:plain" cannot '
                               'impersonate resource "users" in API group "" at the cluster scope',
                    "reason": "Forbidden", "details": {"name": "bob", "kind": "users"}, "code": 403}
    status, body = await get_pods(**{"Impersonate-User": "system:serviceaccount:kube-system:default"})
    assert status == 403 and body["message"].endswith(
        'cannot impersonate resource "serviceaccounts" in API group "" in the namespace "kube-system"')
    status, body = await get_pods(**{"Impersonate-Group": "system:masters"})
    assert status == 400 and "without impersonating a user" in body["message"]
    await admin.run("create", "clusterrole", "impersonator", "--verb=impersonate", "--resource=users",
                    "--resource-name=bob")
    await admin.run("create", "clusterrolebinding", "plain-impersonates", "--clusterrole=impersonator",
                    "--serviceaccount=default:plain")
    status, body = await get_pods(**{"Impersonate-User": "bob"})
    assert status == 403  # allowed to act as bob now, and bob may not list pods
    assert body["message"] == ('pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
                               'namespace "default"')
    status, body = await get_pods(**{"Impersonate-User": "bob", "Impersonate-Group": "system:masters"})
    assert status == 403 and 'cannot impersonate resource "groups"' in body["message"]


async def test_admin_certificate_is_never_refused(tls_admin: tuple[Kubectl, Path]) -> None:
    admin, _ = tls_admin
    _, out, _ = await admin.run("auth", "can-i", "*", "*")
    assert out.strip() == "yes"
    _, out, _ = await admin.run("get", "clusterroles")
    for name in ("cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
                 "system:public-info-viewer"):
        assert name in out
