"""TokenRequest, TokenReview and SelfSubjectReview answers, as kube-apiserver words them."""

from __future__ import annotations

import pytest

from e2e.localcluster.apiserver.auth import authenticationapi as authapi
from e2e.localcluster.apiserver.auth.authn import Authenticator
from e2e.localcluster.apiserver.auth.user import ADMIN
from e2e.localcluster.apiserver.errors import ApiError

from .test_tokens import ISSUER, NOW, Objects, obj, payload


def pod(name: str, uid: str, account: str = "sa") -> dict[str, object]:
    return {**obj("Pod", name, uid), "spec": {"serviceAccountName": account}}


@pytest.fixture
def objects() -> Objects:
    return Objects(obj("ServiceAccount", "sa", "u-sa"), pod("p", "u-p"), pod("other", "u-o", account="builder"),
                   obj("Secret", "s", "u-s"))


def request(**spec: object) -> dict[str, object]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def error(objects: Objects, name: str, body: object) -> ApiError:
    with pytest.raises(ApiError) as err:
        authapi.create_token(objects, ISSUER, "ns", name, body, NOW)
    return err.value


def test_a_token_request_is_answered_with_the_token_and_its_expiry(objects: Objects) -> None:
    out = authapi.create_token(objects, ISSUER, "ns", "sa", request(expirationSeconds=3600), NOW)
    assert out["kind"] == "TokenRequest" and out["metadata"]["name"] == "sa"
    assert out["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert out["status"]["expirationTimestamp"] == "2027-01-15T09:00:00Z"
    claims = payload(out["status"]["token"])
    assert claims["sub"] == "system:serviceaccount:ns:sa" and claims["exp"] == NOW + 3600


def test_a_token_bound_to_a_pod_or_secret_names_it_with_its_uid(objects: Objects) -> None:
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "p"}
    claims = payload(authapi.create_token(objects, ISSUER, "ns", "sa", request(boundObjectRef=ref),
                                          NOW)["status"]["token"])
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": "u-p"}
    ref = {"apiVersion": "v1", "kind": "Secret", "name": "s"}
    claims = payload(authapi.create_token(objects, ISSUER, "ns", "sa", request(boundObjectRef=ref),
                                          NOW)["status"]["token"])
    assert claims["kubernetes.io"]["secret"] == {"name": "s", "uid": "u-s"}


def test_a_missing_service_account_or_bound_object_is_404(objects: Objects) -> None:
    err = error(objects, "nobody", request())
    assert (err.code, err.message) == (404, 'serviceaccounts "nobody" not found')
    err = error(objects, "sa", request(boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": "gone"}))
    assert (err.code, err.message) == (404, 'pods "gone" not found')


def test_a_short_duration_is_422_naming_the_field(objects: Objects) -> None:
    err = error(objects, "sa", request(expirationSeconds=60))
    assert err.code == 422
    assert err.message == ('TokenRequest.authentication.k8s.io "sa" is invalid: spec.expirationSeconds: '
                           "Invalid value: 60: may not specify a duration less than 10 minutes")


def test_binding_to_another_kind_or_a_pod_of_another_account_is_400(objects: Objects) -> None:
    err = error(objects, "sa", request(boundObjectRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}))
    assert (err.code, err.message) == (400, "cannot bind token to object of type apps/v1, Kind=Deployment")
    err = error(objects, "sa", request(boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": "other"}))
    assert (err.code, err.message) == (400, 'cannot bind token for serviceaccount "sa" to pod running with '
                                            'serviceaccount "builder"')


def test_a_bound_uid_that_is_not_the_objects_is_409(objects: Objects) -> None:
    err = error(objects, "sa", request(boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": "p",
                                                       "uid": "stale"}))
    assert err.code == 409
    assert err.message.startswith('Operation cannot be fulfilled on Pod "p": the UID in the bound object '
                                  "reference (stale) does not match the UID in record (u-p)")


def test_a_pod_token_for_the_projected_volume_is_bound_to_the_pod(objects: Objects) -> None:
    sa = objects.get(("", "serviceaccounts"), "ns", "sa")
    p = objects.get(("", "pods"), "ns", "p")
    assert sa is not None and p is not None
    claims = payload(authapi.issue_pod_token(ISSUER, service_account=sa, pod=p, now=NOW))
    assert claims["exp"] - claims["iat"] == 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": "u-p"}


def test_token_review_reports_the_user_or_why_not(objects: Objects) -> None:
    authn = Authenticator(lambda: ISSUER, objects, now=lambda: float(NOW))
    token = authapi.create_token(objects, ISSUER, "ns", "sa", request(), NOW)["status"]["token"]
    review = authapi.token_review(authn, {"spec": {"token": token}})
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:ns:sa"
    denied = authapi.token_review(authn, {"spec": {"token": token, "audiences": ["vault"]}})
    assert "authenticated" not in denied["status"] and "invalid for the target audiences" in denied["status"]["error"]
    with pytest.raises(ApiError) as err:
        authapi.token_review(authn, {"spec": {}})
    assert err.value.code == 422


def test_self_subject_review_is_the_callers_user_info() -> None:
    assert authapi.self_subject_review(ADMIN)["status"]["userInfo"] == {
        "username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
