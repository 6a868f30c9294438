"""A tiny JSON client for any Kubernetes API server named by a kubeconfig, plus a list-then-watch loop.

Guarantees:
1. `load_kubeconfig` reads the current context's server, bearer token (`token` or `tokenFile`), CA
   (`certificate-authority` or `-data`), client certificate files and `insecure-skip-tls-verify`; a plain
   http server needs none of them.
2. Every request has a timeout; a non-2xx answer raises `ApiError(code, reason, message)` read from the
   Status body; transport failures raise `aiohttp.ClientError` or `TimeoutError` unchanged.
3. `watch()` yields decoded events as they arrive, however long the lines; an ERROR event raises `ApiError`
   (code 410 for an expired resourceVersion).
4. `reflect()` lists, hands the full list to `on_sync`, then watches from the list's resourceVersion and
   hands each event to `on_event`, in order; it re-lists after 410 at once and after any other failure
   with a backoff growing from 0.2 s to 5 s, so it never spins.

Not guaranteed: exec-plugin credentials, client certificates given inline (`-data`), HTTP proxies.
Caller must: create and close the client on the loop that uses it (`async with ApiClient(...)`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

Obj = dict[str, Any]
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class KubeConfig:
    server: str
    token: str | None = None
    ca_file: str | None = None
    ca_data: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


def _named(entries: list[Obj] | None, name: str | None, what: str) -> Obj:
    for entry in entries or []:
        if entry.get("name") == name:
            return dict(entry.get(what) or {})
    return {}


def load_kubeconfig(path: str | Path) -> KubeConfig:
    cfg = yaml.safe_load(Path(path).read_text()) or {}
    context = _named(cfg.get("contexts"), cfg.get("current-context"), "context")
    cluster = _named(cfg.get("clusters"), context.get("cluster"), "cluster")
    user = _named(cfg.get("users"), context.get("user"), "user")
    if not cluster.get("server"):
        raise ValueError(f"{path}: the current context names no cluster with a server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    ca_data = cluster.get("certificate-authority-data")
    return KubeConfig(server=str(cluster["server"]).rstrip("/"), token=token,
                      ca_file=cluster.get("certificate-authority"),
                      ca_data=base64.b64decode(ca_data).decode() if ca_data else None,
                      cert_file=user.get("client-certificate"), key_file=user.get("client-key"),
                      insecure=bool(cluster.get("insecure-skip-tls-verify")))


def _ssl_context(cfg: KubeConfig) -> ssl.SSLContext | bool:
    if not cfg.server.startswith("https"):
        return True
    if cfg.insecure:
        return False
    ctx = ssl.create_default_context(cafile=cfg.ca_file, cadata=cfg.ca_data)
    if cfg.cert_file and cfg.key_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    return ctx


class ApiClient:
    def __init__(self, config: KubeConfig, *, timeout_s: float = 10.0) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = {"Accept": JSON, "User-Agent": "localcluster-node/0.1"}
            if self.config.token:
                headers["Authorization"] = f"Bearer {self.config.token}"
            self._session = aiohttp.ClientSession(
                headers=headers, connector=aiohttp.TCPConnector(ssl=_ssl_context(self.config)))
        return self._session

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      body: Obj | None = None, content_type: str = JSON) -> Obj:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self.session.request(method, self.config.server + path, params=params, data=data,
                                        headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise _error(resp.status, raw)
            return json.loads(raw) if raw.strip() else {}

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Obj:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Obj) -> Obj:
        return await self.request("POST", path, body=body)

    async def patch(self, path: str, body: Obj) -> Obj:
        return await self.request("PATCH", path, body=body, content_type=MERGE_PATCH)

    async def delete(self, path: str, body: Obj | None = None) -> Obj:
        return await self.request("DELETE", path, body=body)

    async def watch(self, path: str, params: Mapping[str, str], timeout_s: float) -> AsyncIterator[Obj]:
        query = {**params, "watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(int(timeout_s))}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s, sock_read=timeout_s + 30)
        async with self.session.get(self.config.server + path, params=query, timeout=timeout) as resp:
            if resp.status >= 300:
                raise _error(resp.status, await resp.read())
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise ApiError(int(status.get("code") or 500), str(status.get("reason") or ""),
                                       str(status.get("message") or ""))
                    yield event


def _error(code: int, raw: bytes) -> ApiError:
    try:
        status = json.loads(raw)
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    return ApiError(code, str(status.get("reason") or ""), str(status.get("message") or raw[:200].decode(
        errors="replace")))


async def reflect(client: ApiClient, path: str, *, on_sync: Callable[[list[Obj]], None],
                  on_event: Callable[[str, Obj], None], params: Mapping[str, str] | None = None,
                  watch_timeout_s: float = 300.0, rng: random.Random | None = None) -> None:
    """List then watch `path` forever (until cancelled), feeding the handlers; see guarantee 4."""
    pick = rng or random.Random()
    delay_s = 0.0
    while True:
        if delay_s:
            await asyncio.sleep(delay_s)
        try:
            listing = await client.get(path, params)
            rv = str((listing.get("metadata") or {}).get("resourceVersion") or "")
            on_sync(list(listing.get("items") or []))
            delay_s = 0.0
            while True:
                timeout_s = watch_timeout_s * (1 + pick.random())
                async for event in client.watch(path, {**(params or {}), "resourceVersion": rv}, timeout_s):
                    obj = event.get("object") or {}
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if event.get("type") != "BOOKMARK":
                        on_event(str(event.get("type")), obj)
        except ApiError as exc:
            delay_s = 0.0 if exc.code == 410 else min(5.0, max(0.2, delay_s * 2))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            delay_s = min(5.0, max(0.2, delay_s * 2))
