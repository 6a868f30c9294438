"""Who a request comes from, after authentication: kube's `user.Info`.

Guarantees:
1. `UserInfo` is immutable and hashable; groups keep the order the authenticator gave them.
2. `ADMIN` is the local cluster's administrator (group `system:masters`, which RBAC always allows).
3. `service_account_user` names a ServiceAccount as kube does: `system:serviceaccount:NS:NAME`, with the groups
   `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extra}


ADMIN = UserInfo(name="kubernetes-admin", groups=(MASTERS, AUTHENTICATED))


def service_account_user(namespace: str, name: str, uid: str = "",
                         extra: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> UserInfo:
    return UserInfo(name=f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}", uid=uid,
                    groups=(SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", AUTHENTICATED),
                    extra=extra)


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount username, or None for any other user."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    rest = username[len(SERVICE_ACCOUNT_PREFIX):]
    namespace, sep, name = rest.partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name
