"""What one pass reads: the RayService's clusters, Services, pods and endpoints from the caches, and Ray's Serve state.

Guarantees:
1. No API request: ``observe`` reads the caches. Clusters and Services count only when the RayService
   (this incarnation: same uid) controls them; EndpointSlices only in the RayService's namespace.
2. ``selected`` lists the clusters the serve Service, then the head Service, select, without repeats.
3. ``head_address`` is ``http://<IP>:<dashboard port>`` of a Running and Ready head pod of the cluster (by
   uid, not only by name), or, when the pod cache holds no pod of the cluster at all, of the head IP its
   status reports while its ``HeadPodReady`` condition is True; else ``None``.
4. ``read_clusters`` makes one ``GET /api/serve/applications/`` per cluster with a ready head, each bounded by
   ``deps.dashboard_timeout_s``; a failure is returned (and counted in ``deps.memory``), never raised, as
   ``dashboard_failure``'s short, stable account of its kind (the full error is logged): "did not answer
   within 2 s", "refused the connection", "answered HTTP 500", "answered with invalid JSON", ...
   Application statuses keep their ``healthLastUpdateTime`` from the stored status of that cluster.
5. ``observe`` finds the active and pending clusters once (``upgrade.current_clusters``) and returns, with
   the reads, what ``deps.memory`` holds of each owned cluster after them (``Notes``); it writes to
   ``deps.memory`` only the outcome of its own dashboard reads.
7. ``read_in_flight``: for each other owned cluster whose deletion deadline passed and whose head is ready, the
   requests its Serve proxies have in flight (``drain``), when the dashboard client can read them
   (``InFlightReader``), bounded by ``deps.dashboard_timeout_s``: a count, or ``None`` when the read failed
   (no answer, an error answer); no entry when nothing is observable (no such client, nothing to read).

6. Each dashboard call carries the cluster's own Ray auth token (``deps.tokens``, read from its Secret within
   the same ``dashboard_timeout_s``); a token that cannot be read is that cluster's dashboard failure ("cannot
   be called: the auth token Secret ns/name does not exist"), and a 401 or 403 answer makes the next pass read
   the Secret again (the user may have changed it).

The dashboard reads are the only awaits; everything else is synchronous.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import structlog

from rayservice.api import ObjectKey
from rayservice.api.labels import DELETE_AFTER_ANNOTATION, NODE_TYPE_HEAD, NODE_TYPE_LABEL, RAY_CLUSTER_LABEL
from rayservice.api.raycluster import CONDITION_HEAD_POD_READY
from rayservice.controller.caches import CLUSTER_INDEX, SERVICE_NAME_INDEX
from rayservice.controller.names import rayservice_head_service_name
from rayservice.controller.objects import (
    RawObject,
    annotations_of,
    controller_uid,
    find_condition,
    is_controlled_by,
    is_deleting,
    labels_of,
    name_of,
    namespace_of,
    parse_time,
    part,
    pod_status,
    raycluster_spec,
    raycluster_status,
    rayservice_status,
    service_spec,
    text,
    uid_of,
)
from rayservice.controller.raycluster import AuthTokenUnavailable
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.desired import serve_service_name_of
from rayservice.controller.rayservice.pass_values import Notes, Observed, ServeState
from rayservice.controller.rayservice.status import count_serve_endpoints, recorded_applications
from rayservice.controller.rayservice.upgrade import current_clusters
from rayservice.controller.rayservice.validate import ServiceCheck
from rayservice.informers import OWNER_UID_INDEX
from rayservice.ray import (
    DASHBOARD_PORT,
    DashboardError,
    DashboardRejected,
    InFlightReader,
    compute_application_statuses,
    dashboard_url,
)

_DASHBOARD_PORT_PARAM: Final = "dashboard-port"

_log = structlog.get_logger(__name__)


async def observe(service: RawObject, check: ServiceCheck, deps: Deps) -> Observed:
    """Guarantees 1-4: the caches, then one Serve read per current cluster with a ready head, then the notes."""
    caches, uid, namespace = deps.caches, uid_of(service), namespace_of(service)
    clusters = {
        name_of(cluster): cluster
        for cluster in caches.rayclusters.by_index(OWNER_UID_INDEX, uid)
        if namespace_of(cluster) == namespace and is_controlled_by(cluster, uid)
    }
    serve_name = serve_service_name_of(service)
    head = _owned(caches.services.get(ObjectKey(namespace, rayservice_head_service_name(name_of(service)))), uid)
    serve = _owned(caches.services.get(ObjectKey(namespace, serve_name)), uid)
    selected: list[str] = []
    for svc in (serve, head):
        cluster = part(service_spec(svc).get("selector")).get(RAY_CLUSTER_LABEL) if svc is not None else None
        if isinstance(cluster, str) and cluster and cluster not in selected:
            selected.append(cluster)
    slices = caches.endpointslices.by_index(SERVICE_NAME_INDEX, serve_name)
    endpoints = count_serve_endpoints(slices, service=serve_name, namespace=namespace) if serve is not None else 0
    live = {name for name, cluster in clusters.items() if not is_deleting(cluster)}
    active, pending = current_clusters(service, live, selected=selected)
    pods = {name: caches.pods.by_index(CLUSTER_INDEX, name) for name in clusters}
    ray = await read_clusters(service, clusters, pods, (active, pending), deps)
    in_flight = await read_in_flight(clusters, pods, (active, pending, *selected), deps)
    notes = {name: _notes(ObjectKey(namespace, name), deps) for name in clusters}
    return Observed(
        service,
        check,
        deps.checks.cluster_hash(service),
        clusters,
        head,
        serve,
        tuple(selected),
        endpoints,
        active=active,
        pending=pending,
        ray=ray,
        pods=pods,
        notes=notes,
        now_s=deps.clock.monotonic(),
        in_flight=in_flight,
    )


def _notes(key: ObjectKey, deps: Deps) -> Notes:
    memory = deps.memory
    return Notes(memory.last_put(key), memory.failures(key), memory.unreachable_since(key))


def head_address(cluster: RawObject, pods: Iterable[RawObject], *, port: int | None) -> str | None:
    """``http://<head IP>:<dashboard port>`` of a ready head (guarantee 3), or ``None``."""
    uid = uid_of(cluster)
    mine = [
        pod
        for pod in pods
        if namespace_of(pod) == namespace_of(cluster)
        and labels_of(pod).get(RAY_CLUSTER_LABEL) == name_of(cluster)
        and controller_uid(pod) in (None, uid)
    ]
    if mine:
        ready = sorted(
            text(pod_status(pod).get("podIP"))
            for pod in mine
            if labels_of(pod).get(NODE_TYPE_LABEL) == NODE_TYPE_HEAD
            and not is_deleting(pod)
            and _is_ready(pod)
            and text(pod_status(pod).get("podIP"))
        )
        ip = ready[0] if ready else None
    else:
        status = raycluster_status(cluster)
        condition = find_condition(status.get("conditions"), CONDITION_HEAD_POD_READY)
        head_ip = text(part(status.get("head")).get("podIP"))
        ip = head_ip if condition is not None and condition.get("status") == "True" and head_ip else None
    return dashboard_url(ip, port if port is not None else _dashboard_port(cluster)) if ip else None


