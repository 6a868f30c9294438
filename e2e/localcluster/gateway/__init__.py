"""The local cluster's Gateway API implementation, its pure decisions: names, the vendored CRDs, listeners,
route attachment, backend resolution, statuses, the route table and weighted selection.

No I/O beyond reading the vendored CRD files, no asyncio: the controller
(`apiserver/controllers/gateways.py`) and the data plane (`node/gatewayproxy.py`) are the async shells that
use these, so both decide attachment with the same code. See `../gatewayapi/README.md`.
"""

from .attach import GatewayKey, ParentResult, attach_route, attached_counts, parent_gateway
from .backends import Resolved, resolve_backend
from .crds import vendored_crds
from .hostnames import host_matches, host_score, intersect
from .listeners import Listener, gateway_listeners
from .names import (
    API_VERSION,
    DATA_PLANE_LABEL,
    GATEWAYCLASSES,
    GATEWAYS,
    GROUP,
    HTTPROUTES,
    ISTIO_STANDIN,
    LOCAL_CLASS,
    LOCAL_CONTROLLER,
    SERVED_CONTROLLERS,
    data_plane_service_name,
)
from .routing import Entry, compile_port, select
from .status import compute_gateway_status, compute_gatewayclass_status, compute_route_status, route_backends
from .weights import SmoothWeighted

__all__ = [
    "API_VERSION",
    "DATA_PLANE_LABEL",
    "GATEWAYCLASSES",
    "GATEWAYS",
    "GROUP",
    "HTTPROUTES",
    "ISTIO_STANDIN",
    "LOCAL_CLASS",
    "LOCAL_CONTROLLER",
    "SERVED_CONTROLLERS",
    "Entry",
    "GatewayKey",
    "Listener",
    "ParentResult",
    "Resolved",
    "SmoothWeighted",
    "attach_route",
    "attached_counts",
    "compile_port",
    "compute_gateway_status",
    "compute_gatewayclass_status",
    "compute_route_status",
    "data_plane_service_name",
    "gateway_listeners",
    "host_matches",
    "host_score",
    "intersect",
    "parent_gateway",
    "resolve_backend",
    "route_backends",
    "select",
    "vendored_crds",
]
