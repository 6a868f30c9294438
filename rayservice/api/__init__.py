"""Pure models of the operator's API: keys, RayService and RayCluster specs, serve configs."""

from rayservice.api.keys import ObjectKey

__all__ = ["ObjectKey"]