async def read_clusters(
    service: RawObject,
    clusters: Mapping[str, RawObject],
    pods: Mapping[str, Sequence[RawObject]],
    names: Iterable[str | None],
    deps: Deps,
) -> dict[str, ServeState]:
    """One Serve read per named cluster whose head is ready (guarantees 3-4), concurrently."""
    addresses: dict[str, str] = {}
    for name in names:
        cluster = clusters.get(name) if name is not None else None
        if name is None or cluster is None:
            continue
        address = head_address(cluster, pods.get(name, ()), port=deps.dashboard_port)
        if address is not None:
            addresses[name] = address
    reads = await asyncio.gather(
        *(_read(service, clusters[name], address, deps) for name, address in addresses.items())
    )
    return dict(zip(addresses, reads, strict=True))


async def read_in_flight(
    clusters: Mapping[str, RawObject],
    pods: Mapping[str, Sequence[RawObject]],
    current: Iterable[str | None],
    deps: Deps,
) -> dict[str, int | None]:
    """Guarantee 7, concurrently."""
    now, skip = deps.clock.now(), set(current)
    addresses: dict[str, str] = {}
    for name, cluster in clusters.items():
        deadline = parse_time(annotations_of(cluster).get(DELETE_AFTER_ANNOTATION))
        if name in skip or is_deleting(cluster) or deadline is None or deadline > now:
            continue
        address = head_address(cluster, pods.get(name, ()), port=deps.dashboard_port)
        if address is not None:
            addresses[name] = address
    reads = await asyncio.gather(*(_read_in_flight(clusters[name], at, deps) for name, at in addresses.items()))
    return {name: count for name, (readable, count) in zip(addresses, reads, strict=True) if readable}


