"""The `scale` subresource of Deployments and ReplicaSets: an autoscaling/v1 Scale view of `spec.replicas`.

Guarantees (kube v1.36 registry/apps/deployment and replicaset ScaleREST):
1. `get_scale` answers `{apiVersion: autoscaling/v1, kind: Scale, metadata: {name, namespace, uid,
   resourceVersion, creationTimestamp}, spec: {replicas}, status: {replicas, selector}}`, the selector rendered
   as a label selector string (`app=web,pod-template-hash=...`).
2. `update_scale` (PUT) and `patch_scale` (merge, JSON and strategic merge patches, applied to the Scale) change
   only the object's `spec.replicas` through the main endpoint, so every other rule of an update holds (a
   resourceVersion in the body is a precondition: 409 when stale); they answer the new Scale.
3. `serve` answers one HTTP request (GET, PUT, PATCH; others 405, unparsable JSON 400).
4. A negative or non-integer replicas is 422 `Scale.autoscaling "<name>" is invalid: spec.replicas: ...`; a
   name in the body other than the URL's is 400.
"""

from __future__ import annotations

import json
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.resources import ResourceType

from . import patch as patches
from .objects import deep_copy, meta
from .rest import Api, WriteResult
from .selectors import label_selector_from_dict
from .store import Obj

SCALABLE = frozenset({("apps", "deployments"), ("apps", "replicasets")})


def is_scalable(rt: ResourceType) -> bool:
    return rt.group_resource in SCALABLE


def scale_of(obj: Obj) -> Obj:
    m = meta(obj)
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    scale_meta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m}
    replicas = spec.get("replicas", 1)
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
            "spec": {"replicas": replicas} if replicas else {},
            "status": {"replicas": int(status.get("replicas") or 0),
                       "selector": str(label_selector_from_dict(spec.get("selector") or {}))}}


def get_scale(api: Api, rt: ResourceType, namespace: str, name: str) -> Obj:
    return scale_of(api.get(rt, namespace, name))


def update_scale(api: Api, rt: ResourceType, namespace: str, name: str, body: Any, *,
                 dry_run: bool = False) -> WriteResult:
    if not isinstance(body, dict):
        raise errors.bad_request("Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal "
                                 "into Go value of type map[string]interface {}")
    if meta(body).get("name") not in (None, name):
        raise errors.bad_request(f"the name of the object ({meta(body).get('name')}) does not match the name on "
                                 f"the URL ({name})")
    replicas = (body.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("autoscaling", "Scale", name, [Cause(
            "spec.replicas", "FieldValueInvalid", f"Invalid value: {replicas}: must be greater than or equal to 0")])
    current = api.get(rt, namespace, name)
    rv = meta(body).get("resourceVersion")
    if rv and rv != meta(current).get("resourceVersion"):
        raise errors.conflict(rt.group, rt.plural, name)
    updated = deep_copy(current)
    updated.setdefault("spec", {})["replicas"] = replicas
    result = api.update(rt, namespace, name, updated, dry_run=dry_run)
    return WriteResult(scale_of(result.obj), result.warnings)


def patch_scale(api: Api, rt: ResourceType, namespace: str, name: str, content_type: str, body: Any, *,
                dry_run: bool = False) -> WriteResult:
    ctype = content_type.split(";")[0].strip()
    current = get_scale(api, rt, namespace, name)
    if ctype == patches.JSON_PATCH:
        patched = patches.json_patch(current, body)
    elif ctype in (patches.MERGE_PATCH, patches.STRATEGIC_MERGE_PATCH):
        if not isinstance(body, dict):
            raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
        patched = patches.merge_patch(current, body)
    else:
        raise errors.unsupported_patch_type([patches.JSON_PATCH, patches.MERGE_PATCH, patches.STRATEGIC_MERGE_PATCH])
    if not isinstance(patched, dict):
        raise errors.rejected_patch()
    return update_scale(api, rt, namespace, name, patched, dry_run=dry_run)


def serve(api: Api, rt: ResourceType, namespace: str, name: str, method: str, content_type: str, raw: bytes, *,
          dry_run: bool = False) -> Obj:
    """One request to `<name>/scale`: GET, PUT or PATCH with a JSON body; answers the Scale."""
    if method == "GET":
        return get_scale(api, rt, namespace, name)
    if method not in ("PUT", "PATCH"):
        raise errors.method_not_allowed(f"method {method} is not supported")
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    if method == "PUT":
        return update_scale(api, rt, namespace, name, body, dry_run=dry_run).obj
    return patch_scale(api, rt, namespace, name, content_type, body, dry_run=dry_run).obj
