"""How a resource type is addressed: (group, version, plural, namespaced), and the URL paths that follow.

Guarantees:
1. ``Resource.path`` builds the same paths kube-apiserver serves: ``/api/v1/...`` for the core group,
   ``/apis/<group>/<version>/...`` otherwise; ``namespaces/<ns>/`` only for namespaced types and only
   when a namespace is given (no namespace on a namespaced type addresses all namespaces, for
   list and watch).
2. Path segments are percent-encoded, so a name can never escape its segment.
3. The well-known resources the operator touches are constants here; anything else is one
   ``Resource(...)`` away.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource type at one served version, e.g. ``Resource("ray.io", "v1", "rayservices")``."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``<group>/<version>`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        """The URL path of the collection, of one object, or of one object's subresource."""
        base = f"/apis/{_seg(self.group)}/{_seg(self.version)}" if self.group else f"/api/{_seg(self.version)}"
        if self.namespaced and namespace:
            base += f"/namespaces/{_seg(namespace)}"
        base += f"/{_seg(self.plural)}"
        if name is None:
            if subresource:
                raise ValueError("a subresource needs an object name")
            return base
        if not name:
            raise ValueError(f"empty name for {self.plural}")
        base += f"/{_seg(name)}"
        return f"{base}/{_seg(subresource)}" if subresource else base

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _seg(value: str) -> str:
    return quote(value, safe="")


PODS: Final = Resource("", "v1", "pods", kind="Pod")
SERVICES: Final = Resource("", "v1", "services", kind="Service")
EVENTS: Final = Resource("", "v1", "events", kind="Event")
CONFIG_MAPS: Final = Resource("", "v1", "configmaps", kind="ConfigMap")
NAMESPACES: Final = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
LEASES: Final = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
RAY_SERVICES: Final = Resource("ray.io", "v1", "rayservices", kind="RayService")
RAY_CLUSTERS: Final = Resource("ray.io", "v1", "rayclusters", kind="RayCluster")
JOBS: Final = Resource("batch", "v1", "jobs", kind="Job")
