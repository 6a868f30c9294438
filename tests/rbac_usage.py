"""Every Kubernetes API call the operator makes, as RBAC sees it: (verb, API group, resource, subresource).

This table is the single source of truth for the operator's permissions:
- ``tests/unit/test_manifests.py`` checks that ``manifests/rbac`` grants exactly these and nothing more;
- ``tests/integration/test_rbac_from_requests.py`` checks it, and the roles, against every request a running
  operator sends during one end-to-end journey (the embedded API server's request log), in both directions.

Guarantees:
1. One ``ApiUse`` per (verb, group, resource, subresource); RBAC verbs, not HTTP methods (a watch is ``watch``,
   a PUT is ``update``).
2. ``scope="cluster"`` uses are granted by the ClusterRole ``ray-operator`` (the operator watches every
   namespace unless started with ``--namespace``); ``scope="operator-namespace"`` uses only by the Role in the
   operator's own namespace (the leader-election Lease).
3. ``where`` names the code that makes the call (or the part of DESIGN §4 it implements), so a change there
   points here. Nothing is granted ahead of the code that needs it.

Not listed on purpose:
- ConfigMaps: only the placeholder controller of ``tests/placeholder.py`` uses them, and
  ``rayservice run`` does not wire it;
- creating or deleting RayServices: users do that; the operator makes RayClusters and Services for them, and
  garbage collection removes those when a RayService goes;
- ``get`` of RayClusters: ``create_cluster`` reads one live only when its create is answered AlreadyExists (a
  lost answer, a lagging cache); without it that pass fails and is retried until the cache shows the cluster.
  (The ClusterRole holds it all the same, in ``DELEGATED_API_USES``, to grant it to the autoscaler.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Scope = Literal["cluster", "operator-namespace"]

CORE: Final = ""
RAY: Final = "ray.io"
DISCOVERY: Final = "discovery.k8s.io"
COORDINATION: Final = "coordination.k8s.io"
RBAC: Final = "rbac.authorization.k8s.io"
BATCH: Final = "batch"
GATEWAY: Final = "gateway.networking.k8s.io"


@dataclass(frozen=True, slots=True)
class ApiUse:
    """One kind of request the operator sends."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    scope: Scope = "cluster"
    where: str = ""

    @property
    def rbac_resource(self) -> str:
        """The resource as an RBAC rule names it: ``rayservices/status`` for a subresource."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(verb, group, resource, subresource): what a request log entry is compared on."""
        return (self.verb, self.group, self.resource, self.subresource)


def _uses(
    verbs: str, group: str, resource: str, *, subresource: str = "", scope: Scope = "cluster", where: str
) -> tuple[ApiUse, ...]:
    return tuple(ApiUse(verb, group, resource, subresource, scope, where) for verb in verbs.split())


_INFORMERS: Final = "rayservice/controller/caches.py build_caches (list, then watch)"
_RS_WRITES: Final = "rayservice/controller/rayservice/writes.py"
_RC_RECONCILE: Final = "rayservice/controller/raycluster/reconcile.py"
_SHARED_WRITES: Final = "rayservice/controller/objects/writes.py"
_RBAC_APPLY: Final = "rayservice/controller/raycluster/rbac_apply.py"

