"""PATCH bodies read as kube-apiserver's patch handler reads them, with its answers for ones it cannot use.

Guarantees (read in apiserver's handlers/patch.go and negotiation, v1.36; fieldValidation defaults to Warn):
1. `check_patch_type` answers a Content-Type that is not a patch type of the resource with 415
   UnsupportedMediaType listing `application/json-patch+json, application/merge-patch+json,
   application/strategic-merge-patch+json, application/apply-patch+yaml` (no strategic merge for custom
   resources), before the body is read.
2. `decode_patch_body` for a JSON patch: an empty or malformed body, or one that is not a list of operation
   objects, is 400 `error decoding patch: <Go's json error>` (Strict and Warn); with `Ignore`, the JSON-patch
   library's own wording (`json: cannot unmarshal object into Go value of type jsonpatch.Patch`). `null` is an
   empty patch.
3. A merge patch: an empty or malformed body, or one that is not an object, is 400 `error decoding patch: ...`
   (Strict and Warn), `Invalid JSON Patch` with Ignore; `null` is 400 `Invalid JSON Patch`.
4. A strategic merge patch: an empty or malformed body, or one that is not an object, is 400 with Go's json
   error alone; `null` is an empty patch.
5. Create and update bodies in a media type the server does not decode are 415 listing `application/json,
   application/yaml, application/vnd.kubernetes.protobuf` (`unsupported_body_type`).

Pure and synchronous: any task may call anything here.
"""

from __future__ import annotations

import json
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.schema.validation.gojson import syntax_error, type_name

__all__ = [
    "BODY_MEDIA_TYPES",
    "check_patch_type",
    "decode_patch_body",
    "patch_types",
    "unsupported_body_type",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
BODY_MEDIA_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_OP_STRING_FIELDS = ("op", "path", "from")


def patch_types(rt: ResourceType) -> list[str]:
    """The patch media types `rt` accepts, in the order kube lists them."""
    if rt.is_custom:
        return [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
    return [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]


def check_patch_type(rt: ResourceType, content_type: str) -> str:
    """The media type without parameters; 415 when `rt` takes no patch of that type."""
    ctype = content_type.split(";")[0].strip()
    accepted = patch_types(rt)
    if ctype not in accepted:
        raise errors.unsupported_patch_type(accepted)
    return ctype


def unsupported_body_type() -> ApiError:
    return errors.ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: " + ", ".join(BODY_MEDIA_TYPES))


def decode_patch_body(ctype: str, raw: bytes, field_validation: str) -> Any:
    """The parsed JSON body of a json, merge or strategic merge patch (see the module guarantees)."""
    strict = field_validation in ("", "Warn", "Strict")
    problem = syntax_error(raw)
    if ctype == JSON_PATCH:
        return _json_patch(raw, problem, strict)
    if ctype == MERGE_PATCH:
        if problem is not None:
            raise errors.bad_request(f"error decoding patch: {problem}" if strict else "Invalid JSON Patch")
        body = json.loads(raw)
        if body is None:
            raise errors.bad_request("Invalid JSON Patch")
        if not isinstance(body, dict) and strict:
            raise errors.bad_request(f"error decoding patch: json: cannot unmarshal {type_name(body)} into Go "
                                     "value of type map[string]interface {}")
        return body
    if problem is not None:
        raise errors.bad_request(problem)
    body = json.loads(raw)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.bad_request(f"json: cannot unmarshal {type_name(body)} into Go value of type "
                                 "map[string]interface {}")
    return body


def _json_patch(raw: bytes, problem: str | None, strict: bool) -> Any:
    if problem is not None:
        raise errors.bad_request(f"error decoding patch: {problem}" if strict else problem)
    ops = json.loads(raw)
    if ops is None or not strict:
        return ops  # the patch module words the non-strict library errors
    if not isinstance(ops, list):
        raise errors.bad_request(f"error decoding patch: json: cannot unmarshal {type_name(ops)} into Go value of "
                                 "type []handlers.jsonPatchOp")
    for op in ops:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise errors.bad_request(f"error decoding patch: json: cannot unmarshal {type_name(op)} into Go value "
                                     "of type handlers.jsonPatchOp")
        for key in _OP_STRING_FIELDS:
            if op.get(key) is not None and not isinstance(op[key], str):
                raise errors.bad_request(f"error decoding patch: json: cannot unmarshal {type_name(op[key])} into "
                                         f"Go struct field jsonPatchOp.{key} of type string")
    return ops
