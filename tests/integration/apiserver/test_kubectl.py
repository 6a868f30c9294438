"""kubectl 1.37 (from the venv) against the embedded API server: apply, get, describe, delete."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

from .conftest import WIDGET_CRD

pytestmark = pytest.mark.kubectl


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig)


def widget_yaml(size: int, labels: dict[str, str] | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": "default", "labels": labels or {}},
            "spec": {"size": size},
        }
    )


async def test_apply_get_describe_delete_a_custom_resource(kubectl: Kubectl, apiserver: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(WIDGET_CRD))
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=widget_yaml(3))
    assert "widget.example.com/w1 created" in out

    _, out, _ = await kubectl.run("get", "widgets")
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "SIZE", "AGE"]
    assert row.split()[:2] == ["w1", "3"]
    _, out, _ = await kubectl.run("get", "wd", "w1", "-o", "json")
    assert json.loads(out)["metadata"]["generation"] == 1

    await kubectl.run("apply", "-f", "-", stdin=widget_yaml(3, {"team": "a"}))
    _, out, _ = await kubectl.run("get", "widget", "w1", "-o", "yaml")
    obj = yaml.safe_load(out)
    assert obj["metadata"]["labels"] == {"team": "a"} and obj["metadata"]["generation"] == 1

    await kubectl.run("apply", "-f", "-", stdin=widget_yaml(5, {"team": "a"}))
    _, out, _ = await kubectl.run("get", "widget", "w1", "-o", "json")
    obj = json.loads(out)
    assert obj["spec"]["size"] == 5 and obj["metadata"]["generation"] == 2

    _, out, _ = await kubectl.run("describe", "widget", "w1")
    assert "Name:" in out and "w1" in out and "Size:" in out

    _, out, _ = await kubectl.run("delete", "widget", "w1")
    assert 'widget.example.com "w1" deleted' in out
    code, _, err = await kubectl.run("get", "widget", "w1", ok=False)
    assert code != 0 and "NotFound" in err


async def test_strict_validation_rejects_unknown_fields_and_validate_false_prunes(
    kubectl: Kubectl, apiserver: LocalApiServer
) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(WIDGET_CRD))
    bad = widget_yaml(2).replace("size: 2", "size: 2\n  bogus: 1")
    code, _, err = await kubectl.run("apply", "-f", "-", stdin=bad, ok=False)
    assert code != 0 and 'unknown field "spec.bogus"' in err
    await kubectl.run("apply", "--validate=false", "-f", "-", stdin=bad)
    _, out, _ = await kubectl.run("get", "widget", "w1", "-o", "json")
    assert "bogus" not in json.loads(out)["spec"]


async def test_schema_violation_is_reported_by_kubectl(kubectl: Kubectl, apiserver: LocalApiServer) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(WIDGET_CRD))
    code, _, err = await kubectl.run("apply", "-f", "-", stdin=widget_yaml(0), ok=False)
    assert code != 0 and "spec.size" in err and "greater than or equal to 1" in err


async def test_builtin_kinds_apply_and_get(kubectl: Kubectl, apiserver: LocalApiServer) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "demo"}, "data": {"a": "1"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        },
    ]
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    _, out, _ = await kubectl.run("get", "svc", "-n", "demo")
    assert "web" in out and "ClusterIP" in out
    _, out, _ = await kubectl.run("get", "deployment", "web", "-n", "demo", "-o", "json")
    assert json.loads(out)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    # a second apply of a changed container image goes through strategic merge
    docs[3]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"  # type: ignore[index]
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    _, out, _ = await kubectl.run("get", "deployment", "web", "-n", "demo", "-o", "json")
    assert json.loads(out)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    await kubectl.run("delete", "namespace", "demo")


async def test_kubectl_create_sends_protobuf_for_core_kinds_and_they_are_stored(
    kubectl: Kubectl, apiserver: LocalApiServer
) -> None:
    await kubectl.run("create", "namespace", "proto")
    await kubectl.run("create", "configmap", "cm", "-n", "proto", "--from-literal=a=b", "--save-config")
    await kubectl.run("create", "secret", "generic", "s", "-n", "proto", "--from-literal=k=v")
    await kubectl.run("create", "serviceaccount", "sa", "-n", "proto")
    _, out, _ = await kubectl.run("get", "configmap", "cm", "-n", "proto", "-o", "json")
    cm = json.loads(out)
    assert cm["data"] == {"a": "b"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in cm["metadata"]["annotations"]
    _, out, _ = await kubectl.run("get", "secret", "s", "-n", "proto", "-o", "json")
    secret = json.loads(out)
    assert secret["data"] == {"k": "dg=="}
    assert secret["type"] == "Opaque"
    _, out, _ = await kubectl.run("get", "namespace", "proto", "-o", "jsonpath={.status.phase}")
    assert out == "Active"
    await kubectl.run("get", "serviceaccount", "sa", "-n", "proto")
    await kubectl.run("create", "deployment", "d", "--image=x", "-n", "proto")
    assert (apiserver.store.get(("apps", "deployments"), "proto", "d") or {})["spec"]["replicas"] == 1
    # a kind outside the decoder's table (kubectl sends Pods as JSON; another client might not)
    type_meta = b"\x0a\x02v1\x12\x03Pod"
    body = b"k8s\x00" + bytes([0x0a, len(type_meta)]) + type_meta + b"\x12\x00"
    async with aiohttp.ClientSession() as http, http.post(
            f"{apiserver.url}/api/v1/namespaces/proto/pods", data=body,
            headers={"Content-Type": "application/vnd.kubernetes.protobuf"}) as resp:
        answer = await resp.json()
    assert resp.status == 415
    assert "protobuf bodies only for Namespace, ConfigMap, Secret, ServiceAccount" in answer["message"]
