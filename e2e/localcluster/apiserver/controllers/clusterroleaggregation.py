"""The ClusterRole aggregation controller, as kube-controller-manager's `clusterrole-aggregation` runs it.

Guarantees:
1. A ClusterRole with an `aggregationRule` ends up with `rules` equal to the rules of the other ClusterRoles its
   `clusterRoleSelectors` match (selector by selector, roles by name, no repeats: `auth.rbac.cluster_role_rules`),
   after any ClusterRole is created, changed or deleted; nested aggregation settles over successive passes.
2. No write without a change; ClusterRoles without an aggregationRule are never written.
3. Progress is driven by store events on ClusterRoles; no polling.

Caller must: run `run()` as a task on the loop that owns the store; cancel it to stop.
"""

from __future__ import annotations

from e2e.localcluster.apiserver.auth.rbac import CLUSTER_ROLES, cluster_role_rules
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Obj


def aggregation_updates(cluster_roles: list[Obj]) -> list[Obj]:
    """The aggregated ClusterRoles whose stored rules differ from what their selectors gather, with those rules."""
    effective = cluster_role_rules(cluster_roles)
    out = []
    for role in cluster_roles:
        if "aggregationRule" not in role or role.get("aggregationRule") is None:
            continue
        rules = [r.to_dict() for r in effective[meta(role)["name"]]]
        if (role.get("rules") or []) != rules:
            out.append({**role, "rules": rules})
    return out


class ClusterRoleAggregationController:
    name = "clusterrole-aggregation"

    def __init__(self, api: Api) -> None:
        self.api = api

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(CLUSTER_ROLES)
        try:
            while True:
                self._sync()
                if await sub.next_batch() is None:
                    return
        finally:
            store.unsubscribe(sub)

    def _sync(self) -> None:
        rt = next((rt for rt in self.api.registry if rt.group_resource == CLUSTER_ROLES), None)
        if rt is None:
            return
        for role in aggregation_updates(self.api.store.list(CLUSTER_ROLES)):
            try:
                self.api.update(rt, "", meta(role)["name"], role)
            except ApiError:
                pass  # changed or deleted meanwhile: its event brings us back
