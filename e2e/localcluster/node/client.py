"""A tiny JSON client for any Kubernetes API server named by a kubeconfig, plus a list-then-watch loop.

Guarantees:
1. `load_kubeconfig` reads the current context's server, bearer token (`token` or `tokenFile`), CA
   (`certificate-authority` or `-data`), client certificate and key (files or `-data`, as kind and the local
   cluster write them) and `insecure-skip-tls-verify`; a plain http server needs none of them.
   `ssl_context` turns that into the TLS settings every client of the local cluster uses; an inline key is
   written to a private temporary file only while OpenSSL loads it.
2. Every request has a timeout; a non-2xx answer raises `ApiError(code, reason, message)` read from the
   Status body; transport failures raise `aiohttp.ClientError` or `TimeoutError` unchanged.
3. `watch()` yields decoded events as they arrive, however long the lines; an ERROR event raises `ApiError`
   (code 410 for an expired resourceVersion).
4. `reflect()` lists, hands the full list to `on_sync`, then watches from the list's resourceVersion and
   hands each event to `on_event`, in order; it re-lists after 410 at once and after any other failure
   with a backoff growing from 0.2 s to 5 s, so it never spins.

Not guaranteed: exec-plugin credentials, HTTP proxies.
Caller must: create and close the client on the loop that uses it (`async with ApiClient(...)`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
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
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    ca_data: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    cert_data: str | None = field(default=None, repr=False)
    key_data: str | None = field(default=None, repr=False)


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
    return KubeConfig(server=str(cluster["server"]).rstrip("/"), token=token,
                      ca_file=cluster.get("certificate-authority"),
                      ca_data=_inline(cluster, "certificate-authority-data", path),
                      cert_file=user.get("client-certificate"), key_file=user.get("client-key"),
                      insecure=bool(cluster.get("insecure-skip-tls-verify")),
                      cert_data=_inline(user, "client-certificate-data", path),
                      key_data=_inline(user, "client-key-data", path))


def _inline(entry: Obj, key: str, path: str | Path) -> str | None:
    raw = entry.get(key)
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{path}: {key} is not base64-encoded PEM") from None


def ssl_context(cfg: KubeConfig) -> ssl.SSLContext | bool:
    """TLS settings for `cfg.server`: True (default checks) for http, False when told to skip verification."""
    if not cfg.server.startswith("https"):
        return True
    if cfg.insecure:
        return False
    ctx = ssl.create_default_context(cafile=cfg.ca_file, cadata=cfg.ca_data)
    if cfg.cert_data and cfg.key_data:
        with tempfile.TemporaryDirectory(prefix="localcluster-client-") as tmp:
            cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for target, data in ((cert, cfg.cert_data), (key, cfg.key_data)):
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(data)
            ctx.load_cert_chain(cert, key)
    elif cfg.cert_file and cfg.key_file:
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
                headers=headers, connector=aiohttp.TCPConnector(ssl=ssl_context(self.config)))
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
