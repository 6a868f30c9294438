"""The local cluster's Gateway controller: GatewayClasses of the controllerNames it serves, their Gateways (an
address each, from a data-plane Service) and the HTTPRoutes attached to them. The decisions are in
`e2e.localcluster.gateway`; this module reads the store and writes what differs.

Guarantees:
1. Once the Gateway API CRDs are served, GatewayClass `localcluster` (controllerName
   `localcluster.rayservice.io/gateway-controller`) exists: created once if missing, never overwritten.
2. Every GatewayClass whose `spec.controllerName` is in `controller_names` (by default the local one and
   `istio.io/gateway-controller`, a stand-in so KubeRay's documented `istio` class works unchanged) is
   Accepted. GatewayClasses, Gateways and HTTPRoutes of other controllers are never written.
3. Each Gateway of a served class that has an accepted listener gets a ClusterIP Service
   `<gateway>-localgw` in its namespace (label `gateway.localcluster.rayservice.io/data-plane: "true"`, a
   controller ownerReference to the Gateway, so the garbage collector removes it with the Gateway; no
   selector; one TCP port `port-<n>` per distinct accepted listener port). Its ClusterIP is the Gateway's
   `status.addresses[0]`. A data-plane Service whose Gateway is no longer served is deleted.
4. Statuses are those of `gateway.status` (conditions with observedGeneration, listeners with attachedRoutes,
   route parents with our controllerName), recomputed on every change of a GatewayClass, Gateway, HTTPRoute,
   Service or Namespace, and written only when they differ from what is stored: a converged cluster gets no
   write from this controller.

Not guaranteed: Gateway `spec.addresses` (UnsupportedAddress), listener protocols other than HTTP, TLS,
ReferenceGrant (cross-namespace backendRefs are RefNotPermitted), GRPCRoute and the experimental channel.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import GroupResource, Obj
from e2e.localcluster.gateway import (
    API_VERSION,
    DATA_PLANE_LABEL,
    GATEWAYCLASSES,
    GATEWAYS,
    HTTPROUTES,
    LOCAL_CLASS,
    LOCAL_CONTROLLER,
    SERVED_CONTROLLERS,
    GatewayKey,
    ParentResult,
    attach_route,
    attached_counts,
    compute_gateway_status,
    compute_gatewayclass_status,
    compute_route_status,
    data_plane_service_name,
    gateway_listeners,
    resolve_backend,
    route_backends,
)

SERVICES: GroupResource = ("", "services")
NAMESPACES: GroupResource = ("", "namespaces")
WATCHED = frozenset({GATEWAYCLASSES, GATEWAYS, HTTPROUTES, SERVICES, NAMESPACES,
                     ("apiextensions.k8s.io", "customresourcedefinitions")})


def desired_data_plane_service(gateway: Obj) -> Obj | None:
    """The Gateway's data-plane Service, or None when no listener is accepted."""
    m = meta(gateway)
    ports = sorted({ls.port for ls in gateway_listeners(gateway) if ls.accepted})
    if not ports:
        return None
    owner = {"apiVersion": API_VERSION, "kind": "Gateway", "name": m.get("name"), "uid": m.get("uid"),
             "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": data_plane_service_name(str(m.get("name"))), "namespace": m.get("namespace"),
                         "labels": {DATA_PLANE_LABEL: "true"}, "ownerReferences": [owner]},
            "spec": {"type": "ClusterIP",
                     "ports": [{"name": f"port-{p}", "port": p, "protocol": "TCP", "targetPort": p} for p in ports]}}


def data_plane_update(have: Obj, want: Obj) -> Obj | None:
    """`have` with `want`'s label, owner and ports, keeping its ClusterIP; None when nothing differs."""
    hm = meta(have)
    labels = {**(hm.get("labels") or {}), **want["metadata"]["labels"]}
    ports = [{**next((p for p in have.get("spec", {}).get("ports") or [] if p.get("port") == w["port"]), {}), **w}
             for w in want["spec"]["ports"]]
    body = {**have, "metadata": {**hm, "labels": labels, "ownerReferences": want["metadata"]["ownerReferences"]},
            "spec": {**(have.get("spec") or {}), "ports": ports}}
    body["spec"].pop("selector", None)
    return None if body == have else body


