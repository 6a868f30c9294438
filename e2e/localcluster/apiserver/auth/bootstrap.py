"""The bootstrap RBAC policy a kube-apiserver creates at its first start (bootstrappolicy), for the kinds served here.

Guarantees:
1. ClusterRoles `cluster-admin` (everything), `admin`, `edit` and `view` (aggregated from
   `system:aggregate-to-admin|edit|view` through the `rbac.authorization.k8s.io/aggregate-to-*` labels, with the
   aggregated rules already written, as kube's aggregation controller leaves them), `system:discovery`,
   `system:basic-user` and `system:public-info-viewer`, each labelled `kubernetes.io/bootstrapping:
   rbac-defaults` and annotated `rbac.authorization.kubernetes.io/autoupdate: "true"`.
2. ClusterRoleBindings: `cluster-admin` to the group `system:masters`; `system:discovery` and
   `system:basic-user` to `system:authenticated`; `system:public-info-viewer` to `system:authenticated` and
   `system:unauthenticated`. So any authenticated client can do discovery and ask what it may do.
3. `bootstrap_policy()` is pure and returns fresh objects on each call; `ensure_bootstrap_policy` creates only
   what is missing, so a user's edits to these objects survive a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .rbac import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, RBAC_GROUP, cluster_role_rules

Obj = dict[str, Any]
_RW = ["create", "delete", "deletecollection", "patch", "update"]
_READ = ["get", "list", "watch"]
_AGG = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _url_rule(urls: list[str], verbs: list[str]) -> Obj:
    return {"nonResourceURLs": urls, "verbs": verbs}


_VIEW_RULES = [
    _rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                 "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                 "services/status"], _READ),
    _rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                 "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], _READ),
    _rule([""], ["namespaces"], _READ),
    _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
    _rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                     "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                     "statefulsets/scale", "statefulsets/status"], _READ),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _READ),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _READ),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _READ),
]
_EDIT_RULES = [
    _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], _READ),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], _RW),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                 "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], _RW),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                     "replicasets/scale", "statefulsets", "statefulsets/scale"], _RW),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], _RW),
    _rule(["batch"], ["cronjobs", "jobs"], _RW),
    _rule(["discovery.k8s.io"], ["endpointslices"], _RW),
    _rule(["policy"], ["poddisruptionbudgets"], _RW),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _RW),
]
_ADMIN_RULES = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule([RBAC_GROUP], ["rolebindings", "roles"], ["create", "delete", "deletecollection", "get", "list", "patch",
                                                    "update", "watch"]),
]
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                   "/version", "/version/"]
_PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def _meta(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}


def _cluster_role(name: str, rules: list[Obj], labels: dict[str, str] | None = None,
                  aggregate_from: str = "") -> Obj:
    obj: Obj = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(name, labels),
                "rules": rules}
    if aggregate_from:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {_AGG + aggregate_from: "true"}}]}
    return obj


def _binding(name: str, role: str, groups: list[str]) -> Obj:
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups]}


def bootstrap_policy() -> list[tuple[tuple[str, str], Obj]]:
    """(group/resource, object) for every bootstrap ClusterRole, then every ClusterRoleBinding."""
    roles = [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _url_rule(["*"], ["*"])]),
        _cluster_role("system:aggregate-to-admin", _ADMIN_RULES, {_AGG + "admin": "true"}),
        _cluster_role("system:aggregate-to-edit", _EDIT_RULES, {_AGG + "admin": "true", _AGG + "edit": "true"}),
        _cluster_role("system:aggregate-to-view", _VIEW_RULES,
                      {_AGG + "admin": "true", _AGG + "edit": "true", _AGG + "view": "true"}),
        _cluster_role("admin", [], aggregate_from="admin"),
        _cluster_role("edit", [], {_AGG + "admin": "true"}, aggregate_from="edit"),
        _cluster_role("view", [], {_AGG + "admin": "true", _AGG + "edit": "true"}, aggregate_from="view"),
        _cluster_role("system:discovery", [_url_rule(_DISCOVERY_URLS, ["get"])]),
        _cluster_role("system:basic-user", [
            _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
            _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        _cluster_role("system:public-info-viewer", [_url_rule(_PUBLIC_URLS, ["get"])]),
    ]
    aggregated = cluster_role_rules(roles)
    for role in roles:
        if "aggregationRule" in role:
            role["rules"] = [r.to_dict() for r in aggregated[role["metadata"]["name"]]]
    bindings = [
        _binding("cluster-admin", "cluster-admin", ["system:masters"]),
        _binding("system:discovery", "system:discovery", ["system:authenticated"]),
        _binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 ["system:authenticated", "system:unauthenticated"]),
    ]
    return [(CLUSTER_ROLES, r) for r in roles] + [(CLUSTER_ROLE_BINDINGS, b) for b in bindings]


def ensure_bootstrap_policy(exists: Callable[[tuple[str, str], str], bool],
                            create: Callable[[tuple[str, str], Obj], None]) -> int:
    """Create each missing bootstrap object; returns how many were created."""
    made = 0
    for gr, obj in bootstrap_policy():
        if not exists(gr, obj["metadata"]["name"]):
            create(gr, obj)
            made += 1
    return made
