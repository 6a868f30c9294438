"""The authentication endpoints: TokenRequest (`serviceaccounts/NAME/token`), TokenReview and SelfSubjectReview
(authentication.k8s.io/v1), answering as kube-apiserver does.

Guarantees:
1. `create_token` answers a TokenRequest with 201 and `status.token` / `status.expirationTimestamp`: 404 for a
   missing ServiceAccount or bound object, 422 for a bad spec (`tokens.validate_token_request`), 400 for a
   boundObjectRef of another kind or a Pod running as another ServiceAccount, 409 when the ref's uid is not the
   object's. A token bound to a Pod or Secret names it with its uid, so it dies with it.
2. `token_review` reports `authenticated: true` with the user (username, uid, groups, extra) and the audiences,
   or `authenticated: false` with the reason in `status.error`; it never fails the request for a bad token.
3. `self_subject_review` returns the caller's own user info (`kubectl auth whoami`).
4. `issue_pod_token` is what the node's projected token volume calls: a token bound to that pod.

Pure given the getter, the issuer and `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import ApiError

from .authn import Authenticator
from .tokens import (
    BoundObject,
    InvalidToken,
    ObjectGetter,
    TokenIssuer,
    bound_ref_problem,
    token_claims,
    validate_token_request,
)
from .user import UserInfo

GROUP = "authentication.k8s.io"
API_VERSION = "authentication.k8s.io/v1"


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _timestamp(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_token(getter: ObjectGetter, issuer: TokenIssuer, namespace: str, name: str, body: Any,
                 now: float) -> dict[str, Any]:
    """The TokenRequest answer for ServiceAccount `namespace/name` (guarantee 1)."""
    if not isinstance(body, Mapping):
        raise errors.bad_request("the body of a TokenRequest must be an object")
    spec, causes = validate_token_request(body, issuer.api_audiences)
    if spec is None:
        raise errors.invalid(GROUP, "TokenRequest", name, causes)
    sa = getter.get(("", "serviceaccounts"), namespace, name)
    if sa is None:
        raise errors.not_found("", "serviceaccounts", name)
    bound: BoundObject | None = None
    ref = (body.get("spec") or {}).get("boundObjectRef")
    if ref:
        if (problem := bound_ref_problem(ref)) is not None:
            raise errors.bad_request(problem)
        kind, ref_name, ref_uid = spec.bound or ("", "", "")
        resource = "pods" if kind == "Pod" else "secrets"
        obj = getter.get(("", resource), namespace, ref_name)
        if obj is None:
            raise errors.not_found("", resource, ref_name)
        if kind == "Pod":
            account = str((obj.get("spec") or {}).get("serviceAccountName") or "")
            if account != name:
                raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                         f'serviceaccount "{account}"')
        if ref_uid and ref_uid != _uid(obj):
            raise errors.conflict("", kind, ref_name,
                                  f"the UID in the bound object reference ({ref_uid}) does not match the UID in "
                                  f"record ({_uid(obj)}). The object might have been deleted and then recreated")
        bound = BoundObject(kind=kind, name=ref_name, uid=_uid(obj))
    issued = int(now)
    claims = token_claims(issuer=issuer.issuer, namespace=namespace, sa_name=name, sa_uid=_uid(sa),
                          audiences=spec.audiences, expiration_s=spec.expiration_s, now=issued, bound=bound)
    out_spec: dict[str, Any] = {"audiences": list(spec.audiences), "expirationSeconds": spec.expiration_s,
                                "boundObjectRef": ref or None}
    return {"kind": "TokenRequest", "apiVersion": API_VERSION,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": out_spec,
            "status": {"token": issuer.sign(claims), "expirationTimestamp": _timestamp(claims["exp"])}}


def issue_pod_token(issuer: TokenIssuer, *, service_account: Mapping[str, Any], pod: Mapping[str, Any],
                    now: float, expiration_s: int = 3607, audiences: Sequence[str] = ()) -> str:
    """A token for the pod's ServiceAccount bound to the pod (kube's projected volume default: 3607 s)."""
    sa_meta = service_account.get("metadata") or {}
    pod_meta = pod.get("metadata") or {}
    claims = token_claims(issuer=issuer.issuer, namespace=str(sa_meta.get("namespace") or ""),
                          sa_name=str(sa_meta.get("name") or ""), sa_uid=_uid(service_account),
                          audiences=list(audiences) or list(issuer.api_audiences), expiration_s=expiration_s,
                          now=int(now), bound=BoundObject("Pod", str(pod_meta.get("name") or ""), _uid(pod)))
    return issuer.sign(claims)


def user_info(user: UserInfo) -> dict[str, Any]:
    """kube's `UserInfo` object: username, uid, groups and extra, empty fields left out."""
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = user.extra_dict()
    return out


def token_review(authn: Authenticator, body: Any) -> dict[str, Any]:
    """The TokenReview answer (guarantee 2)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("spec"), Mapping):
        raise errors.bad_request("the body of a TokenReview must be an object with a spec")
    spec = body["spec"]
    token = spec.get("token")
    audiences = [str(a) for a in spec.get("audiences") or []]
    if not isinstance(token, str) or not token:
        raise errors.invalid(GROUP, "TokenReview", "", [errors.Cause("spec.token", "FieldValueRequired",
                                                                     "Required value: token must be set")])
    status: dict[str, Any]
    try:
        user = authn.review(token, audiences)
    except InvalidToken as exc:
        status = {"user": {}, "error": f"[invalid bearer token, {exc}]"}
    else:
        status = {"authenticated": True, "user": user_info(user),
                  "audiences": audiences or list(authn.issuer().api_audiences)}
    out_spec: dict[str, Any] = {"token": token}
    if audiences:
        out_spec["audiences"] = audiences
    return {"kind": "TokenReview", "apiVersion": API_VERSION, "metadata": {"creationTimestamp": None},
            "spec": out_spec, "status": status}


def self_subject_review(user: UserInfo) -> dict[str, Any]:
    return {"kind": "SelfSubjectReview", "apiVersion": API_VERSION, "metadata": {"creationTimestamp": None},
            "status": {"userInfo": user_info(user)}}


def reject_wrong_body(body: Any, kind: str) -> None:
    """400 when a review body names another kind, as kube's decoder does."""
    if isinstance(body, Mapping) and body.get("kind") not in (None, "", kind):
        raise ApiError(400, "BadRequest", f"the body names kind {body.get('kind')!r}, expected {kind}")
