"""What kube-apiserver does per built-in kind: defaults, ClusterIP allocation, immutability, pod binding.

Guarantees (checked against recorded v1.36 answers, S06, S07, S09, S11):
1. A created Pod carries kube's defaults (spec, containers, the two 300 s NoExecute tolerations, the projected
   `kube-api-access-<5>` volume mounted in every container unless `automountServiceAccountToken` is false on
   the pod or, when the pod leaves it unset, on its ServiceAccount) and `status: {phase: Pending, qosClass}`
   with the QoS class computed from container requests and limits.
2. A Pod update may change only container images, `activeDeadlineSeconds`, tolerations (additions) and a
   negative `terminationGracePeriodSeconds` (to 1); anything else in `spec` is 422 Forbidden. `generation`
   grows only when `spec` really changed.
3. A Pod status carries `podIPs` derived from `podIP`, and every condition has `lastProbeTime` and
   `lastTransitionTime` (null when unset); `qosClass` is never lost.
4. `bind_pod` sets `spec.nodeName` once and adds `PodScheduled=True`, answering the 201 Status; binding a
   bound or deleting pod is 409.
5. A created Service gets a ClusterIP from the service CIDR that no live Service holds (never the network
   address, the first host address or the broadcast address); `clusterIP: None` stays headless; NodePort and
   LoadBalancer ports get node ports from 30000-32767. A Service update without `clusterIP` keeps the
   allocated one; changing it is 422 `may not change once set`.
6. A Namespace gets the `kubernetes.io/metadata.name` label, `spec.finalizers: [kubernetes]` and phase Active;
   a main-resource update cannot change its spec.finalizers.
7. A Node created without a Ready=True condition carries the `node.kubernetes.io/not-ready:NoSchedule` taint.
8. An Event whose involvedObject.namespace differs from its own is 422; created Events echo `eventTime: null`,
   `reportingComponent: ""`, `reportingInstance: ""`.
9. ConfigMap and Secret declare their top-level fields, so unknown ones follow `fieldValidation`; a Secret's
   `stringData` is merged into `data` (base64) and its `type` defaults to Opaque.

Not guaranteed: the diff quoted in the pod-update 422 is a plain unified diff, not Go's; the ServiceAccount
named by a pod need not exist; the ClusterIP allocator is sequential (kube's is random).
"""

from __future__ import annotations

import base64
import copy
import difflib
import ipaddress
import json
import random
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.storage.objects import meta, without_meta_status
from e2e.localcluster.apiserver.storage.rest import Api, KindHooks
from e2e.localcluster.apiserver.storage.store import Obj, Store

from .workloads import register_workload_hooks

TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
    "negative)")
_NODE_INFO_KEYS = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                   "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture")


