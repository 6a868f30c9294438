"""The last good Serve config of a cluster: the one it ran with every application RUNNING, kept on the cluster.

Where and why: an annotation (``LAST_GOOD_ANNOTATION``) on the active RayCluster, an object the operator owns
(no write to the user's RayService, whose annotations ``kubectl apply`` manages), already in the operator's
cache (no ConfigMap informer, no extra RBAC), and gone with the cluster, which is right: a new cluster's last
good config is the one it was switched to. Kubernetes limits all annotations of an object to 256 KiB
together, so a config is stored as compact JSON up to ``_RAW_LIMIT`` and gzip+base64 beyond (Serve configs
are repetitive YAML; they compress well); one that is still over ``MAX_LAST_GOOD_BYTES`` is not stored, and
a failed update then has nothing to roll back to (the status says so).

Guarantees:
1. ``decode_last_good(encode_last_good(c)) == c`` for every JSON config ``c`` that fits; ``encode_last_good``
   returns ``None`` for one that does not, and never a value over ``MAX_LAST_GOOD_BYTES``.
2. ``decode_last_good`` never raises: a missing, truncated or foreign value reads as ``None``.

Pure.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Mapping
from typing import Any, Final

from rayservice.controller.objects import RawObject, annotations_of

LAST_GOOD_ANNOTATION: Final = "rayservice.ray.io/last-good-serve-config"
MAX_LAST_GOOD_BYTES: Final = 200 * 1024  # leaves room under 256 KiB for the other annotations
_RAW_LIMIT: Final = 32 * 1024
_GZIP_PREFIX: Final = "gzip+base64:"


def encode_last_good(config: Mapping[str, Any]) -> str | None:
    """Guarantee 6: the annotation value for ``config``, or ``None`` when it does not fit."""
    raw = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(raw.encode("utf-8")) <= _RAW_LIMIT:
        return raw
    packed = _GZIP_PREFIX + base64.b64encode(gzip.compress(raw.encode("utf-8"), mtime=0)).decode("ascii")
    return packed if len(packed) <= MAX_LAST_GOOD_BYTES else None


def decode_last_good(value: object) -> dict[str, Any] | None:
    """The config an annotation value holds; ``None`` for a missing or unreadable one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if value.startswith(_GZIP_PREFIX):
            value = gzip.decompress(base64.b64decode(value[len(_GZIP_PREFIX) :], validate=True)).decode("utf-8")
        config = json.loads(value)
    except (ValueError, binascii.Error, OSError, EOFError):
        return None
    return config if isinstance(config, dict) else None


def last_good_of(cluster: RawObject | None) -> dict[str, Any] | None:
    """The last good Serve config stored on a cluster."""
    return decode_last_good(annotations_of(cluster).get(LAST_GOOD_ANNOTATION)) if cluster is not None else None
