"""Generate the RayService and RayCluster CustomResourceDefinitions from the pydantic models.

``python -m rayservice.api.crdgen DIR`` (``make manifests``) writes ``DIR/ray.io_rayservices.yaml`` and
``DIR/ray.io_rayclusters.yaml``; ``--check`` writes nothing and exits 1 when a file differs.

Guarantees:
1. The models are the one source of truth: every field becomes a property under its YAML name (each alias of a
   field with several), typed from its annotation: ``str``, ``int`` (int32 unless the field says int64),
   ``float``, ``bool``, datetimes (``date-time`` strings), ``Literal`` (enums), lists, ``dict[str, X]`` (maps)
   and nested models (objects). ``dict[str, Any]`` becomes ``type: object`` with
   ``x-kubernetes-preserve-unknown-fields: true``: pod templates and deep KubeRay sub-objects are kept, not
   typed. Fields without a default are ``required``; ``ge``/``le`` bounds become ``minimum``/``maximum``.
2. Scalar defaults of spec fields become schema ``default``s, so the API server stores what the models assume;
   status schemas carry no defaults (the operator writes every status field it means).
3. The schema is structural (``structural_problems`` returns nothing): every node has a type, there is no
   ``$ref``, no node has both ``properties`` and ``additionalProperties``, defaults and enums fit their types,
   and list-map keys are required in their items. Generation fails otherwise.
4. Each CRD is ``apiextensions.k8s.io/v1``, Namespaced, conversion ``None``, category ``all``, no short names
   (KubeRay has none, and ``rs`` is ReplicaSet's); it serves ``v1`` (storage) and ``v1alpha1`` (deprecated, with
   a deprecation warning) with the same schema, the status subresource and the same printer columns.
5. Output is deterministic: keys sorted, no YAML anchors, fixed header; the same models give the same bytes.

Pure but for ``main``, which reads and writes the files.
"""

from __future__ import annotations

import argparse
import copy
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

from rayservice.api.common import GROUP, STORAGE_VERSION, VERSIONS
from rayservice.api.raycluster import RayClusterSpec, RayClusterStatus
from rayservice.api.rayservice import RayServiceSpec, RayServiceStatus

__all__ = [
    "KINDS",
    "CrdKind",
    "crd_for",
    "file_name",
    "generate",
    "main",
    "render",
    "schema_for",
    "structural_problems",
]

_HEADER: Final = (
    "# Generated from the models in rayservice/api by `make manifests` (python -m rayservice.api.crdgen).\n"
    "# Do not edit: change the models and regenerate; tests/unit/api/test_crdgen.py fails on drift.\n"
)
_PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"
_DESCRIPTION: Final = "Generate the RayService and RayCluster CRDs from the pydantic models."
_AGE: Final = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


@dataclass(frozen=True)
class CrdKind:
    """What a CRD needs beyond the models: names, descriptions and printer columns."""

    kind: str
    plural: str
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    printer_columns: tuple[Mapping[str, str], ...]

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"


KINDS: Final = (
    CrdKind(
        kind="RayService",
        plural="rayservices",
        description="A Ray Serve application and the Ray cluster that runs it, upgraded without downtime.",
        spec=RayServiceSpec,
        status=RayServiceStatus,
        printer_columns=(
            {"name": "Service Status", "type": "string", "jsonPath": ".status.serviceStatus"},
            {"name": "Num Serve Endpoints", "type": "integer", "jsonPath": ".status.numServeEndpoints"},
            _AGE,
        ),
    ),
    CrdKind(
        kind="RayCluster",
        plural="rayclusters",
        description="A Ray cluster: one head pod and groups of worker pods, with their Services.",
        spec=RayClusterSpec,
        status=RayClusterStatus,
        printer_columns=(
            {"name": "Desired Workers", "type": "integer", "jsonPath": ".status.desiredWorkerReplicas"},
            {"name": "Available Workers", "type": "integer", "jsonPath": ".status.availableWorkerReplicas"},
            {"name": "Status", "type": "string", "jsonPath": ".status.state"},
            _AGE,
        ),
    ),
)


# ---- models -> schema ----------------------------------------------------------------------------------------


