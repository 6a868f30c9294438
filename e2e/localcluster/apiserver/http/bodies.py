"""Request bodies in, response bodies out: JSON with duplicate-key detection, YAML, and Warning headers.

Guarantees:
1. `decode_json` returns the parsed value and the dotted paths of duplicate keys (the last value wins,
   as in kube's default decoding); malformed JSON raises a 400 `Status`.
2. `warning_header` formats a text as kube does: `299 - "<text with quotes escaped>"`; control characters
   become spaces, so any text makes a valid header.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.schema.validation import gojson


class _DupDict(dict[str, Any]):
    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _DupDict()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _collect(value: Any, prefix: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        for dup in getattr(value, "duplicates", []):
            found.append(f"{prefix}{dup}")
        return {k: _collect(v, f"{prefix}{k}.", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_collect(v, prefix, found) for v in value]
    return value


def decode_json(raw: bytes, kind: str = "") -> tuple[Any, list[str]]:
    try:
        value = json.loads(raw, object_pairs_hook=_pairs)
    except (ValueError, UnicodeDecodeError) as exc:
        what = f"(must be of type {kind})" if kind else ""
        problem = gojson.syntax_error(raw) or str(exc)  # Go's wording, as kube-apiserver quotes it
        raise errors.bad_request(f"the object provided is unrecognized {what}: couldn't get version/kind; "
                                 f"json parse error: {problem} ({gojson.summarize(raw)})".replace("  ", " ")) from None
    found: list[str] = []
    return _collect(value, "", found), found


def decode_yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def encode_yaml(value: Any) -> bytes:
    return yaml.safe_dump(value, sort_keys=False).encode()


def warning_header(text: str) -> str:
    # A header value cannot hold control characters (a field name with a newline would break the response).
    text = "".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
