"""The EndpointSlice and Endpoints controllers: where a selector Service's traffic may go, as kube publishes it.

Guarantees (as recorded against kube-controller-manager v1.36, S07):
1. Every Service with a non-empty selector (and not ExternalName) has one EndpointSlice `<svc>-<5 random>`
   (generateName `<svc>-`) labelled `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
   endpointslice-controller.k8s.io` (plus the Service's own labels), with a controller ownerReference to the
   Service and addressType IPv4.
2. Its endpoints are the pods matching the selector that have a podIP, are not terminal and whose
   spec.nodeName names an existing Node (any node with publishNotReadyAddresses), sorted by pod name, each with
   `conditions {ready, serving, terminating}` from the pod's Ready condition and deletionTimestamp,
   `targetRef` and `nodeName` (and `zone`, `hostname` where kube sets them).
3. Ports are `{name, protocol, port}` per Service port, targetPort resolved as a number or a named container
   port of the pod.
4. A v1 Endpoints object named after the Service lists the same pods (ready ones in `addresses`, the others in
   `notReadyAddresses`, terminating ones left out), labelled `endpoints.kubernetes.io/managed-by:
   endpoint-controller`; it is deleted when the Service is.
5. An object is written only when what was computed differs from what is stored. Work is driven by Service,
   Pod, Node, EndpointSlice and Endpoints events, matched through label indexes: no event scans every pod or
   every Service of a namespace.

Not guaranteed: pods whose named targetPort resolves to different numbers share one slice whose ports come
from the first of them (kube would split them into several slices); no 100-endpoint limit per slice. As in
kube, a Service that loses its selector keeps its last slice and Endpoints, and the slice of a deleted Service
is left to the garbage collector.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj

SERVICES: GroupResource = ("", "services")
PODS: GroupResource = ("", "pods")
NODES: GroupResource = ("", "nodes")
SLICES: GroupResource = ("discovery.k8s.io", "endpointslices")
ENDPOINTS: GroupResource = ("", "endpoints")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGED_BY = ("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io")
ENDPOINTS_MANAGED_BY = ("endpoints.kubernetes.io/managed-by", "endpoint-controller")
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
ServiceKey = tuple[str, str]
NodeLabels = Callable[[str], Mapping[str, str] | None]  # None: no such Node


# ---- what to publish (pure) ----------------------------------------------------------------------------


def service_selector(svc: Obj) -> dict[str, str] | None:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName" or not spec.get("selector"):
        return None
    return {str(k): str(v) for k, v in spec["selector"].items()}


def is_pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def resolve_port(svc_port: Mapping[str, Any], pod: Obj) -> int | None:
    """kube's FindPort: a number as is, a name through the pod's container ports of the same protocol."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = svc_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _ports(svc: Obj, pods: Sequence[Obj], *, slice_form: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not pods:
        return out
    for svc_port in (svc.get("spec") or {}).get("ports") or []:
        number = resolve_port(svc_port, pods[0])
        if number is None:
            continue
        port: dict[str, Any] = {"name": svc_port.get("name") or "", "protocol": svc_port.get("protocol") or "TCP",
                                "port": number}
        if not slice_form:
            port = {"name": port["name"], "port": number, "protocol": port["protocol"]}
            if not port["name"]:
                del port["name"]
        if svc_port.get("appProtocol"):
            port["appProtocol"] = svc_port["appProtocol"]
        out.append(port)
    return out


def _ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")] or [status.get("podIP")]
    return [str(ip) for ip in ips if ip and ":" not in str(ip)]


def _target_ref(pod: Obj) -> dict[str, Any]:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"), "uid": m.get("uid")}


def _hostname(svc: Obj, pod: Obj) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == meta(svc).get("name"):
        return str(spec["hostname"])
    return None


