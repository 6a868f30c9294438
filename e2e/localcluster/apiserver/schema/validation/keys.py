"""ConfigMap and Secret contents as kube's ValidateConfigMap and ValidateSecret check them.

Guarantees:
1. Every key of a ConfigMap's `data` and `binaryData` and of a Secret's `data` (after `stringData` is merged)
   is a config key (IsConfigMapKey: at most 253 characters of `[-._a-zA-Z0-9]`, not `.`/`..`, not starting
   with `..`): `data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters,
   '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is ...)`.
2. A key in both `data` and `binaryData` is `data[k]: Invalid value: "k": duplicate of key present in
   binaryData`.
3. Secret types that need keys have them (`kubernetes.io/tls`: `tls.crt`, `tls.key`; `kubernetes.io/basic-auth`:
   `username` or `password`; `kubernetes.io/ssh-auth`: `ssh-privatekey`; `kubernetes.io/service-account-token`:
   the `kubernetes.io/service-account.name` annotation); a Secret's `type` never changes.
4. With `immutable: true` stored, `data`/`binaryData` cannot change and `immutable` cannot be unset
   (`Forbidden: field is immutable when `immutable` is set`).
5. Decoding (400): Secret `data` values are standard base64 (`illegal base64 data at input byte N`).
Pure and synchronous.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.objectmeta import field_forbidden, field_invalid, field_required

__all__ = ["config_key_errors", "decode_secret_problem", "validate_configmap", "validate_secret"]

_KEY_FMT = "[-._a-zA-Z0-9]+"
_KEY_RE = re.compile(f"^{_KEY_FMT}$")
_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_B64 = re.compile(r"[A-Za-z0-9+/]")
_IMMUTABLE = "field is immutable when `immutable` is set"
_REQUIRED_KEYS = {"kubernetes.io/tls": ("tls.crt", "tls.key"), "kubernetes.io/ssh-auth": ("ssh-privatekey",)}


def config_key_errors(key: str) -> list[str]:
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _KEY_RE.match(key):
        errs.append(f"{_KEY_MSG} (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation "
                    f"is '{_KEY_FMT}')")
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _key_causes(field: str, keys: Any) -> list[Cause]:
    if not isinstance(keys, Mapping):
        return []
    return [field_invalid(f"{field}[{k}]", k, m) for k in sorted(keys) for m in config_key_errors(str(k))]


def _immutability(obj: Mapping[str, Any], old: Mapping[str, Any] | None, fields: tuple[str, ...]) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    causes = []
    if not obj.get("immutable"):
        causes.append(field_forbidden("immutable", _IMMUTABLE))
    causes += [field_forbidden(f, _IMMUTABLE) for f in fields if (obj.get(f) or {}) != (old.get(f) or {})]
    return causes


def validate_configmap(cm: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    data = cm.get("data") if isinstance(cm.get("data"), Mapping) else {}
    binary = cm.get("binaryData") if isinstance(cm.get("binaryData"), Mapping) else {}
    assert isinstance(data, Mapping) and isinstance(binary, Mapping)
    causes = []
    for key in sorted(data):
        causes += [field_invalid(f"data[{key}]", key, m) for m in config_key_errors(str(key))]
        if key in binary:
            causes.append(field_invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    causes += _key_causes("binaryData", binary)
    return causes + _immutability(cm, old, ("data", "binaryData"))


def validate_secret(secret: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    data = secret.get("data") if isinstance(secret.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    causes = _key_causes("data", data)
    kind = str(secret.get("type") or "Opaque")
    for key in _REQUIRED_KEYS.get(kind, ()):
        if key not in data:
            causes.append(field_required(f"data[{key}]"))
    if kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes += [field_required("data[username]"), field_required("data[password]")]
    md = secret.get("metadata") if isinstance(secret.get("metadata"), Mapping) else {}
    assert isinstance(md, Mapping)
    if kind == "kubernetes.io/service-account-token" and \
            not (md.get("annotations") or {}).get("kubernetes.io/service-account.name"):
        causes.append(field_required("metadata.annotations[kubernetes.io/service-account.name]"))
    if old is not None and str(old.get("type") or "Opaque") != kind:
        causes.append(field_invalid("type", kind, "field is immutable"))
    return causes + _immutability(secret, old, ("data",))


def decode_secret_problem(secret: Mapping[str, Any]) -> str | None:
    """Go's base64 error for the first `data` value that is not standard base64."""
    data = secret.get("data")
    if not isinstance(data, Mapping):
        return None
    for value in data.values():
        if not isinstance(value, str):
            continue
        text = value.replace("\r", "").replace("\n", "")
        body = text.rstrip("=")
        bad = next((i for i, c in enumerate(body) if not _B64.match(c)), None)
        if bad is not None:
            return f"illegal base64 data at input byte {bad}"
        if len(text) % 4 or len(text) - len(body) > 2 or (len(body) % 4 == 1):
            return f"illegal base64 data at input byte {len(text) - len(text) % 4 if len(text) % 4 else len(body)}"
    return None
