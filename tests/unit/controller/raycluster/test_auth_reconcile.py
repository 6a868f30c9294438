"""The RayCluster reconcile in token authentication mode: the Secret named after the cluster is created before any
pod, read at most once, never rotated; a user's ``secretName`` is never written; and each cluster's token as the
operator reads it for its dashboard calls (``ClusterTokens``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from rayservice.api import ObjectKey
from rayservice.controller.raycluster import AuthTokenUnavailable, ClusterTokens
from rayservice.controller.raycluster.reconcile import reconcile
from rayservice.kube import ApiError, Resource
from tests.unit.controller.raycluster.reconcile_fakes import FakeApi, World
from tests.unit.controller.raycluster.samples import cluster, group

KEY = ObjectKey("ns", "demo")


class CountingApi(FakeApi):
    """The fake API server, counting reads too."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, str]] = []

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        self.reads.append((resource.plural, name))
        return await super().get(resource, name, namespace=namespace)


def auth_world(**options: Any) -> World:
    world = World(api=CountingApi())
    body = cluster(uid="uid-demo", groups=[group(replicas=1)], rayVersion="2.60.0")
    body["spec"]["authOptions"] = {"mode": "token", **options}
    world.api.put("rayclusters", body)
    world.caches.sync(world.api)
    return world


def secret_writes(world: World) -> list[tuple[str, str]]:
    return [(verb, name) for verb, resource, name in world.writes() if resource == "secrets"]


def reads(world: World) -> list[tuple[str, str]]:
    api = world.api
    assert isinstance(api, CountingApi)
    return [read for read in api.reads if read[0] == "secrets"]


async def test_the_secret_is_created_before_any_pod() -> None:
    world = auth_world()
    await reconcile(KEY, world.deps)
    kinds = [(verb, resource) for verb, resource, _ in world.writes()]
    assert ("create", "secrets") in kinds and ("create", "pods") in kinds
    assert kinds.index(("create", "secrets")) < kinds.index(("create", "pods"))
    secret = world.api.objects[("secrets", "ns", "demo")]
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-demo"
    assert len(base64.b64decode(secret["stringData"]["auth_token"])) == 32


async def test_the_secret_is_read_once_then_never_again_and_never_rotated() -> None:
    world = auth_world()
    for _ in range(4):
        await reconcile(KEY, world.deps)
        world.caches.sync(world.api)
    assert secret_writes(world) == [("create", "demo")]
    assert reads(world) == [("secrets", "demo")]


async def test_an_existing_secret_is_left_as_it_is() -> None:
    world = auth_world()
    world.api.put("secrets", {"metadata": {"name": "demo", "namespace": "ns"}, "data": {"auth_token": "b2xk"}})
    await reconcile(KEY, world.deps)
    assert secret_writes(world) == []
    assert world.api.objects[("secrets", "ns", "demo")]["data"] == {"auth_token": "b2xk"}


async def test_a_users_secret_name_is_neither_read_nor_written() -> None:
    world = auth_world(secretName="mine")
    await reconcile(KEY, world.deps)
    assert secret_writes(world) == [] and reads(world) == []
    assert ("create", "pods") in [(verb, resource) for verb, resource, _ in world.writes()]


async def test_k8s_token_auth_makes_no_secret() -> None:
    world = auth_world(enableK8sTokenAuth=True)
    await reconcile(KEY, world.deps)
    assert secret_writes(world) == [] and reads(world) == []


async def test_a_refused_create_is_a_warning_event_and_no_pod_is_created() -> None:
    world = auth_world()
    world.api.fail[("create", "secrets")] = ApiError(403, "Forbidden", "secrets is forbidden")
    with pytest.raises(ApiError):
        await reconcile(KEY, world.deps)
    assert "FailedToCreateAuthSecret" in world.events.reasons()
    assert ("create", "pods") not in [(verb, resource) for verb, resource, _ in world.writes()]
    await reconcile(KEY, world.deps)  # the retry creates it
    assert secret_writes(world) == [("create", "demo"), ("create", "demo")]


