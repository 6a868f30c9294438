"""The `kubernetes` Service of `default`, with its Endpoints and EndpointSlice: how pods find the API server.

kube-apiserver keeps these three itself (its bootstrap controller and endpoint reconciler,
pkg/controlplane/reconcilers): a Service without a selector whose ClusterIP is the first address of the
service range, and an Endpoints and an EndpointSlice that it writes directly, not through the
EndpointSlice controllers. This controller does the same for the local API server.

Guarantees:
1. Once `serve_at(address, port)` was called, Service `default/kubernetes` exists with labels
   `component: apiserver` and `provider: kubernetes`, type ClusterIP, the first address of the service CIDR
   as its ClusterIP, no selector, sessionAffinity None and one port `{name: https, port: 443, protocol: TCP,
   targetPort: <port>}`.
2. Endpoints `default/kubernetes` (label `endpointslice.kubernetes.io/skip-mirror: "true"`, so the mirroring
   controller leaves it alone) lists `address` with port `{name: https, port: <port>, protocol: TCP}`.
3. EndpointSlice `default/kubernetes` (label `kubernetes.io/service-name: kubernetes`, no managed-by label,
   no owner, as kube-apiserver writes it) has addressType IPv4, one endpoint `{addresses: [address],
   conditions: {ready: true}}` and the same port.
4. Whoever changes or deletes one of them, it is put back at once (event driven; kube-apiserver does it on a
   10 s loop); an object that matches is never written. The Service keeps its ClusterIP.
5. `serve_at` refuses, with `ValueError`, an address kube does not accept in Endpoints: not IPv4, or
   unspecified, loopback, link-local or multicast. Calling it again with a new address or port moves the
   Endpoints and the EndpointSlice there.

Not guaranteed: several API servers (one address only), IPv6. The Service is written once `serve_at` has been
called, so a server that never calls it has none.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj

NAMESPACE, NAME = "default", "kubernetes"
SERVICES: GroupResource = ("", "services")
ENDPOINTS: GroupResource = ("", "endpoints")
SLICES: GroupResource = ("discovery.k8s.io", "endpointslices")
SERVICE_LABELS = {"component": "apiserver", "provider": "kubernetes"}
SKIP_MIRROR = {"endpointslice.kubernetes.io/skip-mirror": "true"}
SLICE_LABELS = {"kubernetes.io/service-name": NAME}


def first_service_ip(service_cidr: str) -> str:
    net = ipaddress.IPv4Network(service_cidr)
    if net.num_addresses < 4:
        raise ValueError(f"service CIDR {service_cidr} has no room for the kubernetes Service")
    return str(net.network_address + 1)


def check_endpoint_address(address: str) -> str:
    """The address itself, if kube accepts it in an Endpoints or EndpointSlice (see guarantee 5)."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise ValueError(f"{address!r} is not an IPv4 address") from None
    for bad, why in ((ip.is_unspecified, "unspecified"), (ip.is_loopback, "in the loopback range (127.0.0.0/8)"),
                     (ip.is_link_local, "in the link-local range (169.254.0.0/16)"),
                     (ip.is_multicast, "in the multicast range (224.0.0.0/4)")):
        if bad:
            raise ValueError(f"the kubernetes Service's endpoint {address} may not be {why}: pods could not reach "
                             "it; listen on an address of the node's bridge as well")
    return address


def desired_service(cluster_ip: str, port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(SERVICE_LABELS)},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}}


def desired_endpoints(address: str, port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(SKIP_MIRROR)},
            "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port,
                                                                   "protocol": "TCP"}]}]}


def desired_slice(address: str, port: int) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(SLICE_LABELS)},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


def service_update(have: Obj, want: Obj) -> Obj | None:
    """`have` with the labels, type, selector-lessness and ports of `want`; None when nothing differs."""
    spec = dict(have.get("spec") or {})
    want_spec = want["spec"]
    body = {**have, "metadata": {**meta(have), "labels": want["metadata"]["labels"]}, "spec": spec}
    spec.pop("selector", None)
    spec["type"] = want_spec["type"]
    spec["ports"] = [{**next((p for p in spec.get("ports") or [] if p.get("name") == "https"), {}), **port}
                     for port in want_spec["ports"]]
    return None if body == have else body


def object_update(have: Obj, want: Obj, fields: tuple[str, ...]) -> Obj | None:
    """`have` with `want`'s labels and `fields`; None when nothing differs."""
    body = {**have, "metadata": {**meta(have), "labels": want["metadata"]["labels"]}}
    body.update({f: want[f] for f in fields})
    return None if body == have else body


class KubernetesServiceController:
    def __init__(self, api: Api, *, service_cidr: str = "10.96.0.0/16") -> None:
        self.api = api
        self.cluster_ip = first_service_ip(service_cidr)
        self._endpoint: tuple[str, int] | None = None
        self._running = False

    def serve_at(self, address: str, port: int) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is not a TCP port")
        self._endpoint = (check_endpoint_address(address), port)
        if self._running:
            self.sync(*self._endpoint)

    async def run(self) -> None:
        sub = self.api.store.subscribe(None)
        self._running = True
        try:
            if self._endpoint is not None:
                self.sync(*self._endpoint)
            while (batch := await sub.next_batch()) is not None:
                if self._endpoint is not None and any(_is_ours(ev) for ev in batch):
                    self.sync(*self._endpoint)
        finally:
            self._running = False
            self.api.store.unsubscribe(sub)

    def sync(self, address: str, port: int) -> None:
        """Put the three objects in the wanted state, writing only what differs."""
        store = self.api.store
        want_svc = desired_service(self.cluster_ip, port)
        have_svc = store.get(SERVICES, NAMESPACE, NAME)
        if have_svc is None:
            self._write(SERVICES, want_svc, create=True)
        elif (body := service_update(have_svc, want_svc)) is not None:
            self._write(SERVICES, body, create=False)
        for gr, want, fields in ((ENDPOINTS, desired_endpoints(address, port), ("subsets",)),
                                 (SLICES, desired_slice(address, port), ("addressType", "endpoints", "ports"))):
            have = store.get(gr, NAMESPACE, NAME)
            if have is None:
                self._write(gr, want, create=True)
            elif (body := object_update(have, want, fields)) is not None:
                self._write(gr, body, create=False)

    def _write(self, gr: GroupResource, body: dict[str, Any], *, create: bool) -> None:
        rt = next((rt for rt in self.api.registry if rt.group_resource == gr), None)
        if rt is None:
            return
        try:
            if create:
                self.api.create(rt, NAMESPACE, body)
            else:
                self.api.update(rt, NAMESPACE, NAME, body)
        except ApiError:
            return  # changed meanwhile (or the namespace is going): the next event brings another pass


def _is_ours(ev: Event) -> bool:
    m = meta(ev.obj)
    return ev.gr in (SERVICES, ENDPOINTS, SLICES) and m.get("name") == NAME and m.get("namespace") == NAMESPACE
