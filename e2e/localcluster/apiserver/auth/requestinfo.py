"""From an HTTP request to what RBAC sees: kube-apiserver's `RequestInfo`, as `RequestAttributes`.

Guarantees:
1. `/api/VERSION/...` and `/apis/GROUP/VERSION/...` with at least a resource are resource requests; everything
   else (discovery, `/openapi/v2`, `/healthz`, `/version`) is a non-resource request whose verb is the lower-cased
   HTTP method and whose path is the URL path.
2. Verbs: POST create, GET/HEAD get (list without a name, watch with `watch=true|1` or a `/watch/` path prefix),
   PUT update, PATCH patch, DELETE delete (deletecollection without a name).
3. `namespaces/NS/RESOURCE/...` gives namespace NS; `namespaces/NS` and its subresources `status` and `finalize`
   are the Namespace object NS itself (namespace and name both NS), as kube parses them.
4. A list or watch with the field selector `metadata.name=X` names X, so a rule with `resourceNames` can allow it.

Pure: no I/O; callers pass the method, path and query.
"""

from __future__ import annotations

from collections.abc import Mapping

from .attributes import RequestAttributes
from .user import UserInfo

_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}


def request_attributes(user: UserInfo, method: str, path: str,
                       query: Mapping[str, str] | None = None) -> RequestAttributes:
    """What the request asks to do, in RBAC's terms."""
    query = query or {}
    non_resource = RequestAttributes(user=user, verb=method.lower(), resource_request=False, path=path)
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    verb = _METHOD_VERBS.get(method.upper(), "")
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            return non_resource
        verb, rest = rest[0], rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 and verb != "proxy" else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "").lower() not in ("", "false", "0") else "list"
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestAttributes(user=user, verb=verb, resource_request=True, api_group=group, api_version=version,
                             resource=resource, subresource=subresource, namespace=namespace, name=name, path=path)


def _name_from_field_selector(selector: str) -> str:
    """X when the selector requires metadata.name=X exactly (kube's RequiresExactMatch), else ""."""
    name = ""
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        for op in ("==", "!=", "="):
            key, sep, value = term.partition(op)
            if sep:
                break
        else:
            continue
        if key.strip() == "metadata.name":
            if op == "!=":
                return ""
            name = value.strip()
    return name if name and "/" not in name and name not in (".", "..") and "%" not in name else ""
