"""Server-side printers for built-in kinds: the columns and cells `kubectl get` shows, as kube's printers make them.

Guarantees:
1. Every built-in kind gets kube's column set (names, types, priorities; `-o wide` columns have priority 1);
   kinds without a kube printer (CustomResourceDefinition, ...) get the default `Name`, `Created At`.
2. Cells follow kube's printers on the common paths: a pod's READY `n/m`, STATUS from phase, init containers,
   waiting/terminated reasons and deletion (`Terminating`), RESTARTS with `(5m ago)`; a Service's TYPE,
   CLUSTER-IP, EXTERNAL-IP (`<none>`, `<pending>`), PORT(S) (`80:30080/TCP`), SELECTOR; `<none>` where kube
   prints it; a ReplicaSet's DESIRED/CURRENT/READY; a Job's STATUS (Complete, Failed, Terminating, Suspended,
   FailureTarget, SuccessCriteriaMet, else Running), COMPLETIONS (`2/3`, `0/1 of 2`) and DURATION (start to
   completion, or to now). Ages are `human_duration(now - creationTimestamp)`.
3. Pure: cells depend only on the object and `now`.

Not guaranteed: every corner of kube's printers (e.g. pod readiness gates beyond counting, sidecar restarts); a
workload's SELECTOR shows its matchLabels only.

Any task may call `builtin_printer` and the row functions it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from e2e.localcluster.apiserver.schema.resources import ResourceType

Column = dict[str, Any]
RowFn = Callable[[Mapping[str, Any], datetime], list[Any]]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
CREATION_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It "
    "is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More "
    "info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def column(name: str, description: str, *, ctype: str = "string", fmt: str = "", priority: int = 0) -> Column:
    return {"name": name, "type": ctype, "format": fmt, "description": description, "priority": priority}


NAME_COLUMN = column("Name", NAME_DESCRIPTION, fmt="name")
_AGE = column("Age", CREATION_DESCRIPTION)


# ---- time ----------------------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def human_duration(seconds_f: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    seconds = int(seconds_f)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(value: Any, now: datetime) -> str:
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, Mapping) else {}


def _sub(obj: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    cur: Any = obj
    for key in keys:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    return cur if isinstance(cur, Mapping) else {}


def _state(status: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """A container state (`running`, `waiting`, `terminated`): present even when empty, as a non-nil Go pointer."""
    value = _sub(status, "state").get(key)
    return value if isinstance(value, Mapping) else None


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _name_age(obj: Mapping[str, Any], now: datetime) -> tuple[str, str]:
    md = _meta(obj)
    return str(md.get("name", "")), age(md.get("creationTimestamp"), now)


def _selector(selector: Any) -> str:
    if not isinstance(selector, Mapping) or not selector:
        return "<none>"
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


# ---- pods ----------------------------------------------------------------------------------------------------


def _pod_row(pod: Mapping[str, Any], now: datetime) -> list[Any]:
    name, pod_age = _name_age(pod, now)
    spec, status = _sub(pod, "spec"), _sub(pod, "status")
    restarts = 0
    last_restart: datetime | None = None
    reason = str(status.get("reason") or status.get("phase") or "")

    def note_restart(cs: Mapping[str, Any]) -> None:
        nonlocal restarts, last_restart
        restarts += int(cs.get("restartCount") or 0)
        finished = parse_time(_sub(cs, "lastState", "terminated").get("finishedAt"))
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished

    initializing = False
    init_specs = _list(spec, "initContainers")
    for i, cs in enumerate(_list(status, "initContainerStatuses")):
        note_restart(cs)
        term, wait = _state(cs, "terminated"), _state(cs, "waiting") or {}
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if term is not None:
            reason = "Init:" + (str(term.get("reason") or "") or (f"Signal:{term['signal']}" if term.get("signal")
                                                                 else f"ExitCode:{term.get('exitCode')}"))
        elif wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = f"Init:{wait['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    ready = 0
    if not initializing:
        restarts, last_restart = 0, None
        has_running = False
        for cs in reversed(_list(status, "containerStatuses")):
            note_restart(cs)
            term, wait = _state(cs, "terminated"), _state(cs, "waiting") or {}
            if wait.get("reason"):
                reason = str(wait["reason"])
            elif term is not None and term.get("reason"):
                reason = str(term["reason"])
            elif term is not None:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and _state(cs, "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in _list(status, "conditions") if isinstance(c, Mapping))
            reason = "Running" if pod_ready else "NotReady"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    ips = [p.get("ip") for p in _list(status, "podIPs") if isinstance(p, Mapping) and p.get("ip")]
    ip = ips[0] if ips else status.get("podIP") or "<none>"
    gates = _list(spec, "readinessGates")
    gates_text = "<none>"
    if gates:
        wanted = {g.get("conditionType") for g in gates if isinstance(g, Mapping)}
        true = sum(1 for c in _list(status, "conditions") if isinstance(c, Mapping)
                   and c.get("type") in wanted and c.get("status") == "True")
        gates_text = f"{true}/{len(gates)}"
    return [name, f"{ready}/{len(_list(spec, 'containers'))}", reason, restarts_text, pod_age, ip,
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_text]


_POD_COLUMNS = [
    NAME_COLUMN,
    column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    column("Status", "The aggregate status of the containers in this pod."),
    column("Restarts", "The number of times the containers in this pod have been restarted and when the last "
                       "container in this pod has restarted."),
    _AGE,
    column("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
                 "allocated.", priority=1),
    column("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
    column("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node.",
           priority=1),
    column("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.", priority=1),
]


# ---- services ------------------------------------------------------------------------------------------------


def _service_row(svc: Mapping[str, Any], now: datetime) -> list[Any]:
    name, svc_age = _name_age(svc, now)
    spec = _sub(svc, "spec")
    svc_type = str(spec.get("type") or "ClusterIP")
    external = [str(ip) for ip in _list(spec, "externalIPs")]
    if svc_type == "LoadBalancer":
        ingress = [str(i.get("ip") or i.get("hostname") or "") for i in _list(_sub(svc, "status", "loadBalancer"),
                                                                              "ingress") if isinstance(i, Mapping)]
        addrs = [a for a in ingress if a] + external
        external_text = ",".join(addrs) if addrs else "<pending>"
    elif svc_type == "ExternalName":
        external_text = str(spec.get("externalName") or "<none>")
    else:
        external_text = ",".join(external) if external else "<none>"
    ports = []
    for p in _list(spec, "ports"):
        if not isinstance(p, Mapping):
            continue
        proto = p.get("protocol") or "TCP"
        ports.append(f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}")
    return [name, svc_type, spec.get("clusterIP") or "<none>", external_text, ",".join(ports) or "<none>", svc_age,
            _selector(spec.get("selector"))]


_SERVICE_COLUMNS = [
    NAME_COLUMN,
    column("Type", "type determines how the Service is exposed."),
    column("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
    column("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
                          "traffic for this service."),
    column("Port(s)", "The list of ports that are exposed by this service."),
    _AGE,
    column("Selector", "Route service traffic to pods with label keys and values matching this selector.",
           priority=1),
]


# ---- other kinds ---------------------------------------------------------------------------------------------


def _namespace_row(ns: Mapping[str, Any], now: datetime) -> list[Any]:
    name, ns_age = _name_age(ns, now)
    return [name, _sub(ns, "status").get("phase") or "", ns_age]


def _node_row(node: Mapping[str, Any], now: datetime) -> list[Any]:
    name, node_age = _name_age(node, now)
    status = _sub(node, "status")
    ready = next((c.get("status") for c in _list(status, "conditions")
                  if isinstance(c, Mapping) and c.get("type") == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if _sub(node, "spec").get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = _meta(node).get("labels") or {}
    roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k}
                   | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    addrs = {a.get("type"): a.get("address") for a in _list(status, "addresses") if isinstance(a, Mapping)}
    info = _sub(status, "nodeInfo")
    return [name, state, ",".join(r for r in roles if r) or "<none>", node_age, info.get("kubeletVersion") or "",
            addrs.get("InternalIP") or "<none>", addrs.get("ExternalIP") or "<none>",
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _configmap_row(cm: Mapping[str, Any], now: datetime) -> list[Any]:
    name, cm_age = _name_age(cm, now)
    return [name, len(_sub(cm, "data")) + len(_sub(cm, "binaryData")), cm_age]


def _secret_row(secret: Mapping[str, Any], now: datetime) -> list[Any]:
    name, secret_age = _name_age(secret, now)
    return [name, secret.get("type") or "Opaque", len(_sub(secret, "data")), secret_age]


def _serviceaccount_row(sa: Mapping[str, Any], now: datetime) -> list[Any]:
    name, sa_age = _name_age(sa, now)
    return [name, len(_list(sa, "secrets")), sa_age]


def _more(items: list[str], limit: int = 3) -> str:
    if not items:
        return "<none>"
    text = ",".join(items[:limit])
    return text + (f" + {len(items) - limit} more..." if len(items) > limit else "")


def _endpoints_row(ep: Mapping[str, Any], now: datetime) -> list[Any]:
    name, ep_age = _name_age(ep, now)
    pairs = []
    for subset in _list(ep, "subsets"):
        if not isinstance(subset, Mapping):
            continue
        ports = [p.get("port") for p in _list(subset, "ports") if isinstance(p, Mapping)] or [None]
        for addr in _list(subset, "addresses"):
            ip = addr.get("ip") if isinstance(addr, Mapping) else None
            pairs += [f"{ip}:{port}" if port is not None else str(ip) for port in ports]
    return [name, _more(pairs), ep_age]


def _endpointslice_row(es: Mapping[str, Any], now: datetime) -> list[Any]:
    name, es_age = _name_age(es, now)
    ports = [str(p.get("port")) for p in _list(es, "ports") if isinstance(p, Mapping) and p.get("port") is not None]
    addrs = [str(a) for e in _list(es, "endpoints") if isinstance(e, Mapping) for a in _list(e, "addresses")]
    return [name, es.get("addressType") or "", ",".join(ports) or "<unset>", _more(addrs), es_age]


def _event_row(ev: Mapping[str, Any], now: datetime) -> list[Any]:
    first = ev.get("firstTimestamp") or ev.get("eventTime") or _meta(ev).get("creationTimestamp")
    last = ev.get("lastTimestamp") or _sub(ev, "series").get("lastObservedTime") or first
    obj = _sub(ev, "involvedObject")
    source = _sub(ev, "source")
    component = source.get("component") or ev.get("reportingComponent") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    return [age(last, now), ev.get("type") or "", ev.get("reason") or "",
            f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}", obj.get("fieldPath") or "",
            ", ".join(x for x in (component, host) if x), ev.get("message") or "", age(first, now),
            int(ev.get("count") or 1), _meta(ev).get("name", "")]


def _lease_row(lease: Mapping[str, Any], now: datetime) -> list[Any]:
    name, lease_age = _name_age(lease, now)
    return [name, _sub(lease, "spec").get("holderIdentity") or "", lease_age]


def _deployment_row(dep: Mapping[str, Any], now: datetime) -> list[Any]:
    name, dep_age = _name_age(dep, now)
    spec, status = _sub(dep, "spec"), _sub(dep, "status")
    containers = [c for c in _list(_sub(dep, "spec", "template", "spec"), "containers") if isinstance(c, Mapping)]
    labels = _sub(spec, "selector", "matchLabels")
    return [name, f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1) or 0)}",
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0), dep_age,
            ",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers),
            _selector(labels)]


def _template_cells(obj: Mapping[str, Any]) -> list[str]:
    """CONTAINERS, IMAGES and SELECTOR of a workload (matchLabels only, as `k=v` pairs)."""
    containers = [c for c in _list(_sub(obj, "spec", "template", "spec"), "containers") if isinstance(c, Mapping)]
    return [",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers),
            _selector(_sub(obj, "spec", "selector", "matchLabels"))]


def _replicaset_row(rs: Mapping[str, Any], now: datetime) -> list[Any]:
    name, rs_age = _name_age(rs, now)
    spec, status = _sub(rs, "spec"), _sub(rs, "status")
    return [name, int(spec.get("replicas", 1) or 0), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), rs_age, *_template_cells(rs)]


def _job_row(job: Mapping[str, Any], now: datetime) -> list[Any]:
    """kube's printJob: STATUS from the conditions, COMPLETIONS `succeeded/completions`, DURATION."""
    name, job_age = _name_age(job, now)
    spec, status = _sub(job, "spec"), _sub(job, "status")
    if isinstance(spec.get("completions"), int):
        completions = f"{int(status.get('succeeded') or 0)}/{spec['completions']}"
    elif int(spec.get("parallelism") or 0) > 1:
        completions = f"{int(status.get('succeeded') or 0)}/1 of {spec['parallelism']}"
    else:
        completions = f"{int(status.get('succeeded') or 0)}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration(((end or now) - start).total_seconds())
    true = {c.get("type") for c in _list(status, "conditions") if isinstance(c, Mapping) and c.get("status") == "True"}
    state = "Running"
    for ctype, shown in (("Complete", "Complete"), ("Failed", "Failed"), ("", "Terminating"),
                         ("Suspended", "Suspended"), ("FailureTarget", "FailureTarget"),
                         ("SuccessCriteriaMet", "SuccessCriteriaMet")):
        if (ctype in true) if ctype else bool(_meta(job).get("deletionTimestamp")):
            state = shown
            break
    return [name, state, completions, duration, job_age, *_template_cells(job)]


