"""The RayCluster reconcile with GCS fault tolerance: the finalizer in a pass of its own before any pod, and the
deletion steps through the fake API server, stepped on a fake clock."""

from __future__ import annotations

import dataclasses
from typing import Any

from rayservice.api import ObjectKey
from rayservice.controller.raycluster.reconcile import reconcile
from rayservice.runtime import DONE, Result
from tests.unit.controller.raycluster.reconcile_fakes import CREATED, World
from tests.unit.controller.raycluster.samples import cluster, group

KEY = ObjectKey("ns", "demo")
FINALIZER = "ray.io/gcs-ft-redis-cleanup-finalizer"


def ft_world(*, redis_cleanup: bool = True) -> World:
    world = World()
    if not redis_cleanup:
        world.deps = dataclasses.replace(world.deps, redis_cleanup=False)
    body = cluster(uid="uid-demo", groups=[group(replicas=1)])
    body["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    world.api.put("rayclusters", body)
    world.caches.sync(world.api)
    return world


def stored(world: World) -> dict[str, Any]:
    obj: dict[str, Any] = world.api.objects[("rayclusters", "ns", "demo")]
    return obj


async def test_the_finalizer_comes_in_a_pass_of_its_own_before_any_pod() -> None:
    world = ft_world()
    assert await reconcile(KEY, world.deps) == DONE
    assert [(verb, resource) for verb, resource, _ in world.writes()] == [("patch", "rayclusters")]
    assert stored(world)["metadata"]["finalizers"] == [FINALIZER]
    world.caches.sync(world.api)
    mark = len(world.api.writes)
    await reconcile(KEY, world.deps)
    assert ("create", "pods") in [(verb, resource) for verb, resource, _ in world.writes(mark)]
    assert ("patch", "rayclusters") not in [(verb, resource) for verb, resource, _ in world.writes(mark)]


async def test_with_the_cleanup_turned_off_no_finalizer_is_added() -> None:
    world = ft_world(redis_cleanup=False)
    await reconcile(KEY, world.deps)
    assert ("patch", "rayclusters") not in [(verb, resource) for verb, resource, _ in world.writes()]
    assert "finalizers" not in stored(world)["metadata"]


async def test_a_deletion_stuck_past_300_s_lets_the_finalizer_go_with_a_warning() -> None:
    world = ft_world()
    for _ in range(3):
        await reconcile(KEY, world.deps)
        world.caches.sync(world.api)
    stored(world)["metadata"]["deletionTimestamp"] = CREATED
    world.caches.sync(world.api)
    result = await reconcile(KEY, world.deps)  # deletes the head and the worker, waits for them to go
    assert result == Result(requeue_after_s=10.0)
    assert sorted(resource for verb, resource, _ in world.writes() if verb == "delete") == ["pods", "pods"]
    world.caches.sync(world.api)
    result = await reconcile(KEY, world.deps)  # no head left: the cleanup Job
    assert ("create", "jobs") in [(verb, resource) for verb, resource, _ in world.writes()]
    assert "CreatedRedisCleanupJob" in world.events.reasons()
    assert result == Result(requeue_after_s=2.0)
    world.clock.step(300.0)
    mark = len(world.api.writes)
    assert await reconcile(KEY, world.deps) == DONE
    assert [(verb, resource) for verb, resource, _ in world.writes(mark)] == [("patch", "rayclusters")]
    assert stored(world)["metadata"].get("finalizers") in (None, [])
    assert world.events.reasons()[-1] == "ForceDeletedStuckCluster"
