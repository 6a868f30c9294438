"""The local node: a kubelet stand-in (pods in network and PID namespaces) and its service proxy.

It talks to the API server over HTTP only, so it runs beside the embedded API server (`up`) or against
any other one (`node --kubeconfig EXISTING`). Root is needed for the namespaces.
"""

from .agent import NodeAgent, NodeConfig
from .client import ApiClient, ApiError, KubeConfig, load_kubeconfig, ssl_context
from .guards import NetworkError, PrefixLock
from .netns import NodeNetwork, node_gateway
from .stack import LocalNode, missing_requirements

__all__ = [
    "ApiClient",
    "ApiError",
    "KubeConfig",
    "LocalNode",
    "NetworkError",
    "NodeAgent",
    "NodeConfig",
    "NodeNetwork",
    "PrefixLock",
    "load_kubeconfig",
    "missing_requirements",
    "node_gateway",
    "ssl_context",
]
