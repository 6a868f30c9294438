"""The API server over HTTPS with authentication: what kubectl, the `kubernetes` client and pods' tokens meet."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes.aio import client, config

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.auth.certs import serving_sans
from e2e.localcluster.apiserver.auth.tokens import token_claims
from e2e.localcluster.node import ApiClient, load_kubeconfig
from tests.kubectl import Kubectl

from .conftest import eventually

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, tls=True, state_dir=tmp_path / "state", bookmark_interval_s=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def tls_kubeconfig(tls_server: LocalApiServer, tmp_path: Path) -> Path:
    return tls_server.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kubectl_bin: str, tls_kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, tls_kubeconfig)


def ca_only(server: LocalApiServer) -> ssl.SSLContext:
    assert server.pki is not None
    return ssl.create_default_context(cadata=server.pki.ca_cert_pem.decode())


async def call(server: LocalApiServer, method: str, path: str, *, token: str | None = None,
               body: Any = None) -> tuple[int, Any]:
    """One request with the CA but no client certificate: only a bearer token, if any, identifies us."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    conn = aiohttp.TCPConnector(ssl=ca_only(server))
    async with aiohttp.ClientSession(connector=conn) as session, session.request(
            method, server.url + path, headers=headers, json=body) as resp:
        return resp.status, await resp.json(content_type=None)


async def whoami(server: LocalApiServer, token: str) -> tuple[int, Any]:
    return await call(server, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", token=token,
                      body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})


async def create_token(kubectl: Kubectl, *args: str) -> str:
    _, out, _ = await kubectl.run("create", "token", *args)
    return out.strip()


# ---- TLS ---------------------------------------------------------------------------------------------------


async def test_serving_certificate_verifies_against_the_ca_for_every_san(tls_server: LocalApiServer) -> None:
    ctx = ca_only(tls_server)
    for san in serving_sans("10.96.0.0/16"):
        _, writer = await asyncio.open_connection("127.0.0.1", tls_server.port, ssl=ctx, server_hostname=san)
        writer.close()
        await writer.wait_closed()
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection("127.0.0.1", tls_server.port, ssl=ctx, server_hostname="example.com")


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def token_kubeconfig(admin: Path, token: str, target: Path) -> Path:
    """The admin kubeconfig with its user replaced by a bearer token."""
    cfg = read_yaml(admin)
    cfg["users"][0]["user"] = {"token": token}
    target.write_text(yaml.safe_dump(cfg))
    return target


