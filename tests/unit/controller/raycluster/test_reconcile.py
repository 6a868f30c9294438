"""The RayCluster reconcile against a fake API server and caches: which writes, events and results it makes."""

from __future__ import annotations

from typing import Any

import pytest

from rayservice.api import ObjectKey
from rayservice.controller.raycluster import STARTING_REQUEUE_S
from rayservice.controller.raycluster.reconcile import reconcile
from rayservice.kube import Conflict, Invalid, NotFound, ServerError
from rayservice.runtime import DONE, Result
from tests.unit.controller.raycluster.reconcile_fakes import World
from tests.unit.controller.raycluster.samples import cluster, group

KEY = ObjectKey("ns", "demo")


def world_with(obj: dict[str, Any] | None = None) -> World:
    world = World()
    body = obj if obj is not None else cluster(uid="uid-demo", groups=[group(replicas=2)])
    body["metadata"].pop("uid", None)
    world.api.put("rayclusters", body)
    world.caches.sync(world.api)
    return world


async def converge(world: World, *, rounds: int = 4) -> Result:
    """Reconcile with the caches caught up before each round, as watch events would have them."""
    result = DONE
    for _ in range(rounds):
        result = await reconcile(KEY, world.deps)
        world.caches.sync(world.api)
    return result


def stored_status(world: World) -> dict[str, Any]:
    status: dict[str, Any] = world.api.objects[("rayclusters", "ns", "demo")]["status"]
    return status


class TestNewCluster:
    async def test_the_first_reconcile_creates_both_services_the_head_and_the_workers_and_leaves_status_to_the_next(
        self,
    ) -> None:
        world = world_with()
        result = await reconcile(KEY, world.deps)
        verbs = [(verb, resource) for verb, resource, _ in world.writes()]
        assert verbs == [("create", "services")] * 2 + [("create", "pods")] * 3
        assert world.events.reasons() == []  # creating children is no news: events are for actions and failures
        assert result == Result(requeue_after_s=STARTING_REQUEUE_S)
        world.caches.sync(world.api)  # the watch events of the new pods wake the next pass, which reports them
        mark = len(world.api.writes)
        await reconcile(KEY, world.deps)
        assert [(verb, resource) for verb, resource, _ in world.writes(mark)] == [("update", "rayclusters")]
        assert stored_status(world)["head"]["serviceIP"] == "10.96.0.1"
        assert stored_status(world)["desiredWorkerReplicas"] == 2

    async def test_a_converged_cluster_makes_no_writes_and_waits_for_events(self) -> None:
        world = world_with()
        await converge(world)
        assert stored_status(world)["state"] == "ready"
        mark, emitted = len(world.api.writes), len(world.events.emitted)
        assert await reconcile(KEY, world.deps) == DONE
        assert world.writes(mark) == [] and len(world.events.emitted) == emitted

    async def test_status_conditions_in_another_order_are_not_rewritten(self) -> None:
        world = world_with()
        await converge(world)
        world.api.objects[("rayclusters", "ns", "demo")]["status"]["conditions"].reverse()
        world.caches.sync(world.api)
        mark = len(world.api.writes)
        await reconcile(KEY, world.deps)
        assert world.writes(mark) == []


class TestInFlight:
    async def test_creates_the_cache_does_not_show_yet_are_not_repeated(self) -> None:
        world = world_with()
        await reconcile(KEY, world.deps)
        world.caches.sync(world.api, kinds=("rayclusters", "services"))  # the pod events have not arrived yet
        mark = len(world.api.writes)
        await reconcile(KEY, world.deps)
        assert world.writes(mark) == []
        assert len(world.inflight) == 3

    async def test_names_the_cache_shows_leave_the_tracker(self) -> None:
        world = world_with()
        await converge(world)
        assert len(world.inflight) == 0

    async def test_a_pod_that_never_shows_up_is_replaced_after_the_expiry(self) -> None:
        world = world_with()
        await reconcile(KEY, world.deps)
        for verb, resource, name in world.writes():
            if (verb, resource) == ("create", "pods") and "-worker-" in name:
                del world.api.objects[("pods", "ns", name)]  # came and went between two watch events
                break
        world.clock.step(31)
        world.caches.sync(world.api)
        mark = len(world.api.writes)
        await reconcile(KEY, world.deps)
        assert [(verb, resource) for verb, resource, _ in world.writes(mark)][:1] == [("create", "pods")]

    async def test_already_exists_counts_as_created_without_an_event(self) -> None:
        world = world_with(cluster(groups=[group(replicas=0)]))
        await reconcile(KEY, world.deps)
        (head,) = world.api.of("pods")
        del world.api.objects[("pods", "ns", head["metadata"]["name"])]
        world.inflight.forget(KEY)
        world.deps.rng.seed(1)  # the same name again, while the server has it
        world.api.put("pods", head)
        world.caches.sync(world.api, kinds=("rayclusters", "services"))
        mark, emitted = len(world.api.writes), len(world.events.emitted)
        await reconcile(KEY, world.deps)
        assert world.writes(mark)[0] == ("create", "pods", head["metadata"]["name"])
        assert world.events.reasons()[emitted:] == []
        assert len(world.inflight) == 1


