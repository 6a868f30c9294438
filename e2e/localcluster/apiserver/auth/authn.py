"""Who sent a request, as kube-apiserver's authenticator chain decides it: x509 client certificate, then bearer
ServiceAccount token, then anonymous for the health and version paths only.

Guarantees:
1. A client certificate that chained to the CA in the TLS handshake authenticates as its CN with its O's as
   groups plus `system:authenticated` (the admin: `kubernetes-admin`, `system:masters`); it wins over a token.
2. `Authorization: Bearer T` with a valid ServiceAccount token (see `tokens.py`) authenticates as
   `system:serviceaccount:NS:NAME` with groups `system:serviceaccounts`, `system:serviceaccounts:NS`,
   `system:authenticated`; any other bearer token, or any other `Authorization` scheme, is a 401, even on a
   public path (kube does not fall back to anonymous for a bad credential).
3. No credential: on `ANONYMOUS_PATHS` (/healthz, /livez, /readyz and below, /version: kube's
   system:public-info-viewer) the request is `system:anonymous` in `system:unauthenticated`; elsewhere a 401.
   This is kube's anonymous authenticator restricted by AuthenticationConfiguration conditions, so a client that
   forgot its credential gets 401 rather than 403.
4. In plain-HTTP mode (`insecure=True`, unit tests) a request without a credential is the admin, as on kube's
   old insecure port; tokens are still checked, so ServiceAccount behaviour can be tested without TLS.
5. The 401 is exactly kube's Status: `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
   "message":"Unauthorized","reason":"Unauthorized","code":401}`; why it failed is never sent to the client.
6. A client certificate's identity is read once per TLS connection: the peer certificate object a connection
   hands out (`get_extra_info("peercert")`, made once at its handshake) maps to the same user on every request of
   that connection, since a TLS connection's peer cannot change. The cache is bounded (`PEER_CACHE_SIZE`) and
   holds the certificate object itself, so a new connection never inherits an old one's answer.

Pure apart from the store reads of bound objects; the caller passes the header, the peer certificate and now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError

from .certs import peer_user
from .tokens import InvalidToken, ObjectGetter, TokenIssuer, check_bound_objects, sa_user
from .user import ADMIN, ANONYMOUS, UNAUTHENTICATED, UserInfo

ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version")
PEER_CACHE_SIZE = 4096  # connections whose identity is remembered; beyond it the oldest is read again
ANONYMOUS_USER = UserInfo(name=ANONYMOUS, groups=(UNAUTHENTICATED,))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def is_anonymous_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ANONYMOUS_PATHS)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer T` header ("" when malformed), None without the header."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


class Authenticator:
    """The chain of guarantees 1-4 over one token issuer and the store."""

    def __init__(self, issuer: Callable[[], TokenIssuer], getter: ObjectGetter, *, now: Callable[[], float],
                 insecure: bool = False) -> None:
        self.issuer = issuer  # a factory: plain-HTTP servers make their signing key only when a token is used
        self.getter = getter
        self.now = now
        self.insecure = insecure
        # id(peercert) -> (that object, its user): holding the object keeps its id from being reused
        self._peers: dict[int, tuple[Any, UserInfo | None]] = {}

    def authenticate(self, *, path: str, authorization: str | None, peercert: Any) -> UserInfo:
        """The request's user, or raise the 401 `ApiError`."""
        user = None if peercert is None else self._peer_user(peercert)
        if user is not None:
            return user
        token = bearer_token(authorization)
        if token is not None:
            return self.authenticate_token(token)
        if self.insecure:
            return ADMIN
        if is_anonymous_path(path):
            return ANONYMOUS_USER
        raise unauthorized()

    def _peer_user(self, peercert: Any) -> UserInfo | None:
        hit = self._peers.get(id(peercert))
        if hit is not None and hit[0] is peercert:
            return hit[1]
        user = peer_user(peercert)
        if len(self._peers) >= PEER_CACHE_SIZE:
            del self._peers[next(iter(self._peers))]  # the oldest entry (dicts keep insertion order)
        self._peers[id(peercert)] = (peercert, user)
        return user

    def authenticate_token(self, token: str) -> UserInfo:
        """The ServiceAccount a bearer token names (TokenReview uses this too), or raise the 401."""
        try:
            return self.review(token)
        except InvalidToken:
            raise unauthorized() from None

    def review(self, token: str, audiences: Sequence[str] = ()) -> UserInfo:
        """Like `authenticate_token`, but raising `InvalidToken` with the reason (for TokenReview's status.error)."""
        if not token:
            raise InvalidToken("invalid bearer token")
        now = self.now()
        claims = self.issuer().verify(token, now=now, audiences=audiences)
        check_bound_objects(claims, self.getter, now)
        return sa_user(claims)
