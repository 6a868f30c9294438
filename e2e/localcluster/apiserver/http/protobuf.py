"""Kubernetes protobuf request bodies for the few kinds kubectl's `create` subcommands send that way (pure).

kubectl creates built-in objects (`kubectl create namespace|configmap|secret|serviceaccount|role|deployment|job|
service|...`) with a body in Kubernetes' protobuf envelope: the magic `k8s\\0`, then a `runtime.Unknown` message
holding the TypeMeta and the object's own protobuf bytes. The embedded server stores JSON, so this module turns
such a body into the object as JSON would have carried it.

Guarantees:
1. `decode(raw)` returns the object (apiVersion, kind, and the fields of the kinds in `SCHEMAS`) with the omitempty
   rules of the JSON encoding: empty strings, zero integers, false booleans and empty messages are left out
   (pointer fields such as `replicas` are kept when sent, 0 included); IntOrString fields become the number or
   the string they hold; `bytes` maps (Secret data, ConfigMap binaryData) become base64 strings.
2. A body that is not a well-formed envelope, or a kind outside `SCHEMAS`, raises a 415 `Status` that names the
   kinds accepted and the way around it (`kubectl apply -f`), never a server error.
3. Unknown field numbers are skipped (a newer client's extra fields are dropped, as pruning would).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from e2e.localcluster.apiserver import errors

MEDIA_TYPE: Final = "application/vnd.kubernetes.protobuf"
_MAGIC: Final = b"k8s\x00"

# message -> field number -> (JSON name, type, repeated). Types: str, int, bool, bytes, map_str, map_bytes, time,
# or the name of another message.
_Field = tuple[str, str, bool]
SCHEMAS: Final[Mapping[str, Mapping[int, _Field]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes_raw", False),
                3: ("contentEncoding", "str", False), 4: ("contentType", "str", False)},
    "TypeMeta": {1: ("apiVersion", "str", False), 2: ("kind", "str", False)},
    "ObjectMeta": {1: ("name", "str", False), 2: ("generateName", "str", False), 3: ("namespace", "str", False),
                   5: ("uid", "str", False), 6: ("resourceVersion", "str", False), 7: ("generation", "int", False),
                   8: ("creationTimestamp", "time", False), 11: ("labels", "map_str", False),
                   12: ("annotations", "map_str", False), 13: ("ownerReferences", "OwnerReference", True),
                   14: ("finalizers", "str", True)},
    "OwnerReference": {1: ("kind", "str", False), 3: ("name", "str", False), 4: ("uid", "str", False),
                       5: ("apiVersion", "str", False), 6: ("controller", "bool", False),
                       7: ("blockOwnerDeletion", "bool", False)},
    "ObjectReference": {1: ("kind", "str", False), 2: ("namespace", "str", False), 3: ("name", "str", False),
                        4: ("uid", "str", False), 5: ("apiVersion", "str", False)},
    "LocalObjectReference": {1: ("name", "str", False)},
    "NamespaceSpec": {1: ("finalizers", "str", True)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map_str", False),
                  3: ("binaryData", "map_bytes", False), 4: ("immutable", "bool", False)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map_bytes", False), 3: ("type", "str", False),
               4: ("stringData", "map_str", False), 5: ("immutable", "bool", False)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False), 2: ("secrets", "ObjectReference", True),
                       3: ("imagePullSecrets", "LocalObjectReference", True),
                       4: ("automountServiceAccountToken", "bool", False)},
    # authentication.k8s.io/v1, which `kubectl create token` and `kubectl auth whoami` send as protobuf
    "BoundObjectReference": {1: ("kind", "str", False), 2: ("apiVersion", "str", False), 3: ("name", "str", False),
                             4: ("uid", "str", False)},
    "TokenRequestSpec": {1: ("audiences", "str", True), 3: ("boundObjectRef", "BoundObjectReference", False),
                         4: ("expirationSeconds", "int", False)},
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False)},
    "TokenReviewSpec": {1: ("token", "str", False), 2: ("audiences", "str", True)},
    "TokenReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenReviewSpec", False)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False)},
    # authorization.k8s.io/v1, which `kubectl auth can-i` sends as protobuf
    "ResourceAttributes": {1: ("namespace", "str", False), 2: ("verb", "str", False), 3: ("group", "str", False),
                           4: ("version", "str", False), 5: ("resource", "str", False),
                           6: ("subresource", "str", False), 7: ("name", "str", False)},
    "NonResourceAttributes": {1: ("path", "str", False), 2: ("verb", "str", False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", False)},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", False),
                                2: ("spec", "SelfSubjectAccessReviewSpec", False)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "str", False)},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", False),
                               2: ("spec", "SelfSubjectRulesReviewSpec", False)},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                2: ("nonResourceAttributes", "NonResourceAttributes", False),
                                3: ("user", "str", False), 4: ("groups", "str", True), 6: ("uid", "str", False)},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SubjectAccessReviewSpec", False)},
    "LocalSubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SubjectAccessReviewSpec", False)},
    # rbac.authorization.k8s.io/v1: `kubectl create role|clusterrole|rolebinding|clusterrolebinding`
    "PolicyRule": {1: ("verbs", "str", True), 2: ("apiGroups", "str", True), 3: ("resources", "str", True),
                   4: ("resourceNames", "str", True), 5: ("nonResourceURLs", "str", True)},
    "LabelSelectorRequirement": {1: ("key", "str", False), 2: ("operator", "str", False), 3: ("values", "str", True)},
    "LabelSelector": {1: ("matchLabels", "map_str", False), 2: ("matchExpressions", "LabelSelectorRequirement", True)},
    "AggregationRule": {1: ("clusterRoleSelectors", "LabelSelector", True)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True),
                    3: ("aggregationRule", "AggregationRule", False)},
    "Subject": {1: ("kind", "str", False), 2: ("apiGroup", "str", False), 3: ("name", "str", False),
                4: ("namespace", "str", False)},
    "RoleRef": {1: ("apiGroup", "str", False), 2: ("kind", "str", False), 3: ("name", "str", False)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                    3: ("roleRef", "RoleRef", False)},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                           3: ("roleRef", "RoleRef", False)},
    # `kubectl create deployment|job|service`: the fields those generators set, and the common ones around them
    "ContainerPort": {1: ("name", "str", False), 2: ("hostPort", "int", False), 3: ("containerPort", "int", False),
                      4: ("protocol", "str", False), 5: ("hostIP", "str", False)},
    "EnvVar": {1: ("name", "str", False), 2: ("value", "str", False)},
    "Quantity": {1: ("string", "str", False)},
    "ResourceRequirements": {1: ("limits", "map_quantity", False), 2: ("requests", "map_quantity", False)},
    "Container": {1: ("name", "str", False), 2: ("image", "str", False), 3: ("command", "str", True),
                  4: ("args", "str", True), 5: ("workingDir", "str", False), 6: ("ports", "ContainerPort", True),
                  7: ("env", "EnvVar", True), 8: ("resources", "ResourceRequirements", False),
                  14: ("imagePullPolicy", "str", False), 16: ("stdin", "bool", False),
                  17: ("stdinOnce", "bool", False), 18: ("tty", "bool", False)},
    "PodSpec": {2: ("containers", "Container", True), 3: ("restartPolicy", "str", False),
                4: ("terminationGracePeriodSeconds", "optint", False), 7: ("nodeSelector", "map_str", False),
                8: ("serviceAccountName", "str", False), 10: ("nodeName", "str", False),
                20: ("initContainers", "Container", True)},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intstr", False), 2: ("maxSurge", "intstr", False)},
    "DeploymentStrategy": {1: ("type", "str", False), 2: ("rollingUpdate", "RollingUpdateDeployment", False)},
    "DeploymentSpec": {1: ("replicas", "optint", False), 2: ("selector", "LabelSelector", False),
                       3: ("template", "PodTemplateSpec", False), 4: ("strategy", "DeploymentStrategy", False),
                       5: ("minReadySeconds", "int", False), 6: ("revisionHistoryLimit", "optint", False),
                       7: ("paused", "bool", False), 9: ("progressDeadlineSeconds", "optint", False)},
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False)},
    "JobSpec": {1: ("parallelism", "optint", False), 2: ("completions", "optint", False),
                3: ("activeDeadlineSeconds", "optint", False), 4: ("selector", "LabelSelector", False),
                6: ("template", "PodTemplateSpec", False), 7: ("backoffLimit", "optint", False),
                8: ("ttlSecondsAfterFinished", "optint", False), 9: ("completionMode", "str", False),
                10: ("suspend", "bool", False)},
    "Job": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False)},
    "ServicePort": {1: ("name", "str", False), 2: ("protocol", "str", False), 3: ("port", "int", False),
                    4: ("targetPort", "intstr", False), 5: ("nodePort", "int", False),
                    6: ("appProtocol", "str", False)},
    "ServiceSpec": {1: ("ports", "ServicePort", True), 2: ("selector", "map_str", False),
                    3: ("clusterIP", "str", False), 4: ("type", "str", False), 5: ("externalIPs", "str", True),
                    7: ("sessionAffinity", "str", False), 10: ("externalName", "str", False),
                    18: ("clusterIPs", "str", True)},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False)},
}
KINDS: Final = ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "TokenRequest", "TokenReview",
                "SelfSubjectReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview",
                "LocalSubjectAccessReview", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
                "Deployment", "Job", "Service")


class _Malformed(ValueError):
    pass


def _unsupported(detail: str) -> errors.ApiError:
    return errors.ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - {detail}; this server decodes "
                           f"protobuf bodies only for {', '.join(KINDS)}: send JSON or YAML instead (for "
                           "example `kubectl apply -f`)")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, varint value or length-delimited bytes) in order; fixed-width fields are skipped."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _Malformed("truncated field")
            out.append((number, buf[pos:pos + size]))
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _Malformed(f"wire type {wire}")
    if pos != len(buf):
        raise _Malformed("truncated fixed-width field")
    return out


def _map_entry(raw: bytes, *, binary: bool) -> tuple[str, str]:
    parts = {number: item for number, item in _fields(raw) if isinstance(item, bytes)}
    key, value = parts.get(1, b""), parts.get(2, b"")
    text = base64.b64encode(value).decode() if binary else value.decode()
    return key.decode(), text


def _time(raw: bytes) -> str | None:
    seconds = next((v for n, v in _fields(raw) if n == 1 and isinstance(v, int)), 0)
    if not seconds:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(raw: bytes, name: str) -> dict[str, Any]:
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, item in _fields(raw):
        if number not in schema:
            continue
        key, kind, repeated = schema[number]
        value: Any
        if kind in ("int", "bool", "optint"):
            if not isinstance(item, int):
                raise _Malformed(f"{name}.{key} is not a varint")
            value = bool(item) if kind == "bool" else _signed(item)
            if not value and kind != "optint":  # a pointer field sent is kept, 0 included (replicas: 0)
                continue
        elif not isinstance(item, bytes):
            raise _Malformed(f"{name}.{key} is not length-delimited")
        elif kind in ("map_str", "map_bytes"):
            k, v = _map_entry(item, binary=kind == "map_bytes")
            out.setdefault(key, {})[k] = v
            continue
        elif kind == "map_quantity":
            parts = {number: part for number, part in _fields(item) if isinstance(part, bytes)}
            out.setdefault(key, {})[parts.get(1, b"").decode()] = _message(parts.get(2, b""), "Quantity").get(
                "string", "")
            continue
        elif kind == "intstr":
            value = _int_or_string(item)
        elif kind == "str":
            value = item.decode()
            if not value and not repeated:
                continue
        elif kind == "bytes_raw":
            value = item
        elif kind == "time":
            value = _time(item)
            if value is None:
                continue
        else:
            value = _message(item, kind)
            if not value and not repeated:
                continue
        if repeated:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


def _signed(value: int) -> int:
    """A varint as Go's int32/int64 reads it (negative numbers arrive as 64-bit two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _int_or_string(raw: bytes) -> int | str:
    """intstr.IntOrString: `type` 1 (0 int, 1 string), `intVal` 2, `strVal` 3; JSON carries the one it holds."""
    fields = dict(_fields(raw))
    if fields.get(1, 0) == 1:
        text = fields.get(3, b"")
        return text.decode() if isinstance(text, bytes) else ""
    number = fields.get(2, 0)
    return _signed(number) if isinstance(number, int) else 0


def decode(raw: bytes) -> dict[str, Any]:
    if not raw.startswith(_MAGIC):
        raise _unsupported("a protobuf body must start with the k8s magic bytes")
    try:
        envelope = _message(raw[len(_MAGIC):], "Unknown")
        type_meta = envelope.get("typeMeta") or {}
        kind = str(type_meta.get("kind", ""))
        if kind not in KINDS:
            raise _unsupported(f"protobuf for kind {kind or '(none)'!r}")
        if envelope.get("contentEncoding"):
            raise _unsupported(f"content encoding {envelope['contentEncoding']!r}")
        obj = _message(envelope.get("raw", b""), kind)
    except (_Malformed, UnicodeDecodeError) as exc:
        raise _unsupported(f"malformed protobuf ({exc})") from None
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
