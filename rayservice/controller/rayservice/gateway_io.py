"""The incremental upgrade's I/O: reading the RayService's Gateway and HTTPRoute, and writing them and the
per-cluster serve Services a plan asks for.

Guarantees:
1. ``read_gateway`` is called only for a RayService with ``NewClusterWithIncrementalUpgrade``: two GETs (the
   Gateway and the HTTPRoute, ``None`` when absent; the Gateway API not installed reads as both absent) plus
   the per-cluster serve Services from the Service cache. Nothing else reads the Gateway API, so a cluster
   without it costs the other RayServices nothing.
2. ``apply_gateway`` creates what is missing and updates what differs in the fields the operator sets
   (``incremental.gateway_differs``/``route_differs``), each write once, with KubeRay's events
   (``CreatedGateway``, ``UpdatedGateway``, ``CreatedHTTPRoute``, ``UpdatedHTTPRoute``); a failed write is a
   Warning event (``FailedToCreateGateway``, ...) and the API error goes on to the worker (a retry with backoff).
   A Gateway or HTTPRoute of the same name that the RayService does not control is left alone, with a
   Warning event.
3. The per-cluster serve Services are created when missing and left as they are otherwise (as KubeRay).
"""

from __future__ import annotations

import dataclasses
from typing import Final

import structlog

from rayservice.api import ObjectKey
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import RawObject, controller_uid, name_of, namespace_of, uid_of
from rayservice.controller.rayservice import gateway_objects as gw
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.pass_values import Observed, PassPlan
from rayservice.kube import SERVICES, Resource
from rayservice.kube.errors import AlreadyExists, ApiError, NotFound

GATEWAYS: Final = Resource(gw.GATEWAY_GROUP, "v1", "gateways", kind="Gateway")
HTTP_ROUTES: Final = Resource(gw.GATEWAY_GROUP, "v1", "httproutes", kind="HTTPRoute")

_log = structlog.get_logger(__name__)


async def read_gateway(observed: Observed, deps: Deps) -> Observed:
    """Guarantee 1."""
    service = observed.service
    namespace = namespace_of(service)
    gateway = await _get(deps, GATEWAYS, gw.gateway_name(service), namespace)
    route = await _get(deps, HTTP_ROUTES, gw.route_name(service), namespace)
    services = {}
    for cluster in (observed.active, observed.pending):
        if cluster is None:
            continue
        found = deps.caches.services.get(ObjectKey(namespace, gw.cluster_serve_service_name(cluster)))
        if found is not None:
            services[cluster] = found
    return dataclasses.replace(observed, gateway=gateway, route=route, cluster_services=services)


async def apply_gateway(plan: PassPlan, observed: Observed, deps: Deps) -> None:
    """Guarantees 2-3."""
    service = observed.service
    for svc in plan.cluster_services:
        if not any(name_of(have) == name_of(svc) for have in observed.cluster_services.values()):
            try:
                await deps.kube.create(SERVICES, svc, namespace=namespace_of(svc))
                _log.info("cluster_serve_service_created", service=name_of(svc))
            except AlreadyExists:
                pass
    if plan.gateway is not None:
        await _ensure(service, GATEWAYS, observed.gateway, plan.gateway, gw.gateway_differs, deps)
    if plan.route is not None:
        await _ensure(service, HTTP_ROUTES, observed.route, plan.route, gw.route_differs, deps)
    if plan.incremental_why:
        _log.info("incremental_upgrade_step", step=plan.incremental_why)


async def _get(deps: Deps, resource: Resource, name: str, namespace: str) -> RawObject | None:
    try:
        return await deps.kube.get(resource, name, namespace=namespace)
    except NotFound:
        return None


async def _ensure(service: RawObject, resource: Resource, have: RawObject | None, want: RawObject,
                  differs: gw.Differs, deps: Deps) -> None:
    kind, name, namespace = resource.kind, name_of(want), namespace_of(want)
    gateway = kind == "Gateway"
    where = f"{namespace}/{name}"
    if have is not None and controller_uid(have) != uid_of(service):
        _log.warning("gateway_object_owned_by_other", kind=kind, name=name)
        foreign = "FailedToUpdateGateway" if gateway else "FailedToUpdateHTTPRoute"
        await deps.events.emit(service, WARNING, foreign,
                               f"{kind} {where} exists and is not controlled by this RayService: left alone")
        return
    try:
        if have is None:
            await deps.kube.create(resource, want, namespace=namespace)
            created = "CreatedGateway" if gateway else "CreatedHTTPRoute"
            await deps.events.emit(service, NORMAL, created, f"Created {kind} {where} for the RayService")
        elif differs(have, want):
            await deps.kube.patch(resource, name, {"spec": want["spec"]}, namespace=namespace)
            updated = "UpdatedGateway" if gateway else "UpdatedHTTPRoute"
            await deps.events.emit(service, NORMAL, updated, f"Updated {kind} {where}{_weights(want)}")
    except ApiError as exc:
        if have is None:
            failed = "FailedToCreateGateway" if gateway else "FailedToCreateHTTPRoute"
        else:
            failed = "FailedToUpdateGateway" if gateway else "FailedToUpdateHTTPRoute"
        await deps.events.emit(service, WARNING, failed, f"Failed to write {kind} {where}: {exc}")
        raise


def _weights(route: RawObject) -> str:
    rules = route.get("spec", {}).get("rules") or []
    refs = rules[0].get("backendRefs") or [] if rules else []
    shares = ", ".join(f"{ref.get('name')} {ref.get('weight')}" for ref in refs)
    return f": weights {shares}" if shares and route.get("kind") == "HTTPRoute" else ""