def builtin_hooks(service_cidr: str = "10.96.0.0/16", *, rng: random.Random | None = None) -> KindHooks:
    """The per-kind hooks for an `Api`; `rng` names token volumes (a seeded one makes names repeatable)."""
    pick = rng or random.Random()
    services = _ServiceAllocator(service_cidr)
    hooks = KindHooks()
    hooks.prepare_create[("", "pods")] = lambda api, rt, pod: _create_pod(api, pod, pick)
    hooks.prepare_update[("", "pods")] = lambda api, rt, old, new: _update_pod(old, new)
    hooks.prepare_create[("", "services")] = lambda api, rt, svc: services.create(api.store, svc)
    hooks.prepare_update[("", "services")] = lambda api, rt, old, new: services.update(api.store, old, new)
    hooks.prepare_create[("", "namespaces")] = lambda api, rt, ns: _create_namespace(ns)
    hooks.prepare_update[("", "namespaces")] = lambda api, rt, old, new: _update_namespace(old, new)
    hooks.prepare_create[("", "nodes")] = lambda api, rt, node: _create_node(node)
    hooks.prepare_create[("", "events")] = lambda api, rt, ev: _create_event(ev)
    hooks.prepare_update[("", "events")] = lambda api, rt, old, new: _check_event(new)
    hooks.prepare_create[("", "secrets")] = lambda api, rt, secret: _write_secret(secret)
    hooks.prepare_update[("", "secrets")] = lambda api, rt, old, new: _write_secret(new)
    hooks.known_fields[("", "configmaps")] = frozenset(
        {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"})
    hooks.known_fields[("", "secrets")] = frozenset(
        {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"})
    register_workload_hooks(hooks, _default_pod_spec)
    return hooks


# ---- pods -------------------------------------------------------------------------------------------


def _create_pod(api: Api, pod: Obj, rng: random.Random) -> Obj:
    pod = copy.deepcopy(pod)
    spec = pod.setdefault("spec", {})
    if not spec.get("containers"):
        raise errors.invalid("", "Pod", meta(pod).get("name", ""),
                             [Cause("spec.containers", "FieldValueRequired", "Required value")])
    _default_pod_spec(spec)
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    if _should_automount(api.store, meta(pod).get("namespace", ""), account, spec):
        _add_token_volume(spec, "kube-api-access-" + "".join(rng.choice(_SUFFIX_ALPHABET) for _ in range(5)))
    tolerations = spec.setdefault("tolerations", [])
    for key in (NOT_READY_TAINT, "node.kubernetes.io/unreachable"):
        if not any(_tolerates_no_execute(t, key) for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}
    return pod


def _default_pod_spec(spec: dict[str, Any]) -> None:
    """kube's decode-time defaults (SetDefaults_PodSpec and friends), applied on create and update."""
    for key, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                       ("dnsPolicy", "ClusterFirst"), ("securityContext", {}),
                       ("schedulerName", "default-scheduler"), ("enableServiceLinks", True)):
        spec.setdefault(key, value)
    for volume in spec.get("volumes") or []:
        for kind in ("configMap", "secret", "downwardAPI", "projected"):
            if isinstance(volume.get(kind), dict):
                volume[kind].setdefault("defaultMode", 420)
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        _default_container(container)


def _default_container(c: dict[str, Any]) -> None:
    resources = c.setdefault("resources", {})
    limits = resources.get("limits") or {}
    if limits:
        resources["requests"] = {**limits, **(resources.get("requests") or {})}
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(probe_key)
        if isinstance(probe, dict):
            for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                               ("failureThreshold", 3)):
                probe.setdefault(key, value)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("path", "/")
                probe["httpGet"].setdefault("scheme", "HTTP")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    image = str(c.get("image") or "")
    untagged = "@" not in image and ":" not in image.rsplit("/", 1)[-1]
    c.setdefault("imagePullPolicy", "Always" if untagged or image.endswith(":latest") else "IfNotPresent")


def _should_automount(store: Store, namespace: str, account: str, spec: Mapping[str, Any]) -> bool:
    """kube's ServiceAccount admission: the pod's automountServiceAccountToken, else its ServiceAccount's, else
    true (a ServiceAccount that does not exist counts as unset)."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    sa = store.get(("", "serviceaccounts"), namespace, account)
    return sa is None or sa.get("automountServiceAccountToken") is not False


def _add_token_volume(spec: dict[str, Any], name: str) -> None:
    spec.setdefault("volumes", []).append({"name": name, "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": 420}})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        mounts = container.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
            mounts.append({"name": name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})


def _tolerates_no_execute(toleration: Mapping[str, Any], key: str) -> bool:
    if toleration.get("effect") not in (None, "", "NoExecute"):
        return False
    return toleration.get("key") == key or (not toleration.get("key") and toleration.get("operator") == "Exists")


def _update_pod(old: Obj, new: Obj) -> Obj:
    new = copy.deepcopy(new)
    spec = new.setdefault("spec", {})
    _default_pod_spec(spec)
    old_spec = old.get("spec") or {}
    if _mask_mutable(old_spec, spec) != old_spec:
        diff = difflib.unified_diff(_lines(old_spec), _lines(spec), lineterm="", n=3)
        text = _POD_UPDATE_FORBIDDEN + "\n" + "\n".join(list(diff)[2:]) + "\n"
        raise errors.invalid("", "Pod", meta(old).get("name", ""), [Cause("spec", "FieldValueForbidden", text)])
    new["status"] = _normalize_pod_status(new.get("status") or {}, old.get("status") or {})
    generation = int(meta(old).get("generation") or 1)
    changed = without_meta_status(new) != without_meta_status(old)
    new["metadata"] = {**meta(new), "generation": generation + 1 if changed else generation}
    return new


def _mask_mutable(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` with the fields kube lets a pod update change put back to their old values."""
    masked = copy.deepcopy(new)
    for key in ("containers", "initContainers"):
        if len(masked.get(key) or []) == len(old.get(key) or []):
            for mine, theirs in zip(masked.get(key) or [], old.get(key) or [], strict=True):
                if "image" in theirs:
                    mine["image"] = theirs["image"]
    for key in ("activeDeadlineSeconds", "tolerations"):
        if key == "tolerations" and not all(t in (masked.get(key) or []) for t in old.get(key) or []):
            continue  # only additions to the existing tolerations are allowed
        masked.pop(key, None)
        if key in old:
            masked[key] = old[key]
    grace = old.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and masked.get("terminationGracePeriodSeconds") == 1:
        masked["terminationGracePeriodSeconds"] = grace
    return masked


def _lines(spec: Mapping[str, Any]) -> list[str]:
    return json.dumps(spec, indent=1, sort_keys=True).splitlines()


def _normalize_pod_status(status: dict[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    status = dict(status)
    if status.get("podIP") and not status.get("podIPs"):
        status["podIPs"] = [{"ip": status["podIP"]}]
    if "conditions" in status:
        status["conditions"] = [{**c, "lastProbeTime": c.get("lastProbeTime"),
                                 "lastTransitionTime": c.get("lastTransitionTime")}
                                for c in status.get("conditions") or []]
    if "qosClass" in old and not status.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status


def bind_pod(api: Api, namespace: str, name: str, binding: Mapping[str, Any]) -> Obj:
    """The `pods/binding` subresource: assign an unbound pod to a node (which need not exist)."""
    rt = api.registry.lookup("", "v1", "pods")
    if rt is None:
        raise errors.internal("pods are not served")
    pod = api.get(rt, namespace, name)
    target = str((binding.get("target") or {}).get("name") or "")
    if not target:
        raise errors.invalid("", "Binding", name, [Cause("target.name", "FieldValueRequired", "Required value")])
    node = (pod.get("spec") or {}).get("nodeName")
    if meta(pod).get("deletionTimestamp"):
        raise errors.conflict("", "pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host")
    if node:
        raise errors.conflict("", "pods/binding", name, f'pod {name} is already assigned to node "{node}"')
    bound = copy.deepcopy(pod)
    bound["spec"]["nodeName"] = target
    extra = (binding.get("metadata") or {}).get("annotations") or {}
    if extra:
        bound["metadata"]["annotations"] = {**(meta(pod).get("annotations") or {}), **extra}
    status = bound.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    status["conditions"] = [*conditions, {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                          "lastTransitionTime": api.now()}]
    api.store.put(rt.group_resource, bound)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_SUFFIX: dict[str, Fraction] = {
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
    **{s: Fraction(10 ** (3 * i)) for i, s in enumerate("kMGTPE", 1)},
    **{s + "i": Fraction(2 ** (10 * i)) for i, s in enumerate("KMGTPE", 1)}}


def parse_quantity(value: Any) -> Fraction:
    """A resource quantity (`500m`, `1Gi`, `2`) as an exact number; unparsable values count as zero."""
    found = _QUANTITY.match(str(value).strip())
    if found is None or found.group(2) not in _SUFFIX:
        return Fraction(0)
    return Fraction(found.group(1)) * _SUFFIX[found.group(2)]


def qos_class(spec: Mapping[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed, as kube's GetPodQOS computes it from cpu and memory."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        resources = c.get("resources") or {}
        for target, source in ((requests, resources.get("requests") or {}), (limits, resources.get("limits") or {})):
            for name in ("cpu", "memory"):
                amount = parse_quantity(source.get(name, 0))
                if amount:
                    target[name] = target.get(name, Fraction(0)) + amount
        found = {n for n in ("cpu", "memory") if parse_quantity((resources.get("limits") or {}).get(n, 0))}
        guaranteed = guaranteed and found == {"cpu", "memory"}
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == q for n, q in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# ---- services ---------------------------------------------------------------------------------------


class _Sequential:
    """Free integers of [first, last], handed out in order and wrapping around. A wrap or a clash rescans what
    the store holds: that is how the values of deleted objects come free."""

    def __init__(self, first: int, last: int, in_use: Callable[[Store], set[int]]) -> None:
        self.first, self.last, self._in_use = first, last, in_use
        self._next = first
        self._held: set[int] | None = None

    def take(self, store: Store, wanted: int | None = None) -> int | None:
        """`wanted` if it is free, or else the next free value; None when taken or the range is full."""
        held = self._held if self._held is not None else self._in_use(store)
        for attempt in range(2):
            if attempt:
                held = self._in_use(store)
            self._held = held
            size = self.last - self.first + 1
            for value in [wanted] if wanted is not None else (self._advance() for _ in range(size)):
                if value not in held:
                    held.add(value)
                    return value
        return None

    def _advance(self) -> int:
        value, self._next = self._next, self._next + 1 if self._next < self.last else self.first
        return value


def _service_ips(store: Store) -> set[int]:
    return {int(ipaddress.IPv4Address(ip)) for svc in store.list(("", "services"))
            for ip in (svc.get("spec") or {}).get("clusterIPs") or [] if _is_ipv4(ip)}


def _node_ports(store: Store) -> set[int]:
    return {int(p["nodePort"]) for svc in store.list(("", "services"))
            for p in (svc.get("spec") or {}).get("ports") or [] if isinstance(p.get("nodePort"), int)}


def _is_ipv4(text: Any) -> bool:
    try:
        ipaddress.IPv4Address(str(text))
    except ValueError:
        return False
    return True


class _ServiceAllocator:
    def __init__(self, cidr: str) -> None:
        self.cidr = ipaddress.IPv4Network(cidr)
        self.ips = _Sequential(int(self.cidr.network_address) + 2, int(self.cidr.broadcast_address) - 1,
                               _service_ips)
        self.ports = _Sequential(30000, 32767, _node_ports)

    def create(self, store: Store, svc: Obj) -> Obj:
        svc = copy.deepcopy(svc)
        spec = svc.setdefault("spec", {})
        name = meta(svc).get("name", "")
        taken = store.get(("", "services"), meta(svc).get("namespace", ""), name) is not None
        _default_service_spec(spec)
        if spec["type"] != "ExternalName" and not taken:
            requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [""])[0]
            ip = requested if requested == "None" else self._allocate_ip(store, name, requested)
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            self._allocate_node_ports(store, name, spec)
        svc["status"] = {"loadBalancer": {}}
        return svc

    def update(self, store: Store, old: Obj, new: Obj) -> Obj:
        new = copy.deepcopy(new)
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        _default_service_spec(spec)
        old_ips = old_spec.get("clusterIPs") or ([old_spec["clusterIP"]] if old_spec.get("clusterIP") else [])
        new_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        if not new_ips:
            new_ips = old_ips
        elif old_ips and new_ips[0] != old_ips[0] and spec["type"] != "ExternalName":
            shown = json.dumps(new_ips, separators=(",", ":"))
            raise errors.invalid("", "Service", meta(old).get("name", ""), [Cause(
                "spec.clusterIPs[0]", "FieldValueInvalid", f"Invalid value: {shown}: may not change once set")])
        if new_ips:
            spec["clusterIP"], spec["clusterIPs"] = new_ips[0], list(new_ips)
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if key in old_spec:
                spec.setdefault(key, old_spec[key])
        kept = {(p.get("port"), p.get("protocol")): p["nodePort"] for p in old_spec.get("ports") or []
                if "nodePort" in p}
        for port in spec.get("ports") or []:
            if "nodePort" not in port and (port.get("port"), port.get("protocol")) in kept:
                port["nodePort"] = kept[(port.get("port"), port.get("protocol"))]
        self._allocate_node_ports(store, meta(old).get("name", ""), spec)
        return new

    def _allocate_ip(self, store: Store, name: str, requested: str) -> str:
        if not requested:
            value = self.ips.take(store)
            if value is None:
                raise errors.internal("failed to allocate a serviceIP: range is full")
            return str(ipaddress.IPv4Address(value))
        problem = ""
        if not _is_ipv4(requested) or ipaddress.IPv4Address(requested) not in self.cidr:
            problem = (f"the provided IP ({requested}) is not in the valid range. The range of valid IPs is "
                       f"{self.cidr}")
        elif self.ips.take(store, int(ipaddress.IPv4Address(requested))) is None:
            problem = "provided IP is already allocated"
        if problem:
            raise errors.invalid("", "Service", name, [Cause("spec.clusterIPs", "FieldValueInvalid",
                                 f'Invalid value: ["{requested}"]: failed to allocate IP {requested}: {problem}')])
        return requested

    def _allocate_node_ports(self, store: Store, name: str, spec: dict[str, Any]) -> None:
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        for i, port in enumerate(spec.get("ports") or []):
            if "nodePort" in port:
                continue
            value = self.ports.take(store)
            if value is None:
                raise errors.invalid("", "Service", name, [Cause(f"spec.ports[{i}].nodePort", "FieldValueInvalid",
                                                                 "Invalid value: 0: range is full")])
            port["nodePort"] = value


def _default_service_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec["type"] == "ExternalName":
        return
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


# ---- namespaces, nodes, events --------------------------------------------------------------------------


def _create_namespace(ns: Obj) -> Obj:
    name = meta(ns).get("name", "")
    finalizers = list((ns.get("spec") or {}).get("finalizers") or [])
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    labels = {**(meta(ns).get("labels") or {}), "kubernetes.io/metadata.name": name}
    return {**ns, "metadata": {**meta(ns), "labels": labels}, "spec": {**(ns.get("spec") or {}),
            "finalizers": finalizers}, "status": {"phase": "Active"}}


def _update_namespace(old: Obj, new: Obj) -> Obj:
    labels = {**(meta(new).get("labels") or {}), "kubernetes.io/metadata.name": meta(old).get("name", "")}
    spec = {**(new.get("spec") or {}), "finalizers": (old.get("spec") or {}).get("finalizers") or []}
    return {**new, "metadata": {**meta(new), "labels": labels}, "spec": spec}


def _create_node(node: Obj) -> Obj:
    node = copy.deepcopy(node)
    status = node.setdefault("status", {})
    status.setdefault("daemonEndpoints", {"kubeletEndpoint": {"Port": 0}})
    status["nodeInfo"] = {**dict.fromkeys(_NODE_INFO_KEYS, ""), **(status.get("nodeInfo") or {})}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    taints = node.setdefault("spec", {}).setdefault("taints", [])
    if not ready and not any(t.get("key") == NOT_READY_TAINT and t.get("effect") == "NoSchedule" for t in taints):
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule"})
    if not taints:
        node["spec"].pop("taints")
    return node


def _create_event(ev: Obj) -> Obj:
    ev = _check_event(ev)
    return {**ev, "eventTime": ev.get("eventTime"), "reportingComponent": ev.get("reportingComponent") or "",
            "reportingInstance": ev.get("reportingInstance") or ""}


def _check_event(ev: Obj) -> Obj:
    """kube's legacy event rule: an old-style event lives in its object's namespace (or default)."""
    if ev.get("eventTime"):
        return ev
    namespace = meta(ev).get("namespace", "")
    involved = str((ev.get("involvedObject") or {}).get("namespace") or "")
    if involved != namespace and not (not involved and namespace in ("", "default")):
        raise errors.invalid("", "Event", meta(ev).get("name", ""), [Cause(
            "involvedObject.namespace", "FieldValueInvalid",
            f"Invalid value: {json.dumps(involved)}: does not match event.namespace")])
    return ev


def _write_secret(secret: Obj) -> Obj:
    """`stringData` is write-only: merged into `data` (base64) on every write; `type` defaults to Opaque."""
    encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in (secret.get("stringData") or {}).items()}
    secret = {k: v for k, v in secret.items() if k != "stringData"}
    if encoded:
        secret["data"] = {**(secret.get("data") or {}), **encoded}
    return {**secret, "type": secret.get("type") or "Opaque"}
