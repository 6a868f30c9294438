"""ServiceAccount tokens: kube's claims, TokenRequest validation, and what makes a token stop working."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e.localcluster.apiserver.auth import tokens
from e2e.localcluster.apiserver.auth.authn import Authenticator, bearer_token, is_anonymous_path
from e2e.localcluster.apiserver.errors import ApiError

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = tokens.TokenIssuer(KEY)
NOW = 1_800_000_000


class Objects:
    def __init__(self, *objs: Mapping[str, Any]) -> None:
        self.objs: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for obj in objs:
            self.put(obj)

    def put(self, obj: Mapping[str, Any]) -> None:
        m = obj["metadata"]
        self.objs[(obj["kind"], m["namespace"], m["name"])] = obj

    def remove(self, kind: str, namespace: str, name: str) -> None:
        del self.objs[(kind, namespace, name)]

    def get(self, gr: tuple[str, str], namespace: str, name: str) -> Mapping[str, Any] | None:
        kind = {"serviceaccounts": "ServiceAccount", "pods": "Pod", "secrets": "Secret"}[gr[1]]
        return self.objs.get((kind, namespace, name))


def obj(kind: str, name: str, uid: str, **meta: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": "ns", "uid": uid, **meta}}


def claims(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"issuer": ISSUER.issuer, "namespace": "ns", "sa_name": "sa", "sa_uid": "u-sa",
                            "audiences": list(ISSUER.api_audiences), "expiration_s": 600, "now": NOW, **kw}
    return tokens.token_claims(**args)


def payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


class TestTokenRequestValidation:
    def test_defaults_are_one_hour_and_the_api_servers_audiences(self) -> None:
        spec, causes = tokens.validate_token_request({"spec": {}}, ["api"])
        assert causes == [] and spec is not None
        assert (spec.expiration_s, spec.audiences, spec.bound) == (3600, ("api",), None)

    def test_less_than_ten_minutes_is_invalid_as_kube_words_it(self) -> None:
        spec, causes = tokens.validate_token_request({"spec": {"expirationSeconds": 599}}, ["api"])
        assert spec is None
        assert [(c.field, c.message) for c in causes] == [
            ("spec.expirationSeconds", "Invalid value: 599: may not specify a duration less than 10 minutes")]

    def test_more_than_two_to_the_32_seconds_is_too_long(self) -> None:
        _, causes = tokens.validate_token_request({"spec": {"expirationSeconds": (1 << 32) + 1}}, ["api"])
        assert causes[0].message.endswith("may not specify a duration larger than 2^32 seconds")

    def test_a_bound_object_needs_a_name_and_a_pod_or_secret_kind(self) -> None:
        _, causes = tokens.validate_token_request({"spec": {"boundObjectRef": {"kind": "Pod"}}}, ["api"])
        assert [c.field for c in causes] == ["spec.boundObjectRef.name"]
        assert tokens.bound_ref_problem({"apiVersion": "v1", "kind": "Pod"}) is None
        assert tokens.bound_ref_problem({"apiVersion": "apps/v1", "kind": "Deployment"}) == (
            "cannot bind token to object of type apps/v1, Kind=Deployment")


class TestClaims:
    def test_claims_carry_kubes_fields(self) -> None:
        c = claims(bound=tokens.BoundObject("Pod", "p", "u-p"), jti="j1")
        assert c == {"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": NOW + 600, "iat": NOW,
                     "iss": "https://kubernetes.default.svc.cluster.local", "jti": "j1", "nbf": NOW,
                     "sub": "system:serviceaccount:ns:sa",
                     "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "u-sa"},
                                       "pod": {"name": "p", "uid": "u-p"}}}

    def test_signed_token_names_our_key_and_round_trips(self) -> None:
        token = ISSUER.sign(claims())
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert header == {"alg": "RS256", "kid": ISSUER.kid}
        assert ISSUER.verify(token, now=NOW + 1)["sub"] == "system:serviceaccount:ns:sa"


class TestVerify:
    def test_an_expired_token_is_refused_after_the_one_minute_leeway(self) -> None:
        token = ISSUER.sign(claims())
        ISSUER.verify(token, now=NOW + 600 + 60)
        with pytest.raises(tokens.InvalidToken, match="service account token has expired"):
            ISSUER.verify(token, now=NOW + 600 + 61)

    def test_a_token_from_the_future_is_not_valid_yet(self) -> None:
        with pytest.raises(tokens.InvalidToken, match="not valid yet"):
            ISSUER.verify(ISSUER.sign(claims()), now=NOW - 120)

    def test_a_token_for_another_audience_is_refused(self) -> None:
        token = ISSUER.sign(claims(audiences=["vault"]))
        with pytest.raises(tokens.InvalidToken, match=r'token audiences \["vault"\] is invalid'):
            ISSUER.verify(token, now=NOW)
        assert ISSUER.verify(token, now=NOW, audiences=["vault"])["aud"] == ["vault"]

    def test_a_tampered_or_foreign_token_is_refused(self) -> None:
        token = ISSUER.sign(claims())
        head, _body, sig = token.split(".")
        forged = base64.urlsafe_b64encode(json.dumps({**payload(token), "sub": "x"}).encode()).rstrip(b"=")
        with pytest.raises(tokens.InvalidToken, match="invalid signature"):
            ISSUER.verify(f"{head}.{forged.decode()}.{sig}", now=NOW)
        other = tokens.TokenIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        with pytest.raises(tokens.InvalidToken, match="another key"):
            ISSUER.verify(other.sign(claims()), now=NOW)
        with pytest.raises(tokens.InvalidToken, match="not a JWT"):
            ISSUER.verify("opaque-token", now=NOW)

    def test_a_token_of_another_issuer_is_refused(self) -> None:
        with pytest.raises(tokens.InvalidToken, match="issuer"):
            ISSUER.verify(ISSUER.sign(claims(issuer="https://elsewhere")), now=NOW)


class TestBoundObjects:
    def setup_method(self) -> None:
        self.objects = Objects(obj("ServiceAccount", "sa", "u-sa"), obj("Pod", "p", "u-p"))
        self.claims = claims(bound=tokens.BoundObject("Pod", "p", "u-p"))

    def test_a_token_whose_objects_exist_is_valid(self) -> None:
        tokens.check_bound_objects(self.claims, self.objects, NOW)

    def test_a_deleted_service_account_invalidates_its_tokens(self) -> None:
        self.objects.remove("ServiceAccount", "ns", "sa")
        with pytest.raises(tokens.InvalidToken, match='serviceaccounts "sa" not found'):
            tokens.check_bound_objects(self.claims, self.objects, NOW)

    def test_a_recreated_service_account_invalidates_the_old_tokens(self) -> None:
        self.objects.put(obj("ServiceAccount", "sa", "u-sa-2"))
        with pytest.raises(tokens.InvalidToken, match="UID"):
            tokens.check_bound_objects(self.claims, self.objects, NOW)

    def test_a_deleted_or_recreated_pod_invalidates_its_bound_token(self) -> None:
        self.objects.put(obj("Pod", "p", "u-p-2"))
        with pytest.raises(tokens.InvalidToken, match="pod UID"):
            tokens.check_bound_objects(self.claims, self.objects, NOW)
        self.objects.remove("Pod", "ns", "p")
        with pytest.raises(tokens.InvalidToken, match="has been invalidated"):
            tokens.check_bound_objects(self.claims, self.objects, NOW)

    def test_a_pod_terminating_for_longer_than_the_leeway_invalidates_its_token(self) -> None:
        self.objects.put(obj("Pod", "p", "u-p", deletionTimestamp="2027-01-15T08:00:00Z"))
        deletion = 1_800_000_000 + 0  # 2027-01-15T08:00:00Z
        tokens.check_bound_objects(self.claims, self.objects, deletion + 60)
        with pytest.raises(tokens.InvalidToken, match="has been invalidated"):
            tokens.check_bound_objects(self.claims, self.objects, deletion + 61)


class TestAuthenticator:
    def setup_method(self) -> None:
        self.objects = Objects(obj("ServiceAccount", "sa", "u-sa"))
        self.now = float(NOW)
        self.authn = Authenticator(lambda: ISSUER, self.objects, now=lambda: self.now)

    def test_a_valid_token_is_the_service_account_with_kubes_groups(self) -> None:
        user = self.authn.authenticate(path="/api", authorization="Bearer " + ISSUER.sign(claims(jti="j")),
                                       peercert=None)
        assert user.name == "system:serviceaccount:ns:sa" and user.uid == "u-sa"
        assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
        assert user.extra_dict() == {"authentication.kubernetes.io/credential-id": ["JTI=j"]}

    @pytest.mark.parametrize("header", [None, "Bearer ", "Bearer nope", "Basic YTpi"])
    def test_no_or_a_bad_credential_is_401_unauthorized(self, header: str | None) -> None:
        with pytest.raises(ApiError) as err:
            self.authn.authenticate(path="/api/v1/pods", authorization=header, peercert=None)
        assert err.value.to_status() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                         "status": "Failure", "message": "Unauthorized",
                                         "reason": "Unauthorized", "code": 401}

    def test_anonymous_reaches_only_health_and_version(self) -> None:
        for path in ("/healthz", "/livez", "/readyz/ping", "/version"):
            assert self.authn.authenticate(path=path, authorization=None, peercert=None).name == "system:anonymous"
        assert not is_anonymous_path("/healthzz") and not is_anonymous_path("/api")
        with pytest.raises(ApiError):
            self.authn.authenticate(path="/healthz", authorization="Bearer bad", peercert=None)

    def test_plain_http_mode_takes_no_credential_as_the_admin_but_still_checks_tokens(self) -> None:
        insecure = Authenticator(lambda: ISSUER, self.objects, now=lambda: self.now, insecure=True)
        assert "system:masters" in insecure.authenticate(path="/api", authorization=None, peercert=None).groups
        with pytest.raises(ApiError):
            insecure.authenticate(path="/api", authorization="Bearer bad", peercert=None)

    def test_a_client_certificate_wins_over_a_token(self) -> None:
        peer = {"subject": ((("commonName", "alice"),),)}
        assert self.authn.authenticate(path="/api", authorization="Bearer bad", peercert=peer).name == "alice"

    def test_bearer_header_parsing(self) -> None:
        assert bearer_token(None) is None
        assert bearer_token("bearer abc ") == "abc"
        assert bearer_token("Basic x") == ""
