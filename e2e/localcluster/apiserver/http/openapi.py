"""The OpenAPI documents kubectl downloads: the v3 index, v3 group-version documents and Swagger 2.0.

Guarantees:
1. `openapi_v3_index` lists `api/v1` and every served `apis/<group>/<version>` with a `serverRelativeURL` whose
   `hash` is a digest of that document: it changes whenever the document changes (for instance when a CRD is
   added or its schema edited) and is stable otherwise.
2. Every served resource has kube's paths (collection, item, all-namespaces list, `/status` and `/scale` when
   served) with operations carrying `x-kubernetes-action` and an object `x-kubernetes-group-version-kind`.
3. Every create, update and patch operation (including `/status`) declares the `fieldValidation` query
   parameter, so kubectl sends `fieldValidation=Strict` and leaves validation to the server.
4. PATCH operations accept JSON patch, merge patch and apply patch, never strategic merge patch: for custom kinds
   the server rejects it (415), and for built-in kinds kubectl then computes strategic merge patches from its
   compiled-in types, which know every merge key, instead of from these partial schemas.
5. `components.schemas` (v3) and `definitions` (v2) hold each kind and its List with
   `x-kubernetes-group-version-kind`, plus the meta.k8s.io types they refer to (see `openapi_schemas`).
6. `openapi_v3_group_version` returns None for a group-version nothing is served at.

Pure and synchronous: request handlers call these per request; documents are rebuilt from the registry each time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType

from .discovery import GIT_VERSION
from .openapi_schemas import (
    DELETE_OPTIONS,
    PATCH,
    STATUS,
    definition_name,
    direct_ref,
    gvk,
    kind_schema,
    list_schema,
    meta_schemas,
)

PATCH_CONTENT_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_RESPONSE_TYPES = ("application/json", "application/yaml")
_FIELD_VALIDATION_DOC = (
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently "
    "dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is "
    "the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header "
    "for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The "
    "request will still succeed if there are no other errors, and will only persist the last of any duplicate "
    "fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any "
    "unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned "
    "from the server will contain all unknown and duplicate fields encountered.")
_QUERY_DOCS: dict[str, tuple[str, str]] = {
    "pretty": ("string", "If 'true', then the output is pretty printed."),
    "dryRun": ("string", "When present, indicates that modifications should not be persisted."),
    "fieldManager": ("string", "fieldManager is a name associated with the actor or entity that is making these "
                               "changes."),
    "fieldValidation": ("string", _FIELD_VALIDATION_DOC),
    "force": ("boolean", "Force is going to \"force\" Apply requests."),
    "allowWatchBookmarks": ("boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
    "continue": ("string", "The continue option should be set when retrieving more results from the server."),
    "fieldSelector": ("string", "A selector to restrict the list of returned objects by their fields."),
    "labelSelector": ("string", "A selector to restrict the list of returned objects by their labels."),
    "limit": ("integer", "limit is a maximum number of responses to return for a list call."),
    "resourceVersion": ("string", "resourceVersion sets a constraint on what resource versions a request may be "
                                  "served from."),
    "resourceVersionMatch": ("string", "resourceVersionMatch determines how resourceVersion is applied to list "
                                       "calls."),
    "sendInitialEvents": ("boolean", "`sendInitialEvents=true` may be set together with `watch=true`."),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call."),
    "watch": ("boolean", "Watch for changes to the described resources and return them as a stream of add, update, "
                         "and remove notifications."),
    "gracePeriodSeconds": ("integer", "The duration in seconds before the object should be deleted."),
    "propagationPolicy": ("string", "Whether and how garbage collection will be performed."),
}
_LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


def _query_param(name: str, v3: bool) -> dict[str, Any]:
    ptype, doc = _QUERY_DOCS[name]
    if v3:
        return {"name": name, "in": "query", "description": doc, "schema": {"type": ptype, "uniqueItems": True}}
    return {"name": name, "in": "query", "description": doc, "type": ptype, "uniqueItems": True}


def _path_param(name: str, description: str, v3: bool) -> dict[str, Any]:
    if v3:
        return {"name": name, "in": "path", "description": description, "required": True,
                "schema": {"type": "string", "uniqueItems": True}}
    return {"name": name, "in": "path", "description": description, "required": True, "type": "string",
            "uniqueItems": True}


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", ".").split(".") if part)


def _operation_id(verb: str, rt: ResourceType, scope: str, suffix: str = "") -> str:
    group = rt.group.removesuffix(".k8s.io") if rt.group else "core"
    return f"{verb}{_camel(group)}{_camel(rt.version)}{scope}{rt.kind}{suffix}"


class _Builder:
    """Paths for one document; `v3` chooses OpenAPI 3.0 or Swagger 2.0 idioms."""

    def __init__(self, v3: bool) -> None:
        self.v3 = v3
        self.paths: dict[str, dict[str, Any]] = {}

    def _responses(self, schema_name: str, codes: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for code in codes:
            text = {"200": "OK", "201": "Created", "202": "Accepted"}[code]
            if self.v3:
                out[code] = {"description": text, "content": {t: {"schema": direct_ref(schema_name, True)}
                                                              for t in _RESPONSE_TYPES}}
            else:
                out[code] = {"description": text, "schema": direct_ref(schema_name, False)}
        out["401"] = {"description": "Unauthorized"}
        return out

    def _operation(self, rt: ResourceType, action: str, op_id: str, params: tuple[str, ...], response: str,
                   codes: tuple[str, ...], body: str | None = None, kind: str | None = None) -> dict[str, Any]:
        tag = _camel(rt.group.removesuffix(".k8s.io") if rt.group else "core")
        op: dict[str, Any] = {"tags": [f"{tag[:1].lower()}{tag[1:]}_{rt.version}"], "operationId": op_id,
                              "description": f"{action} {kind or rt.kind}",
                              "parameters": [_query_param(p, self.v3) for p in params]}
        patch = action == "patch"
        if body is not None:
            content_types = PATCH_CONTENT_TYPES if patch else ("application/json", "application/yaml")
            if self.v3:
                op["requestBody"] = {"content": {t: {"schema": direct_ref(body, True)} for t in content_types},
                                     "required": True}
            else:
                op["parameters"].insert(0, {"name": "body", "in": "body", "required": True,
                                            "schema": direct_ref(body, False)})
                op["consumes"] = list(content_types)
        if not self.v3:
            op["produces"] = list(_RESPONSE_TYPES)
            op["schemes"] = ["https"]
        op["responses"] = self._responses(response, codes)
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = gvk(rt, kind)
        return op

    def add_resource(self, rt: ResourceType) -> None:
        prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
        name = definition_name(rt)
        list_name = definition_name(rt, rt.list_kind)
        scope = "Namespaced" if rt.namespaced else ""
        base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        scope_params = [_path_param("namespace", "object name and auth scope, such as for teams and projects",
                                    self.v3)] if rt.namespaced else []
        name_param = _path_param("name", f"name of the {rt.kind}", self.v3)
        pretty = [_query_param("pretty", self.v3)]
        verbs = set(rt.verbs)
        collection: dict[str, Any] = {}
        if "list" in verbs:
            collection["get"] = self._operation(rt, "list", _operation_id("list", rt, scope), _LIST_PARAMS,
                                                list_name, ("200",))
        if "create" in verbs:
            collection["post"] = self._operation(rt, "post", _operation_id("create", rt, scope), _WRITE_PARAMS,
                                                 name, ("200", "201", "202"), body=name)
        if "deletecollection" in verbs:
            collection["delete"] = self._operation(rt, "deletecollection",
                                                   _operation_id("deletecollection", rt, scope),
                                                   ("dryRun", "gracePeriodSeconds", "propagationPolicy",
                                                    *_LIST_PARAMS), STATUS, ("200",), body=DELETE_OPTIONS)
        if collection:
            self.paths[base] = {**collection, "parameters": scope_params + pretty}
        item: dict[str, Any] = {}
        if "get" in verbs:
            item["get"] = self._operation(rt, "get", _operation_id("read", rt, scope), (), name, ("200",))
        if "update" in verbs:
            item["put"] = self._operation(rt, "put", _operation_id("replace", rt, scope), _WRITE_PARAMS, name,
                                          ("200", "201"), body=name)
        if "patch" in verbs:
            item["patch"] = self._operation(rt, "patch", _operation_id("patch", rt, scope),
                                            (*_WRITE_PARAMS, "force"), name, ("200", "201"), body=PATCH)
        if "delete" in verbs:
            item["delete"] = self._operation(rt, "delete", _operation_id("delete", rt, scope),
                                             ("dryRun", "gracePeriodSeconds", "propagationPolicy"), STATUS,
                                             ("200", "202"), body=DELETE_OPTIONS)
        if item:
            self.paths[f"{base}/{{name}}"] = {**item, "parameters": [name_param, *scope_params, *pretty]}
        if rt.namespaced and "list" in verbs:
            self.paths[f"{prefix}/{rt.plural}"] = {
                "get": self._operation(rt, "list", _operation_id("list", rt, "", "ForAllNamespaces"), _LIST_PARAMS,
                                       list_name, ("200",)),
                "parameters": pretty}
        if "status" in rt.subresources:
            self.paths[f"{base}/{{name}}/status"] = {
                "get": self._operation(rt, "get", _operation_id("read", rt, scope, "Status"), (), name, ("200",)),
                "put": self._operation(rt, "put", _operation_id("replace", rt, scope, "Status"), _WRITE_PARAMS,
                                       name, ("200", "201"), body=name),
                "patch": self._operation(rt, "patch", _operation_id("patch", rt, scope, "Status"),
                                         (*_WRITE_PARAMS, "force"), name, ("200", "201"), body=PATCH),
                "parameters": [name_param, *scope_params, *pretty]}
        if "scale" in rt.subresources:
            scale = "io.k8s.api.autoscaling.v1.Scale"
            self.paths[f"{base}/{{name}}/scale"] = {
                "get": self._operation(rt, "get", _operation_id("read", rt, scope, "Scale"), (), scale, ("200",),
                                       kind="Scale"),
                "parameters": [name_param, *scope_params, *pretty]}


def _schemas(types: list[ResourceType], v3: bool) -> dict[str, Any]:
    schemas: dict[str, Any] = meta_schemas(v3)
    for rt in types:
        schemas[definition_name(rt)] = kind_schema(rt, v3)
        schemas[definition_name(rt, rt.list_kind)] = list_schema(rt, v3)
        if "scale" in rt.subresources:
            schemas["io.k8s.api.autoscaling.v1.Scale"] = {
                "description": "Scale represents a scaling request for a resource.", "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": [{"group": "autoscaling", "kind": "Scale", "version": "v1"}]}
    return schemas


def _served(registry: Registry, group: str, version: str) -> list[ResourceType]:
    return sorted((rt for rt in registry if rt.group == group and rt.version == version), key=lambda r: r.plural)


def openapi_v3_group_version(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The document behind `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>` (guarantees 2-6)."""
    types = _served(registry, group, version)
    if not types:
        return None
    builder = _Builder(v3=True)
    for rt in types:
        builder.add_resource(rt)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION},
            "paths": builder.paths,
            "components": {"schemas": _schemas(types, v3=True),
                           "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token "
                                                               "authentication", "name": "authorization",
                                                               "in": "header"}}},
            "security": [{"BearerToken": []}]}


def document_hash(doc: Any) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha512(text.encode()).hexdigest().upper()


def openapi_v3_index(registry: Registry) -> dict[str, Any]:
    """`/openapi/v3` (guarantee 1)."""
    versions = sorted({(rt.group, rt.version) for rt in registry})
    paths: dict[str, Any] = {}
    for group, version in versions:
        key = f"apis/{group}/{version}" if group else f"api/{version}"
        doc = openapi_v3_group_version(registry, group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(doc)}"}
    return {"paths": paths}


def openapi_v2(registry: Registry) -> dict[str, Any]:
    """`/openapi/v2`: every served kind in one Swagger 2.0 document."""
    types = sorted(registry, key=lambda r: (r.group, r.version, r.plural))
    builder = _Builder(v3=False)
    for rt in types:
        builder.add_resource(rt)
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": builder.paths,
            "definitions": _schemas(types, v3=False),
            "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey",
                                                    "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}]}
