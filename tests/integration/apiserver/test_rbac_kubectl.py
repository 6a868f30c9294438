"""RBAC enforced by the embedded API server, seen through kubectl 1.37: `auth can-i` (with `--as` and `--list`),
kube's 403 messages, escalation refused, and the repo's own operator RBAC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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


async def test_operator_service_account_may_create_rayclusters_but_not_read_secrets(installed: Kubectl) -> None:
    code, out, _ = await installed.run("auth", "can-i", "get", "secrets", f"--as={OPERATOR}", ok=False)
    assert (code, out.strip()) == (1, "no")
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
    assert "rayclusters.ray.io" in rows and "[list watch create patch delete]" in rows["rayclusters.ray.io"]
    assert "leases.coordination.k8s.io" in rows
    assert "secrets" not in rows
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
    await installed.run("create", "role", "role-manager", "-n", "team", "--verb=create,get",
                        "--resource=roles,rolebindings", "--verb=get", "--resource=pods")
    await installed.run("create", "rolebinding", "alice-manages", "-n", "team", "--role=role-manager",
                        "--user=alice")
    code, _, err = await installed.run("create", "role", "secret-reader", "-n", "team", "--verb=get",
                                       "--resource=secrets", "--as=alice", ok=False)
    assert code == 1
    assert ('roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "alice" (groups=["system:'
            'authenticated"]) is attempting to grant RBAC permissions not currently held:') in err
    assert '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}' in err
    await installed.run("create", "role", "pod-reader", "-n", "team", "--verb=get", "--resource=pods", "--as=alice")
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
