"""Turning RBAC on for a server: the authorizer, the escalation checks and the bootstrap policy, in one call.

Guarantees:
1. After `enable_rbac(server)`, `server.authorizer` is an `RbacAuthorizer` over the server's store, creates and
   updates of RBAC objects run the escalation checks, and the bootstrap ClusterRoles and bindings exist.
2. Calling it twice is harmless: the existing authorizer is kept, hooks are installed once and no bootstrap
   object is created twice.
"""

from __future__ import annotations

from typing import Any, Protocol

from .attributes import Authorizer
from .bootstrap import ensure_bootstrap_policy
from .escalation import EscalationGuard, install_escalation_checks
from .rbac import RbacAuthorizer


class _Server(Protocol):
    authorizer: Authorizer

    @property
    def store(self) -> Any: ...
    @property
    def api(self) -> Any: ...
    @property
    def registry(self) -> Any: ...


def enable_rbac(server: _Server) -> RbacAuthorizer:
    current = getattr(server, "authorizer", None)
    if isinstance(current, RbacAuthorizer):
        return current
    authorizer = RbacAuthorizer(server.store)
    install_escalation_checks(server.api.hooks, EscalationGuard(lambda: server.authorizer))

    def exists(gr: tuple[str, str], name: str) -> bool:
        return server.store.get(gr, "", name) is not None

    def create(gr: tuple[str, str], obj: dict[str, Any]) -> None:
        server.api.create(server.registry.lookup(gr[0], "v1", gr[1]), "", obj)

    ensure_bootstrap_policy(exists, create)
    server.authorizer = authorizer
    return authorizer
