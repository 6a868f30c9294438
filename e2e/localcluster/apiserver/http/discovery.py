"""Discovery documents (`/version`, `/api`, `/apis`, group and group-version lists, aggregated v2) from a Registry.

Guarantees:
1. Shapes match kube-apiserver v1.36 as recorded: `/api` has no apiVersion; the core APIResourceList has no
   apiVersion while group ones do; `/version` carries emulation and min-compatibility versions.
2. Groups are listed in kube's order for built-in groups, then custom groups alphabetically; a group's versions
   are in kube-aware order (v2 > v1 > v1beta1 > v1alpha1), the first being preferred.
3. Resources are sorted by name, each followed by its subresources (`pods/binding`, `pods/log`, `pods/status`,
   `namespaces/finalize`, `widgets/scale` as autoscaling/v1 Scale); verbs are in kube's order (sorted for built-in
   kinds, CRD handler order for custom ones); `storageVersionHash` is kube's hash of group/storage version/kind.
4. Aggregated discovery (apidiscovery.k8s.io/v2) describes the same resources; built-in responseKinds leave
   group and version empty, custom ones fill them, as recorded.
5. Every document reflects the registry at call time; nothing is cached.

Pure and synchronous: request handlers call these per request.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType

GIT_VERSION = "v1.36.2"
_CRD_VERB_ORDER = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
_BUILTIN_GROUP_ORDER = (
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "resource.k8s.io", "flowcontrol.apiserver.k8s.io",
)
# subresource -> (group, version, kind or "" for the parent's kind, verbs)
_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "status": ("", "", "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": ("", "", "Binding", ("create",)),
    "log": ("", "", "", ("get",)),
    "finalize": ("", "", "", ("update",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "ephemeralcontainers": ("", "", "", ("get", "patch", "update")),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    "exec": ("", "", "PodExecOptions", ("create", "get")),
    "attach": ("", "", "PodAttachOptions", ("create", "get")),
    "portforward": ("", "", "PodPortForwardOptions", ("create", "get")),
}
_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_info(git_version: str = GIT_VERSION) -> dict[str, str]:
    """The `/version` body (guarantee 1); build metadata names this embedded server."""
    m = re.match(r"^v(\d+)\.(\d+)", git_version)
    major, minor = (m.group(1), m.group(2)) if m else ("1", "36")
    return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
            "minCompatibilityMajor": major, "minCompatibilityMinor": str(max(0, int(minor) - 1)),
            "gitVersion": git_version, "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "localcluster",
            "compiler": "gc", "platform": "linux/amd64"}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """k8s.io/apiserver/pkg/endpoints/discovery.StorageVersionHash."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def kube_version_key(version: str) -> tuple[int, int, int, str]:
    """Sort key for kube-aware version order: GA before beta before alpha, higher numbers first."""
    m = _KUBE_VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), version)


def _group_key(group: str) -> tuple[int, str]:
    if group in _BUILTIN_GROUP_ORDER:
        return (_BUILTIN_GROUP_ORDER.index(group), "")
    return (len(_BUILTIN_GROUP_ORDER), group)


def _groups(registry: Registry) -> dict[str, list[str]]:
    """group -> served versions in kube-aware order, groups in discovery order."""
    found: dict[str, set[str]] = {}
    for rt in registry:
        found.setdefault(rt.group, set()).add(rt.version)
    return {g: sorted(found[g], key=kube_version_key) for g in sorted(found, key=_group_key)}


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group_doc(g, vs) for g, vs in _groups(registry).items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = _groups(registry).get(group) if group else None
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def _verbs(rt: ResourceType) -> list[str]:
    if rt.is_custom:
        return [v for v in _CRD_VERB_ORDER if v in rt.verbs]
    return sorted(rt.verbs)


def _resources(registry: Registry, group: str, version: str) -> list[ResourceType]:
    return sorted((rt for rt in registry if rt.group == group and rt.version == version), key=lambda r: r.plural)


def _subresource(rt: ResourceType, sub: str) -> tuple[str, str, str, list[str]]:
    group, version, kind, verbs = _SUBRESOURCES.get(sub, ("", "", "", ("get",)))
    return group, version, kind or rt.kind, list(verbs)


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """`/api/v1` or `/apis/<group>/<version>`; None when nothing is served there (guarantee 3)."""
    types = _resources(registry, group, version)
    if not types:
        return None
    entries: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                                 "kind": rt.kind, "verbs": _verbs(rt)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = storage_version_hash(rt.group, rt.storage_version or rt.version, rt.kind)
        entries.append(entry)
        for sub in sorted(rt.subresources):
            sgroup, sversion, skind, verbs = _subresource(rt, sub)
            sub_entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                                         "namespaced": rt.namespaced}
            if sgroup:
                sub_entry |= {"group": sgroup, "version": sversion}
            entries.append(sub_entry | {"kind": skind, "verbs": verbs})
    body: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        body["apiVersion"] = "v1"
    body |= {"groupVersion": f"{group}/{version}" if group else version, "resources": entries}
    return body


# ---- aggregated discovery ------------------------------------------------------------------------------------


def _response_kind(rt: ResourceType, group: str, version: str, kind: str) -> dict[str, str]:
    if rt.is_custom and not group:
        return {"group": rt.group, "version": rt.version, "kind": kind}
    return {"group": group, "version": version, "kind": kind}


def _discovery_resource(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {"resource": rt.plural, "responseKind": _response_kind(rt, "", "", rt.kind),
                           "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                           "verbs": _verbs(rt)}
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    subs = []
    for sub in sorted(rt.subresources):
        sgroup, sversion, skind, verbs = _subresource(rt, sub)
        subs.append({"subresource": sub, "responseKind": _response_kind(rt, sgroup, sversion, skind), "verbs": verbs})
    if subs:
        out["subresources"] = subs
    return out


def aggregated_discovery(registry: Registry, core: bool) -> dict[str, Any]:
    """APIGroupDiscoveryList for `/api` (core=True) or `/apis` (guarantee 4)."""
    items = []
    for group, versions in _groups(registry).items():
        if bool(group) == core:
            continue
        item_versions = [{"version": v, "resources": [_discovery_resource(rt) for rt in _resources(registry, group, v)],
                          "freshness": "Current"} for v in versions]
        items.append({"metadata": {"name": group} if group else {}, "versions": item_versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
