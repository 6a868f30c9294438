"""A pod's volumes as the kubelet fills and mounts them: ConfigMap and Secret volumes, projected volumes
(service-account tokens, ConfigMap and Secret keys, the downward API; `kube-api-access-*` is one of these) in
per-pod directories, emptyDirs, and the paths the image itself keeps writable; the sandbox bind-mounts them.

Guarantees:
1. `pod_mounts` lists, for every emptyDir, configMap, secret and projected volume that a container mounts,
   (host path, mount path, read-only); one mount per path, sorted by path, so a parent is mounted before its
   children. A `subPath` mounts that file or directory of the volume instead of its root (a missing one is
   created as a directory, as the kubelet does; an absolute subPath or one with `..` raises `VolumeError`).
   configMap, secret and projected volumes are always read-only (as the kubelet mounts them), others when the
   mount says `readOnly`. `image_paths` (pod path, host directory) are the image's own writable paths
   (images.py `writable`): mounted read-write unless a volume mounts at that path.
2. `ProjectedVolumes.setup()` writes every file of every configMap, secret and projected volume of the pod
   before it returns (files replaced atomically; `items` map a key to a relative path, mode from the item's
   `mode`, else `defaultMode`, default 0644; without `items` every key becomes a file of its name); it raises
   `VolumeError` naming the volume and the cause (a non-optional ConfigMap or Secret, or a key, that is
   missing; a refused TokenRequest), as the kubelet's `MountVolume.SetUp failed`. An optional source that is
   missing gives an empty volume.
3. A `serviceAccountToken` source is a TokenRequest for the pod's `serviceAccountName` (default `default`)
   with `boundObjectRef` = the pod (name and uid), the source's `expirationSeconds` (default 3600) and its
   `audience` (none: the API server's own audiences), as the kubelet asks.
   An API server that does not serve TokenRequest (404 for the path, 405) gets no token file and no error:
   the node runs against any API server, as pod-spec parts it cannot honour are left out, never fatal.
4. `keep_fresh()` re-requests each token once `should_refresh` says so: after 80 % of its lifetime or 24 h,
   whichever comes first (the kubelet's token manager), and rewrites its file; a failed refresh is retried
   after `retry_s` while the old token stays in place.

Not guaranteed: ConfigMap, Secret and downward-API files are written once at setup (the kubelet re-syncs
them, except behind a subPath); a ConfigMap's `binaryData` is not written and Secret values are text (UTF-8);
files are plain files (no `..data` symlink farm); `clusterTrustBundle` and `podCertificate` sources are refused
with a `VolumeError`; other volume types (hostPath, PVCs, ...) are not mounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from . import env as envmod
from .client import ApiError

Obj = dict[str, Any]
RequestToken = Callable[[str, str, Obj], Awaitable[Obj]]  # (namespace, serviceaccount, TokenRequest) -> answer
FetchRefs = Callable[[str, set[tuple[str, str]]], Awaitable[dict[tuple[str, str], Mapping[str, str]]]]
MAX_TOKEN_AGE_S = 24 * 3600.0
log = logging.getLogger(__name__)
_TRANSIENT = (ApiError, aiohttp.ClientError, TimeoutError, OSError)


class VolumeError(Exception):
    pass


@dataclass(frozen=True)
class Token:
    value: str
    issued_s: float  # wall-clock seconds
    expires_s: float


def should_refresh(token: Token, now_s: float) -> bool:
    lifetime = token.expires_s - token.issued_s
    return now_s >= min(token.issued_s + 0.8 * lifetime, token.issued_s + MAX_TOKEN_AGE_S)


def refresh_due_s(token: Token) -> float:
    return min(token.issued_s + 0.8 * (token.expires_s - token.issued_s), token.issued_s + MAX_TOKEN_AGE_S)


def token_request(pod: Obj, source: Mapping[str, Any]) -> Obj:
    meta = pod.get("metadata") or {}
    spec: Obj = {"expirationSeconds": int(source.get("expirationSeconds") or 3600),
                 "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name"),
                                    "uid": meta.get("uid")}}
    if source.get("audience"):
        spec["audiences"] = [str(source["audience"])]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def not_served(exc: ApiError) -> bool:
    """The API server has no TokenRequest (a 404 for the path itself, not for a missing ServiceAccount)."""
    return exc.code == 405 or (exc.code == 404 and not exc.message.startswith('serviceaccounts "'))


def service_account(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


FILLED = ("configMap", "secret", "projected")  # volume types the node writes files into (mounted read-only)
MOUNTED = ("emptyDir", *FILLED)


def pod_mounts(spec: Mapping[str, Any], volume_dir: Callable[[str], Path],
               image_paths: Sequence[tuple[str, Path]] = ()) -> list[tuple[str, str, bool]]:
    kinds = {v["name"] for v in spec.get("volumes") or [] if any(k in v for k in MOUNTED)}
    filled = {v["name"] for v in spec.get("volumes") or [] if any(k in v for k in FILLED)}
    mounts: dict[str, tuple[str, bool]] = {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for m in c.get("volumeMounts") or []:
            if m.get("name") in kinds and str(m.get("mountPath", "")).startswith("/"):
                read_only = bool(m.get("readOnly")) or m["name"] in filled
                source = volume_dir(m["name"])
                if m.get("subPath"):
                    source = source / _relative(str(m["subPath"]), "subPath")
                mounts.setdefault(str(m["mountPath"]).rstrip("/") or "/", (str(source), read_only))
    for path, host in image_paths:
        mounts.setdefault(path.rstrip("/") or "/", (str(host), False))
    return [(src, dst, ro) for dst, (src, ro) in sorted(mounts.items())]


def _relative(rel: str, what: str) -> Path:
    if rel.startswith("/") or ".." in Path(rel).parts:
        raise VolumeError(f"invalid {what} {rel!r}: must be a relative path without '..'")
    return Path(rel)


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class ProjectedVolumes:
    def __init__(self, pod: Obj, volume_dir: Callable[[str], Path], *, request: RequestToken, fetch_refs: FetchRefs,
                 retry_s: float = 10.0, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.pod = pod
        self.volume_dir = volume_dir
        self.request = request
        self.fetch_refs = fetch_refs
        self.retry_s = retry_s
        self.wall = wall
        self.sleep = sleep
        self.volumes = [v for v in (pod.get("spec") or {}).get("volumes") or [] if any(k in v for k in FILLED)]
        self.tokens: dict[tuple[str, str], Token] = {}  # (volume, path) -> the token written there
        self._next: dict[tuple[str, str], float] = {}  # (volume, path) -> when to look at its token again

    async def setup(self) -> None:
        for volume in self.volumes:
            try:
                await self._fill(volume)
            except VolumeError as exc:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{volume["name"]}" : {exc}') from None

    async def keep_fresh(self) -> None:
        sources = {(v["name"], str(src["serviceAccountToken"].get("path") or "token")): (v, src["serviceAccountToken"])
                   for v in self.volumes for src in (v.get("projected") or {}).get("sources") or []
                   if "serviceAccountToken" in src}
        while self._next:
            key = min(self._next, key=lambda k: self._next[k])
            await self.sleep(max(0.0, self._next[key] - self.wall()))
            if not should_refresh(self.tokens[key], self.wall()):
                self._next[key] = refresh_due_s(self.tokens[key])
                continue
            volume, source = sources[key]
            try:
                await self._write_token(volume, source)
            except VolumeError as exc:  # the old token stays in place until a refresh succeeds
                log.warning("token_refresh_failed volume=%s: %s", volume["name"], exc)
                self._next[key] = self.wall() + self.retry_s

    async def _fill(self, volume: Obj) -> None:
        if "configMap" in volume or "secret" in volume:  # a whole-volume source: `secret` names `secretName`
            ref = volume.get("configMap") or {**(volume.get("secret") or {}),
                                               "name": (volume.get("secret") or {}).get("secretName")}
            source = {"configMap": ref} if "configMap" in volume else {"secret": ref}
            await self._write_keys(volume, source, int(ref.get("defaultMode", 0o644)))
            return
        projected = volume["projected"]
        default_mode = int(projected.get("defaultMode", 0o644))
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                await self._write_token(volume, source["serviceAccountToken"])
            elif "configMap" in source or "secret" in source:
                await self._write_keys(volume, source, default_mode)
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    if "fieldRef" not in item:
                        raise VolumeError(f"unsupported downwardAPI item {sorted(item)}")
                    try:
                        value = envmod.field_ref(self.pod, str(item["fieldRef"].get("fieldPath", "")))
                    except envmod.ConfigError as exc:
                        raise VolumeError(str(exc)) from None
                    self._write(volume, str(item["path"]), value.encode(), int(item.get("mode", default_mode)))
            else:
                raise VolumeError(f"unsupported projected source {sorted(source)}")

    async def _write_token(self, volume: Obj, source: Mapping[str, Any]) -> None:
        ns = str((self.pod.get("metadata") or {}).get("namespace") or "")
        account = service_account(self.pod)
        try:
            answer = await self.request(ns, account, token_request(self.pod, source))
        except ApiError as exc:
            if not_served(exc):
                log.warning("token_request_not_served pod=%s/%s: the token file is left out", ns,
                            (self.pod.get("metadata") or {}).get("name"))
                return
            raise VolumeError(f"failed to fetch token: {exc}") from None
        except _TRANSIENT as exc:
            raise VolumeError(f"failed to fetch token: {exc}") from None
        status = answer.get("status") or {}
        if not status.get("token"):
            raise VolumeError("failed to fetch token: the TokenRequest answer carries no token")
        now = self.wall()
        try:
            expires = _parse_time(str(status.get("expirationTimestamp")))
        except ValueError:
            expires = now + int(source.get("expirationSeconds") or 3600)
        mode = int(volume["projected"].get("defaultMode", 0o644))
        path = str(source.get("path") or "token")
        self._write(volume, path, str(status["token"]).encode(), mode)
        token = Token(str(status["token"]), now, expires)
        self.tokens[(volume["name"], path)] = token
        self._next[(volume["name"], path)] = refresh_due_s(token)

    async def _write_keys(self, volume: Obj, source: Mapping[str, Any], default_mode: int) -> None:
        kind = "configmap" if "configMap" in source else "secret"
        ref = source.get("configMap") or source.get("secret") or {}
        name, optional = str(ref.get("name") or ""), bool(ref.get("optional"))
        ns = str((self.pod.get("metadata") or {}).get("namespace") or "")
        data = (await self.fetch_refs(ns, {(kind, name)})).get((kind, name))
        shown = "configmap" if kind == "configmap" else "secret"
        if data is None:
            if optional:
                return
            raise VolumeError(f'{shown} "{name}" not found')
        items = ref.get("items") or [{"key": k, "path": k} for k in sorted(data)]
        for item in items:
            if item.get("key") not in data:
                if optional:
                    continue
                raise VolumeError(f'{shown} "{name}" has no key "{item.get("key")}"')
            self._write(volume, str(item["path"]), data[item["key"]].encode(), int(item.get("mode", default_mode)))

    def _write(self, volume: Obj, rel: str, content: bytes, mode: int) -> None:
        target = self.volume_dir(volume["name"]) / _relative(rel, "path")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, target)

