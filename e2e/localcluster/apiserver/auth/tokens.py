"""ServiceAccount tokens as kube-apiserver issues and checks them: RS256 JWTs with kube's claims.

Claims: `iss`, `sub` (`system:serviceaccount:NS:NAME`), `aud`, `exp`, `iat`, `nbf`, `jti`, and `kubernetes.io`
{`namespace`, `serviceaccount` {name, uid}, and for bound tokens `pod` or `secret` {name, uid}}. The header
carries `kid`, kube's key id (the unpadded base64url SHA-256 of the public key's DER).

Guarantees:
1. `validate_token_request` answers as kube's TokenRequest validation and defaulting: expirationSeconds
   defaults to 3600, must be >= 600 and <= 2^32; empty audiences become the API server's; a boundObjectRef must
   name a Pod or a Secret (kind and apiVersion v1) and a name.
2. `TokenIssuer.verify` accepts a token only if its signature is ours (RS256, our kid), its issuer is ours, one of
   its audiences is one of the API server's, and now is within [nbf - 60 s, exp + 60 s] (go-jose's leeway);
   otherwise it raises `InvalidToken` with kube's wording.
3. `check_bound_objects` refuses a token whose ServiceAccount, bound Pod or bound Secret is gone, is being deleted
   for longer than the leeway, or has another uid than the token names (deleted and recreated).
4. Signatures are checked once per token string (a bounded cache); expiry and the bound objects every time.

Not guaranteed: legacy Secret-based tokens (`kubernetes.io/service-account-token`), node-bound tokens, warnafter.
Pure: `token_claims`, `validate_token_request`, `check_bound_objects`, `sa_user`. `TokenIssuer` holds the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from e2e.localcluster.apiserver.errors import Cause

from .user import UserInfo, service_account_user

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION_S = 3600
MIN_EXPIRATION_S = 10 * 60
MAX_EXPIRATION_S = 1 << 32
LEEWAY_S = 60
_CACHE_SIZE = 4096
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"


class InvalidToken(Exception):
    """A bearer token that is not a valid ServiceAccount token of this cluster; the message says why."""


class ObjectGetter(Protocol):
    """What token checks read: the store's `get((group, resource), namespace, name)`."""

    def get(self, gr: tuple[str, str], namespace: str, name: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class BoundObject:
    kind: str  # Pod or Secret
    name: str
    uid: str


@dataclass(frozen=True)
class TokenSpec:
    """A TokenRequest's spec after validation and defaulting."""

    audiences: tuple[str, ...]
    expiration_s: int
    bound: tuple[str, str, str] | None  # (kind, name, uid as asked, possibly "")


# ---- pure ----------------------------------------------------------------------------------------------------


def validate_token_request(body: Mapping[str, Any], api_audiences: Sequence[str]) -> tuple[TokenSpec | None,
                                                                                          list[Cause]]:
    """The defaulted spec of a TokenRequest body, or the field problems kube reports for it."""
    spec = body.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        return None, [Cause("spec", "FieldValueInvalid", "Invalid value: must be an object")]
    causes: list[Cause] = []
    raw_exp = spec.get("expirationSeconds")
    expiration = DEFAULT_EXPIRATION_S if raw_exp is None else raw_exp
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        causes.append(Cause("spec.expirationSeconds", "FieldValueInvalid",
                            f"Invalid value: {json.dumps(raw_exp)}: must be an integer"))
        expiration = DEFAULT_EXPIRATION_S
    elif expiration < MIN_EXPIRATION_S:
        causes.append(Cause("spec.expirationSeconds", "FieldValueInvalid",
                            f"Invalid value: {expiration}: may not specify a duration less than 10 minutes"))
    elif expiration > MAX_EXPIRATION_S:
        causes.append(Cause("spec.expirationSeconds", "FieldValueTooLong",
                            f"Too long: {expiration}: may not specify a duration larger than 2^32 seconds"))
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        causes.append(Cause("spec.audiences", "FieldValueInvalid",
                            "Invalid value: audiences must be non-empty strings"))
        audiences = []
    bound: tuple[str, str, str] | None = None
    ref = spec.get("boundObjectRef")
    if ref is not None:
        if not isinstance(ref, Mapping):
            causes.append(Cause("spec.boundObjectRef", "FieldValueInvalid", "Invalid value: must be an object"))
        else:
            bound = (str(ref.get("kind") or ""), str(ref.get("name") or ""), str(ref.get("uid") or ""))
            if not bound[1]:
                causes.append(Cause("spec.boundObjectRef.name", "FieldValueRequired", "Required value"))
    if causes:
        return None, causes
    return TokenSpec(audiences=tuple(audiences) or tuple(api_audiences), expiration_s=int(expiration),
                     bound=bound), []


def bound_ref_problem(ref: Mapping[str, Any]) -> str | None:
    """kube's BadRequest for a boundObjectRef of a kind tokens cannot be bound to, else None."""
    api_version = str(ref.get("apiVersion") or "")
    kind = str(ref.get("kind") or "")
    group, _, version = api_version.rpartition("/")
    if group == "" and kind in ("Pod", "Secret"):
        return None
    gvk = f"{group + '/' if group else ''}{version}, Kind={kind}"
    return f"cannot bind token to object of type {gvk}"


def token_claims(*, issuer: str, namespace: str, sa_name: str, sa_uid: str, audiences: Sequence[str],
                 expiration_s: int, now: int, bound: BoundObject | None = None,
                 jti: str | None = None) -> dict[str, Any]:
    """kube's claims for a ServiceAccount token issued at `now` (unix seconds)."""
    private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": sa_name, "uid": sa_uid}}
    if bound is not None:
        private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
    return {"aud": list(audiences), "exp": now + expiration_s, "iat": now, "iss": issuer,
            "jti": jti or str(uuid.uuid4()), "kubernetes.io": private, "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{sa_name}"}


def _deleted_before(obj: Mapping[str, Any], cutoff: float) -> bool:
    stamp = (obj.get("metadata") or {}).get("deletionTimestamp")
    if not stamp:
        return False
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() < cutoff


def check_bound_objects(claims: Mapping[str, Any], getter: ObjectGetter, now: float) -> None:
    """Raise `InvalidToken` unless the token's ServiceAccount (and bound Pod or Secret) still exist (guarantee 3)."""
    private = claims.get("kubernetes.io") or {}
    namespace = str(private.get("namespace") or "")
    sa_ref = private.get("serviceaccount") or {}
    cutoff = now - LEEWAY_S
    sa = getter.get(("", "serviceaccounts"), namespace, str(sa_ref.get("name") or ""))
    if sa is None:
        raise InvalidToken(f'serviceaccounts "{sa_ref.get("name")}" not found')
    if _deleted_before(sa, cutoff):
        raise InvalidToken(f"service account {namespace}/{sa_ref.get('name')} has been deleted")
    sa_uid = str((sa.get("metadata") or {}).get("uid") or "")
    if sa_uid != sa_ref.get("uid"):
        raise InvalidToken(f"service account UID ({sa_uid}) does not match claim ({sa_ref.get('uid')})")
    for kind, resource in (("secret", "secrets"), ("pod", "pods")):
        ref = private.get(kind)
        if not ref:
            continue
        obj = getter.get(("", resource), namespace, str(ref.get("name") or ""))
        if obj is None or _deleted_before(obj, cutoff):
            raise InvalidToken("service account token has been invalidated")
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        if uid != ref.get("uid"):
            raise InvalidToken(f"{kind} UID ({uid}) does not match service account {kind} ref claim "
                               f"({ref.get('uid')})")


def sa_user(claims: Mapping[str, Any]) -> UserInfo:
    """The user a valid token authenticates as, with kube's extra (credential id, bound pod)."""
    private = claims.get("kubernetes.io") or {}
    sa_ref = private.get("serviceaccount") or {}
    extra: list[tuple[str, tuple[str, ...]]] = []
    if claims.get("jti"):
        extra.append((EXTRA_CREDENTIAL_ID, (f"JTI={claims['jti']}",)))
    pod = private.get("pod")
    if pod:
        extra += [(EXTRA_POD_NAME, (str(pod.get("name")),)), (EXTRA_POD_UID, (str(pod.get("uid")),))]
    return service_account_user(str(private.get("namespace") or ""), str(sa_ref.get("name") or ""),
                                uid=str(sa_ref.get("uid") or ""), extra=tuple(sorted(extra)))


# ---- JWS -----------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


class TokenIssuer:
    """Signs and verifies this cluster's ServiceAccount tokens with one RSA key (guarantees 2 and 4)."""

    def __init__(self, key: rsa.RSAPrivateKey, *, issuer: str = DEFAULT_ISSUER,
                 api_audiences: Sequence[str] = (DEFAULT_ISSUER,)) -> None:
        if not api_audiences:
            raise ValueError("the API server needs at least one audience")
        self._key = key
        self._public = key.public_key()
        self.issuer = issuer
        self.api_audiences = tuple(api_audiences)
        self.kid = key_id(self._public)
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "RS256", "kid": self.kid}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, token: str, *, now: float, audiences: Sequence[str] = ()) -> dict[str, Any]:
        """The claims of a token signed by us for `audiences` (default: the API server's) and valid at `now`;
        else `InvalidToken`."""
        wanted = list(audiences) or list(self.api_audiences)
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            self._verified[token] = claims
            if len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        if claims.get("iss") != self.issuer:
            raise InvalidToken("token issuer is not this cluster's")
        auds = claims.get("aud")
        auds = [auds] if isinstance(auds, str) else list(auds or [])
        if not set(auds) & set(wanted):
            raise InvalidToken(f"token audiences {json.dumps(auds)} is invalid for the target audiences "
                               f"{json.dumps(wanted)}")
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float):
            raise InvalidToken("service account token claims could not be validated: no expiry")
        if now > exp + LEEWAY_S:
            raise InvalidToken("service account token has expired")
        if isinstance(nbf, int | float) and now < nbf - LEEWAY_S:
            raise InvalidToken("service account token is not valid yet")
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT")
        try:
            header = json.loads(_unb64(parts[0]))
            signature = _unb64(parts[2])
        except ValueError:
            raise InvalidToken("malformed JWT") from None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise InvalidToken("unsupported signing algorithm")
        if header.get("kid") not in (None, self.kid):
            raise InvalidToken("signed by another key")
        try:
            self._public.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise InvalidToken("invalid signature") from None
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            raise InvalidToken("malformed JWT claims") from None
        if not isinstance(claims, dict):
            raise InvalidToken("malformed JWT claims")
        return claims
