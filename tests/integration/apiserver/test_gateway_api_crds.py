"""The Gateway API v1.4.1 CRDs (e2e/localcluster/gatewayapi, standard channel) on the embedded API server, with
kubectl 1.37: they are accepted as published, and a GatewayClass, a Gateway and an HTTPRoute with weighted
backendRefs (what KubeRay's incremental upgrade writes) are served with the schema's defaults, their printer
columns and their status subresource.

Not served as kube-apiserver does: the Gateway schema's default `status` ("Waiting for controller"), which kube
applies when it reads an object stored without one; the embedded server defaults request bodies only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

CRDS = sorted((Path(__file__).resolve().parents[3] / "e2e" / "localcluster" / "gatewayapi").glob("*.yaml"))
OBJECTS = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: nobodys-class
spec:
  controllerName: example.com/no-controller-here
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: rayservice-sample-gateway
spec:
  gatewayClassName: nobodys-class
  listeners:
    - name: rayservice-sample-gateway-listener
      protocol: HTTP
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rayservice-sample-httproute
spec:
  parentRefs:
    - name: rayservice-sample-gateway
      namespace: default
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /
      backendRefs:
        - name: active-serve-svc
          port: 8000
          weight: 75
        - name: pending-serve-svc
          port: 8000
          weight: 25
"""


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig)


def test_the_vendored_crds_are_v1_4_1_standard_channel_gatewayclass_gateway_and_httproute() -> None:
    kinds = set()
    for path in CRDS:
        crd = yaml.safe_load(path.read_text())
        annotations = crd["metadata"]["annotations"]
        assert annotations["gateway.networking.k8s.io/bundle-version"] == "v1.4.1", path
        assert annotations["gateway.networking.k8s.io/channel"] == "standard", path
        kinds.add(crd["spec"]["names"]["kind"])
    assert kinds == {"GatewayClass", "Gateway", "HTTPRoute"}


async def test_the_crds_apply_and_their_objects_are_served_with_defaults_columns_and_status(
    kubectl: Kubectl, apiserver: LocalApiServer
) -> None:
    args = [a for path in CRDS for a in ("-f", str(path))]
    _, out, _ = await kubectl.run("apply", "--server-side", *args)
    assert out.count("serverside-applied") == 3, out
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=OBJECTS)
    assert "gateway.gateway.networking.k8s.io/rayservice-sample-gateway created" in out, out

    _, out, _ = await kubectl.run("get", "httproute", "rayservice-sample-httproute", "-o", "json")
    route = json.loads(out)
    (parent,) = route["spec"]["parentRefs"]
    assert (parent["group"], parent["kind"]) == ("gateway.networking.k8s.io", "Gateway")  # schema defaults
    backends = route["spec"]["rules"][0]["backendRefs"]
    assert [(b["group"], b["kind"], b["name"], b["weight"]) for b in backends] == [
        ("", "Service", "active-serve-svc", 75), ("", "Service", "pending-serve-svc", 25)]

    _, out, _ = await kubectl.run("get", "gateway")
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert row.split()[:2] == ["rayservice-sample-gateway", "nobodys-class"]

    status = {"status": {"addresses": [{"type": "IPAddress", "value": "10.96.0.80"}], "conditions": [
        {"type": t, "status": "True", "reason": t, "message": "", "observedGeneration": 1,
         "lastTransitionTime": "2026-12-08T00:00:00Z"} for t in ("Accepted", "Programmed")]}}
    await kubectl.run("patch", "gateway", "rayservice-sample-gateway", "--subresource=status", "--type=merge",
                      "-p", json.dumps(status))
    _, out, _ = await kubectl.run("get", "gateway", "rayservice-sample-gateway", "--no-headers")
    assert out.split()[:4] == ["rayservice-sample-gateway", "nobodys-class", "10.96.0.80", "True"], out
