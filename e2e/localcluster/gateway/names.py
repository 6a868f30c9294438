"""The names the local cluster's Gateway API implementation answers to and writes (pure constants).

Guarantees:
1. `LOCAL_CONTROLLER` is the controllerName of the local cluster's own GatewayClass `LOCAL_CLASS`;
   `SERVED_CONTROLLERS` also holds `ISTIO_STANDIN`, so KubeRay's documented `istio` GatewayClass is served
   by the local cluster unchanged (a stand-in: nothing of Istio runs).
2. `data_plane_service_name(gateway)` is a valid Service name (a DNS-1035 label of at most 63 characters) for
   every valid Gateway name, the same for the same name, and different for different names of up to 55
   characters.
"""

from __future__ import annotations

import hashlib

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
GATEWAYCLASSES = (GROUP, "gatewayclasses")
GATEWAYS = (GROUP, "gateways")
HTTPROUTES = (GROUP, "httproutes")

LOCAL_CONTROLLER = "localcluster.rayservice.io/gateway-controller"
ISTIO_STANDIN = "istio.io/gateway-controller"
SERVED_CONTROLLERS = (LOCAL_CONTROLLER, ISTIO_STANDIN)
LOCAL_CLASS = "localcluster"

# On a Gateway's data-plane Service (value "true"); its controller ownerReference names the Gateway.
DATA_PLANE_LABEL = "gateway.localcluster.rayservice.io/data-plane"
DATA_PLANE_SUFFIX = "-localgw"


def data_plane_service_name(gateway: str) -> str:
    name = gateway.replace(".", "-")
    if len(name) + len(DATA_PLANE_SUFFIX) > 63 or name != gateway or not name[:1].isalpha():
        digest = hashlib.sha256(gateway.encode()).hexdigest()[:8]
        name = f"g{name[:45].strip('-')}-{digest}"
    return name + DATA_PLANE_SUFFIX