class TestFailures:
    async def test_a_rejected_pod_create_is_a_warning_event_and_an_error_and_leaves_nothing_in_flight(self) -> None:
        world = world_with(cluster(groups=[]))
        world.api.fail[("create", "pods")] = Invalid(422, "Invalid", "spec.containers[0].image: Required value")
        with pytest.raises(Invalid):
            await reconcile(KEY, world.deps)
        type_, reason, message = world.events.emitted[-1]
        assert (type_, reason) == ("Warning", "FailedToCreatePod") and "Required value" in message
        assert len(world.inflight) == 0

    async def test_a_pod_already_gone_counts_as_deleted_without_an_event(self) -> None:
        world = world_with()
        await converge(world)
        world.api.fail[("delete", "pods")] = NotFound(404, "NotFound", "gone")
        world.api.put(
            "rayclusters",
            {
                **world.api.objects[("rayclusters", "ns", "demo")],
                "spec": {
                    **world.api.objects[("rayclusters", "ns", "demo")]["spec"],
                    "workerGroupSpecs": [group(replicas=1)],
                },
            },
        )
        world.caches.sync(world.api)
        emitted = len(world.events.emitted)
        await reconcile(KEY, world.deps)
        assert world.events.reasons()[emitted:] == []

    async def test_a_failed_delete_is_a_warning_event_and_an_error(self) -> None:
        world = world_with()
        await converge(world)
        world.api.fail[("delete", "pods")] = ServerError(500, "InternalError", "etcd is sad")
        suspended = {**world.api.objects[("rayclusters", "ns", "demo")]}
        suspended["spec"] = {**suspended["spec"], "suspend": True}
        world.api.put("rayclusters", suspended)
        world.caches.sync(world.api)
        with pytest.raises(ServerError):
            await reconcile(KEY, world.deps)
        assert world.events.emitted[-1][:2] == ("Warning", "FailedToDeletePod")

    async def test_a_stale_cluster_in_the_cache_makes_the_status_write_conflict(self) -> None:
        world = world_with()
        await reconcile(KEY, world.deps)  # creates the pods; their status is written once the cache shows them
        world.caches.sync(world.api)
        world.api.put("rayclusters", world.api.objects[("rayclusters", "ns", "demo")])  # a newer version
        with pytest.raises(Conflict):
            await reconcile(KEY, world.deps)


class TestInvalidSpec:
    async def test_an_invalid_spec_gets_its_status_and_one_warning_event_and_nothing_else(self) -> None:
        world = world_with(cluster(groups=[group(min_replicas=4, max_replicas=2)]))
        assert await reconcile(KEY, world.deps) == DONE
        assert world.writes() == [("update", "rayclusters", "demo/status")]
        ((type_, reason, message),) = world.events.emitted
        assert (type_, reason) == ("Warning", "InvalidSpec")
        assert "spec.workerGroupSpecs[0].minReplicas: 4 is greater than maxReplicas 2" in message
        condition = stored_status(world)["conditions"][0]
        assert (condition["type"], condition["reason"], condition["status"]) == (
            "ReplicaFailure",
            "ValidationFailed",
            "True",
        )
        world.caches.sync(world.api)
        await reconcile(KEY, world.deps)
        assert len(world.api.writes) == 1 and len(world.events.emitted) == 1


