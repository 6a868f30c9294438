"""Schemas for the OpenAPI documents: definition names, meta.k8s.io types, built-in and custom kinds.

Guarantees:
1. Definition names follow kube (`io.k8s.api.core.v1.Pod`, `io.k8s.api.apps.v1.Deployment`,
   `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`; a custom kind is its reversed group, version and kind:
   `com.example.v1.Widget`, `io.ray.v1.RayService`).
2. Every kind schema and its List schema carry `x-kubernetes-group-version-kind` (a list, as kube publishes it).
3. A custom kind's schema is its CRD version's openAPIV3Schema with `apiVersion`, `kind` and an ObjectMeta
   `metadata`; for Swagger 2.0 the constructs v2 cannot express (nullable, anyOf/oneOf/allOf/not,
   int-or-string types) are removed, as kube does when publishing v2.
4. Built-in kinds are permissive (unknown fields preserved) but name the patch merge keys kube uses for
   metadata.ownerReferences, pod containers/env/ports/volumeMounts/volumes and Service ports.
5. `ref` renders references for the target document: `allOf: [{$ref}]` in OpenAPI v3 (so siblings such as a
   description stay meaningful), a plain `$ref` in Swagger 2.0.

Pure: every call returns new dicts that the caller may modify.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver.schema.resources import ResourceType

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
OWNER_REFERENCE = META + "OwnerReference"
MANAGED_FIELDS_ENTRY = META + "ManagedFieldsEntry"

_BUILTIN_PACKAGES = {
    "": "io.k8s.api.core",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}
_API_VERSION_DOC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
                    "#resources")
_KIND_DOC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
             "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
             "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
_METADATA_DOC = ("Standard object's metadata. More info: "
                 "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
_V2_UNSUPPORTED = ("nullable", "anyOf", "oneOf", "allOf", "not", "x-kubernetes-validations")


def definition_name(rt: ResourceType, kind: str | None = None) -> str:
    kind = kind or rt.kind
    if rt.is_custom:
        return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{kind}"
    package = _BUILTIN_PACKAGES.get(rt.group) or "io.k8s.api." + rt.group.split(".")[0]
    return f"{package}.{rt.version}.{kind}"


def gvk(rt: ResourceType, kind: str | None = None) -> dict[str, str]:
    return {"group": rt.group, "kind": kind or rt.kind, "version": rt.version}


def ref(name: str, v3: bool, **siblings: Any) -> dict[str, Any]:
    if v3:
        return {"allOf": [{"$ref": f"#/components/schemas/{name}"}], **siblings}
    return {"$ref": f"#/definitions/{name}", **siblings}


def direct_ref(name: str, v3: bool) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}" if v3 else f"#/definitions/{name}"}


def _string(description: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", **extra}
    if description:
        out["description"] = description
    return out


def _string_map(description: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": description}


def meta_schemas(v3: bool) -> dict[str, dict[str, Any]]:
    """The meta.k8s.io definitions every group-version document refers to."""
    owner_reference = {
        "description": "OwnerReference contains enough information to let you identify an owning object.",
        "type": "object", "required": ["apiVersion", "kind", "name", "uid"],
        "properties": {"apiVersion": _string("API version of the referent."),
                       "blockOwnerDeletion": {"type": "boolean"}, "controller": {"type": "boolean"},
                       "kind": _string("Kind of the referent."), "name": _string("Name of the referent."),
                       "uid": _string("UID of the referent.")},
        "x-kubernetes-map-type": "atomic"}
    object_meta = {
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects "
                       "users must create.",
        "type": "object",
        "properties": {
            "annotations": _string_map("Annotations is an unstructured key value map stored with a resource."),
            "creationTimestamp": _string("CreationTimestamp is a timestamp representing the server time when "
                                         "this object was created.", format="date-time"),
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "deletionTimestamp": _string("DeletionTimestamp is RFC 3339 date and time at which this resource "
                                         "will be deleted.", format="date-time"),
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                           "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge",
                           "description": "Must be empty before the object is deleted from the registry."},
            "generateName": _string("GenerateName is an optional prefix, used by the server, to generate a "
                                    "unique name ONLY IF the Name field has not been provided."),
            "generation": {"type": "integer", "format": "int64",
                           "description": "A sequence number representing a specific generation of the desired "
                                          "state."},
            "labels": _string_map("Map of string keys and values that can be used to organize and categorize "
                                  "(scope and select) objects."),
            "managedFields": {"type": "array", "items": ref(MANAGED_FIELDS_ENTRY, v3, default={}),
                              "x-kubernetes-list-type": "atomic"},
            "name": _string("Name must be unique within a namespace."),
            "namespace": _string("Namespace defines the space within which each name must be unique."),
            "ownerReferences": {"type": "array", "items": ref(OWNER_REFERENCE, v3, default={}),
                                "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge",
                                "description": "List of objects depended by this object."},
            "resourceVersion": _string("An opaque value that represents the internal version of this object."),
            "selfLink": _string("Deprecated: selfLink is a legacy read-only field that is no longer populated."),
            "uid": _string("UID is the unique in time and space value for this object."),
        }}
    permissive = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        OBJECT_META: object_meta,
        OWNER_REFERENCE: owner_reference,
        MANAGED_FIELDS_ENTRY: {"description": "ManagedFieldsEntry is a workflow-id, a FieldSet and the group "
                                              "version of the resource that the fieldset applies to.", **permissive},
        LIST_META: {"description": "ListMeta describes metadata that synthetic resources must have.",
                    "type": "object",
                    "properties": {"continue": _string(), "remainingItemCount": {"type": "integer", "format": "int64"},
                                   "resourceVersion": _string(), "selfLink": _string()}},
        STATUS: {"description": "Status is a return value for calls that don't return other objects.", **permissive,
                 "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}]},
        DELETE_OPTIONS: {"description": "DeleteOptions may be provided when deleting an API object.", **permissive,
                         "x-kubernetes-group-version-kind": [{"group": "", "kind": "DeleteOptions",
                                                              "version": "v1"}]},
        PATCH: {"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request "
                               "body.", "type": "object"},
    }


# ---- built-in kinds ---------------------------------------------------------------------------------------------


def _merge_list(key: str, items: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "array", "items": dict(items or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
            "x-kubernetes-list-map-keys": [key], "x-kubernetes-list-type": "map",
            "x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": "merge"}


def _open(properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if properties:
        out["properties"] = dict(properties)
    return out


def _container() -> dict[str, Any]:
    return _open({"name": _string("Name of the container specified as a DNS_LABEL."),
                  "env": _merge_list("name"), "ports": _merge_list("containerPort"),
                  "volumeMounts": _merge_list("mountPath"), "volumeDevices": _merge_list("devicePath")})


def _builtin_fields(rt: ResourceType) -> dict[str, Any]:
    if rt.group_resource == ("", "pods"):
        spec = _open({"containers": _merge_list("name", _container()),
                      "initContainers": _merge_list("name", _container()),
                      "ephemeralContainers": _merge_list("name", _container()),
                      "volumes": _merge_list("name"), "imagePullSecrets": _merge_list("name")})
        return {"spec": spec, "status": _open()}
    if rt.group_resource == ("", "services"):
        return {"spec": _open({"ports": _merge_list("port")}), "status": _open()}
    if rt.group_resource == ("apps", "deployments"):
        template = _open({"metadata": _open(), "spec": _open({"containers": _merge_list("name", _container()),
                                                              "volumes": _merge_list("name")})})
        return {"spec": _open({"template": template}), "status": _open()}
    return {}


def builtin_kind_schema(rt: ResourceType, v3: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"apiVersion": _string(_API_VERSION_DOC), "kind": _string(_KIND_DOC),
                                  "metadata": ref(OBJECT_META, v3, default={}, description=_METADATA_DOC)}
    properties.update(_builtin_fields(rt))
    return {"description": f"{rt.kind} as served by the embedded API server; fields other than metadata are "
                           "preserved as given.",
            "type": "object", "properties": properties, "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [gvk(rt)]}


def list_schema(rt: ResourceType, v3: bool) -> dict[str, Any]:
    return {"description": f"{rt.kind}List is a list of {rt.kind}", "type": "object", "required": ["items"],
            "properties": {"apiVersion": _string(_API_VERSION_DOC),
                           "items": {"type": "array", "items": direct_ref(definition_name(rt), v3),
                                     "description": f"List of {rt.plural}."},
                           "kind": _string(_KIND_DOC),
                           "metadata": ref(LIST_META, v3, default={}, description=_METADATA_DOC)},
            "x-kubernetes-group-version-kind": [gvk(rt, rt.list_kind)]}


# ---- custom kinds ---------------------------------------------------------------------------------------------


def _crd_version_schema(rt: ResourceType) -> dict[str, Any]:
    assert rt.crd is not None
    for version in (rt.crd.get("spec") or {}).get("versions") or []:
        if isinstance(version, Mapping) and version.get("name") == rt.version:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(schema, Mapping):
                return copy.deepcopy(dict(schema))
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _strip_for_v2(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip_for_v2(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strip_for_v2(v) if k not in ("default", "enum", "example") else v for k, v in node.items()
           if k not in _V2_UNSUPPORTED}
    if node.get("nullable") or node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    return out


def custom_kind_schema(rt: ResourceType, v3: bool) -> dict[str, Any]:
    schema = _crd_version_schema(rt)
    if not v3:
        schema = _strip_for_v2(schema)
    schema.setdefault("type", "object")
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = _string(_API_VERSION_DOC)
    properties["kind"] = _string(_KIND_DOC)
    properties["metadata"] = ref(OBJECT_META, v3, description=_METADATA_DOC)
    schema["properties"] = properties
    schema["x-kubernetes-group-version-kind"] = [gvk(rt)]
    return schema


def kind_schema(rt: ResourceType, v3: bool) -> dict[str, Any]:
    return custom_kind_schema(rt, v3) if rt.is_custom else builtin_kind_schema(rt, v3)
