"""Deployments and ReplicaSets in the local cluster, against the in-process Api with simulated pods."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers import rollout
from e2e.localcluster.apiserver.controllers.replicasets import deletion_order
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.scale import get_scale, patch_scale
from e2e.localcluster.apiserver.storage.store import Event

from .workloads import NS, Cluster, deployment, running_cluster

Obj = dict[str, Any]


def condition(obj: Obj, ctype: str) -> Obj:
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == ctype]
    assert len(found) == 1, obj.get("status")
    return found[0]


def owned_pods(cluster: Cluster, rs_name: str) -> list[Obj]:
    return [p for p in cluster.pods() if any(r["name"] == rs_name for r in p["metadata"].get("ownerReferences", []))]


def rolled_out(cluster: Cluster, name: str = "web") -> bool:
    d = cluster.get("deployments", name)
    status, want = d.get("status") or {}, d["spec"]["replicas"]
    return (status.get("observedGeneration") == d["metadata"]["generation"] and status.get("updatedReplicas", 0)
            == want and status.get("availableReplicas", 0) == want and status.get("replicas", 0) == want
            and len(cluster.pods()) == want)


# ---- pure parts ---------------------------------------------------------------------------------------------


def test_pod_template_hash_uses_kubes_alphabet_and_changes_with_the_template() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "m", "image": "a"}]}}
    first = rollout.pod_template_hash(template)
    assert first == rollout.pod_template_hash(dict(template))
    assert 1 <= len(first) <= 10 and set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    changed = {**template, "spec": {"containers": [{"name": "m", "image": "b"}]}}
    assert rollout.pod_template_hash(changed) != first
    assert rollout.pod_template_hash(template, 1) != first


def test_fenceposts_round_surge_up_and_unavailable_down_and_never_both_zero() -> None:
    assert rollout.resolve_fenceposts("25%", "25%", 10) == (3, 2)
    assert rollout.resolve_fenceposts("25%", "25%", 1) == (1, 0)
    assert rollout.resolve_fenceposts(0, 0, 5) == (0, 1)
    assert rollout.resolve_fenceposts(2, "50%", 3) == (2, 1)
    with pytest.raises(ValueError):
        rollout.scaled_value("25", 4, True)


def test_scaling_during_a_rollout_splits_the_change_by_each_replicasets_share() -> None:
    def rs(name: str, replicas: int, created: str) -> Obj:
        return {"metadata": {"name": name, "creationTimestamp": created,
                             "annotations": {"deployment.kubernetes.io/max-replicas": "13",
                                             "deployment.kubernetes.io/desired-replicas": "10"}},
                "spec": {"replicas": replicas}, "status": {"availableReplicas": replicas}}

    d = {"spec": {"replicas": 20, "strategy": {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}}}}
    new, old = rs("new", 5, "2025-01-01T00:01:00Z"), rs("old", 8, "2025-01-01T00:00:00Z")
    plan = rollout.proportional_sizes(d, new, [old])
    assert [(r["metadata"]["name"], size) for r, size, _ in plan] == [("old", 14), ("new", 9)]
    down = rollout.proportional_sizes({**d, "spec": {**d["spec"], "replicas": 0}}, new, [old])
    assert [(r["metadata"]["name"], size) for r, size, _ in down] == [("old", 0), ("new", 0)]
    alone = rollout.proportional_sizes(d, rs("new", 5, "2025-01-01T00:01:00Z"), [rs("old", 0, "2025-01-01T00:00:00Z")])
    assert [(r["metadata"]["name"], size) for r, size, _ in alone] == [("new", 20)]


def test_extra_pods_deleted_first_are_unscheduled_then_not_ready() -> None:
    def pod(name: str, node: str, ready: str) -> Obj:
        return {"metadata": {"name": name, "creationTimestamp": "2025-01-01T00:00:00Z"},
                "spec": {"nodeName": node} if node else {},
                "status": {"phase": "Running" if node else "Pending",
                           "conditions": [{"type": "Ready", "status": ready,
                                           "lastTransitionTime": "2025-01-01T00:00:00Z"}]}}

    ordered = deletion_order([pod("ready", "n", "True"), pod("unscheduled", "", "False"),
                              pod("not-ready", "n", "False")])
    assert [p["metadata"]["name"] for p in ordered] == ["unscheduled", "not-ready", "ready"]


# ---- create, defaults, validation ---------------------------------------------------------------------------


async def test_deployment_gets_kubes_defaults_and_a_replicaset_named_with_the_template_hash() -> None:
    async with running_cluster() as cluster:
        d = cluster.create("deployments", deployment())
        assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
        assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
        assert d["spec"]["template"]["spec"]["restartPolicy"] == "Always"
        await cluster.wait_for(lambda: rolled_out(cluster))
        [rs] = cluster.replicasets()
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"web-{pod_hash}"
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
        assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                                 "deployment.kubernetes.io/desired-replicas": "3",
                                                 "deployment.kubernetes.io/max-replicas": "4"}
        assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
        assert rs["metadata"]["ownerReferences"][0]["controller"] is True
        for pod in cluster.pods():
            assert pod["metadata"]["name"].startswith(f"web-{pod_hash}-")
            assert len(pod["metadata"]["name"]) == len(f"web-{pod_hash}-") + 5
            assert pod["metadata"]["labels"]["pod-template-hash"] == pod_hash
        d = cluster.get("deployments", "web")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert {k: d["status"][k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")} \
            == dict.fromkeys(("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), 3)
        assert "unavailableReplicas" not in d["status"]
        assert condition(d, "Available")["reason"] == "MinimumReplicasAvailable"
        progressing = condition(d, "Progressing")
        assert progressing["reason"] == "NewReplicaSetAvailable"
        assert progressing["message"] == f'ReplicaSet "web-{pod_hash}" has successfully progressed.'
        rs = cluster.get("replicasets", f"web-{pod_hash}")
        assert rs["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                                "availableReplicas": 3, "observedGeneration": 1}


async def test_a_converged_deployment_makes_no_writes() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment())
        await cluster.wait_for(lambda: rolled_out(cluster))
        await cluster.step(0)
        before = cluster.api.store.current_rv
        await cluster.step(700)  # past any deadline
        assert cluster.api.store.current_rv == before


@pytest.mark.parametrize(("spec", "message"), [
    ({"selector": {"matchLabels": {"app": "other"}}},
     'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'),
    ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
     "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {}}},
     "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"),
])
async def test_an_invalid_deployment_is_rejected_with_kubes_message(spec: Obj, message: str) -> None:
    async with running_cluster() as cluster:
        body = deployment()
        body["spec"].update(spec)
        with pytest.raises(ApiError) as err:
            cluster.create("deployments", body)
        assert err.value.code == 422
        assert err.value.message == f'Deployment.apps "web" is invalid: {message}'


async def test_the_selector_of_a_deployment_cannot_change() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment())
        with pytest.raises(ApiError) as err:
            cluster.patch("deployments", "web", {"spec": {"selector": {"matchLabels": {"app": "web", "x": "y"}},
                                                          "template": {"metadata": {"labels": {"x": "y"}}}}})
        assert err.value.code == 422 and "spec.selector" in err.value.message and "field is immutable" in \
            err.value.message


# ---- scaling and self-healing ----------------------------------------------------------------------------


async def test_scaling_up_and_down_changes_the_pods_without_a_new_revision() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2))
        await cluster.wait_for(lambda: rolled_out(cluster))
        cluster.patch("deployments", "web", {"spec": {"replicas": 5}})
        await cluster.wait_for(lambda: rolled_out(cluster))
        assert len(cluster.pods()) == 5
        cluster.patch("deployments", "web", {"spec": {"replicas": 1}})
        await cluster.wait_for(lambda: rolled_out(cluster))
        [rs] = cluster.replicasets()
        assert rs["spec"]["replicas"] == 1
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "1"


async def test_a_deleted_pod_is_replaced() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2))
        await cluster.wait_for(lambda: rolled_out(cluster))
        victim = cluster.pods()[0]["metadata"]["name"]
        cluster.api.delete(cluster.rt("pods"), NS, victim, {})
        await cluster.wait_for(lambda: len(cluster.pods()) == 2
                               and victim not in {p["metadata"]["name"] for p in cluster.pods()}
                               and rolled_out(cluster))
        created = [e["message"] for e in cluster.api.store.list(("", "events"), NS)
                   if e["reason"] == "SuccessfulCreate" and e["source"]["component"] == "replicaset-controller"]
        assert len(created) == 3 and all(m.startswith("Created pod: web-") for m in created)


async def test_the_scale_subresource_reads_and_sets_replicas() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2))
        await cluster.wait_for(lambda: rolled_out(cluster))
        scale = get_scale(cluster.api, cluster.rt("deployments"), NS, "web")
        assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
        assert scale["spec"] == {"replicas": 2}
        assert scale["status"] == {"replicas": 2, "selector": "app=web"}
        result = patch_scale(cluster.api, cluster.rt("deployments"), NS, "web", "application/merge-patch+json",
                             {"spec": {"replicas": 4}})
        assert result.obj["spec"] == {"replicas": 4}
        await cluster.wait_for(lambda: rolled_out(cluster) and len(cluster.pods()) == 4)
        with pytest.raises(ApiError) as err:
            patch_scale(cluster.api, cluster.rt("deployments"), NS, "web", "application/merge-patch+json",
                        {"spec": {"replicas": -1}})
        assert err.value.code == 422
        assert err.value.message == ('Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be '
                                     "greater than or equal to 0")


async def test_a_replicaset_adopts_a_matching_orphan_instead_of_creating_a_pod() -> None:
    async with running_cluster() as cluster:
        cluster.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray",
                                                                                "labels": {"app": "rs"}},
                                "spec": {"containers": [{"name": "m", "image": "x"}]}})
        cluster.create("replicasets", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
                                       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "rs"}},
                                                "template": {"metadata": {"labels": {"app": "rs"}},
                                                             "spec": {"containers": [{"name": "m",
                                                                                      "image": "x"}]}}}})
        await cluster.wait_for(lambda: (cluster.get("replicasets", "rs").get("status") or {}).get(
            "availableReplicas") == 1)
        [pod] = cluster.pods()
        assert pod["metadata"]["name"] == "stray"
        assert pod["metadata"]["ownerReferences"][0]["name"] == "rs"


async def test_min_ready_seconds_delays_availability_until_the_clock_passes_it() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2, minReadySeconds=20))
        await cluster.wait_for(lambda: (cluster.get("deployments", "web").get("status") or {}).get(
            "readyReplicas") == 2)
        await cluster.step(0)
        d = cluster.get("deployments", "web")
        assert d["status"].get("availableReplicas", 0) == 0
        assert condition(d, "Available")["status"] == "False"
        await cluster.step(21)
        await cluster.wait_for(lambda: rolled_out(cluster))
        assert condition(cluster.get("deployments", "web"), "Available")["reason"] == "MinimumReplicasAvailable"


# ---- rollouts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("surge", "unavailable", "most", "least"), [(1, 1, 5, 3), (0, 1, 4, 3), (2, 0, 6, 4),
                                                                       ("50%", "25%", 6, 3)])
async def test_a_rolling_update_honours_max_surge_and_max_unavailable_at_every_step(
        surge: Any, unavailable: Any, most: int, least: int) -> None:
    async with running_cluster() as cluster:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
        cluster.create("deployments", deployment(replicas=4, strategy=strategy))
        await cluster.wait_for(lambda: rolled_out(cluster))
        seen: list[tuple[int, int]] = []

        def check(_ev: Event) -> None:
            pods = cluster.pods()
            ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                            for c in p["status"].get("conditions") or [])]
            seen.append((len(pods), len(ready)))

        stop = cluster.watch(check)
        try:
            cluster.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "nginx:2.0"}]}}}})
            await cluster.wait_for(lambda: rolled_out(cluster) and all(
                p["spec"]["containers"][0]["image"] == "nginx:2.0" for p in cluster.pods()))
            await cluster.step(0)
        finally:
            stop()
        assert seen, "no store event was observed"
        assert max(total for total, _ in seen) == most
        assert min(ready for _, ready in seen) >= least
        d = cluster.get("deployments", "web")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        old, new = sorted(cluster.replicasets(), key=rollout.revision)
        assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 4
        assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        reasons = [e["reason"] for e in cluster.api.store.list(("", "events"), NS)]
        assert "ScalingReplicaSet" in reasons


async def test_recreate_starts_new_pods_only_after_every_old_pod_is_gone() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=3, strategy={"type": "Recreate"}))
        await cluster.wait_for(lambda: rolled_out(cluster))
        overlaps: list[int] = []

        def check(_ev: Event) -> None:
            pods = cluster.api.store.list(("", "pods"), NS)
            images = {p["spec"]["containers"][0]["image"] for p in pods}
            if len(images) > 1:
                overlaps.append(len(pods))

        stop = cluster.watch(check)
        try:
            cluster.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "nginx:2.0"}]}}}})
            await cluster.wait_for(lambda: rolled_out(cluster) and all(
                p["spec"]["containers"][0]["image"] == "nginx:2.0" for p in cluster.pods()))
            await cluster.step(0)
        finally:
            stop()
        assert overlaps == []


async def test_going_back_to_an_old_template_reuses_its_replicaset_under_a_new_revision() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2))
        await cluster.wait_for(lambda: rolled_out(cluster))
        [first] = cluster.replicasets()
        for image in ("nginx:2.0", "nginx:1.0"):
            cluster.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": image}]}}}})
            await cluster.wait_for(lambda image=image: rolled_out(cluster) and all(  # type: ignore[misc]
                p["spec"]["containers"][0]["image"] == image for p in cluster.pods()))
        assert len(cluster.replicasets()) == 2
        back = cluster.get("replicasets", first["metadata"]["name"])
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert cluster.get("deployments", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


async def test_old_replicasets_beyond_the_revision_history_limit_are_deleted() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=1, revisionHistoryLimit=1))
        for image in ("nginx:2.0", "nginx:3.0", "nginx:4.0"):
            await cluster.wait_for(lambda: rolled_out(cluster))
            cluster.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": image}]}}}})
        await cluster.wait_for(lambda: rolled_out(cluster) and len(cluster.replicasets()) == 2)
        revisions = sorted(rollout.revision(rs) for rs in cluster.replicasets())
        assert revisions == [3, 4]


async def test_a_rollout_that_makes_no_progress_reports_progress_deadline_exceeded() -> None:
    async with running_cluster(not_ready=lambda pod: pod["spec"]["containers"][0]["image"] == "broken") as cluster:
        cluster.create("deployments", deployment(replicas=2, progressDeadlineSeconds=30))
        await cluster.wait_for(lambda: rolled_out(cluster))
        cluster.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "broken"}]}}}})
        await cluster.wait_for(lambda: condition(cluster.get("deployments", "web"), "Progressing")["reason"]
                               in ("NewReplicaSetCreated", "ReplicaSetUpdated")
                               and len(cluster.pods()) == 3)
        await cluster.step(10)
        assert condition(cluster.get("deployments", "web"), "Progressing")["status"] == "True"
        await cluster.step(25)
        await cluster.wait_for(lambda: condition(cluster.get("deployments", "web"), "Progressing")["reason"]
                               == "ProgressDeadlineExceeded")
        d = cluster.get("deployments", "web")
        progressing = condition(d, "Progressing")
        assert progressing["status"] == "False"
        assert progressing["message"].endswith("has timed out progressing.")
        assert condition(d, "Available")["status"] == "True"  # the old pods still serve
        assert d["status"]["unavailableReplicas"] == 1


async def test_deleting_a_deployment_takes_its_replicasets_and_pods_with_it() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2))
        await cluster.wait_for(lambda: rolled_out(cluster))
        cluster.api.delete(cluster.rt("deployments"), NS, "web", {"propagationPolicy": "Background"})
        await cluster.wait_for(lambda: cluster.replicasets() == [] and cluster.pods(active_only=False) == [])


async def test_a_paused_deployment_scales_but_does_not_roll_out_until_resumed() -> None:
    async with running_cluster() as cluster:
        cluster.create("deployments", deployment(replicas=2))
        await cluster.wait_for(lambda: rolled_out(cluster))
        cluster.patch("deployments", "web", {"spec": {"paused": True, "replicas": 3, "template": {"spec": {
            "containers": [{"name": "main", "image": "nginx:2.0"}]}}}})
        await cluster.wait_for(lambda: len(cluster.pods()) == 3 and condition(
            cluster.get("deployments", "web"), "Progressing")["reason"] == "DeploymentPaused")
        assert len(cluster.replicasets()) == 1
        assert {p["spec"]["containers"][0]["image"] for p in cluster.pods()} == {"nginx:1.0"}
        cluster.patch("deployments", "web", {"spec": {"paused": False}})
        await cluster.wait_for(lambda: rolled_out(cluster) and {
            p["spec"]["containers"][0]["image"] for p in cluster.pods()} == {"nginx:2.0"})
        assert condition(cluster.get("deployments", "web"), "Progressing")["reason"] == "NewReplicaSetAvailable"