async def _read_in_flight(obj: RawObject, address: str, deps: Deps) -> tuple[bool, int | None]:
    try:
        async with asyncio.timeout(deps.dashboard_timeout_s):
            client = deps.dashboard_factory(address, token=await deps.tokens.token_for(obj))
            if not isinstance(client, InFlightReader):
                return False, None
            count = await client.ongoing_requests()
    except (DashboardError, TimeoutError) as exc:
        _log.info("in_flight_unreadable", cluster=name_of(obj), address=address, error=str(exc) or "timeout")
        return True, None
    _log.debug("in_flight_read", cluster=name_of(obj), requests=count)
    return count is not None, count


async def _read(service: RawObject, obj: RawObject, address: str, deps: Deps) -> ServeState:
    cluster = name_of(obj)
    key = ObjectKey(namespace_of(service), cluster)
    try:
        async with asyncio.timeout(deps.dashboard_timeout_s):
            client = deps.dashboard_factory(address, token=await deps.tokens.token_for(obj))
            answer = await client.get_applications()
    except (DashboardError, TimeoutError) as exc:
        if refused_token(exc):
            deps.tokens.forget(key)
        failures = deps.memory.failed(key, deps.clock.now())
        message = str(exc) or f"no answer within {deps.dashboard_timeout_s:g} s"
        _log.warning("dashboard_unavailable", cluster=cluster, address=address, failures=failures, error=message)
        return ServeState(address, None, error=dashboard_failure(exc, timeout_s=deps.dashboard_timeout_s))
    deps.memory.succeeded(key)
    previous = recorded_applications(rayservice_status(service), cluster)
    return ServeState(address, answer, compute_application_statuses(answer, now=deps.clock.now(), previous=previous))


def refused_token(exc: BaseException) -> bool:
    """The dashboard refused the call's credentials (401 none, 403 a wrong token): guarantee 6."""
    return isinstance(exc, DashboardRejected) and exc.status in (401, 403)


def dashboard_failure(exc: BaseException, *, timeout_s: float) -> str:
    """Guarantee 4: what went wrong, in words that complete "the Ray dashboard of RayCluster X ..."."""
    if isinstance(exc, AuthTokenUnavailable):
        return f"cannot be called: {exc}"
    if isinstance(exc, DashboardRejected):
        return "answered with invalid JSON" if 200 <= exc.status < 300 else f"answered HTTP {exc.status}"
    cause = exc if isinstance(exc, TimeoutError) else exc.__cause__
    if isinstance(cause, TimeoutError):
        return f"did not answer within {timeout_s:g} s"
    if isinstance(cause, ConnectionRefusedError) or (
        isinstance(cause, OSError) and (cause.errno == errno.ECONNREFUSED or "refused" in str(cause).lower())
    ):
        return "refused the connection"
    if cause is not None:
        return f"could not be read ({type(cause).__name__})"
    return "could not be read"


def _owned(service: RawObject | None, uid: str) -> RawObject | None:
    return service if service is not None and is_controlled_by(service, uid) else None


def _is_ready(pod: RawObject) -> bool:
    status = pod_status(pod)
    condition = find_condition(status.get("conditions"), "Ready")
    return status.get("phase") == "Running" and condition is not None and condition.get("status") == "True"


def _dashboard_port(cluster: RawObject) -> int:
    params = part(part(raycluster_spec(cluster).get("headGroupSpec")).get("rayStartParams"))
    try:
        port = int(str(params.get(_DASHBOARD_PORT_PARAM, DASHBOARD_PORT)))
    except ValueError:
        return DASHBOARD_PORT
    return port if 0 < port < 65536 else DASHBOARD_PORT
