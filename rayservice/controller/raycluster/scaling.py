"""How the RayCluster controller follows the autoscaler's writes: ``replicas`` and ``scaleStrategy.workersToDelete``.

The Ray autoscaler (``ray/autoscaler/_private/kuberay/node_provider.py`` in Ray 2.60) scales a group by a JSON
patch of its ``replicas``; to scale down it lowers ``replicas`` and names the pods to remove in
``workersToDelete``, then waits (``safe_to_scale``) until none of them is a live pod before it decides again.

Guarantees:
1. ``workers_to_delete(group)`` is the group's list as strings, in order (empty when unset or malformed).
2. ``chooses_pods(cluster)``: with ``enableInTreeAutoscaling`` the autoscaler alone picks which pods leave, as
   in KubeRay (random pod deletion off): a group with more live pods than its ``replicas`` loses only those in
   ``workersToDelete`` (and failed ones), never pods the operator would pick.
3. ``clear_patch(cluster, live)``: with ``enableInTreeAutoscaling``, once no name in a group's
   ``workersToDelete`` is a live pod of the cluster (``live``: cached, not being deleted), the list is
   cleared: a merge patch of ``spec.workerGroupSpecs`` (each group as the cache holds it, the finished lists
   emptied) with the cached ``metadata.resourceVersion`` as a precondition, so an autoscaler write in between
   makes it a 409 Conflict rather than undoing that write. ``None`` when nothing is to clear, and always
   ``None`` without autoscaling: the list is then the user's (or the RayService's) and stays as written; the
   pods it names are deleted whenever they exist.

Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from rayservice.controller.objects import RawObject, mapping, metadata, raycluster_spec, sequence
from rayservice.controller.raycluster.autoscaler import is_autoscaling


def workers_to_delete(group: Mapping[str, Any]) -> list[str]:
    """Guarantee 1."""
    return [str(name) for name in sequence(mapping(group.get("scaleStrategy")).get("workersToDelete"))]


def chooses_pods(cluster: RawObject) -> bool:
    """Guarantee 2: the operator may pick pods to remove from a group that has too many."""
    return not is_autoscaling(cluster)


def clear_patch(cluster: RawObject, live: Collection[str]) -> dict[str, Any] | None:
    """Guarantee 3."""
    if not is_autoscaling(cluster):
        return None
    groups: list[Any] = []
    cleared = False
    for group in sequence(raycluster_spec(cluster).get("workerGroupSpecs")):
        names = workers_to_delete(mapping(group))
        if names and not any(name in live for name in names):
            strategy = {**mapping(mapping(group).get("scaleStrategy")), "workersToDelete": []}
            groups.append({**mapping(group), "scaleStrategy": strategy})
            cleared = True
        else:
            groups.append(group)
    if not cleared:
        return None
    version = metadata(cluster).get("resourceVersion")
    return {"metadata": {"resourceVersion": version}, "spec": {"workerGroupSpecs": groups}}