def _describe(text: str | None) -> str:
    """One line of prose, with Markdown code spans instead of reStructuredText ones (for kubectl explain)."""
    return " ".join((text or "").split()).replace("``", "`")


def _unwrap(annotation: Any) -> Any:
    """Drop ``None`` from optional unions and the metadata of ``Annotated``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *metadata = get_args(annotation)
            if any(isinstance(m, annotated_types.BaseMetadata | FieldInfo) for m in metadata):
                raise TypeError("constraints are supported on fields only, not inside their types")
        elif origin is Union or origin is types.UnionType:
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                raise TypeError(f"a CRD field cannot be a union of several types: {annotation!r}")
            annotation = members[0]
        else:
            return annotation


def _type_node(annotation: Any, *, defaults: bool) -> dict[str, Any]:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        values = list(get_args(annotation))
        if not all(isinstance(v, str) for v in values):
            raise TypeError(f"only string enums are supported: {annotation!r}")
        return {"type": "string", "enum": values}
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": _type_node(item, defaults=defaults)}
    if origin is dict:
        key, value = get_args(annotation)
        if key is not str:
            raise TypeError(f"map keys must be strings: {annotation!r}")
        if value is Any:
            return {"type": "object", _PRESERVE: True}
        return {"type": "object", "additionalProperties": _type_node(value, defaults=defaults)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return schema_for(annotation, defaults=defaults)
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer", "format": "int32"}
    if annotation is float:
        return {"type": "number"}
    if annotation is str:
        return {"type": "string"}
    if annotation is datetime:
        return {"type": "string", "format": "date-time"}
    raise TypeError(f"no CRD schema for {annotation!r}")


def _wire_names(name: str, field: FieldInfo) -> list[str]:
    if isinstance(field.validation_alias, AliasChoices):
        return [str(choice) for choice in field.validation_alias.choices]
    return [field.alias or name]


def _property(field: FieldInfo, *, defaults: bool) -> dict[str, Any]:
    node = _type_node(field.annotation, defaults=defaults)
    if field.description:
        node["description"] = _describe(field.description)
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            node["minimum"] = item.ge
        elif isinstance(item, annotated_types.Le):
            node["maximum"] = item.le
        elif isinstance(item, annotated_types.BaseMetadata):
            raise TypeError(f"unsupported constraint {item!r}")
    if isinstance(field.json_schema_extra, dict):
        node.update(copy.deepcopy(field.json_schema_extra))
    default = field.default
    if defaults and field.default_factory is None and isinstance(default, bool | int | float | str):
        node["default"] = default
    return node


def schema_for(model: type[BaseModel], *, defaults: bool = True) -> dict[str, Any]:
    """The openAPIV3Schema of one model (guarantees 1 and 2); ``defaults=False`` leaves out every default."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        primary, *aliases = _wire_names(name, field)
        properties[primary] = _property(field, defaults=defaults)
        for alias in aliases:
            properties[alias] = {**_property(field, defaults=defaults), "description": f"Another name of `{primary}`."}
        if field.is_required():
            required.append(primary)
    node: dict[str, Any] = {"type": "object", "properties": properties}
    if doc := _describe(model.__dict__.get("__doc__")):
        node["description"] = doc
    if required:
        node["required"] = sorted(required)
    return node


# ---- the CRDs ------------------------------------------------------------------------------------------------


def _root_schema(kind: CrdKind) -> dict[str, Any]:
    return {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string", "description": "The versioned schema of this object: ray.io/v1."},
            "kind": {"type": "string", "description": f"The kind of this object: {kind.kind}."},
            "metadata": {"type": "object"},
            "spec": schema_for(kind.spec, defaults=True),
            "status": schema_for(kind.status, defaults=False),
        },
        "required": ["spec"],
    }


def _version(kind: CrdKind, name: str) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": name,
        "served": True,
        "storage": name == STORAGE_VERSION,
        "schema": {"openAPIV3Schema": _root_schema(kind)},
        "subresources": {"status": {}},
        "additionalPrinterColumns": [dict(c) for c in kind.printer_columns],
    }
    if name != STORAGE_VERSION:
        version["deprecated"] = True
        version["deprecationWarning"] = (
            f"{GROUP}/{name} {kind.kind} is deprecated; use {GROUP}/{STORAGE_VERSION} {kind.kind} "
            "(the same schema: change apiVersion only)"
        )
    return version


