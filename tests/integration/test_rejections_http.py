"""Rejections a client sees over HTTP and through kubectl, worded as kube-apiserver v1.36 words them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig, tmp_path / "kubectl-cache")


async def send(server: LocalApiServer, method: str, path: str, body: bytes, ctype: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(
            method, f"http://{server.host}:{server.port}{path}", data=body, headers={"Content-Type": ctype}) as resp:
        return resp.status, json.loads(await resp.read())


async def make_configmap(server: LocalApiServer) -> None:
    code, _ = await send(server, "POST", CMS, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}',
                         "application/json")
    assert code == 201


async def test_an_unknown_patch_type_is_415_even_with_a_body_that_is_not_json(apiserver: LocalApiServer) -> None:
    await make_configmap(apiserver)
    code, status = await send(apiserver, "PATCH", f"{CMS}/c", b"not json", "text/plain")
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")
    assert status["message"].endswith("application/json-patch+json, application/merge-patch+json, "
                                      "application/strategic-merge-patch+json, application/apply-patch+yaml")


@pytest.mark.parametrize(("ctype", "message"), [
    ("application/merge-patch+json", "error decoding patch: unexpected end of JSON input"),
    ("application/json-patch+json", "error decoding patch: unexpected end of JSON input"),
    ("application/strategic-merge-patch+json", "unexpected end of JSON input"),
])
async def test_an_empty_patch_body_is_a_bad_request(apiserver: LocalApiServer, ctype: str, message: str) -> None:
    await make_configmap(apiserver)
    code, status = await send(apiserver, "PATCH", f"{CMS}/c", b"", ctype)
    assert (code, status["reason"], status["message"]) == (400, "BadRequest", message)


async def test_a_create_in_an_unknown_media_type_lists_the_decodable_ones(apiserver: LocalApiServer) -> None:
    code, status = await send(apiserver, "POST", CMS, b"x", "text/plain")
    assert (code, status["message"]) == (415, "the body of the request was in an unknown format - accepted media "
                                              "types include: application/json, application/yaml, "
                                              "application/vnd.kubernetes.protobuf")


async def test_a_malformed_create_body_quotes_go_and_the_body(apiserver: LocalApiServer) -> None:
    code, status = await send(apiserver, "POST", CMS, b'{"kind": ConfigMap}', "application/json")
    assert (code, status["message"]) == (400, "the object provided is unrecognized (must be of type ConfigMap): "
                                              "couldn't get version/kind; json parse error: invalid character 'C' "
                                              'looking for beginning of value ({"kind": ConfigMap})')


async def test_new_finalizers_on_a_deleting_object_are_forbidden(apiserver: LocalApiServer) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f", "finalizers": ["a.io/x"]}}
    assert (await send(apiserver, "POST", CMS, json.dumps(body).encode(), "application/json"))[0] == 201
    assert (await send(apiserver, "DELETE", f"{CMS}/f", b"", "application/json"))[0] == 200
    patch = {"metadata": {"finalizers": ["a.io/x", "b.io/z", "b.io/y"]}}
    code, status = await send(apiserver, "PATCH", f"{CMS}/f", json.dumps(patch).encode(),
                              "application/merge-patch+json")
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == ('ConfigMap "f" is invalid: metadata.finalizers: Forbidden: no new finalizers can '
                                 'be added if the object is being deleted, found new finalizers []string{"b.io/y", '
                                 '"b.io/z"}')
    assert status["details"]["causes"][0]["reason"] == "FieldValueForbidden"


@pytest.mark.kubectl
async def test_kubectl_shows_kubes_answer_for_a_lease_time_without_micro_seconds(kubectl: Kubectl) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "l", "namespace": "default"},
             "spec": {"holderIdentity": "a", "renewTime": "2026-11-25T10:00:00Z"}}
    code, _, err = await kubectl.run("create", "-f", "-", stdin=json.dumps(lease), ok=False)
    assert code != 0
    assert ('Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-25T10:00:00Z" as '
            '"2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"') in err


@pytest.mark.kubectl
async def test_kubectl_shows_the_invalid_service_port(kubectl: Kubectl) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"ports": [{"port": 80}, {"port": 81}]}}
    code, _, err = await kubectl.run("create", "-f", "-", stdin=json.dumps(svc), ok=False)
    assert code != 0
    assert 'The Service "web" is invalid: ' in err
    assert "spec.ports[0].name: Required value" in err and "spec.ports[1].name: Required value" in err
