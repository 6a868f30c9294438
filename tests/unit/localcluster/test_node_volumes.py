"""Projected volumes as the kubelet fills them (e2e/localcluster/node/volumes.py), against a stub API."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster.node.client import ApiError
from e2e.localcluster.node.volumes import (
    ProjectedVolumes,
    Token,
    VolumeError,
    pod_mounts,
    should_refresh,
    token_request,
)

Obj = dict[str, Any]
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def access_volume(name: str = "kube-api-access-x7k2p") -> Obj:
    """What the API server's Pod admission adds (schema/builtins.py), as kube's ServiceAccount admission does."""
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}}


def pod(**spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "team", "uid": "uid-1"},
            "spec": {"volumes": [access_volume()], "containers": [
                {"name": "c", "volumeMounts": [{"name": "kube-api-access-x7k2p", "mountPath": MOUNT,
                                                "readOnly": True}]}], **spec}}


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StubApi:
    """Answers TokenRequests with numbered tokens and serves one ConfigMap; records what was asked."""

    def __init__(self, clock: list[float], lifetime_s: float = 3607) -> None:
        self.clock = clock
        self.lifetime_s = lifetime_s
        self.asked: list[tuple[str, str, Obj]] = []
        self.configmaps: dict[str, dict[str, str]] = {"kube-root-ca.crt": {"ca.crt": "-----BEGIN CERTIFICATE-----"}}
        self.fail: ApiError | None = None

    async def request(self, namespace: str, account: str, body: Obj) -> Obj:
        self.asked.append((namespace, account, body))
        if self.fail is not None:
            raise self.fail
        return {"status": {"token": f"token-{len(self.asked)}",
                           "expirationTimestamp": stamp(self.clock[0] + self.lifetime_s)}}

    async def fetch_refs(self, namespace: str, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        return {(k, n): self.configmaps[n] for k, n in wanted if k == "configmap" and n in self.configmaps}


def volumes(tmp_path: Path, api: StubApi, the_pod: Obj, clock: list[float]) -> ProjectedVolumes:
    async def sleep(delay_s: float) -> None:
        clock[0] += delay_s

    return ProjectedVolumes(the_pod, lambda name: tmp_path / name, request=api.request, fetch_refs=api.fetch_refs,
                            retry_s=10.0, wall=lambda: clock[0], sleep=sleep)


async def test_the_access_volume_holds_token_ca_and_namespace_of_the_pods_service_account(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    api = StubApi(clock)
    await volumes(tmp_path, api, pod(serviceAccountName="robot"), clock).setup()
    files = tmp_path / "kube-api-access-x7k2p"
    assert (files / "token").read_text() == "token-1"
    assert (files / "ca.crt").read_text() == "-----BEGIN CERTIFICATE-----"
    assert (files / "namespace").read_text() == "team"
    assert stat.S_IMODE((files / "token").stat().st_mode) == 0o644  # defaultMode 420
    [(namespace, account, body)] = api.asked
    assert (namespace, account) == ("team", "robot")
    assert body == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
        "expirationSeconds": 3607, "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web",
                                                      "uid": "uid-1"}}}  # no audiences: the server's own


def test_the_token_request_names_an_audience_only_when_the_source_does() -> None:
    body = token_request(pod(), {"audience": "vault", "expirationSeconds": 600})
    assert body["spec"]["audiences"] == ["vault"] and body["spec"]["expirationSeconds"] == 600


async def test_a_pod_without_a_service_account_name_uses_default(tmp_path: Path) -> None:
    clock = [0.0]
    api = StubApi(clock)
    await volumes(tmp_path, api, pod(), clock).setup()
    assert api.asked[0][1] == "default"


def test_a_token_is_refreshed_after_80_percent_of_its_life_or_a_day() -> None:
    hour = Token("t", issued_s=0.0, expires_s=3600.0)
    assert not should_refresh(hour, 2879.0) and should_refresh(hour, 2880.0)
    year = Token("t", issued_s=0.0, expires_s=365 * 86400.0)
    assert not should_refresh(year, 86399.0) and should_refresh(year, 86400.0)


async def test_keep_fresh_rewrites_the_token_file_at_80_percent_and_keeps_the_old_one_while_refresh_fails(
        tmp_path: Path) -> None:
    clock = [1_000_000.0]
    api = StubApi(clock, lifetime_s=1000)
    vols = volumes(tmp_path, api, pod(), clock)
    await vols.setup()
    token = tmp_path / "kube-api-access-x7k2p" / "token"
    api.fail = ApiError(500, "InternalError", "etcd is down")
    calls = 0
    real_sleep = vols.sleep

    async def sleep(delay_s: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            assert token.read_text() == "token-1"  # the failed refresh left the old token in place
            assert delay_s == 10.0  # and is tried again after retry_s
            api.fail = None
        if calls == 3:
            raise StopAsyncIteration
        await real_sleep(delay_s)

    vols.sleep = sleep
    with pytest.raises(StopAsyncIteration):
        await vols.keep_fresh()
    assert token.read_text() == "token-3"
    assert clock[0] == pytest.approx(1_000_000.0 + 800 + 10)


async def test_a_missing_root_ca_config_map_fails_the_mount_as_the_kubelet_reports_it(tmp_path: Path) -> None:
    clock = [0.0]
    api = StubApi(clock)
    api.configmaps.clear()
    with pytest.raises(VolumeError, match=re.escape('MountVolume.SetUp failed for volume "kube-api-access-x7k2p" : '
                                                    'configmap "kube-root-ca.crt" not found')):
        await volumes(tmp_path, api, pod(), clock).setup()


async def test_a_refused_token_request_fails_the_mount_but_a_server_without_token_requests_is_tolerated(
        tmp_path: Path) -> None:
    clock = [0.0]
    api = StubApi(clock)
    api.fail = ApiError(404, "NotFound", 'serviceaccounts "robot" not found')
    with pytest.raises(VolumeError, match='failed to fetch token: 404 NotFound: serviceaccounts "robot" not found'):
        await volumes(tmp_path, api, pod(serviceAccountName="robot"), clock).setup()
    api.fail = ApiError(404, "NotFound", "the server could not find the requested resource")
    await volumes(tmp_path, api, pod(), clock).setup()
    files = tmp_path / "kube-api-access-x7k2p"
    assert not (files / "token").exists() and (files / "namespace").read_text() == "team"


def test_config_map_secret_projected_and_empty_dir_volumes_are_mounted_the_filled_ones_read_only() -> None:
    spec = pod()["spec"]
    spec["volumes"] += [{"name": "scratch", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "x"}},
                        {"name": "pw", "secret": {"secretName": "s"}}, {"name": "disk", "hostPath": {"path": "/"}}]
    spec["containers"][0]["volumeMounts"] += [{"name": "scratch", "mountPath": "/tmp/scratch/"},
                                              {"name": "conf", "mountPath": "/etc/conf"},
                                              {"name": "pw", "mountPath": "/etc/pw", "readOnly": False},
                                              {"name": "disk", "mountPath": "/host"}]
    assert pod_mounts(spec, lambda name: Path("/v") / name) == [
        ("/v/conf", "/etc/conf", True), ("/v/pw", "/etc/pw", True), ("/v/scratch", "/tmp/scratch", False),
        ("/v/kube-api-access-x7k2p", MOUNT, True)]


def test_a_sub_path_mounts_one_file_of_the_volume_and_read_only_is_honoured_for_an_empty_dir() -> None:
    spec = {"volumes": [{"name": "config", "configMap": {"name": "redis-config"}}, {"name": "work", "emptyDir": {}}],
            "containers": [{"name": "redis", "volumeMounts": [
                {"name": "config", "mountPath": "/usr/local/etc/redis/redis.conf", "subPath": "redis.conf"},
                {"name": "work", "mountPath": "/work", "readOnly": True},
                {"name": "work", "mountPath": "/logs", "subPath": "a/logs"}]}]}
    assert pod_mounts(spec, lambda name: Path("/v") / name) == [
        ("/v/work/a/logs", "/logs", False), ("/v/config/redis.conf", "/usr/local/etc/redis/redis.conf", True),
        ("/v/work", "/work", True)]


@pytest.mark.parametrize("sub_path", ["/etc/passwd", "../other", "a/../../b"])
def test_a_sub_path_that_leaves_the_volume_is_refused(sub_path: str) -> None:
    spec = {"volumes": [{"name": "work", "emptyDir": {}}],
            "containers": [{"name": "c", "volumeMounts": [{"name": "work", "mountPath": "/w", "subPath": sub_path}]}]}
    with pytest.raises(VolumeError, match="invalid subPath"):
        pod_mounts(spec, lambda name: Path("/v") / name)


def test_the_images_writable_paths_are_mounted_read_write_unless_a_volume_takes_the_path() -> None:
    spec = {"volumes": [{"name": "d", "emptyDir": {}}],
            "containers": [{"name": "c", "volumeMounts": [{"name": "d", "mountPath": "/cache"}]}]}
    assert pod_mounts(spec, lambda name: Path("/v") / name, [("/data", Path("/layer/data")),
                                                            ("/cache", Path("/layer/cache"))]) == [
        ("/v/d", "/cache", False), ("/layer/data", "/data", False)]


class StubRefs:
    def __init__(self, objects: dict[tuple[str, str], dict[str, str]]) -> None:
        self.objects = objects

    async def fetch(self, namespace: str, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        assert namespace == "team"
        return {key: self.objects[key] for key in wanted if key in self.objects}


def filled(tmp_path: Path, refs: StubRefs, *vols: Obj) -> ProjectedVolumes:
    the_pod = {"metadata": {"name": "web", "namespace": "team", "uid": "uid-1"}, "spec": {"volumes": list(vols)}}

    async def no_tokens(namespace: str, account: str, body: Obj) -> Obj:
        raise AssertionError("no token asked")

    return ProjectedVolumes(the_pod, lambda name: tmp_path / name, request=no_tokens, fetch_refs=refs.fetch)


async def test_a_config_map_volume_maps_items_key_to_path_with_default_mode_and_item_mode(tmp_path: Path) -> None:
    refs = StubRefs({("configmap", "ray-example"): {"detached_actor.py": "import ray\n", "other.py": "x",
                                                    "increment_counter.py": "print(1)\n"}})
    items = [{"key": "detached_actor.py", "path": "detached_actor.py"},
             {"key": "increment_counter.py", "path": "bin/increment.py", "mode": 0o400}]
    await filled(tmp_path, refs, {"name": "samples", "configMap": {"name": "ray-example", "defaultMode": 0o777,
                                                                   "items": items}}).setup()
    files = tmp_path / "samples"
    assert sorted(str(p.relative_to(files)) for p in files.rglob("*") if p.is_file()) == [
        "bin/increment.py", "detached_actor.py"]  # only the items, at their paths
    assert (files / "detached_actor.py").read_text() == "import ray\n"
    assert stat.S_IMODE((files / "detached_actor.py").stat().st_mode) == 0o777
    assert stat.S_IMODE((files / "bin/increment.py").stat().st_mode) == 0o400


async def test_a_secret_volume_without_items_holds_every_key_at_mode_0644(tmp_path: Path) -> None:
    refs = StubRefs({("secret", "redis-password-secret"): {"password": "5241590000000000", "user": "default"}})
    await filled(tmp_path, refs, {"name": "pw", "secret": {"secretName": "redis-password-secret"}}).setup()
    files = tmp_path / "pw"
    assert sorted(p.name for p in files.iterdir()) == ["password", "user"]
    assert (files / "password").read_text() == "5241590000000000"
    assert stat.S_IMODE((files / "password").stat().st_mode) == 0o644


async def test_a_missing_config_map_fails_the_mount_unless_optional_and_a_missing_key_names_the_key(
        tmp_path: Path) -> None:
    refs = StubRefs({("configmap", "present"): {"a": "1"}})
    with pytest.raises(VolumeError, match=re.escape('MountVolume.SetUp failed for volume "conf" : '
                                                    'configmap "absent" not found')):
        await filled(tmp_path, refs, {"name": "conf", "configMap": {"name": "absent"}}).setup()
    await filled(tmp_path, refs, {"name": "opt", "configMap": {"name": "absent", "optional": True}}).setup()
    assert not (tmp_path / "opt").exists() or not any((tmp_path / "opt").iterdir())
    with pytest.raises(VolumeError, match=re.escape('secret "s" not found')):
        await filled(tmp_path, refs, {"name": "pw", "secret": {"secretName": "s"}}).setup()
    with pytest.raises(VolumeError, match=re.escape('configmap "present" has no key "b"')):
        await filled(tmp_path, refs, {"name": "conf", "configMap": {"name": "present",
                                                                    "items": [{"key": "b", "path": "b"}]}}).setup()
    with pytest.raises(VolumeError, match="invalid path"):
        await filled(tmp_path, refs, {"name": "conf", "configMap": {"name": "present",
                                                                    "items": [{"key": "a", "path": "../a"}]}}).setup()