async def test_a_new_incarnation_of_the_cluster_reads_its_secret_again() -> None:
    world = auth_world()
    await reconcile(KEY, world.deps)
    del world.api.objects[("rayclusters", "ns", "demo")]
    world.caches.sync(world.api)
    await reconcile(KEY, world.deps)  # gone: forgotten
    world.api.put("rayclusters", cluster(uid="uid-2", groups=[group(replicas=1)], rayVersion="2.60.0",
                                         authOptions={"mode": "token"}))
    world.caches.sync(world.api)
    await reconcile(KEY, world.deps)
    assert reads(world) == [("secrets", "demo"), ("secrets", "demo")]


class TestClusterTokens:
    def setup_method(self) -> None:
        self.api = CountingApi()
        self.cluster = cluster(uid="uid-demo", rayVersion="2.60.0", authOptions={"mode": "token"})

    def put_secret(self, name: str, data: dict[str, str]) -> None:
        self.api.put("secrets", {"metadata": {"name": name, "namespace": "ns"}, "data": data})

    async def test_a_cluster_without_token_mode_has_none_and_costs_no_request(self) -> None:
        tokens = ClusterTokens(self.api)
        assert await tokens.token_for(cluster()) is None
        assert self.api.reads == []

    async def test_the_token_is_read_once_from_the_clusters_secret(self) -> None:
        self.put_secret("demo", {"auth_token": base64.b64encode(b"s3cret\n").decode()})
        tokens = ClusterTokens(self.api)
        assert await tokens.token_for(self.cluster) == "s3cret"
        assert await tokens.token_for(self.cluster) == "s3cret"
        assert self.api.reads == [("secrets", "demo")]

    async def test_the_secret_name_option_is_the_secret_read(self) -> None:
        self.put_secret("mine", {"auth_token": base64.b64encode(b"t").decode()})
        self.cluster["spec"]["authOptions"]["secretName"] = "mine"
        assert await ClusterTokens(self.api).token_for(self.cluster) == "t"

    async def test_forget_reads_it_again(self) -> None:
        self.put_secret("demo", {"auth_token": base64.b64encode(b"one").decode()})
        tokens = ClusterTokens(self.api)
        assert await tokens.token_for(self.cluster) == "one"
        self.put_secret("demo", {"auth_token": base64.b64encode(b"two").decode()})
        assert await tokens.token_for(self.cluster) == "one"
        tokens.forget(KEY)
        assert await tokens.token_for(self.cluster) == "two"

    @pytest.mark.parametrize(
        ("data", "words"),
        [(None, "does not exist"), ({}, "has no key auth_token"), ({"auth_token": "%%%"}, "is not base64 text"),
         ({"auth_token": base64.b64encode(b"  ").decode()}, "is empty")],
    )
    async def test_an_unusable_secret_is_a_clear_error_and_is_not_remembered(
        self, data: dict[str, str] | None, words: str
    ) -> None:
        if data is not None:
            self.put_secret("demo", data)
        tokens = ClusterTokens(self.api)
        with pytest.raises(AuthTokenUnavailable, match=words) as caught:
            await tokens.token_for(self.cluster)
        assert "Secret ns/demo" in str(caught.value)
        assert len(tokens) == 0

    async def test_at_most_limit_clusters_are_kept(self) -> None:
        tokens = ClusterTokens(self.api, limit=2)
        for name in ("a", "b", "c"):
            self.put_secret(name, {"auth_token": base64.b64encode(name.encode()).decode()})
            await tokens.token_for(cluster(name, uid=f"uid-{name}", rayVersion="2.60.0",
                                           authOptions={"mode": "token"}))
        assert len(tokens) == 2
        assert repr(tokens) == "ClusterTokens(2 held)"
