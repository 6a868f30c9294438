"""The pods and Services a RayCluster should have, and how many workers each group wants.

Guarantees:
1. Builders return fresh dicts ready to create (``apiVersion``, ``kind``, ``metadata``, ``spec``), never
   share structure with the cluster (templates are deep-copied), and depend only on their arguments: the
   same cluster and name give equal objects.
2. Pods carry ``ray.io/cluster``, ``ray.io/node-type`` (head|worker), ``ray.io/group`` (``headgroup`` for
   the head), ``ray.io/identifier`` (``<cluster>-head``/``<cluster>-worker``), ``ray.io/is-ray-node=yes``,
   ``app.kubernetes.io/name=kuberay`` and ``app.kubernetes.io/created-by=rayservice-operator``; these win
   over the template's labels because selectors and the operator's own bookkeeping depend on them. Every
   other template label is kept; ``ray.io/serve`` is ``true`` unless the template sets it (a RayService
   sets ``false`` on the head template to keep the head out of its serve Service).
3. Pods and Services have one controller ownerReference to the RayCluster (``ray.io/v1``, with
   ``blockOwnerDeletion``), so deleting the cluster deletes them.
4. The Ray container runs ``ray start`` from ``rayStartParams`` (see ``_raystart``) with env
   ``RAY_CLUSTER_NAME``, ``RAY_ADDRESS`` (``127.0.0.1:<gcs port>`` on the head, the head Service's address on
   workers), on workers ``RAY_IP`` and ``FQ_RAY_IP`` (the head Service's FQDN), ``MY_POD_IP`` (downward API
   ``status.podIP``), ``RAY_USAGE_STATS_ENABLED=0``; ports ``gcs``, ``dashboard``, ``client`` (head only),
   ``serve``, ``dashboard-agent``; httpGet probes, ``/dev/shm`` and, on workers, an init container that
   waits for the GCS (see ``_podspec``). What the user set wins. With ``enableInTreeAutoscaling`` the head
   also gets the ``autoscaler`` sidecar, its ServiceAccount and ``no-monitor``, and every Ray container the
   env autoscaler v2 reads (see ``autoscaler``). With ``authOptions.mode: token`` the Ray container, the
   autoscaler and the ``wait-gcs-ready`` init containers get ``RAY_AUTH_MODE`` and the token (see ``auth``).
5. ``<cluster>-head-svc`` selects the head pod (``ray.io/cluster`` + ``ray.io/node-type=head``), exposes the
   head's Ray container ports (ours plus any the user declared, sorted by name), has the type of
   ``headGroupSpec.serviceType`` (default ClusterIP) and the annotations of ``headServiceAnnotations``.
   ``<cluster>-dashboard-svc`` is a ClusterIP Service on the head's ``dashboard-agent`` port.
6. ``desired_worker_counts`` is, per group in spec order, ``replicas`` clamped to
   ``[minReplicas, maxReplicas]`` (an unset ``replicas`` means ``minReplicas``; when minReplicas >
   maxReplicas, maxReplicas wins, as in KubeRay) times ``numOfHosts``; 0 for a suspended group or cluster.

Caller must: validate the cluster first (``validate_cluster``); a template without containers raises
``ValueError`` and an unknown group ``KeyError``.

Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from rayservice.api.labels import (
    APP_NAME_LABEL,
    APP_NAME_VALUE,
    CREATED_BY_LABEL,
    CREATED_BY_VALUE,
    HEAD_GROUP_NAME,
    IS_RAY_NODE_LABEL,
    IS_RAY_NODE_VALUE,
    NODE_TYPE_HEAD,
    NODE_TYPE_LABEL,
    NODE_TYPE_WORKER,
    RAY_CLUSTER_LABEL,
    RAY_GROUP_LABEL,
    RAY_IDENTIFIER_LABEL,
    SERVE_LABEL,
    SERVE_VALUE_TRUE,
)
from rayservice.api.views import HeadGroupSpecView, WorkerGroupSpecView
from rayservice.controller import names
from rayservice.controller.objects import (
    RawObject,
    flag,
    group_name,
    is_suspended,
    items,
    mapping,
    metadata,
    name_of,
    namespace_of,
    part,
    raycluster_spec,
    sequence,
    text,
    worker_groups,
)
from rayservice.controller.objects import (
    owner_reference as controller_reference,
)
from rayservice.controller.raycluster import _podspec, auth, autoscaler, gcsft
from rayservice.controller.raycluster._raystart import (
    DEFAULT_GCS_PORT,
    complete_params,
    param_port,
    ray_start_command,
    shell_value,
)

_UNBOUNDED: Final = 2**31 - 1


def desired_head_pod(cluster: RawObject, *, name: str) -> dict[str, Any]:
    """The head pod called ``name`` (guarantees 1-4)."""
    return _pod(cluster, _head_spec(cluster), name=name, head=True, group=HEAD_GROUP_NAME)


def desired_worker_pod(cluster: RawObject, group: str, *, name: str) -> dict[str, Any]:
    """A worker pod of ``group`` called ``name`` (guarantees 1-4)."""
    for spec in worker_groups(cluster):
        if group_name(spec) == group:
            return _pod(cluster, spec, name=name, head=False, group=group)
    raise KeyError(f"RayCluster {name_of(cluster)!r} has no worker group {group!r}")


def desired_head_service(cluster: RawObject) -> dict[str, Any]:
    """``<cluster>-head-svc`` (guarantee 5)."""
    head = _head_spec(cluster)
    ports: dict[str, dict[str, Any]] = {}
    for port in _head_container_ports(cluster):
        number = port.get("containerPort")
        if not isinstance(number, int) or isinstance(number, bool):
            continue
        name = str(port.get("name") or f"{number}-port")
        protocol = str(port.get("protocol") or "TCP")
        ports.setdefault(name, {"name": name, "port": number, "targetPort": number, "protocol": protocol})
    service = _service(cluster, names.head_service_name(name_of(cluster)), [ports[key] for key in sorted(ports)])
    service["spec"]["type"] = text(head.get("serviceType"), "ClusterIP")
    annotations = part(raycluster_spec(cluster).get("headServiceAnnotations"))
    if annotations:
        service["metadata"]["annotations"] = {str(key): str(value) for key, value in annotations.items()}
    return service


def desired_dashboard_service(cluster: RawObject) -> dict[str, Any]:
    """``<cluster>-dashboard-svc`` (guarantee 5)."""
    params = complete_params(part(_head_spec(cluster).get("rayStartParams")), head=True, address=None, num_cpus=None)
    port = param_port(params, "dashboard-agent-listen-port", _podspec.AGENT_PORT)
    spec_port = {"name": "dashboard-agent", "port": port, "targetPort": port, "protocol": "TCP"}
    service = _service(cluster, names.dashboard_service_name(name_of(cluster)), [spec_port])
    service["spec"]["type"] = "ClusterIP"
    return service


def desired_worker_counts(cluster: RawObject) -> dict[str, int]:
    """Worker pods wanted per group (guarantee 6)."""
    suspended = is_suspended(cluster)
    counts: dict[str, int] = {}
    for group in worker_groups(cluster):
        wanted = 0 if suspended or flag(group.get("suspend")) else _clamped_replicas(group) * _hosts(group)
        counts[group_name(group)] = wanted
    return counts


def owner_reference(cluster: RawObject) -> dict[str, Any]:
    """The controller ownerReference every child of ``cluster`` carries (guarantee 3)."""
    return controller_reference(cluster, "RayCluster")


def _pod(cluster: RawObject, group_spec: Mapping[str, Any], *, name: str, head: bool, group: str) -> dict[str, Any]:
    template = copy.deepcopy(dict(mapping(group_spec.get("template"))))
    template_meta = mapping(template.get("metadata"))
    pod_spec = dict(mapping(template.get("spec")))
    containers = [dict(item) for item in sequence(pod_spec.get("containers")) if isinstance(item, Mapping)]
    if not containers:
        raise ValueError(f"RayCluster {name_of(cluster)!r}: the {group} pod template has no containers")
    index = _podspec.ray_container_index(containers, head=head)
    container = containers[index]
    cluster_name, namespace = name_of(cluster), namespace_of(cluster)
    fqdn = names.head_service_fqdn(cluster_name, namespace)
    head_address = f"{fqdn}:{_gcs_port(cluster)}"
    params = complete_params(
        mapping(group_spec.get("rayStartParams")),
        head=head,
        address=None if head else head_address,
        num_cpus=_podspec.container_cpus(container),
    )
    if head:
        autoscaler.add_head_params(cluster, params)
        gcsft.add_head_params(cluster, params)
    ray_start = ray_start_command(params, head=head)
    overwrite = str(mapping(metadata(cluster).get("annotations")).get(_podspec.OVERWRITE_COMMAND_ANNOTATION, ""))
    command = _podspec.command_and_args(container, ray_start, overwrite=overwrite.lower() == "true")
    if command is not None:
        container["command"], container["args"] = command
    own_params = mapping(group_spec.get("rayStartParams"))
    ours = gcsft.head_env(cluster, own_params) if head else gcsft.worker_env(cluster)
    ours += auth.token_env(cluster)
    ours.append(_podspec.value_env("RAY_CLUSTER_NAME", cluster_name))
    if head:
        ours.append(_podspec.value_env("RAY_ADDRESS", f"127.0.0.1:{_gcs_port(cluster)}"))
    else:
        ours += [
            _podspec.value_env("RAY_ADDRESS", head_address),
            _podspec.value_env("RAY_IP", fqdn),
            _podspec.value_env("FQ_RAY_IP", fqdn),
        ]
    ours += [
        _podspec.field_env("MY_POD_IP", "status.podIP"),
        *autoscaler.ray_container_env(cluster),
        _podspec.value_env("RAY_USAGE_STATS_ENABLED", "0"),
        _podspec.value_env("KUBERAY_GEN_RAY_START_CMD", ray_start),
    ]
    container["env"] = _podspec.merge_env(sequence(container.get("env")), ours)
    container["ports"] = _podspec.merge_ports(
        sequence(container.get("ports")), _podspec.default_ports(params, head=head)
    )
    _podspec.add_probes(container, params, head=head)
    _podspec.add_shared_memory(pod_spec, container)
    containers[index] = container
    pod_spec["containers"] = containers
    if head:
        autoscaler.add_to_head(cluster, pod_spec, index, auth_env=auth.token_env(cluster))
    else:
        _podspec.add_wait_for_gcs(pod_spec, container, shell_value(params["address"]))
        autoscaler.set_worker_restart_policy(cluster, pod_spec)
    auth.add_to_pod(cluster, pod_spec, index)
    pod_metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": _pod_labels(cluster_name, template_meta, head=head, group=group),
        "ownerReferences": [owner_reference(cluster)],
    }
    annotations = {str(key): str(value) for key, value in mapping(template_meta.get("annotations")).items()}
    if head:
        annotations.update(gcsft.head_annotations(cluster))
    if annotations:
        pod_metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata, "spec": pod_spec}


def _pod_labels(cluster_name: str, template_meta: Mapping[str, Any], *, head: bool, group: str) -> dict[str, str]:
    node_type = NODE_TYPE_HEAD if head else NODE_TYPE_WORKER
    labels = {str(key): str(value) for key, value in mapping(template_meta.get("labels")).items()}
    labels.update(
        {
            RAY_CLUSTER_LABEL: cluster_name,
            NODE_TYPE_LABEL: node_type,
            RAY_GROUP_LABEL: group,
            RAY_IDENTIFIER_LABEL: names.node_identifier(cluster_name, node_type),
            IS_RAY_NODE_LABEL: IS_RAY_NODE_VALUE,
            APP_NAME_LABEL: APP_NAME_VALUE,
            CREATED_BY_LABEL: CREATED_BY_VALUE,
        }
    )
    labels.setdefault(SERVE_LABEL, SERVE_VALUE_TRUE)
    return labels


def _service(cluster: RawObject, name: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    cluster_name = name_of(cluster)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace_of(cluster),
            "labels": {
                RAY_CLUSTER_LABEL: cluster_name,
                NODE_TYPE_LABEL: NODE_TYPE_HEAD,
                RAY_IDENTIFIER_LABEL: names.node_identifier(cluster_name, NODE_TYPE_HEAD),
                APP_NAME_LABEL: APP_NAME_VALUE,
                CREATED_BY_LABEL: CREATED_BY_VALUE,
            },
            "ownerReferences": [owner_reference(cluster)],
        },
        "spec": {"selector": {RAY_CLUSTER_LABEL: cluster_name, NODE_TYPE_LABEL: NODE_TYPE_HEAD}, "ports": ports},
    }


def _head_spec(cluster: RawObject) -> HeadGroupSpecView:
    return part(raycluster_spec(cluster).get("headGroupSpec"))


def _gcs_port(cluster: RawObject) -> int:
    return param_port(part(_head_spec(cluster).get("rayStartParams")), "port", DEFAULT_GCS_PORT)


def _head_container_ports(cluster: RawObject) -> list[dict[str, Any]]:
    head = _head_spec(cluster)
    containers = items(part(part(head.get("template")).get("spec")).get("containers"))
    container = mapping(containers[_podspec.ray_container_index(containers, head=True)]) if containers else {}
    params = complete_params(part(head.get("rayStartParams")), head=True, address=None, num_cpus=None)
    return _podspec.merge_ports(sequence(container.get("ports")), _podspec.default_ports(params, head=True))


def _clamped_replicas(group: WorkerGroupSpecView) -> int:
    low = _count(group.get("minReplicas"), 0)
    high = _count(group.get("maxReplicas"), _UNBOUNDED)
    if low > high:
        return high
    return min(max(_count(group.get("replicas"), low), low), high)


def _hosts(group: WorkerGroupSpecView) -> int:
    return max(_count(group.get("numOfHosts"), 1), 1)


def _count(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    return default
