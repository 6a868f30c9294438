"""The RayCluster reconcile of an autoscaling cluster against a fake API server and caches: the autoscaler's RBAC
made before any pod and kept, no write once converged, and the autoscaler's scale-down followed to the end."""

from __future__ import annotations

from typing import Any

import pytest

from rayservice.api import ObjectKey
from rayservice.controller.raycluster.reconcile import reconcile
from rayservice.kube import ApiError, Conflict
from rayservice.runtime import Result
from tests.unit.controller.raycluster.reconcile_fakes import World
from tests.unit.controller.raycluster.samples import cluster, group

KEY = ObjectKey("ns", "demo")
RBAC = [("create", "serviceaccounts", "demo"), ("create", "roles", "demo"), ("create", "rolebindings", "demo")]


def autoscaling_world(replicas: int = 2) -> World:
    world = World()
    body = cluster(enableInTreeAutoscaling=True, groups=[group(replicas=replicas, min_replicas=0)])
    body["metadata"].pop("uid", None)
    world.api.put("rayclusters", body)
    world.caches.sync(world.api)
    return world


async def converge(world: World, *, rounds: int = 4) -> Result:
    result = Result(requeue_after_s=None)
    for _ in range(rounds):
        result = await reconcile(KEY, world.deps)
        world.caches.sync(world.api)
    return result


def workers(world: World) -> list[str]:
    return sorted(
        pod["metadata"]["name"]
        for pod in world.api.of("pods")
        if pod["metadata"]["labels"]["ray.io/node-type"] == "worker"
    )


def group_spec(world: World) -> dict[str, Any]:
    spec: dict[str, Any] = world.api.objects[("rayclusters", "ns", "demo")]["spec"]["workerGroupSpecs"][0]
    return spec


async def autoscaler_patch(world: World, **fields: Any) -> None:
    """What Ray's node provider writes, as a merge of the group's fields."""
    stored = world.api.objects[("rayclusters", "ns", "demo")]
    stored["spec"]["workerGroupSpecs"][0].update(fields)
    world.api.put("rayclusters", stored)
    world.caches.sync(world.api)


class TestRbac:
    async def test_the_autoscalers_rbac_is_created_before_any_pod(self) -> None:
        world = autoscaling_world()

        await reconcile(KEY, world.deps)

        writes = world.writes()
        assert writes[2:5] == RBAC  # after the head and dashboard Services
        assert [verb for verb, plural, _ in writes[5:]] == ["create"] * 3
        assert {plural for _, plural, _ in writes[5:]} == {"pods"}

    async def test_a_converged_autoscaling_cluster_makes_no_write(self) -> None:
        world = autoscaling_world()
        await converge(world)
        before = len(world.api.writes)

        await converge(world, rounds=2)

        assert world.writes(before) == []

    async def test_an_edited_role_is_put_back_with_one_patch_and_an_event(self) -> None:
        world = autoscaling_world()
        await converge(world)
        role = world.api.objects[("roles", "ns", "demo")]
        rules = role["rules"]
        role["rules"] = rules[:1]
        world.api.put("roles", role)
        world.caches.sync(world.api)
        before = len(world.api.writes)

        await converge(world, rounds=2)

        assert world.writes(before) == [("patch", "roles", "demo")]
        assert world.api.objects[("roles", "ns", "demo")]["rules"] == rules
        assert "UpdatedRole" in world.events.reasons()

    async def test_an_account_that_exists_without_our_labels_is_left_alone_and_not_asked_for_again(self) -> None:
        world = autoscaling_world()
        world.api.put("serviceaccounts", {"metadata": {"name": "demo", "namespace": "ns"}})
        world.caches.serviceaccounts.objects.clear()  # not labelled as ours: the cache cannot show it

        await reconcile(KEY, world.deps)
        await reconcile(KEY, world.deps)

        assert world.writes().count(("create", "serviceaccounts", "demo")) == 1
        assert world.events.reasons().count("FailedToCreateServiceAccount") == 1
        assert "ownerReferences" not in world.api.objects[("serviceaccounts", "ns", "demo")]["metadata"]

    async def test_a_refused_create_is_an_event_and_a_retry(self) -> None:
        world = autoscaling_world()
        forbidden = ApiError(403, "Forbidden", 'roles.rbac.authorization.k8s.io "demo" is forbidden: escalation')
        world.api.fail[("create", "roles")] = forbidden

        with pytest.raises(ApiError):
            await reconcile(KEY, world.deps)

        assert "FailedToCreateRole" in world.events.reasons()
        assert not world.api.of("pods")  # no pod before its autoscaler may run


class TestScaleDown:
    async def test_the_named_worker_is_deleted_then_the_list_cleared_then_nothing(self) -> None:
        world = autoscaling_world(replicas=2)
        await converge(world)
        doomed, kept = workers(world)
        await autoscaler_patch(world, replicas=1, scaleStrategy={"workersToDelete": [doomed]})
        before = len(world.api.writes)

        await reconcile(KEY, world.deps)  # deletes the named pod
        world.caches.sync(world.api)
        cleared = await reconcile(KEY, world.deps)  # sees it gone: clears the list, writes no status
        world.caches.sync(world.api)

        assert world.writes(before)[:1] == [("delete", "pods", doomed)]
        assert ("patch", "rayclusters", "demo") in world.writes(before)
        assert workers(world) == [kept]
        assert group_spec(world)["scaleStrategy"] == {"workersToDelete": []}
        assert group_spec(world)["replicas"] == 1
        assert world.writes(before)[-1] == ("patch", "rayclusters", "demo")
        assert cleared.requeue_after_s is not None  # the patch's own event wakes the next pass sooner
        settled = len(world.api.writes)
        await converge(world, rounds=2)
        assert [w for w in world.writes(settled) if w[0] != "update"] == []  # only the status may follow

    async def test_a_lower_replicas_alone_deletes_no_pod(self) -> None:
        world = autoscaling_world(replicas=2)
        await converge(world)
        await autoscaler_patch(world, replicas=1)
        before = len(world.api.writes)

        await converge(world, rounds=2)

        assert [w for w in world.writes(before) if w[1] == "pods"] == []
        assert len(workers(world)) == 2

    async def test_a_higher_replicas_creates_the_workers(self) -> None:
        world = autoscaling_world(replicas=1)
        await converge(world)
        await autoscaler_patch(world, replicas=3)

        await converge(world)

        assert len(workers(world)) == 3

    async def test_a_conflicting_clear_is_raised_for_a_quiet_retry(self) -> None:
        world = autoscaling_world(replicas=1)
        await converge(world)
        await autoscaler_patch(world, replicas=1, scaleStrategy={"workersToDelete": ["demo-worker-small-gone0"]})
        world.api.fail[("patch", "rayclusters")] = Conflict(409, "Conflict", "the object has been modified")

        with pytest.raises(Conflict):
            await reconcile(KEY, world.deps)
