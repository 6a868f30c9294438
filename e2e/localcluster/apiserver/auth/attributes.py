"""What a request asks to do, as RBAC sees it: kube's `authorizer.Attributes`, and the Authorizer seam.

Guarantees:
1. A resource request names verb, API group, resource, subresource, namespace ("" when cluster-scoped or across
   all namespaces) and name ("" for list, watch, create without a name, deletecollection).
2. Verbs are kube's request verbs: get, list, watch, create, update, patch, delete, deletecollection, and for
   impersonation `impersonate`; a non-resource request uses the lower-cased HTTP method (get, post, put, ...).
3. `Authorizer.authorize` is pure with respect to the request: it reads the current RBAC objects and answers
   (allowed, reason); it never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .user import UserInfo


@dataclass(frozen=True)
class RequestAttributes:
    user: UserInfo
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]: ...


class AllowAll:
    """Every request is allowed: the plain-HTTP mode that unit tests use."""

    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]:
        return True, ""
