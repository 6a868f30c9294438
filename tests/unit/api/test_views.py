"""The typed views name only fields their models have: the pydantic models of rayservice.api for our kinds,
the Kubernetes client's (also pydantic) models for Pods, Services and EndpointSlices (views.py guarantees 1, 2)."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NamedTuple, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

import kubernetes.client
import pytest
from pydantic import AliasChoices, BaseModel

from rayservice.api import ObjectMeta, RayCluster, RayService, views
from rayservice.controller.caches import slim_endpoint_slice, slim_pod

# Where a model keeps an object free-form (``dict[str, Any]``: pod templates, the serve Service), the view is
# checked against the Kubernetes object of that kind instead.
KUBE_MODEL_OF_VIEW: dict[type, type[BaseModel]] = {
    views.PodTemplateView: kubernetes.client.V1PodTemplateSpec,
    views.ServiceView: kubernetes.client.V1Service,
    views.OwnerReferenceView: kubernetes.client.V1OwnerReference,
}

ROOTS: list[tuple[type, type[BaseModel]]] = [
    (views.RayServiceView, RayService),
    (views.RayClusterView, RayCluster),
    (views.PodView, kubernetes.client.V1Pod),
    (views.ServiceView, kubernetes.client.V1Service),
    (views.EndpointSliceView, kubernetes.client.V1EndpointSlice),
]


class Field(NamedTuple):
    """One field of a model, as the check needs it."""

    schema: type[BaseModel] | None  # the nested model; None for scalars and free-form objects
    container: str  # "list", "map" or "" (one value)
    required: bool


def _strip(annotation: Any) -> Any:
    """``annotation`` without ``Optional`` and ``Annotated`` wrappers."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def fields_of(model: type[BaseModel]) -> dict[str, Field]:
    """The fields of a pydantic model (ours, or the Kubernetes client's) under their wire names."""
    fields: dict[str, Field] = {}
    for name, info in model.model_fields.items():
        annotation = _strip(info.annotation)
        container, inner = "", annotation
        if get_origin(annotation) is list:
            container, inner = "list", _strip(get_args(annotation)[0])
        elif get_origin(annotation) is dict and _strip(get_args(annotation)[1]) is not Any:
            container, inner = "map", _strip(get_args(annotation)[1])
        schema = inner if inspect.isclass(inner) and issubclass(inner, BaseModel) else None
        wire_names = {info.alias or info.serialization_alias or name}
        if isinstance(info.validation_alias, AliasChoices):
            wire_names |= {choice for choice in info.validation_alias.choices if isinstance(choice, str)} - {name}
        for wire in wire_names:
            fields[wire] = Field(schema, container, info.is_required())
    return fields


def _view_value(annotation: Any) -> tuple[type | None, str]:
    """The nested view of a view's key (or None) and its container kind."""
    origin = get_origin(annotation)
    if origin is Sequence:
        return _view_value(get_args(annotation)[0])[0], "list"
    if origin is Mapping:
        return _view_value(get_args(annotation)[1])[0], "map"
    return (annotation if is_typeddict(annotation) else None), ""


def check(view: type, model: type[BaseModel], path: str, visited: set[type]) -> list[str]:
    """Every mismatch between ``view`` and ``model``, each naming the path of the key."""
    visited.add(view)
    problems: list[str] = []
    model_fields = fields_of(model)
    hints = get_type_hints(view, include_extras=True)
    for key, annotation in hints.items():
        where = f"{path}.{key}"
        if key not in model_fields:
            problems.append(f"{where}: {model.__name__} has no field {key!r}")
            continue
        field = model_fields[key]
        required = get_origin(annotation) is Required
        if required:
            annotation = get_args(annotation)[0]
        if required != field.required:
            problems.append(f"{where}: Required in the view must match the model ({field.required})")
        nested, container = _view_value(annotation)
        if nested is None:
            continue
        if container != field.container:
            problems.append(f"{where}: the view has {container or 'one value'}, the model {field.container or 'one'}")
        schema = field.schema or KUBE_MODEL_OF_VIEW.get(nested)
        if schema is None:
            problems.append(f"{where}: the model keeps this free-form; name the Kubernetes model of {nested.__name__}")
            continue
        problems += check(nested, schema, where, visited)
    return problems


@pytest.mark.parametrize(("view", "model"), ROOTS, ids=[view.__name__ for view, _ in ROOTS])
def test_every_key_of_a_view_is_a_field_of_its_model(view: type, model: type[BaseModel]) -> None:
    assert check(view, model, view.__name__, set()) == []


def test_every_view_in_the_module_is_checked_against_a_model() -> None:
    visited: set[type] = set()
    for view, model in ROOTS:
        check(view, model, view.__name__, visited)
    defined = {value for value in vars(views).values() if is_typeddict(value)}
    assert defined - visited == set()


def test_the_metadata_view_names_only_fields_of_the_operators_object_meta_model() -> None:
    assert check(views.ObjectMetaView, ObjectMeta, "metadata", set()) == []


class _Misspelt(typing.TypedDict, total=False):
    rayClusterConfg: views.RayClusterSpecView


class _WronglyRequired(typing.TypedDict, total=False):
    serveConfigV2: Required[str]
    rayClusterConfig: views.RayClusterSpecView


def test_a_misspelt_or_wrongly_required_key_is_reported_with_its_path() -> None:
    assert check(_Misspelt, RayService.model_fields["spec"].annotation, "spec", set()) == [  # type: ignore[arg-type]
        "spec.rayClusterConfg: RayServiceSpec has no field 'rayClusterConfg'"
    ]
    assert check(_WronglyRequired, RayService.model_fields["spec"].annotation, "spec", set()) == [  # type: ignore[arg-type]
        "spec.serveConfigV2: Required in the view must match the model (False)",
        "spec.rayClusterConfig: Required in the view must match the model (True)",
    ]


def test_the_casts_return_the_cached_object_itself() -> None:
    cached: dict[str, Any] = {"metadata": {"name": "svc"}, "spec": {"rayClusterConfig": {"headGroupSpec": {}}}}
    for cast in (views.as_rayservice, views.as_raycluster, views.as_pod, views.as_service, views.as_endpoint_slice):
        assert cast(cached) is cached
    assert views.as_rayservice(cached).get("metadata", {}).get("name") == "svc"


def _full(view: type) -> dict[str, Any]:
    """An object with a value under every key of ``view``, nested views filled in the same way."""
    filled: dict[str, Any] = {}
    for key, annotation in get_type_hints(view).items():
        nested, container = _view_value(_strip(annotation))
        value: Any = _full(nested) if nested is not None else "x"
        filled[key] = [value] if container == "list" else {"k": value} if container == "map" else value
    return filled


@pytest.mark.parametrize(
    ("view", "slim"), [(views.PodView, slim_pod), (views.EndpointSliceView, slim_endpoint_slice)],
    ids=["pod", "endpoint-slice"],
)
def test_the_pod_and_endpoint_slice_views_read_only_what_the_caches_keep(view: type, slim: Any) -> None:
    full = _full(view)
    assert slim(full) == full
