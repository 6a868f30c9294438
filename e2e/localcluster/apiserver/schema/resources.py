"""The resource types the embedded API server serves: built-in kinds and, at run time, CRD kinds.

Guarantees:
1. `ResourceType` is the one description of a kind used by storage, REST semantics, discovery, OpenAPI and
   tables; everything else looks kinds up through a `Registry`.
2. Built-in kinds are fixed at import; custom kinds are added and removed as their CRDs become established or
   go away, and lookups always reflect the current set.
3. Lookups are by (group, version, plural) for URL routing and by (apiVersion, kind) for ownerReferences.

Not guaranteed: a kind's schema for built-ins (they are stored as given, after their defaulting hook).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CLUSTER_VERBS_NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource at one group/version.

    `crd` is the CustomResourceDefinition object (a dict) for custom kinds, None for built-ins; `crd_version`
    names the version entry within it. `storage_version` is the version objects are stored at (custom
    kinds with several versions and conversion None share one stored form whose apiVersion is rewritten
    on the way out).
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()  # e.g. ("status",), ("status", "binding", "log")
    field_selectors: tuple[str, ...] = ("metadata.name", "metadata.namespace")
    crd: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    storage_version: str = ""
    generation: bool = False  # whether metadata.generation is kept (custom kinds: always)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> tuple[str, str]:
        """Identity of the stored collection, shared by every served version of the kind."""
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def is_custom(self) -> bool:
        return self.crd is not None

    @property
    def has_generation(self) -> bool:
        return self.generation or self.crd is not None


def _core(kind: str, plural: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(group="", version="v1", kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, storage_version="v1", **kw)


def _grp(group: str, version: str, kind: str, plural: str, namespaced: bool = True,
         **kw: Any) -> ResourceType:
    return ResourceType(group=group, version=version, kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, storage_version=version, **kw)


BUILTINS: tuple[ResourceType, ...] = (
    _core("Namespace", "namespaces", namespaced=False, short_names=("ns",),
          verbs=CLUSTER_VERBS_NO_COLLECTION, subresources=("status", "finalize"),
          field_selectors=("metadata.name", "status.phase")),
    _core("Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",),
          field_selectors=("metadata.name", "spec.unschedulable")),
    _core("Pod", "pods", short_names=("po",), generation=True, categories=("all",),
          subresources=("status", "binding", "log", "exec", "attach", "portforward"),
          field_selectors=("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
                           "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                           "status.phase", "status.podIP", "status.nominatedNodeName")),
    _core("Service", "services", short_names=("svc",), categories=("all",), subresources=("status",)),
    _core("Endpoints", "endpoints", short_names=("ep",)),
    _core("Event", "events", short_names=("ev",),
          field_selectors=("metadata.name", "metadata.namespace", "involvedObject.kind",
                           "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                           "involvedObject.apiVersion", "involvedObject.resourceVersion",
                           "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Secret", "secrets", field_selectors=("metadata.name", "metadata.namespace", "type")),
    _core("ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    _grp("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", generation=True),
    _grp("coordination.k8s.io", "v1", "Lease", "leases"),
    _grp("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
         subresources=("status", "scale"), generation=True),
    _grp("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",),
         subresources=("status", "scale"), generation=True),
    _grp("batch", "v1", "Job", "jobs", categories=("all",), subresources=("status",), generation=True),
    _grp("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced=False, verbs=("create",)),
    _grp("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False,
         verbs=("create",)),
    _grp("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False,
         verbs=("create",)),
    _grp("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False,
         verbs=("create",)),
    _grp("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False,
         verbs=("create",)),
    _grp("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", verbs=("create",)),
    _grp("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _grp("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _grp("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _grp("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _grp("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
         namespaced=False, short_names=("crd", "crds"), categories=("api-extensions",),
         subresources=("status",), generation=True),
)


class Registry:
    """The current set of served resource types."""

    def __init__(self, builtins: tuple[ResourceType, ...] = BUILTINS) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        for rt in builtins:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._by_path[(rt.group, rt.version, rt.plural)] = rt
        self._by_kind[(rt.api_version, rt.kind)] = rt

    def remove_group_resource(self, group: str, plural: str) -> list[ResourceType]:
        """Forget every version of a custom kind; returns what was removed."""
        gone = [rt for rt in self._by_path.values() if rt.group == group and rt.plural == plural]
        for rt in gone:
            self._by_path.pop((rt.group, rt.version, rt.plural), None)
            self._by_kind.pop((rt.api_version, rt.kind), None)
        return gone

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_group_kind(self, group: str, kind: str) -> ResourceType | None:
        """Any served version of a kind (ownerReferences may name a version we serve under another)."""
        for rt in self._by_path.values():
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred (storage) first; core group is ''."""
        out: dict[str, list[str]] = {}
        for rt in self._by_path.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for group, versions in out.items():
            storage = next((rt.storage_version for rt in self._by_path.values() if rt.group == group), "")
            versions.sort(key=lambda v: (v != storage, v))
        return out

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_path.values()))
