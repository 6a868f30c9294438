"""Impersonation headers (`kubectl --as`, `--as-group`, `--as-uid`), checked as kube-apiserver's filter does.

Guarantees:
1. No `Impersonate-*` header: the requester is returned unchanged.
2. `Impersonate-User` (a ServiceAccount username means that ServiceAccount, with its groups unless
   `Impersonate-Group` is given), each `Impersonate-Group`, each `Impersonate-Extra-<key>` value and
   `Impersonate-Uid` must each be allowed to the requester as the verb `impersonate` on `users`,
   `serviceaccounts` (in its namespace), `groups`, `userextras/<key>` or `uids`; the first one that is not
   is a 403 with kube's message (`users "bob" is forbidden: User "alice" cannot impersonate resource "users"
   in API group "" at the cluster scope`).
3. Groups, extra or uid without a user is a 400 BadRequest.
4. The impersonated user gets `system:authenticated` added unless a given group already says authenticated or
   unauthenticated (`system:anonymous` gets `system:unauthenticated`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from e2e.localcluster.apiserver.errors import ApiError

from .attributes import Authorizer, RequestAttributes
from .forbidden import forbidden
from .user import ANONYMOUS, AUTHENTICATED, SERVICE_ACCOUNTS_GROUP, UNAUTHENTICATED, UserInfo, split_service_account

USER_HEADER = "impersonate-user"
GROUP_HEADER = "impersonate-group"
UID_HEADER = "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"


@dataclass(frozen=True)
class _Ask:
    kind: str  # ServiceAccount | User | Group | UserExtra | UID
    name: str
    namespace: str = ""
    field: str = ""

    def describe(self) -> str:
        return f"{{{self.kind} {self.namespace} {self.name} {self.field}}}"


def has_impersonation(headers: Iterable[tuple[str, str]]) -> bool:
    return any(k.lower().startswith("impersonate-") for k, _ in headers)


def _asks(headers: list[tuple[str, str]]) -> list[_Ask]:
    lower = [(k.lower(), v) for k, v in headers]
    asks: list[_Ask] = []
    user = next((v for k, v in lower if k == USER_HEADER), "")
    if user:
        sa = split_service_account(user)
        asks.append(_Ask("ServiceAccount", sa[1], sa[0]) if sa else _Ask("User", user))
    asks += [_Ask("Group", v) for k, v in lower if k == GROUP_HEADER]
    asks += [_Ask("UserExtra", v, field=unquote(k[len(EXTRA_PREFIX):])) for k, v in lower if k.startswith(EXTRA_PREFIX)]
    uid = next((v for k, v in lower if k == UID_HEADER), "")
    if uid:
        asks.append(_Ask("UID", uid))
    if asks and not user:
        raise ApiError(400, "BadRequest", "requested [" + " ".join(a.describe() for a in asks)
                       + "] without impersonating a user")
    return asks


def impersonate(requester: UserInfo, headers: list[tuple[str, str]], authorizer: Authorizer) -> UserInfo:
    """The user the request acts as; raises the ApiError of the module guarantees."""
    asks = _asks(headers)
    if not asks:
        return requester
    groups_given = any(a.kind == "Group" for a in asks)
    name, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for ask in asks:
        group, resource, subresource = "", "", ""
        if ask.kind == "ServiceAccount":
            resource = "serviceaccounts"
            name = f"system:serviceaccount:{ask.namespace}:{ask.name}"
            if not groups_given:
                groups = [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{ask.namespace}"]
        elif ask.kind == "User":
            resource, name = "users", ask.name
        elif ask.kind == "Group":
            resource = "groups"
            groups.append(ask.name)
        elif ask.kind == "UserExtra":
            group, resource, subresource = "authentication.k8s.io", "userextras", ask.field
            extra.setdefault(ask.field, []).append(ask.name)
        else:
            group, resource, uid = "authentication.k8s.io", "uids", ask.name
        attrs = RequestAttributes(user=requester, verb="impersonate", resource_request=True, api_group=group,
                                  api_version="v1", resource=resource, subresource=subresource,
                                  namespace=ask.namespace, name=ask.name)
        allowed, reason = authorizer.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
    if name != ANONYMOUS:
        if not any(g in (AUTHENTICATED, UNAUTHENTICATED) for g in groups):
            groups.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    return UserInfo(name=name, uid=uid, groups=tuple(groups),
                    extra=tuple((k, tuple(v)) for k, v in extra.items()))
