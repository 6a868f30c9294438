"""Every literal key the controllers read or write is a field some API model names: a misspelt key fails here.

The controllers read cached objects as raw mappings, so ``obj.get("rayClusterConfg")`` would quietly be None.
This walks the sources of ``rayservice/controller`` for string literals used as ``.get(...)`` arguments and as
subscripts and checks each against the wire names of the pydantic models of ``rayservice.api`` and of the
Kubernetes client (whose models are pydantic too), plus a short list of keys that are not object fields.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
from pydantic import AliasChoices, BaseModel

import rayservice.api

ROOT = Path(__file__).resolve().parents[3]
CONTROLLERS = ROOT / "rayservice" / "controller"

NOT_OBJECT_FIELDS = {
    "applications": "the top-level key of a Serve config (Serve's REST API)",
    "proxies": "Serve's GET /api/serve/applications/ answer",
    "node_ip": "a proxy entry of Serve's answer",
    "graceful_shutdown_timeout_s": "a deployment option of a Serve config (Serve's REST API)",
    "autoscaling_config": "a deployment of a Serve config (Serve's REST API)",
    "num_replicas": "a deployment of a Serve config (Serve's REST API; \"auto\" when Serve scales it)",
    "cpu": "a resource name in requests and limits",
    "include-dashboard": "a ray start parameter",
    "no-monitor": "a ray start parameter (set on the head of an autoscaling cluster)",
    "redis-password": "a ray start parameter (the head's, with GCS fault tolerance)",
    "redis-username": "a ray start parameter (the head's, with GCS fault tolerance)",
    "target_capacity": "a Serve config's and Serve's answer's top-level key (Serve's REST API)",
    "deployed_app_config": "an application of Serve's GET /api/serve/applications/ answer",
    "listeners": "a Gateway's spec (Gateway API v1)",
    "parentRefs": "an HTTPRoute's spec (Gateway API v1)",
    "parents": "an HTTPRoute's status (Gateway API v1)",
    "matches": "an HTTPRoute rule (Gateway API v1)",
    "backendRefs": "an HTTPRoute rule (Gateway API v1)",
    "exponent": "a group of the quantity regular expression",
    "suffix": "a group of the quantity regular expression",
}


def _wire_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or info.serialization_alias or name)
        if isinstance(info.validation_alias, AliasChoices):
            names |= {choice for choice in info.validation_alias.choices if isinstance(choice, str)} - {name}
    return names


def model_field_names() -> set[str]:
    names: set[str] = set()
    for module in (kubernetes.client, rayservice.api):
        for attribute in dir(module):  # the client's models are loaded on first access, so not in vars()
            value = getattr(module, attribute)
            if inspect.isclass(value) and issubclass(value, BaseModel):
                names |= _wire_names(value)
    return names


def literal_keys(path: Path) -> Iterator[tuple[str, int]]:
    """``(key, line)`` for each ``x.get("key", ...)`` and ``x["key"]`` in the module."""
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, node.lineno
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if isinstance(node.slice.value, str):
                yield node.slice.value, node.lineno


def test_every_literal_key_in_the_controllers_is_a_field_of_an_api_model() -> None:
    known = model_field_names() | set(NOT_OBJECT_FIELDS)
    unknown = [
        f"{path.relative_to(ROOT)}:{line}: {key!r}"
        for path in sorted(CONTROLLERS.rglob("*.py"))
        for key, line in literal_keys(path)
        if key not in known
    ]
    assert unknown == [], "no API model has these fields; fix the spelling, or add a key that is no object's field "\
        "to NOT_OBJECT_FIELDS with where it comes from"


def test_a_misspelt_key_is_found(tmp_path: Path) -> None:
    module = tmp_path / "reads.py"
    module.write_text('def f(spec):\n    return spec.get("rayClusterConfg"), spec["headGroupSpec"]\n')
    keys = dict(literal_keys(module))
    assert keys == {"rayClusterConfg": 2, "headGroupSpec": 2}
    known = model_field_names()
    assert "rayClusterConfg" not in known and "headGroupSpec" in known


def test_the_list_of_keys_that_are_no_objects_fields_holds_no_model_field() -> None:
    assert set(NOT_OBJECT_FIELDS) & model_field_names() == set()
