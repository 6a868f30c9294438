"""Names and hashes of the objects the operator makes: pure functions, randomness injected.

Guarantees:
1. Every name is at most 63 characters, so it is a valid DNS label (a Pod name, a Service name, a label
   value) whenever the names it is built from are DNS labels: ``<cluster>-head-<5>``,
   ``<cluster>-worker-<group>-<5>``, ``<cluster>-head-svc``, ``<cluster>-dashboard-svc``,
   ``<rayservice>-raycluster-<5>``, ``<rayservice>-head-svc``, ``<rayservice>-serve-svc``.
2. A name that fits is exactly KubeRay's name. One that would not fit keeps its fixed suffix (``-head-svc``,
   the random part, ...) and replaces the end of its variable part by ``-`` and 8 base32 characters of the
   SHA-256 of the whole variable part, so the result is exactly 63 characters long. Two different long
   names therefore differ unless 40 bits of SHA-256 collide, and a shortened name never equals a name that
   fit (those are at most 62 characters long).
3. Random suffixes are 5 characters of ``[a-z0-9]`` drawn from the ``random.Random`` the caller passes; the
   same seed gives the same names.
4. ``cluster_config_hash`` is the same for two specs that differ only in key order, in worker ``replicas``,
   ``minReplicas``, ``maxReplicas`` or ``scaleStrategy.workersToDelete``, or in keys set to ``null``; any
   other difference changes it. It is lowercase base32 of SHA-256 over canonical JSON (sorted keys, no
   spaces), without padding: 52 characters.

Pure: no I/O, no clock; safe to call from any task.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MAX_NAME_LENGTH",
    "RANDOM_SUFFIX_LENGTH",
    "cluster_config_hash",
    "dashboard_service_name",
    "head_pod_name",
    "head_pod_prefix",
    "head_service_fqdn",
    "head_service_name",
    "node_identifier",
    "random_suffix",
    "rayservice_cluster_name",
    "rayservice_head_service_name",
    "serve_service_name",
    "worker_pod_name",
    "worker_pod_prefix",
]

MAX_NAME_LENGTH: Final = 63
"""The longest DNS label, Service name and label value."""
RANDOM_SUFFIX_LENGTH: Final = 5
_ALPHABET: Final = string.ascii_lowercase + string.digits
_HASH_CHARS: Final = 8
_CLUSTER_DOMAIN: Final = "cluster.local"
_SCALING_KEYS: Final = ("replicas", "minReplicas", "maxReplicas")


def random_suffix(rng: random.Random, length: int = RANDOM_SUFFIX_LENGTH) -> str:
    """``length`` characters of ``[a-z0-9]`` from ``rng``."""
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def head_pod_prefix(cluster: str) -> str:
    """Every head pod name of ``cluster`` is this, ``-`` and a random suffix."""
    return _fit(f"{cluster}-head", RANDOM_SUFFIX_LENGTH + 1)


def head_pod_name(cluster: str, rng: random.Random) -> str:
    """``<cluster>-head-<5 random>``."""
    return f"{head_pod_prefix(cluster)}-{random_suffix(rng)}"


def worker_pod_prefix(cluster: str, group: str) -> str:
    """Every worker pod name of ``group`` in ``cluster`` is this, ``-`` and a random suffix."""
    return _fit(f"{cluster}-worker-{group}", RANDOM_SUFFIX_LENGTH + 1)


def worker_pod_name(cluster: str, group: str, rng: random.Random) -> str:
    """``<cluster>-worker-<group>-<5 random>``."""
    return f"{worker_pod_prefix(cluster, group)}-{random_suffix(rng)}"


def head_service_name(cluster: str) -> str:
    """``<cluster>-head-svc``: the Service workers and the operator reach the head through."""
    return _fit(cluster, len("-head-svc")) + "-head-svc"


def dashboard_service_name(cluster: str) -> str:
    """``<cluster>-dashboard-svc``: the dashboard agent of the head."""
    return _fit(cluster, len("-dashboard-svc")) + "-dashboard-svc"


def head_service_fqdn(cluster: str, namespace: str) -> str:
    """``<cluster>-head-svc.<namespace>.svc.cluster.local``: the address workers join."""
    return f"{head_service_name(cluster)}.{namespace}.svc.{_CLUSTER_DOMAIN}"


def node_identifier(cluster: str, node_type: str) -> str:
    """``<cluster>-head`` or ``<cluster>-worker``: the ``ray.io/identifier`` label value."""
    return _fit(cluster, len(node_type) + 1) + f"-{node_type}"


def rayservice_cluster_name(rayservice: str, rng: random.Random) -> str:
    """``<rayservice>-raycluster-<5 random>``: a cluster made for a RayService."""
    suffix = f"-raycluster-{random_suffix(rng)}"
    return _fit(rayservice, len(suffix)) + suffix


def rayservice_head_service_name(rayservice: str) -> str:
    """``<rayservice>-head-svc``: the stable head Service in front of the active cluster."""
    return head_service_name(rayservice)


def serve_service_name(rayservice: str) -> str:
    """``<rayservice>-serve-svc``: the stable Serve Service in front of the active cluster."""
    return _fit(rayservice, len("-serve-svc")) + "-serve-svc"


def cluster_config_hash(ray_cluster_spec: Mapping[str, Any]) -> str:
    """The hash of a RayCluster spec that scaling alone does not change (guarantee 4)."""
    canonical = _without_nulls(ray_cluster_spec)
    groups = canonical.get("workerGroupSpecs")
    if isinstance(groups, list):
        canonical["workerGroupSpecs"] = [_without_scaling(group) for group in groups]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def _fit(variable: str, suffix_length: int) -> str:
    """``variable``, shortened (guarantee 2) so that a suffix of ``suffix_length`` characters fits after it."""
    room = MAX_NAME_LENGTH - suffix_length
    if len(variable) < room:
        return variable
    # Shortened parts are exactly `room` long and parts that fit are shorter: the two never meet.
    digest = hashlib.sha256(variable.encode("utf-8")).digest()
    tag = base64.b32encode(digest).decode("ascii").lower()[:_HASH_CHARS]
    return f"{variable[: room - _HASH_CHARS - 1]}-{tag}"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _without_scaling(group: Any) -> Any:
    if not isinstance(group, dict):
        return group
    trimmed = {key: value for key, value in group.items() if key not in _SCALING_KEYS}
    strategy = trimmed.get("scaleStrategy")
    if isinstance(strategy, dict):
        rest = {key: value for key, value in strategy.items() if key != "workersToDelete"}
        if rest:
            trimmed["scaleStrategy"] = rest
        else:
            # An emptied scaleStrategy must hash like an absent one.
            del trimmed["scaleStrategy"]
    return trimmed
