"""Parse a Kubernetes API path into group, version, resource, namespace, name and subresource.

Guarantees:
1. `/api/v1/...` is the core group, `/apis/<group>/<version>/...` any other.
2. `/api/v1/namespaces/<name>/<x>` is the Namespace's subresource when `<x>` is one (status, finalize),
   otherwise a namespaced collection.
3. The verb is derived as kube-apiserver's RequestInfo does (get, list, watch, create, update, patch,
   delete, deletecollection).
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""


def parse_resource_path(path: str) -> ResourcePath | None:
    """None when the path is not a resource path (discovery, openapi, unknown)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES
                                                           and group == ""):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    return ResourcePath(group, version, resource, namespace, name, sub)


def verb_of(method: str, rp: ResourcePath, watch: bool) -> str:
    if method == "GET":
        if watch:
            return "watch"
        return "get" if rp.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if rp.name else "deletecollection"
    return method.lower()
