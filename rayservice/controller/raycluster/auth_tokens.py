"""The Ray auth token of each RayCluster in token authentication mode, read from the Secret its pods read it from,
for the operator's own calls to that cluster's dashboard.

Guarantees:
1. ``token_for(cluster)`` is ``None`` for a cluster without ``authOptions.mode: token`` (the caller then uses
   its global token, if any) and makes no request. For one in token mode it is the value under
   ``auth_token`` of the Secret ``auth.auth_secret_name`` (``secretName``, else the generated one), stripped of
   surrounding whitespace.
2. One live read (``get`` of that one Secret; the operator caches no Secrets) per cluster incarnation (uid)
   and Secret name, then the token is kept in memory until ``forget``; at most ``limit`` clusters are kept
   (the least recently used go first), so deleted clusters never grow the memory without bound.
3. A Secret that is missing, unreadable or without a usable ``auth_token`` raises ``AuthTokenUnavailable`` (a
   ``DashboardError``: the dashboard cannot be called as it should), whose message names the Secret and the
   key, never a token; nothing is remembered, so the next pass reads again.
4. The token is never logged, and ``repr`` of this object shows only how many tokens it holds.

Caller must: ``forget`` a cluster whose dashboard answers 401 or 403 (the Secret may have changed), and call
from one event loop.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from typing import Final

from rayservice.controller.objects import KubeWriter, RawObject, mapping, name_of, namespace_of, uid_of
from rayservice.controller.raycluster.auth import TOKEN_KEY, auth_secret_name, is_token_auth
from rayservice.controller.raycluster.auth_apply import SECRETS
from rayservice.keys import ObjectKey
from rayservice.kube import ApiError, NotFound
from rayservice.ray import DashboardError

DEFAULT_LIMIT: Final = 20_000


class AuthTokenUnavailable(DashboardError):
    """The cluster's auth token could not be read (guarantee 3)."""


class ClusterTokens:
    """Per-cluster Ray auth tokens (see the module docstring)."""

    def __init__(self, kube: KubeWriter, *, limit: int = DEFAULT_LIMIT) -> None:
        self._kube = kube
        self._limit = limit
        self._tokens: OrderedDict[tuple[str, str], tuple[str, str, str]] = OrderedDict()

    async def token_for(self, cluster: RawObject) -> str | None:
        """Guarantees 1-3."""
        if not is_token_auth(cluster):
            return None
        key = (namespace_of(cluster), name_of(cluster))
        secret = auth_secret_name(cluster)
        held = self._tokens.get(key)
        if held is not None and held[:2] == (uid_of(cluster), secret):
            self._tokens.move_to_end(key)
            return held[2]
        token = await self._read(key[0], secret)
        self._tokens[key] = (uid_of(cluster), secret, token)
        self._tokens.move_to_end(key)
        while len(self._tokens) > self._limit:
            self._tokens.popitem(last=False)
        return token

    def forget(self, key: ObjectKey) -> None:
        """Drop the token of the cluster ``key`` (it is read again when next needed)."""
        self._tokens.pop((key.namespace, key.name), None)

    def __len__(self) -> int:
        return len(self._tokens)

    def __repr__(self) -> str:
        return f"ClusterTokens({len(self._tokens)} held)"

    async def _read(self, namespace: str, secret: str) -> str:
        where = f"Secret {namespace}/{secret}"
        try:
            body = await self._kube.get(SECRETS, secret, namespace=namespace)
        except NotFound as exc:
            raise AuthTokenUnavailable(f"its auth token Secret {where} does not exist") from exc
        except ApiError as exc:
            raise AuthTokenUnavailable(f"its auth token {where} could not be read: {exc.reason}") from exc
        encoded = mapping(body.get("data")).get(TOKEN_KEY)
        if not isinstance(encoded, str) or not encoded:
            raise AuthTokenUnavailable(f"its auth token {where} has no key {TOKEN_KEY}")
        try:
            token = base64.b64decode(encoded, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthTokenUnavailable(f"its auth token {where}: key {TOKEN_KEY} is not base64 text") from None
        if not token:
            raise AuthTokenUnavailable(f"its auth token {where}: key {TOKEN_KEY} is empty")
        return token