def crd_for(kind: CrdKind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind (guarantee 4)."""
    problems = structural_problems(_root_schema(kind))
    if problems:
        raise ValueError(f"the {kind.kind} schema is not structural: {problems}")
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "categories": ["all"],
            },
            "scope": "Namespaced",
            "conversion": {"strategy": "None"},
            "versions": [_version(kind, name) for name in VERSIONS],
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(crd: Mapping[str, Any]) -> str:
    """The YAML text of a CRD, header included (guarantee 5)."""
    body = yaml.dump(dict(crd), Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=110)
    return _HEADER + body


def file_name(kind: CrdKind) -> str:
    return f"{GROUP}_{kind.plural}.yaml"


def generate() -> dict[str, str]:
    """File name -> YAML text, for every kind."""
    return {file_name(kind): render(crd_for(kind)) for kind in KINDS}


# ---- structural schema checks --------------------------------------------------------------------------------

_SCALAR_TYPES: Final = {"string": str, "integer": int, "number": int | float, "boolean": bool}
_FORBIDDEN: Final = ("$ref", "definitions", "patternProperties", "dependencies", "additionalItems", "$schema", "id")


def _fits(value: Any, node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    if kind in _SCALAR_TYPES:
        if isinstance(value, bool) and kind != "boolean":
            return False
        return isinstance(value, _SCALAR_TYPES[kind])
    if kind == "object":
        return isinstance(value, dict)
    return kind == "array" and isinstance(value, list)


def structural_problems(node: Mapping[str, Any], path: str = "") -> list[str]:
    """Why ``node`` is not a structural schema as apiextensions-apiserver defines it; empty when it is."""
    where = path or "<root>"
    problems: list[str] = [f"{where}: {key} is not allowed" for key in _FORBIDDEN if key in node]
    if not node.get("type") and not node.get("x-kubernetes-int-or-string"):
        problems.append(f"{where}: type is missing")
    if node.get(_PRESERVE) is False:
        problems.append(f"{where}: {_PRESERVE} must be true or absent")
    if node.get("uniqueItems") is True:
        problems.append(f"{where}: uniqueItems must not be true")
    if "default" in node and not _fits(node["default"], node):
        problems.append(f"{where}: default {node['default']!r} is not a {node.get('type')}")
    for value in node.get("enum") or []:
        if not _fits(value, node):
            problems.append(f"{where}: enum value {value!r} is not a {node.get('type')}")
    properties = node.get("properties") or {}
    additional = node.get("additionalProperties")
    if properties and additional is not None:
        problems.append(f"{where}: properties and additionalProperties are mutually exclusive")
    if isinstance(additional, bool):
        problems.append(f"{where}: additionalProperties must be a schema")
    elif isinstance(additional, Mapping):
        problems += structural_problems(additional, f"{path}[*]")
    for key, child in properties.items():
        problems += structural_problems(child, f"{path}.{key}")
    items = node.get("items")
    if node.get("type") == "array" and not isinstance(items, Mapping):
        problems.append(f"{where}: an array needs one items schema")
    elif isinstance(items, Mapping):
        problems += structural_problems(items, f"{path}[]")
        if node.get("x-kubernetes-list-type") == "map":
            keyed = set(items.get("required") or []) | {
                k for k, v in (items.get("properties") or {}).items() if "default" in v
            }
            for key in node.get("x-kubernetes-list-map-keys") or []:
                if key not in keyed:
                    problems.append(f"{where}: list-map key {key} must be required or defaulted")
    return problems


# ---- command line --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rayservice.api.crdgen", description=_DESCRIPTION)
    parser.add_argument("directory", type=Path, help="where the CRD files go, e.g. manifests/crd")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs")
    args = parser.parse_args(argv)
    directory: Path = args.directory
    stale = []
    for name, text in generate().items():
        target = directory / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(str(target))
        if not args.check:
            directory.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{path}: {verb}", file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