async def test_kubectl_gets_namespaces_through_the_tls_kubeconfig(kubectl: Kubectl, tls_kubeconfig: Path) -> None:
    cfg = read_yaml(tls_kubeconfig)
    assert cfg["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
    assert "certificate-authority-data" in cfg["clusters"][0]["cluster"]
    _, out, _ = await kubectl.run("get", "ns")
    assert {line.split()[0] for line in out.splitlines()[1:]} >= {"default", "kube-system"}
    _, out, _ = await kubectl.run("auth", "whoami", "-o", "json")
    assert "system:masters" in yaml.safe_load(out)["status"]["userInfo"]["groups"]


async def test_the_kubernetes_client_and_the_node_client_speak_tls_with_the_admin_certificate(
        tls_server: LocalApiServer, tls_kubeconfig: Path) -> None:
    api_client = await config.new_client_from_config(config_file=str(tls_kubeconfig))
    try:
        resp = await client.CoreV1Api(api_client).list_namespace_without_preload_content()
        names = {ns["metadata"]["name"] for ns in (await resp.json())["items"]}
        assert "default" in names
    finally:
        await api_client.close()
    async with ApiClient(load_kubeconfig(tls_kubeconfig)) as node_client:
        listing = await node_client.get("/api/v1/namespaces")
        assert "kube-system" in {ns["metadata"]["name"] for ns in listing["items"]}


async def test_certificates_are_reused_across_restarts(tmp_path: Path, kubectl_bin: str) -> None:
    state = tmp_path / "state"
    first = LocalApiServer(port=0, tls=True, state_dir=state)
    await first.start()
    kubeconfig = first.write_kubeconfig(tmp_path / "kubeconfig")
    port = first.port
    await first.stop()
    second = LocalApiServer(port=port, tls=True, state_dir=state)
    await second.start()
    try:
        assert second.pki is not None and first.pki is not None
        assert second.pki.ca_cert_pem == first.pki.ca_cert_pem
        assert second.pki.serving_cert_file.read_bytes() == first.pki.serving_cert_file.read_bytes()
        await Kubectl(kubectl_bin, kubeconfig).run("get", "ns", "default")  # the old kubeconfig still works
    finally:
        await second.stop()


# ---- authentication ------------------------------------------------------------------------------------------


async def test_no_credential_and_a_bad_one_get_kubes_exact_401(tls_server: LocalApiServer) -> None:
    assert await call(tls_server, "GET", "/api/v1/namespaces") == (401, UNAUTHORIZED)
    assert await call(tls_server, "GET", "/api/v1/namespaces", token="not-a-token") == (401, UNAUTHORIZED)
    assert await call(tls_server, "GET", "/api") == (401, UNAUTHORIZED)


async def test_anonymous_reaches_health_and_version_only(tls_server: LocalApiServer) -> None:
    conn = aiohttp.TCPConnector(ssl=ca_only(tls_server))
    async with aiohttp.ClientSession(connector=conn) as session:
        for path in ("/healthz", "/livez", "/readyz"):
            async with session.get(tls_server.url + path) as resp:
                assert (resp.status, await resp.text()) == (200, "ok")
        async with session.get(tls_server.url + "/version") as resp:
            assert resp.status == 200 and "gitVersion" in await resp.json()


async def test_kubectl_create_token_gives_a_token_the_server_accepts_as_the_service_account(
        kubectl: Kubectl, tls_server: LocalApiServer, tls_kubeconfig: Path, kubectl_bin: str,
        tmp_path: Path) -> None:
    token = await create_token(kubectl, "default", "--duration", "1h")
    status, review = await whoami(tls_server, token)
    assert status == 201
    user = review["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:default"
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    sa = await kubectl.get_json("serviceaccount", "default")
    assert user["uid"] == sa["metadata"]["uid"]
    # a kubeconfig holding only the token: kubectl talks as the ServiceAccount
    sa_config = token_kubeconfig(tls_kubeconfig, token, tmp_path / "sa.kubeconfig")
    _, out, _ = await Kubectl(kubectl_bin, sa_config).run("auth", "whoami")
    assert "system:serviceaccount:default:default" in out
    payload = token.split(".")[1]
    claims = yaml.safe_load(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 3600


async def test_token_request_validation_answers_as_kube(kubectl: Kubectl) -> None:
    code, _, err = await kubectl.run("create", "token", "default", "--duration", "5m", ok=False)
    assert code != 0
    assert 'TokenRequest.authentication.k8s.io "default" is invalid: spec.expirationSeconds: Invalid value: ' \
           "300: may not specify a duration less than 10 minutes" in err
    code, _, err = await kubectl.run("create", "token", "nobody", ok=False)
    assert code != 0 and 'serviceaccounts "nobody" not found' in err


async def test_an_expired_token_is_refused(tls_server: LocalApiServer, kubectl: Kubectl) -> None:
    sa = await kubectl.get_json("serviceaccount", "default")
    issuer = tls_server.token_issuer()
    stale = issuer.sign(token_claims(issuer=issuer.issuer, namespace="default", sa_name="default",
                                     sa_uid=sa["metadata"]["uid"], audiences=issuer.api_audiences,
                                     expiration_s=600, now=int(time.time()) - 661))
    assert await whoami(tls_server, stale) == (401, UNAUTHORIZED)
    fresh = issuer.sign(token_claims(issuer=issuer.issuer, namespace="default", sa_name="default",
                                     sa_uid=sa["metadata"]["uid"], audiences=issuer.api_audiences,
                                     expiration_s=600, now=int(time.time()) - 600))
    assert (await whoami(tls_server, fresh))[0] == 201  # within the minute of leeway


async def test_a_token_for_another_audience_is_refused(tls_server: LocalApiServer, kubectl: Kubectl) -> None:
    token = await create_token(kubectl, "default", "--audience", "vault")
    assert await whoami(tls_server, token) == (401, UNAUTHORIZED)


async def test_a_token_bound_to_a_deleted_pod_is_refused(tls_server: LocalApiServer, kubectl: Kubectl) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await kubectl.run("create", "-f", "-", stdin=yaml.safe_dump(pod))
    token = await create_token(kubectl, "default", "--bound-object-kind", "Pod", "--bound-object-name", "p")
    status, review = await whoami(tls_server, token)
    assert status == 201
    assert review["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    await kubectl.run("delete", "pod", "p", "--grace-period=0", "--force")
    assert await whoami(tls_server, token) == (401, UNAUTHORIZED)


async def test_a_token_of_a_deleted_service_account_is_refused_even_once_it_is_recreated(
        tls_server: LocalApiServer, kubectl: Kubectl) -> None:
    await kubectl.run("create", "serviceaccount", "robot")
    token = await create_token(kubectl, "robot")
    assert (await whoami(tls_server, token))[0] == 201
    await kubectl.run("delete", "serviceaccount", "robot")
    assert await whoami(tls_server, token) == (401, UNAUTHORIZED)
    await kubectl.run("create", "serviceaccount", "robot")
    assert await whoami(tls_server, token) == (401, UNAUTHORIZED)


async def test_a_new_namespace_gets_a_default_service_account(tls_server: LocalApiServer,
                                                               kubectl: Kubectl) -> None:
    await kubectl.run("create", "namespace", "team")

    async def has_default() -> bool:
        return tls_server.store.get(("", "serviceaccounts"), "team", "default") is not None

    await eventually(tls_server, has_default)
    _, out, _ = await kubectl.run("get", "serviceaccounts", "-n", "team")
    assert out.splitlines()[1].split()[0] == "default"


async def test_token_review_reports_the_user_or_the_reason(kubectl: Kubectl) -> None:
    token = await create_token(kubectl, "default")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    # --validate=false: kubectl does not find the review kinds in this server's OpenAPI v3 and falls back to v2
    _, out, _ = await kubectl.run("create", "--validate=false", "-o", "json", "-f", "-",
                                  stdin=yaml.safe_dump(review))
    status = yaml.safe_load(out)["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == "system:serviceaccount:default:default"
    review["spec"] = {"token": "garbage"}
    _, out, _ = await kubectl.run("create", "--validate=false", "-o", "json", "-f", "-",
                                  stdin=yaml.safe_dump(review))
    status = yaml.safe_load(out)["status"]
    assert "authenticated" not in status and "invalid bearer token" in status["error"]


async def test_plain_http_mode_still_needs_no_credential(apiserver: LocalApiServer) -> None:
    async with aiohttp.ClientSession() as session, session.get(apiserver.url + "/api/v1/namespaces") as resp:
        assert resp.status == 200


async def test_kube_root_ca_configmap_carries_the_clusters_ca(tls_server: LocalApiServer, kubectl: Kubectl) -> None:
    async def published() -> bool:
        return tls_server.store.get(("", "configmaps"), "default", "kube-root-ca.crt") is not None

    await eventually(tls_server, published)
    cm = await kubectl.get_json("configmap", "kube-root-ca.crt")
    assert tls_server.pki is not None
    assert cm["data"]["ca.crt"] == tls_server.pki.ca_cert_pem.decode()


async def test_the_test_hooks_need_the_admin(tls_server: LocalApiServer, kubectl: Kubectl) -> None:
    token = await create_token(kubectl, "default")
    status, body = await call(tls_server, "GET", "/_localcluster/stats", token=token)
    assert status == 403 and body["reason"] == "Forbidden"
    assert await call(tls_server, "GET", "/_localcluster/stats") == (401, UNAUTHORIZED)


def test_the_serving_certificate_names_every_listen_address_and_extra_san(tmp_path: Path) -> None:
    server = LocalApiServer(tls=True, state_dir=tmp_path, advertise_address="10.244.0.1", extra_sans=["api.local"])
    assert {"10.244.0.1", "api.local", "127.0.0.1", "10.96.0.1", "kubernetes.default.svc"} <= set(server.sans)
    with pytest.raises(ValueError, match="state_dir"):
        LocalApiServer(tls=True)
