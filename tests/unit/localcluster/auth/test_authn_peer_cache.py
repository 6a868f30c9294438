"""The client-certificate identity is read once per TLS connection (authn.py guarantee 6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e.localcluster.apiserver.auth import authn, tokens
from e2e.localcluster.apiserver.auth.authn import Authenticator
from e2e.localcluster.apiserver.errors import ApiError

ISSUER = tokens.TokenIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))


class PeerCert(dict[str, Any]):
    """A connection's `getpeercert()` answer that counts how often its subject is read."""

    def __init__(self, cn: str, *orgs: str) -> None:
        subject = ((("commonName", cn),), *((("organizationName", o),) for o in orgs))
        super().__init__(subject=subject)
        self.reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        if key == "subject":
            self.reads += 1
        return super().get(key, default)


class NoObjects:
    def get(self, gr: tuple[str, str], namespace: str, name: str) -> Mapping[str, Any] | None:
        return None


def authenticator() -> Authenticator:
    return Authenticator(lambda: ISSUER, NoObjects(), now=lambda: 0.0)


def test_a_connections_certificate_is_read_once_for_all_its_requests() -> None:
    auth = authenticator()
    conn = PeerCert("alice", "team-a")
    users = {auth.authenticate(path="/api", authorization=None, peercert=conn) for _ in range(100)}
    assert [(u.name, u.groups) for u in users] == [("alice", ("team-a", "system:authenticated"))]
    assert conn.reads == 1


def test_connections_with_different_certificates_keep_their_own_users() -> None:
    auth = authenticator()
    alice, bob = PeerCert("alice"), PeerCert("bob", "system:masters")
    seen = [auth.authenticate(path="/api", authorization=None, peercert=c).name for c in (alice, bob) * 3]
    assert seen == ["alice", "bob"] * 3
    # a new connection of the same client is its own entry, read once too
    again = PeerCert("alice")
    assert auth.authenticate(path="/api", authorization=None, peercert=again).name == "alice"
    assert (alice.reads, bob.reads, again.reads) == (1, 1, 1)


def test_past_the_cache_size_an_old_connection_is_read_again_with_the_same_answer() -> None:
    auth = authenticator()
    first = PeerCert("first")
    assert auth.authenticate(path="/api", authorization=None, peercert=first).name == "first"
    others = [PeerCert(f"user-{i}") for i in range(authn.PEER_CACHE_SIZE)]
    for cert in others:
        auth.authenticate(path="/api", authorization=None, peercert=cert)
    assert auth.authenticate(path="/api", authorization=None, peercert=first).name == "first"
    assert first.reads == 2
    assert auth.authenticate(path="/api", authorization=None, peercert=others[-1]).name == f"user-{len(others) - 1}"
    assert others[-1].reads == 1


def test_a_certificate_without_a_common_name_is_no_identity_on_every_request() -> None:
    auth = authenticator()
    empty = PeerCert("")
    empty["subject"] = ()
    for _ in range(2):  # the cached "no identity" answer behaves as the first one
        with pytest.raises(ApiError) as err:
            auth.authenticate(path="/api", authorization=None, peercert=empty)
        assert err.value.code == 401
    assert auth.authenticate(path="/healthz", authorization=None, peercert=empty).name == "system:anonymous"