class GatewayController:
    name = "gateways"

    def __init__(self, api: Api, *, controller_names: tuple[str, ...] = SERVED_CONTROLLERS,
                 own_class: str = LOCAL_CLASS, own_controller: str = LOCAL_CONTROLLER) -> None:
        self.api = api
        self.controller_names = controller_names
        self.own_class = own_class
        self.own_controller = own_controller
        self._class_made = False

    async def run(self) -> None:
        sub = self.api.store.subscribe(None)
        try:
            self.sync()
            while (batch := await sub.next_batch()) is not None:
                if any(ev.gr in WATCHED for ev in batch):
                    self.sync()
        finally:
            self.api.store.unsubscribe(sub)

    def sync(self) -> None:
        """One pass over every served object: ensure the class, the data-plane Services, the statuses."""
        if self._rt(GATEWAYCLASSES) is None:
            return  # the Gateway API CRDs are not served (yet)
        self._ensure_own_class()
        store, now = self.api.store, self.api.now()
        classes = {meta(gc)["name"]: gc for gc in store.list(GATEWAYCLASSES)
                   if (gc.get("spec") or {}).get("controllerName") in self.controller_names}
        for gc in classes.values():
            self._write_status(GATEWAYCLASSES, gc, compute_gatewayclass_status(gc, now))
        gateways: dict[GatewayKey, Obj] = {
            (meta(gw)["namespace"], meta(gw)["name"]): gw for gw in store.list(GATEWAYS)
            if (gw.get("spec") or {}).get("gatewayClassName") in classes and not meta(gw).get("deletionTimestamp")}
        labels = {meta(ns)["name"]: dict(meta(ns).get("labels") or {}) for ns in store.list(NAMESPACES)}
        routes = store.list(HTTPROUTES)
        results: dict[GatewayKey, list[ParentResult]] = {
            (meta(r)["namespace"], meta(r)["name"]): attach_route(r, gateways, labels) for r in routes}
        counts = attached_counts((key, res) for key, found in results.items() for res in found)
        for key, gw in gateways.items():
            address = self._ensure_data_plane(gw)
            attached = {ls: n for (gkey, ls), n in counts.items() if gkey == key}
            self._write_status(GATEWAYS, gw, compute_gateway_status(gw, address, attached, now))
        self._delete_stale_data_planes(gateways)
        services = _ServicesOf(store)

        def controller_for(key: GatewayKey) -> str:
            return str(classes[gateways[key]["spec"]["gatewayClassName"]]["spec"]["controllerName"])

        for route in routes:
            m = meta(route)
            found = results[(m["namespace"], m["name"])]
            backends = route_backends(route, lambda ns, ref: resolve_backend(ns, ref, services))
            status = compute_route_status(route, found, backends, controller_for, self.controller_names, now)
            if status.get("parents") or (route.get("status") or {}).get("parents"):
                self._write_status(HTTPROUTES, route, status)

    def _ensure_own_class(self) -> None:
        if self._class_made:
            return
        rt = self._rt(GATEWAYCLASSES)
        if rt is not None and self.api.store.get(GATEWAYCLASSES, "", self.own_class) is None:
            body = {"apiVersion": API_VERSION, "kind": "GatewayClass", "metadata": {"name": self.own_class},
                    "spec": {"controllerName": self.own_controller,
                             "description": "The local cluster's own Gateway implementation"}}
            try:
                self.api.create(rt, "", body)
            except ApiError:
                return  # tried again on the next event
        self._class_made = True

    def _ensure_data_plane(self, gateway: Obj) -> str | None:
        want = desired_data_plane_service(gateway)
        m = meta(gateway)
        name = data_plane_service_name(str(m["name"]))
        have = self.api.store.get(SERVICES, m["namespace"], name)
        rt = self._rt(SERVICES)
        if rt is None:
            return None
        try:
            if want is None:
                if have is not None and _is_data_plane(have):
                    self.api.delete(rt, m["namespace"], name, {})
                return None
            if have is None:
                have = self.api.create(rt, m["namespace"], want).obj
            elif not _is_data_plane(have):
                return None  # someone else's Service has that name: never taken over
            elif (body := data_plane_update(have, want)) is not None:
                have = self.api.update(rt, m["namespace"], name, body).obj
        except ApiError:
            return None  # changed meanwhile, or the namespace is going: the next event brings another pass
        ip = (have.get("spec") or {}).get("clusterIP")
        return str(ip) if ip and ip != "None" else None

    def _delete_stale_data_planes(self, gateways: Mapping[GatewayKey, Obj]) -> None:
        rt = self._rt(SERVICES)
        if rt is None:
            return
        for svc in self.api.store.list(SERVICES):
            m = meta(svc)
            if not _is_data_plane(svc) or m.get("deletionTimestamp"):
                continue
            owner: Obj = next((o for o in m.get("ownerReferences") or [] if o.get("kind") == "Gateway"), {})
            if (m["namespace"], owner.get("name")) not in gateways:
                try:
                    self.api.delete(rt, m["namespace"], m["name"], {})
                except ApiError:
                    pass  # already gone

    def _write_status(self, gr: GroupResource, obj: Obj, status: dict[str, Any]) -> None:
        if status == obj.get("status"):
            return
        rt = self._rt(gr)
        if rt is None:
            return
        m = meta(obj)
        try:
            self.api.update(rt, m.get("namespace", ""), m["name"], {**obj, "status": status}, subresource="status")
        except ApiError:
            return  # a newer version is coming: its event brings another pass

    def _rt(self, gr: GroupResource) -> ResourceType | None:
        return next((rt for rt in self.api.registry if rt.group_resource == gr and rt.storage_version == rt.version),
                    None)


def _is_data_plane(svc: Obj) -> bool:
    return (meta(svc).get("labels") or {}).get(DATA_PLANE_LABEL) == "true"


class _ServicesOf(Mapping[tuple[str, str], Obj]):
    """The store's Services as a read-only mapping, looked up one at a time."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getitem__(self, key: tuple[str, str]) -> Obj:
        svc = self._store.get(SERVICES, *key)
        if svc is None:
            raise KeyError(key)
        return dict(svc)

    def __iter__(self) -> Any:
        return iter((meta(s)["namespace"], meta(s)["name"]) for s in self._store.list(SERVICES))

    def __len__(self) -> int:
        return len(self._store.list(SERVICES))
