"""An in-memory Kubernetes API server that behaves like kube-apiserver v1.36 where it matters."""

from .faults import FaultRule, Faults, RequestInfo
from .server import LocalApiServer

__all__ = ["FaultRule", "Faults", "LocalApiServer", "RequestInfo"]
