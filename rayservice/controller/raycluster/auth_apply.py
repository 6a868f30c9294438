"""Makes the Secret holding a RayCluster's Ray auth token (``auth.generated_secret_name``), before its pods.

As KubeRay v1.7's ``reconcileAuthSecret``: a Secret that exists is left as it is (its token is never rotated by
the operator, whoever made it), a missing one is created with a new random token.

Guarantees:
1. At most one live read per Secret and cluster incarnation (uid) in this process: the first pass that needs
   the Secret reads it by name (``get``; the operator caches no Secrets); a Secret found, created, or whose
   create is answered AlreadyExists is remembered (``KnownSecrets``) and costs no request afterwards. A
   converged cluster makes no request for its Secret.
2. A missing Secret is created with ``auth.desired_auth_secret`` (owned by the RayCluster, so it goes with it);
   the token is made here, from the OS's CSPRNG, and never logged, put in an event or returned.
3. A failed read or create other than NotFound / AlreadyExists emits a ``FailedToCreateAuthSecret`` warning
   event naming the Secret and is raised, so the worker retries with backoff and no pod is created before the
   Secret exists.

Caller must: share one ``KnownSecrets`` among the reconciles of a controller, and ``forget`` a cluster when
it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import structlog

from rayservice.controller.events import WARNING
from rayservice.controller.objects import EventEmitter, KubeWriter, RawObject, name_of, namespace_of, uid_of
from rayservice.controller.raycluster.auth import desired_auth_secret, new_token
from rayservice.keys import ObjectKey
from rayservice.kube import AlreadyExists, ApiError, NotFound, Resource

SECRETS: Final = Resource("", "v1", "secrets", kind="Secret")
FAILED_REASON: Final = "FailedToCreateAuthSecret"

_log = structlog.get_logger(__name__)


@dataclass
class KnownSecrets:
    """Secrets known to exist, per cluster (namespace, name) and incarnation (uid) (guarantee 1)."""

    known: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def add(self, cluster: RawObject, secret: str) -> None:
        self.known[(namespace_of(cluster), name_of(cluster))] = (uid_of(cluster), secret)

    def has(self, cluster: RawObject, secret: str) -> bool:
        return self.known.get((namespace_of(cluster), name_of(cluster))) == (uid_of(cluster), secret)

    def forget(self, key: ObjectKey) -> None:
        """The cluster ``key`` is gone."""
        self.known.pop((key.namespace, key.name), None)


async def ensure_auth_secret(
    cluster: RawObject, name: str, *, kube: KubeWriter, events: EventEmitter, known: KnownSecrets
) -> None:
    """Guarantees 1-3 for the Secret ``name`` of ``cluster``."""
    if known.has(cluster, name):
        return
    namespace = namespace_of(cluster)
    try:
        await kube.get(SECRETS, name, namespace=namespace)
    except NotFound:
        await _create(cluster, name, kube=kube, events=events)
    except ApiError as exc:
        await events.emit(cluster, WARNING, FAILED_REASON, f"Failed to read Secret {namespace}/{name}: {exc.message}")
        raise
    known.add(cluster, name)


async def _create(cluster: RawObject, name: str, *, kube: KubeWriter, events: EventEmitter) -> None:
    namespace = namespace_of(cluster)
    try:
        await kube.create(SECRETS, desired_auth_secret(cluster, new_token()), namespace=namespace)
    except AlreadyExists:
        return  # made meanwhile (or by an earlier attempt whose answer was lost): it is left as it is
    except ApiError as exc:
        await events.emit(cluster, WARNING, FAILED_REASON, f"Failed to create Secret {namespace}/{name}: {exc.message}")
        raise
    _log.info("auth_secret_created", secret=name)