def _created_at_row(obj: Mapping[str, Any], _now: datetime) -> list[Any]:
    md = _meta(obj)
    return [md.get("name", ""), md.get("creationTimestamp") or ""]


def _binding_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    name, b_age = _name_age(obj, now)
    ref = _sub(obj, "roleRef")
    subjects = [s for s in _list(obj, "subjects") if isinstance(s, Mapping)]

    def of(kind: str) -> str:
        names = [(f"{s.get('namespace')}/{s.get('name')}" if kind == "ServiceAccount" else str(s.get("name")))
                 for s in subjects if s.get("kind") == kind]
        return ", ".join(names)

    return [name, f"{ref.get('kind', '')}/{ref.get('name', '')}", b_age, of("User"), of("Group"),
            of("ServiceAccount")]


_CREATED_AT = [NAME_COLUMN, column("Created At", CREATION_DESCRIPTION, ctype="date")]
_PRINTERS: dict[tuple[str, str], tuple[list[Column], RowFn]] = {
    ("", "pods"): (_POD_COLUMNS, _pod_row),
    ("", "services"): (_SERVICE_COLUMNS, _service_row),
    ("", "namespaces"): ([NAME_COLUMN, column("Status", "The status of the namespace"), _AGE], _namespace_row),
    ("", "nodes"): ([NAME_COLUMN, column("Status", "The status of the node"),
                     column("Roles", "The roles of the node"), _AGE,
                     column("Version", "Kubelet Version reported by the node."),
                     column("Internal-IP", "List of addresses reachable to the node.", priority=1),
                     column("External-IP", "List of addresses reachable to the node.", priority=1),
                     column("OS-Image", "OS Image reported by the node.", priority=1),
                     column("Kernel-Version", "Kernel Version reported by the node.", priority=1),
                     column("Container-Runtime", "Container Runtime Version reported by the node.", priority=1)],
                    _node_row),
    ("", "configmaps"): ([NAME_COLUMN, column("Data", "Data contains the configuration data.", ctype="integer"),
                          _AGE], _configmap_row),
    ("", "secrets"): ([NAME_COLUMN, column("Type", "Used to facilitate programmatic handling of secret data."),
                       column("Data", "Data contains the secret data.", ctype="integer"), _AGE], _secret_row),
    ("", "serviceaccounts"): ([NAME_COLUMN, column("Secrets", "Secrets is a list of the secrets in the same "
                                                              "namespace that pods running using this "
                                                              "ServiceAccount are allowed to use.",
                                                   ctype="integer"), _AGE], _serviceaccount_row),
    ("", "endpoints"): ([NAME_COLUMN, column("Endpoints", "Endpoints is the list of endpoints in this object."),
                         _AGE], _endpoints_row),
    ("discovery.k8s.io", "endpointslices"): (
        [NAME_COLUMN, column("AddressType", "addressType specifies the type of address carried by this "
                                            "EndpointSlice."),
         column("Ports", "ports specifies the list of network ports exposed by each endpoint in this slice."),
         column("Endpoints", "endpoints is a list of unique endpoints in this slice."), _AGE], _endpointslice_row),
    ("", "events"): ([column("Last Seen", "The time at which the most recent occurrence of this event was "
                                          "recorded."),
                      column("Type", "Type of this event (Normal, Warning), new types could be added in the "
                                     "future."),
                      column("Reason", "This should be a short, machine understandable string that gives the "
                                       "reason for the transition into the object's current status."),
                      column("Object", "The object that this event is about."),
                      column("Subobject", "The subobject that this event is about.", priority=1),
                      column("Source", "The component reporting this event.", priority=1),
                      column("Message", "A human-readable description of the status of this operation."),
                      column("First Seen", "The time at which the event was first recorded.", priority=1),
                      column("Count", "The number of times this event has occurred.", ctype="integer",
                             priority=1),
                      column("Name", NAME_DESCRIPTION, fmt="name", priority=1)], _event_row),
    ("coordination.k8s.io", "leases"): ([NAME_COLUMN, column("Holder", "holderIdentity contains the identity of "
                                                                       "the holder of a current lease."), _AGE],
                                        _lease_row),
    ("apps", "deployments"): ([NAME_COLUMN, column("Ready", "Number of the pod with ready state"),
                               column("Up-to-date", "Total number of non-terminated pods targeted by this "
                                                    "deployment that have the desired template spec.",
                                      ctype="integer"),
                               column("Available", "Total number of available pods (ready for at least "
                                                   "minReadySeconds) targeted by this deployment.",
                                      ctype="integer"), _AGE,
                               column("Containers", "Names of each container in the template.", priority=1),
                               column("Images", "Images referenced by each container in the template.",
                                      priority=1),
                               column("Selector", "Label selector for pods.", priority=1)], _deployment_row),
    ("apps", "replicasets"): (
        [NAME_COLUMN, column("Desired", "Replicas is the number of desired pods. This is a pointer to distinguish "
                                        "between explicit zero and unspecified. Defaults to 1. More info: "
                                        "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/"
                                        "#how-a-replicaset-works", ctype="integer"),
         column("Current", "Replicas is the most recently observed number of non-terminating pods. More info: "
                           "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/"
                           "#how-a-replicaset-works", ctype="integer"),
         column("Ready", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
                ctype="integer"), _AGE,
         column("Containers", "Names of each container in the template.", priority=1),
         column("Images", "Images referenced by each container in the template.", priority=1),
         column("Selector", "Selector is a label query over pods that should match the replica count.",
                priority=1)], _replicaset_row),
    ("batch", "jobs"): (
        [NAME_COLUMN, column("Status", "Status of the job."),
         column("Completions", "The number of pods which reached phase Succeeded."),
         column("Duration", "Time required to complete the job."), _AGE,
         column("Containers", "Names of each container in the template.", priority=1),
         column("Images", "Images referenced by each container in the template.", priority=1),
         column("Selector", "A label query over pods that should match the pod count.", priority=1)], _job_row),
    ("rbac.authorization.k8s.io", "roles"): (_CREATED_AT, _created_at_row),
    ("rbac.authorization.k8s.io", "clusterroles"): (_CREATED_AT, _created_at_row),
}
_BINDING_COLUMNS = [NAME_COLUMN, column("Role", "RoleRef references the Role or ClusterRole."), _AGE,
                    column("Users", "Users in the binding", priority=1),
                    column("Groups", "Groups in the binding", priority=1),
                    column("ServiceAccounts", "ServiceAccounts in the binding", priority=1)]
_PRINTERS[("rbac.authorization.k8s.io", "rolebindings")] = (_BINDING_COLUMNS, _binding_row)
_PRINTERS[("rbac.authorization.k8s.io", "clusterrolebindings")] = (_BINDING_COLUMNS, _binding_row)


def builtin_printer(rt: ResourceType) -> tuple[list[Column], RowFn]:
    """Columns and a row function for a built-in kind (guarantee 1)."""
    return _PRINTERS.get(rt.group_resource, (_CREATED_AT, _created_at_row))
