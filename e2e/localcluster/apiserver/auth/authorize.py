"""The authorization step of a request, after authentication: impersonation, then RBAC, then 403 or go on.

Guarantees:
1. `authorize_request` returns the user the request acts as (the authenticated one, or the impersonated one when
   `Impersonate-*` headers are present and allowed) and the request's attributes; a denied request raises the
   403 `ApiError` kube answers with (see `forbidden`), a malformed impersonation a 400.
2. A WebSocket upgrade (a GET) to `pods/exec`, `pods/attach` or `pods/portforward` also needs `create` on that
   subresource, as kube-apiserver 1.35+ checks it (AuthorizePodWebsocketUpgradeCreatePermission): the same
   permission the SPDY (POST) form needs.
3. Nothing is written; with `AllowAll` every request passes (impersonation headers still change the user).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .attributes import Authorizer, RequestAttributes
from .forbidden import forbidden
from .impersonation import has_impersonation, impersonate
from .requestinfo import request_attributes
from .user import UserInfo

_STREAMING = ("exec", "attach", "portforward")


def authorize_request(authorizer: Authorizer, user: UserInfo, method: str, path: str, query: Mapping[str, str],
                      headers: list[tuple[str, str]]) -> tuple[UserInfo, RequestAttributes]:
    if has_impersonation(headers):
        user = impersonate(user, headers, authorizer)
    attrs = request_attributes(user, method, path, query)
    allowed, reason = authorizer.authorize(attrs)
    if not allowed:
        raise forbidden(attrs, reason)
    if attrs.verb == "get" and attrs.resource == "pods" and attrs.subresource in _STREAMING and not attrs.api_group \
            and any(k.lower() == "upgrade" and v.lower() == "websocket" for k, v in headers):
        create = replace(attrs, verb="create")
        allowed, reason = authorizer.authorize(create)
        if not allowed:
            raise forbidden(create, reason)
    return user, attrs