class TestServices:
    async def test_a_service_whose_owned_fields_drifted_gets_one_patch_of_those_fields_and_keeps_its_cluster_ip(
        self,
    ) -> None:
        world = world_with()
        await converge(world)
        service = world.api.objects[("services", "ns", "demo-head-svc")]
        cluster_ip = service["spec"]["clusterIP"]
        service["spec"]["selector"]["stale"] = "yes"
        service["metadata"]["labels"]["team"] = "ml"
        world.caches.sync(world.api)
        mark = len(world.api.writes)
        await reconcile(KEY, world.deps)
        (patch,) = [w.body for w in world.api.writes[mark:]]
        assert patch == {"spec": {"selector": {"stale": None, "ray.io/cluster": "demo", "ray.io/node-type": "head"}}}
        patched = world.api.objects[("services", "ns", "demo-head-svc")]
        assert patched["spec"]["clusterIP"] == cluster_ip and patched["metadata"]["labels"]["team"] == "ml"
        assert world.events.reasons()[-1] == "UpdatedService"

    async def test_a_service_the_cache_does_not_show_yet_is_read_once_and_not_created_again(self) -> None:
        world = world_with()
        await converge(world)
        world.caches.services.objects.clear()  # created by us, its watch event still on the way
        mark, emitted = len(world.api.writes), len(world.events.emitted)
        await reconcile(KEY, world.deps)
        assert world.writes(mark) == [
            ("create", "services", "demo-head-svc"),
            ("create", "services", "demo-dashboard-svc"),
        ]
        assert world.events.emitted[emitted:] == []

    async def test_a_service_of_the_same_name_controlled_by_something_else_is_left_alone(self) -> None:
        world = world_with()
        foreign = {"kind": "RayService", "name": "demo", "uid": "x", "controller": True, "apiVersion": "ray.io/v1"}
        world.api.put(
            "services",
            {
                "metadata": {
                    "name": "demo-head-svc",
                    "namespace": "ns",
                    "ownerReferences": [foreign],
                    "labels": {"ray.io/cluster": "demo"},
                },
                "spec": {"selector": {}},
            },
        )
        world.caches.sync(world.api)
        await reconcile(KEY, world.deps)
        assert ("patch", "services", "demo-head-svc") not in world.writes()
        assert ("Warning", "FailedToCreateService") in [e[:2] for e in world.events.emitted]


class TestLifecycle:
    async def test_a_suspended_cluster_loses_its_pods_and_keeps_its_services(self) -> None:
        world = world_with()
        await converge(world)
        suspended = {**world.api.objects[("rayclusters", "ns", "demo")]}
        suspended["spec"] = {**suspended["spec"], "suspend": True}
        world.api.put("rayclusters", suspended)
        world.caches.sync(world.api)
        assert await converge(world) == DONE
        assert world.api.of("pods") == [] and len(world.api.of("services")) == 2
        assert stored_status(world)["state"] == "suspended"
        assert world.events.reasons().count("DeletedWorkerPod") == 2 and "DeletedHeadPod" in world.events.reasons()

    async def test_a_deleted_or_deleting_cluster_needs_nothing_and_its_metrics_and_names_are_dropped(self) -> None:
        world = world_with()
        await reconcile(KEY, world.deps)
        world.caches.rayclusters.objects[KEY]["metadata"]["deletionTimestamp"] = "2025-01-01T00:01:00Z"
        mark = len(world.api.writes)
        assert await reconcile(KEY, world.deps) == DONE
        assert world.writes(mark) == [] and len(world.inflight) == 0
        assert world.metrics.calls[-1] == ("forget", "demo", "ns")

    async def test_the_provisioned_duration_is_recorded_once_when_the_cluster_first_becomes_ready(self) -> None:
        world = world_with()
        await reconcile(KEY, world.deps)
        world.clock.step(12.5)
        world.caches.sync(world.api)
        await converge(world)
        assert [call for call in world.metrics.calls if call[0] == "duration"] == [("duration", "demo", "ns", 12.5)]
        assert ("info", "demo", "ns", "None") in world.metrics.calls
        assert world.metrics.calls[-1] == ("provisioned", "demo", "ns", True)


class TestOwnWrites:
    async def test_a_pass_on_the_version_its_own_status_write_replaced_does_nothing_until_the_cache_moves_on(
        self,
    ) -> None:
        world = world_with()
        await reconcile(KEY, world.deps)
        world.caches.sync(world.api)
        mark = len(world.api.writes)
        await reconcile(KEY, world.deps)  # writes the status; the cache still holds the version it replaced
        assert world.writes(mark) == [("update", "rayclusters", "demo/status")]
        mark = len(world.api.writes)
        assert await reconcile(KEY, world.deps) == DONE  # no 409: the write's watch event will wake it
        assert world.writes(mark) == []
        world.caches.sync(world.api)
        await reconcile(KEY, world.deps)
        assert world.writes(mark) == []  # converged: the status it wrote is the one it computes
