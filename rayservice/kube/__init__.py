"""The thin adapter over ``kubernetes.aio``: raw-dict requests, typed errors, rate limit, Lease bodies.

Everything above this package talks to the API server through ``KubeClient`` and catches only the
errors exported here. Import from ``rayservice.kube``, never from its modules.
"""

from rayservice.kube import _lean  # noqa: F401  (first: kubernetes without its eager __init__)
from rayservice.kube.client import KubeClient, OnRequest, translate_errors
from rayservice.kube.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Gone,
    Invalid,
    KubeConfigError,
    KubeError,
    KubeTransportError,
    NotFound,
    NotLeader,
    ServerError,
    TooManyRequests,
    UnsupportedMediaType,
    error_from_response,
    error_from_status,
)
from rayservice.kube.leases import (
    LEASE_API_VERSION,
    LeaseRecord,
    format_micro_time,
    is_lease_expired,
    lease_body,
    lease_record,
    parse_micro_time,
)
from rayservice.kube.options import JsonObject, ObjectList, Patch, PatchType, Preconditions, PropagationPolicy
from rayservice.kube.ratelimit import TokenBucket
from rayservice.kube.resources import (
    CONFIG_MAPS,
    EVENTS,
    JOBS,
    LEASES,
    NAMESPACES,
    PODS,
    RAY_CLUSTERS,
    RAY_SERVICES,
    SERVICES,
    Resource,
)

__all__ = [
    "CONFIG_MAPS",
    "EVENTS",
    "JOBS",
    "LEASES",
    "LEASE_API_VERSION",
    "NAMESPACES",
    "PODS",
    "RAY_CLUSTERS",
    "RAY_SERVICES",
    "SERVICES",
    "AlreadyExists",
    "ApiError",
    "Conflict",
    "Gone",
    "Invalid",
    "JsonObject",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "KubeTransportError",
    "LeaseRecord",
    "NotFound",
    "NotLeader",
    "ObjectList",
    "OnRequest",
    "Patch",
    "PatchType",
    "Preconditions",
    "PropagationPolicy",
    "Resource",
    "ServerError",
    "TokenBucket",
    "TooManyRequests",
    "UnsupportedMediaType",
    "error_from_response",
    "error_from_status",
    "format_micro_time",
    "is_lease_expired",
    "lease_body",
    "lease_record",
    "parse_micro_time",
    "translate_errors",
]