def _publishable(pod: Obj) -> bool:
    return bool(_ips(pod)) and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def desired_slice(svc: Obj, pods: Sequence[Obj], node_labels: NodeLabels) -> Obj:
    """The one EndpointSlice of `svc`, given the pods its selector matches (any order)."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    chosen: list[Obj] = []
    endpoints: list[dict[str, Any]] = []
    for pod in sorted(pods, key=lambda p: str(meta(p).get("name"))):
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        labels = node_labels(node_name) if node_name else None
        if not _publishable(pod) or (labels is None and not publish):
            continue
        ready, terminating = is_pod_ready(pod), bool(meta(pod).get("deletionTimestamp"))
        endpoint: dict[str, Any] = {"addresses": _ips(pod), "conditions": {
            "ready": publish or (ready and not terminating), "serving": ready, "terminating": terminating},
            "targetRef": _target_ref(pod)}
        if node_name:
            endpoint["nodeName"] = node_name
        if labels and labels.get(ZONE_LABEL):
            endpoint["zone"] = labels[ZONE_LABEL]
        if (hostname := _hostname(svc, pod)) is not None:
            endpoint["hostname"] = hostname
        chosen.append(pod)
        endpoints.append(endpoint)
    m = meta(svc)
    labels_out = {k: v for k, v in (m.get("labels") or {}).items()
                  if k not in (SERVICE_NAME_LABEL, SLICE_MANAGED_BY[0], HEADLESS_LABEL)}
    labels_out.update({SERVICE_NAME_LABEL: m["name"], SLICE_MANAGED_BY[0]: SLICE_MANAGED_BY[1]})
    if spec.get("clusterIP") == "None":
        labels_out[HEADLESS_LABEL] = ""
    owner = {"apiVersion": "v1", "kind": "Service", "name": m["name"], "uid": m.get("uid"), "controller": True,
             "blockOwnerDeletion": True}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{m['name']}-", "namespace": m.get("namespace"), "labels": labels_out,
                         "ownerReferences": [owner]},
            "addressType": "IPv4", "endpoints": endpoints, "ports": _ports(svc, chosen, slice_form=True)}


def desired_endpoints(svc: Obj, pods: Sequence[Obj]) -> Obj:
    """The v1 Endpoints of `svc`, given the pods its selector matches (any order)."""
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    ready: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    chosen: list[Obj] = []
    for pod in sorted(pods, key=lambda p: str(meta(p).get("name"))):
        if not _publishable(pod) or (meta(pod).get("deletionTimestamp") and not publish):
            continue
        address: dict[str, Any] = {"ip": _ips(pod)[0]}
        if (hostname := _hostname(svc, pod)) is not None:
            address["hostname"] = hostname
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        address["targetRef"] = _target_ref(pod)
        (ready if publish or is_pod_ready(pod) else not_ready).append(address)
        chosen.append(pod)
    m = meta(svc)
    labels = {**(m.get("labels") or {}), ENDPOINTS_MANAGED_BY[0]: ENDPOINTS_MANAGED_BY[1]}
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    out: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": m["name"], "namespace": m.get("namespace"), "labels": labels}}
    if chosen:
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        subset["ports"] = _ports(svc, chosen, slice_form=False)
        out["subsets"] = [subset]
    return out


# ---- indexes -------------------------------------------------------------------------------------------


class _PodIndex:
    """Pods of a namespace by each of their label pairs."""

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str, str], set[str]] = {}
        self.labels: dict[ServiceKey, dict[str, str]] = {}

    def put(self, ns: str, name: str, labels: Mapping[str, str] | None) -> None:
        self.remove(ns, name)
        if labels is not None:
            self.labels[(ns, name)] = dict(labels)
            for k, v in labels.items():
                self._by_pair.setdefault((ns, k, v), set()).add(name)

    def remove(self, ns: str, name: str) -> None:
        for k, v in self.labels.pop((ns, name), {}).items():
            bucket = self._by_pair.get((ns, k, v), set())
            bucket.discard(name)
            if not bucket:
                self._by_pair.pop((ns, k, v), None)

    def matching(self, ns: str, selector: Mapping[str, str]) -> list[str]:
        smallest = min((self._by_pair.get((ns, k, v), set()) for k, v in selector.items()), key=len)
        return sorted(n for n in smallest if _subset(selector, self.labels[(ns, n)]))


class _ServiceIndex:
    """Services by selector; each is filed under one of its pairs (the rarest when filed) to find it from a pod."""

    def __init__(self) -> None:
        self.selectors: dict[ServiceKey, dict[str, str]] = {}
        self._by_pair: dict[tuple[str, str, str], set[str]] = {}
        self._filed: dict[ServiceKey, tuple[str, str, str]] = {}

    def put(self, ns: str, name: str, selector: dict[str, str] | None) -> None:
        self.remove(ns, name)
        if selector:
            pair = min(((ns, k, v) for k, v in selector.items()),
                       key=lambda p: (len(self._by_pair.get(p, ())), -len(p[2]), p))
            self.selectors[(ns, name)] = selector
            self._filed[(ns, name)] = pair
            self._by_pair.setdefault(pair, set()).add(name)

    def remove(self, ns: str, name: str) -> None:
        self.selectors.pop((ns, name), None)
        pair = self._filed.pop((ns, name), None)
        if pair is not None:
            self._by_pair[pair].discard(name)
            if not self._by_pair[pair]:
                del self._by_pair[pair]

    def selecting(self, ns: str, labels: Mapping[str, str]) -> set[ServiceKey]:
        found: set[ServiceKey] = set()
        for k, v in labels.items():
            for name in self._by_pair.get((ns, k, v), ()):
                if _subset(self.selectors[(ns, name)], labels):
                    found.add((ns, name))
        return found


def _subset(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ---- the controller ------------------------------------------------------------------------------------


class EndpointSliceController:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._pods = _PodIndex()
        self._services = _ServiceIndex()
        self._pod_views: dict[ServiceKey, tuple[Any, ...]] = {}
        self._slices: dict[ServiceKey, set[str]] = {}  # managed slices by their service-name label
        self._own_writes: set[str] = set()  # resourceVersions this controller produced

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(None)
        try:
            for gr in (SERVICES, PODS, SLICES):
                for obj in store.list(gr):
                    self._observe(Event("ADDED", gr, obj, None, 0))
            dirty = set(self._services.selectors)
            while True:
                for key in sorted(dirty):
                    self._sync(key)
                batch = await sub.next_batch()
                if batch is None:
                    return
                dirty = set()
                for ev in batch:
                    dirty |= self._observe(ev)
        finally:
            store.unsubscribe(sub)

    def _observe(self, ev: Event) -> set[ServiceKey]:
        m = meta(ev.obj)
        ns, name = m.get("namespace") or "", m.get("name") or ""
        gone = ev.type == "DELETED"
        if ev.gr == SERVICES:
            self._services.put(ns, name, None if gone else service_selector(ev.obj))
            return {(ns, name)}
        if ev.gr == PODS:
            view = None if gone else _pod_view(ev.obj)
            if view == self._pod_views.get((ns, name)):
                return set()
            before = self._pods.labels.get((ns, name), {})
            if view is None:
                self._pod_views.pop((ns, name), None)
                self._pods.remove(ns, name)
            else:
                self._pod_views[(ns, name)] = view
                self._pods.put(ns, name, m.get("labels") or {})
            return self._services.selecting(ns, before) | self._services.selecting(ns, m.get("labels") or {})
        if ev.gr == NODES:
            if ev.type == "MODIFIED" and (ev.old is None or meta(ev.old).get("labels") == m.get("labels")):
                return set()
            return set(self._services.selectors)
        if ev.gr not in (SLICES, ENDPOINTS):
            return set()
        own = m.get("resourceVersion") in self._own_writes
        self._own_writes.discard(m.get("resourceVersion") or "")
        if ev.gr == ENDPOINTS:
            return set() if own else {(ns, name)}
        labels = m.get("labels") or {}
        if labels.get(SLICE_MANAGED_BY[0]) != SLICE_MANAGED_BY[1] or SERVICE_NAME_LABEL not in labels:
            return set()
        key = (ns, str(labels[SERVICE_NAME_LABEL]))
        if gone:
            self._slices.get(key, set()).discard(name)
        else:
            self._slices.setdefault(key, set()).add(name)
        return set() if own else {key}

    def _sync(self, key: ServiceKey) -> None:
        store = self.api.store
        ns, name = key
        svc = store.get(SERVICES, ns, name)
        if svc is None:
            current = store.get(ENDPOINTS, ns, name)
            if current is not None and (meta(current).get("labels") or {}).get(ENDPOINTS_MANAGED_BY[0]):
                self._write(ENDPOINTS, ns, name, None)
            return
        selector = service_selector(svc)
        if selector is None:
            return
        pods = [p for n in self._pods.matching(ns, selector) if (p := store.get(PODS, ns, n)) is not None]
        uid = meta(svc).get("uid")
        mine = [s for n in sorted(self._slices.get(key, ())) if (s := store.get(SLICES, ns, n)) is not None
                and any(r.get("uid") == uid and r.get("controller") for r in meta(s).get("ownerReferences") or [])]
        for extra in mine[1:]:
            self._write(SLICES, ns, meta(extra)["name"], None)
        want = desired_slice(svc, pods, self._node_labels)
        if not mine:
            self._write(SLICES, ns, "", want)
        else:
            have = mine[0]
            body = {**have, "metadata": {**meta(have), "labels": want["metadata"]["labels"],
                                         "ownerReferences": want["metadata"]["ownerReferences"]}}
            body.update({k: want[k] for k in ("addressType", "endpoints", "ports")})
            if body != have:
                self._write(SLICES, ns, meta(have)["name"], body)
        want_eps = desired_endpoints(svc, pods)
        have_eps = store.get(ENDPOINTS, ns, name)
        if have_eps is None:
            self._write(ENDPOINTS, ns, "", want_eps)
            return
        body = {k: v for k, v in have_eps.items() if k != "subsets"}
        body["metadata"] = {**meta(have_eps), "labels": want_eps["metadata"]["labels"]}
        if "subsets" in want_eps:
            body["subsets"] = want_eps["subsets"]
        if body != have_eps:
            self._write(ENDPOINTS, ns, name, body)

    def _node_labels(self, name: str) -> Mapping[str, str] | None:
        node = self.api.store.get(NODES, "", name)
        return None if node is None else (meta(node).get("labels") or {})

    def _write(self, gr: GroupResource, ns: str, name: str, body: Obj | None) -> None:
        """Create (no name), update, or delete (no body); failures wait for the next event of the object."""
        rt = next((rt for rt in self.api.registry if rt.group_resource == gr), None)
        if rt is None:
            return
        try:
            if body is None:
                self.api.delete(rt, ns, name, {})
                return
            before = (self.api.store.get(gr, ns, name) or {}).get("metadata", {}).get("resourceVersion")
            result = self.api.create(rt, ns, body) if not name else self.api.update(rt, ns, name, body)
        except ApiError:
            return  # e.g. the namespace is terminating, or the object changed meanwhile
        rv = meta(result.obj).get("resourceVersion")
        if rv and rv != before:
            self._own_writes.add(rv)


def _pod_view(pod: Obj) -> tuple[Any, ...]:
    """The parts of a pod that endpoints depend on: other changes (container statuses, ...) are ignored."""
    m, spec = meta(pod), pod.get("spec") or {}
    ports = [(p.get("name"), p.get("containerPort"), p.get("protocol"))
             for c in spec.get("containers") or [] for p in c.get("ports") or []]
    return (sorted((m.get("labels") or {}).items()), _ips(pod), spec.get("nodeName"), is_pod_ready(pod),
            bool(m.get("deletionTimestamp")), (pod.get("status") or {}).get("phase"), spec.get("hostname"),
            spec.get("subdomain"), m.get("uid"), ports)
