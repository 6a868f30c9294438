"""A Deployment past its progress deadline that becomes incomplete again is looked at again later, not at once
forever: the controller shares the API server's event loop, so a sync loop that never waits starves it."""

from __future__ import annotations

from typing import Any

import pytest

from .workloads import NS, deployment, running_cluster

Obj = dict[str, Any]


def progressing(d: Obj) -> Obj:
    (cond,) = [c for c in (d.get("status") or {}).get("conditions") or [] if c["type"] == "Progressing"]
    return cond


@pytest.mark.timeout(30)  # a controller that syncs without waiting would freeze the loop: this would never end
async def test_a_complete_deployment_that_loses_a_pod_long_after_its_deadline_waits_for_it_without_spinning() -> None:
    stuck = {"on": False}
    async with running_cluster(not_ready=lambda pod: stuck["on"]) as cluster:
        cluster.create("deployments", deployment(replicas=2, progressDeadlineSeconds=30))
        await cluster.wait_for(lambda: (cluster.get("deployments", "web").get("status") or {})
                               .get("availableReplicas") == 2)
        await cluster.step(120)  # the last Progressing update is now far past the deadline
        stuck["on"] = True
        cluster.api.delete(cluster.rt("pods"), NS, cluster.pods()[0]["metadata"]["name"], {})
        await cluster.wait_for(lambda: (cluster.get("deployments", "web").get("status") or {})
                               .get("unavailableReplicas") == 1 and len(cluster.pods()) == 2)
        for _ in range(3):
            await cluster.step(1)
        d = cluster.get("deployments", "web")
        assert d["status"]["availableReplicas"] == 1
        # as kube: a rollout that completed does not time out because a pod went away later
        assert (progressing(d)["status"], progressing(d)["reason"]) == ("True", "NewReplicaSetAvailable")