OPERATOR_API_USES: Final[tuple[ApiUse, ...]] = (
    # RayServices: users create and delete them; the operator reads them and writes their status.
    *_uses("list watch", RAY, "rayservices", where=_INFORMERS),
    *_uses("update", RAY, "rayservices", subresource="status", where=f"{_SHARED_WRITES} write_status_if_changed"),
    # RayClusters: made for a RayService, scaled in place, marked with their deletion deadline, deleted.
    *_uses("list watch", RAY, "rayclusters", where=_INFORMERS),
    *_uses("create", RAY, "rayclusters", where=f"{_RS_WRITES} create_cluster: the pending cluster"),
    *_uses(
        "patch",
        RAY,
        "rayclusters",
        where=f"{_RS_WRITES}: scaling in place, the delete-after deadline; {_RBAC_APPLY}: workersToDelete cleared",
    ),
    *_uses("delete", RAY, "rayclusters", where=f"{_RS_WRITES} delete_cluster: garbage, dropped pending clusters"),
    *_uses("update", RAY, "rayclusters", subresource="status", where=f"{_SHARED_WRITES} write_status_if_changed"),
    # Pods: the head and workers of each RayCluster (plan_pods).
    *_uses("list watch", CORE, "pods", where=_INFORMERS + ", label-filtered to ray.io/is-ray-node=yes"),
    *_uses("create", CORE, "pods", where=f"{_RC_RECONCILE} create_pod"),
    *_uses(
        "delete",
        CORE,
        "pods",
        where=f"{_RC_RECONCILE} delete_pod: surplus and finished pods; redis_cleanup_apply.py: a GCS FT cluster's",
    ),
    *_uses("patch", CORE, "pods", where=f"{_RS_WRITES} label_serve_pod: ray.io/serve from Ray's proxies"),
    # Services: a RayCluster's head and dashboard Services; a RayService's head and serve Services, whose
    # selectors move to the new cluster at the traffic switch.
    *_uses("list watch", CORE, "services", where=_INFORMERS + ", label-filtered to created-by=rayservice-operator"),
    *_uses("create patch", CORE, "services", where=f"{_SHARED_WRITES} ensure_service, for both"),
    *_uses(
        "get",
        CORE,
        "services",
        where="ensure_service of both: a create answered AlreadyExists (a Service without our labels is adopted)",
    ),
    # The autoscaler's ServiceAccount, Role and RoleBinding, one set per autoscaling RayCluster (label-filtered
    # caches); the Role and RoleBinding are patched back when they drift.
    *_uses("list watch", CORE, "serviceaccounts", where=_INFORMERS + ", label-filtered to created-by"),
    *_uses("create", CORE, "serviceaccounts", where=f"{_RBAC_APPLY} ensure_rbac"),
    *_uses("list watch", RBAC, "roles", where=_INFORMERS + ", label-filtered to created-by"),
    *_uses("create patch", RBAC, "roles", where=f"{_RBAC_APPLY} ensure_rbac"),
    *_uses("list watch", RBAC, "rolebindings", where=_INFORMERS + ", label-filtered to created-by"),
    *_uses("create patch", RBAC, "rolebindings", where=f"{_RBAC_APPLY} ensure_rbac"),
    # The Redis cleanup Job of a GCS fault tolerant RayCluster being deleted (read by name until it finished;
    # garbage collection removes it with the cluster).
    *_uses("create get", BATCH, "jobs", where="rayservice/controller/raycluster/redis_cleanup_apply.py finalize"),
    # Secrets holding Ray auth tokens (authOptions.mode: token), never cached: each is read by name, once per
    # cluster, by the RayCluster controller (before creating the one named after the cluster when missing) and by
    # the RayService controller (the token its dashboard calls carry).
    *_uses(
        "get",
        CORE,
        "secrets",
        where="rayservice/controller/raycluster/auth_apply.py ensure_auth_secret; auth_tokens.py ClusterTokens",
    ),
    *_uses("create", CORE, "secrets", where="rayservice/controller/raycluster/auth_apply.py ensure_auth_secret"),
    # NewClusterWithIncrementalUpgrade: the RayService's Gateway and HTTPRoute, read by name each pass (no
    # informer), created, and patched when their spec (the route's weights) changes.
    *_uses("get create patch", GATEWAY, "gateways", where="rayservice/controller/rayservice/gateway_io.py"),
    *_uses("get create patch", GATEWAY, "httproutes", where="rayservice/controller/rayservice/gateway_io.py"),
    # EndpointSlices: ready serve endpoints (status.numServeEndpoints).
    *_uses("list watch", DISCOVERY, "endpointslices", where=_INFORMERS),
    # Events: a repeat of the same event bumps its count with a merge patch.
    *_uses("create patch", CORE, "events", where="rayservice/controller/events.py EventRecorder.emit"),
    # The leader-election Lease, in the operator's namespace only.
    *_uses(
        "get create update",
        COORDINATION,
        "leases",
        scope="operator-namespace",
        where="rayservice/runtime/leader.py LeaderElector (get, create on 404, update with resourceVersion)",
    ),
)
"""Every request the operator sends, by RBAC verb, group, resource and subresource."""


_DELEGATED: Final = "the autoscaler's Role (rayservice/controller/raycluster/rbac.py ROLE_RULES): granted, never sent"

DELEGATED_API_USES: Final[tuple[ApiUse, ...]] = (
    *_uses("get", CORE, "pods", where=_DELEGATED),
    *_uses("patch", CORE, "pods", subresource="resize", where=_DELEGATED),
    *_uses("get", RAY, "rayclusters", where=_DELEGATED),
)
"""What the ClusterRole holds only to grant it: the API server lets the operator create the autoscaler's Role
(and bind it) only when it holds every permission in it itself (kube's escalation check), and it holds no
``escalate`` or ``bind``. The rest of that Role (pods list/watch/patch, rayclusters patch) the operator uses."""


def uses_in(scope: Scope) -> tuple[ApiUse, ...]:
    """The uses granted in one scope (guarantee 2)."""
    return tuple(use for use in OPERATOR_API_USES if use.scope == scope)
