"""The Serve config a RayService asks for, as the JSON Ray's ``PUT /api/serve/applications/`` takes.

Guarantees:
1. ``parse_serve_config_v2`` never raises on user input: a bad ``serveConfigV2`` yields ``problems``
   (values), each naming where it is; a YAML syntax error names the line and column, counted from 1.
2. ``config`` is set exactly when ``problems`` is empty. It is plain JSON (string keys; no dates, sets,
   bytes, NaN); YAML timestamps stay strings, as Kubernetes' YAML-to-JSON conversion leaves them.
3. What Ray 2.60 refuses with 400 is a problem here: a document that is not a mapping, no or empty
   ``applications``, an application without a well-formed ``import_path``, duplicate application names or
   route prefixes (an unset name is ``default``, an unset prefix ``/``), duplicate deployment names in one
   application, values of the wrong type or range (``num_replicas`` an int >= 0 or ``"auto"``, and not
   beside ``autoscaling_config``; CPUs, memory, timeouts non-negative numbers; ...). Numbers written as
   strings are problems too: Ray would echo them back as numbers and the config would never look applied.
4. Pitfalls Ray accepts but users regret are ``warnings``, never problems: ``http_options.host`` on
   loopback (unreachable through the serve Service), a listed deployment without
   ``ray_actor_options.num_cpus`` (each replica asks 1 CPU), a ``working_dir`` or ``py_modules`` entry that
   is not a URI, and fields Ray 2.60 does not know (it may refuse them, or a newer Ray may accept them).
5. The config passed to Ray is what the user wrote, converted to JSON: no defaults are added.

Pure: no I/O. ``rayservice.api.v1alpha1`` builds on ``Problem``, ``load_yaml`` and ``validate_serve_config``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import yaml

DEFAULT_APP_NAME: Final = "default"
DEFAULT_ROUTE_PREFIX: Final = "/"
_MAX_VALUES: Final = 100_000  # after YAML aliases are expanded: refuses "billion laughs" documents
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_PROXY_LOCATIONS: Final = ("Disabled", "HeadOnly", "EveryNode")
_URI: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

Report: TypeAlias = Callable[[str, str], None]
"""Receives a finding: the dotted path below the checked object, and what is wrong there."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or, among ``warnings``, risky) in a spec: the field's path and what is wrong there.

    Printed ``field: message``, e.g. ``serveConfigV2: line 4, column 7: mapping values are not allowed here``.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class ServeConfigResult:
    """Ray's multi-application config (``None`` when invalid or absent), what is wrong, what is risky."""

    config: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class _Loader(yaml.SafeLoader):
    """A safe loader that leaves timestamps as strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_LIBYAML: Final = hasattr(yaml, "CSafeLoader")


class _FastLoader(yaml.CSafeLoader if _LIBYAML else _Loader):  # type: ignore[misc]
    """``_Loader`` on libyaml's parser when PyYAML was built with it (several times faster), else ``_Loader``:
    the same safe constructor and resolver, so the same values."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def _parse(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FastLoader)  # safe loaders: build plain values only
    except yaml.YAMLError:
        if not _LIBYAML:
            raise
    # Rare: the pure-Python parser again, for its words and marks (libyaml words the same errors differently).
    return yaml.load(text, Loader=_Loader)


def load_yaml(text: str, field: str) -> tuple[Any, Problem | None]:
    """Parse one YAML document into JSON values, or say (with line and column) why it cannot be."""
    try:
        data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return None, Problem(field, f"{where}{exc.problem or exc.context or 'invalid YAML'}")
    except yaml.YAMLError as exc:
        return None, Problem(field, f"invalid YAML: {exc}")
    try:
        return _to_json(data, [_MAX_VALUES]), None
    except ValueError as exc:
        return None, Problem(field, str(exc))


def _to_json(value: Any, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"more than {_MAX_VALUES} values once YAML aliases are expanded")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {_json_key(k): _to_json(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v, budget) for v in value]
    raise ValueError(f"a YAML {type(value).__name__} cannot be sent to Ray as JSON")


def _json_key(key: Any) -> str:
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int | float | str):
        return str(key)
    raise ValueError(f"a YAML {type(key).__name__} cannot be a JSON key")


def parse_serve_config_v2(text: str, *, field: str = "serveConfigV2") -> ServeConfigResult:
    """``serveConfigV2`` (YAML) -> Ray's multi-application JSON config, problems and warnings."""
    data, failure = load_yaml(text, field)
    if failure is not None:
        return ServeConfigResult(None, (failure,))
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def at(path: str) -> str:
        return f"{field}.{path}" if path else field

    if not isinstance(data, dict):
        got = "an empty document" if data is None else f"{'an' if kind(data)[0] in 'aeiou' else 'a'} {kind(data)}"
        return ServeConfigResult(None, (Problem(field, f"must be a mapping with an `applications` list, got {got}"),))
    validate_serve_config(
        data, lambda p, d: problems.append(Problem(at(p), d)), lambda p, d: warnings.append(Problem(at(p), d))
    )
    return ServeConfigResult(None if problems else data, tuple(problems), tuple(warnings))


def validate_serve_config(config: Mapping[str, Any], problem: Report, warn: Report) -> None:
    """Check a multi-application config as Ray 2.60 would; report each finding with its dotted path."""
    _check_fields(config, "", _TOP_FIELDS, problem, warn)
    if "applications" not in config:
        problem("applications", "at least one application is required")
    for section, fields in (("http_options", _HTTP_FIELDS), ("grpc_options", _GRPC_FIELDS)):
        if isinstance(options := config.get(section), Mapping):
            _check_fields(options, section, fields, problem, None)
    http = config.get("http_options")
    if isinstance(http, Mapping) and http.get("host") in _LOOPBACK_HOSTS:
        warn("http_options.host", f"{http['host']} is loopback: the serve Service cannot reach the proxy")
    apps = config.get("applications")
    if not isinstance(apps, list):
        return  # a wrong type is reported by _check_fields
    names: dict[str, int] = {}
    prefixes: dict[str, int] = {}
    for i, app in enumerate(apps):
        if isinstance(app, Mapping):
            _check_app(app, f"applications[{i}]", problem, warn)
            _unique(app.get("name", DEFAULT_APP_NAME), names, i, f"applications[{i}].name", "application name", problem)
            _unique(
                app.get("route_prefix", DEFAULT_ROUTE_PREFIX),
                prefixes,
                i,
                f"applications[{i}].route_prefix",
                "route prefix",
                problem,
            )


def _unique(value: Any, seen: dict[str, int], index: int, path: str, what: str, problem: Report) -> None:
    if not isinstance(value, str):
        return
    if value in seen:
        problem(path, f"duplicate {what} {value!r} (also at index {seen[value]})")
    seen.setdefault(value, index)


def _check_app(app: Mapping[str, Any], path: str, problem: Report, warn: Report) -> None:
    _check_fields(app, path, _APP_FIELDS, problem, warn)
    if "import_path" not in app:
        problem(f"{path}.import_path", "is required (e.g. `fruit.deployment_graph` or `module:app`)")
    _check_runtime_env(app.get("runtime_env"), f"{path}.runtime_env", warn)
    deployments = app.get("deployments")
    seen: dict[str, int] = {}
    for j, dep in enumerate(deployments if isinstance(deployments, list) else ()):
        if not isinstance(dep, Mapping):
            continue
        dpath = f"{path}.deployments[{j}]"
        _check_fields(dep, dpath, _DEPLOYMENT_FIELDS, problem, warn)
        if "name" not in dep:
            problem(f"{dpath}.name", "is required")
        _unique(dep.get("name"), seen, j, f"{dpath}.name", "deployment name", problem)
        if dep.get("num_replicas") not in (None, "auto") and dep.get("autoscaling_config") is not None:
            problem(f"{dpath}.num_replicas", 'cannot be set beside autoscaling_config (use "auto" or remove it)')
        options = dep.get("ray_actor_options")
        if isinstance(options, Mapping):
            _check_fields(options, f"{dpath}.ray_actor_options", _ACTOR_FIELDS, problem, warn)
            _check_runtime_env(options.get("runtime_env"), f"{dpath}.ray_actor_options.runtime_env", warn)
        if not isinstance(options, Mapping) or options.get("num_cpus") is None:
            warn(
                f"{dpath}.ray_actor_options.num_cpus",
                "not set: unless the code sets it, each replica asks for 1 CPU and may never be scheduled",
            )


def _check_runtime_env(env: Any, path: str, warn: Report) -> None:
    if not isinstance(env, Mapping):
        return
    working_dir = env.get("working_dir")
    if isinstance(working_dir, str) and not _URI.match(working_dir):
        warn(
            f"{path}.working_dir",
            f"{working_dir!r} is not a URI: Ray needs e.g. https://host/x.zip, "
            "file:///x.zip or local:///dir (or set env_vars.PYTHONPATH)",
        )
    modules = env.get("py_modules")
    for k, module in enumerate(modules if isinstance(modules, list) else ()):
        if isinstance(module, str) and not _URI.match(module):
            warn(f"{path}.py_modules[{k}]", f"{module!r} is not a URI")


def _applications(value: Any) -> str | None:
    return "at least one application is required" if value is None or value == [] else _MAPPINGS(value)


def _check_fields(
    obj: Mapping[str, Any], path: str, fields: Mapping[str, _Check], problem: Report, warn: Report | None
) -> None:
    for key, value in obj.items():
        where = f"{path}.{key}" if path else key
        check = fields.get(key)
        if check is None:
            if warn is not None:
                warn(where, _MISPLACED.get(key, "Ray 2.60 does not know this field and may reject the config"))
        elif (detail := check(value)) is not None:
            problem(where, detail)


# Value checks: each returns None when the value is fine, else what is wrong with it.
_Check: TypeAlias = Callable[[Any], str | None]


def kind(value: Any) -> str:
    """How a JSON value's type is called in messages: ``string``, ``integer``, ``mapping``, ..."""
    names = {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
    }
    return names.get(type(value), type(value).__name__)


def _is_number(value: Any, *, integer: bool = False) -> bool:
    return isinstance(value, int if integer else int | float) and not isinstance(value, bool)


def _number(
    low: float, *, above: bool = False, integer: bool = False, high: float | None = None, nullable: bool = False
) -> _Check:
    bound = f"{'an integer' if integer else 'a number'} {'>' if above else '>='} {low:g}"
    bound += f" and <= {high:g}" if high is not None else ""

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not _is_number(value, integer=integer):
            return f"must be {bound}, got {kind(value)} {value!r}"
        if value < low or (above and value == low) or (high is not None and value > high):
            return f"must be {bound}, got {value!r}"
        return None

    return check


def _of_type(expected: type, name: str, *, nullable: bool = False) -> _Check:
    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if isinstance(value, expected) and (expected is bool or not isinstance(value, bool)):
            return None
        return f"must be {name}, got {kind(value)}"

    return check


def _list_of(item: _Check, name: str) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be a list of {name}, got {kind(value)}"
        details = ((k, item(element)) for k, element in enumerate(value))
        return next((f"item {k} {detail}" for k, detail in details if detail is not None), None)

    return check


def _nonempty_str(value: Any) -> str | None:
    return None if isinstance(value, str) and value else f"must be a non-empty string, got {kind(value)} {value!r}"


def _import_path(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"must be a non-empty string such as `module:app`, got {kind(value)} {value!r}"
    sep = ":" if ":" in value else "."
    if (
        (sep == ":" and value.count(":") > 1)
        or (sep == "." and "." not in value)
        or value[0] == sep
        or (value[-1] == sep)
    ):
        return f"{value!r} is not `module.attribute` or `module:attribute`"
    return None


def _route_prefix(value: Any) -> str | None:
    if value is None:
        return None  # the application is not exposed over HTTP
    if not isinstance(value, str) or not value.startswith("/"):
        return f"must start with '/', got {value!r}"
    if "{" in value or "}" in value:
        return f"cannot contain wildcards ('{{' or '}}'), got {value!r}"
    return None


def _num_replicas(value: Any) -> str | None:
    if value is None or value == "auto" or (_is_number(value, integer=True) and value >= 0):
        return None
    return f'must be an integer >= 0 or "auto", got {kind(value)} {value!r}'


def _proxy_location(value: Any) -> str | None:
    return None if value in _PROXY_LOCATIONS else f"must be one of {', '.join(_PROXY_LOCATIONS)}, got {value!r}"


def _max_queued(value: Any) -> str | None:
    return (
        None
        if _is_number(value, integer=True) and (value == -1 or value > 0)
        else (f"must be -1 (no limit) or an integer > 0, got {value!r}")
    )


_MAPPING: Final = _of_type(dict, "a mapping")
_MAPPING_OR_NULL: Final = _of_type(dict, "a mapping or null", nullable=True)
_STRING: Final = _of_type(str, "a string")
_STRING_OR_NULL: Final = _of_type(str, "a string or null", nullable=True)
_NON_NEGATIVE: Final = _number(0)
_POSITIVE: Final = _number(0, above=True)
_MAPPINGS: Final = _list_of(_MAPPING, "mappings")

_TOP_FIELDS: Final[Mapping[str, _Check]] = {
    "applications": _applications,
    "proxy_location": _proxy_location,
    "http_options": _MAPPING,
    "grpc_options": _MAPPING,
    "logging_config": _MAPPING,
    "target_capacity": _number(0, high=100, nullable=True),
}
_HTTP_FIELDS: Final[Mapping[str, _Check]] = {
    "host": _STRING,
    "port": _number(1, integer=True, high=65535),
    "root_path": _STRING,
    "request_timeout_s": _number(0, above=True, nullable=True),
    "keep_alive_timeout_s": _POSITIVE,
    "ssl_keyfile": _STRING_OR_NULL,
    "ssl_certfile": _STRING_OR_NULL,
    "ssl_ca_certs": _STRING_OR_NULL,
}
_GRPC_FIELDS: Final[Mapping[str, _Check]] = {
    "port": _number(1, integer=True, high=65535),
    "grpc_servicer_functions": _list_of(_STRING, "strings"),
    "request_timeout_s": _number(0, above=True, nullable=True),
}
_APP_FIELDS: Final[Mapping[str, _Check]] = {
    "name": _nonempty_str,
    "route_prefix": _route_prefix,
    "import_path": _import_path,
    "runtime_env": _MAPPING,
    "deployments": _MAPPINGS,
    "args": _MAPPING,
    "logging_config": _MAPPING,
    "external_scaler_enabled": _of_type(bool, "true or false"),
    "autoscaling_policy": _MAPPING_OR_NULL,
}
_DEPLOYMENT_FIELDS: Final[Mapping[str, _Check]] = {
    "name": _nonempty_str,
    "num_replicas": _num_replicas,
    "max_ongoing_requests": _number(0, above=True, integer=True),
    "max_queued_requests": _max_queued,
    "user_config": _MAPPING_OR_NULL,
    "autoscaling_config": _MAPPING_OR_NULL,
    "graceful_shutdown_wait_loop_s": _NON_NEGATIVE,
    "graceful_shutdown_timeout_s": _NON_NEGATIVE,
    "health_check_period_s": _POSITIVE,
    "health_check_timeout_s": _POSITIVE,
    "ray_actor_options": _MAPPING,
    "placement_group_bundles": _MAPPINGS,
    "placement_group_strategy": _STRING,
    "max_replicas_per_node": _number(1, integer=True),
    "logging_config": _MAPPING,
    "request_router_config": _MAPPING,
}
_ACTOR_FIELDS: Final[Mapping[str, _Check]] = {
    "runtime_env": _MAPPING,
    "num_cpus": _NON_NEGATIVE,
    "num_gpus": _NON_NEGATIVE,
    "memory": _NON_NEGATIVE,
    "object_store_memory": _NON_NEGATIVE,
    "resources": _MAPPING,
    "accelerator_type": _STRING,
    "label_selector": _MAPPING,
}
_MISPLACED: Final[Mapping[str, str]] = {
    "max_concurrent_queries": "renamed max_ongoing_requests; Ray 2.60 rejects the old name",
    "route_prefix": "set route_prefix on the application; Ray 2.60 rejects it on a deployment",
    "import_path": "set import_path on the application, not on a deployment",
    "host": "set http_options.host instead; Ray ignores or rejects it here",
    "port": "set http_options.port instead; Ray ignores or rejects it here",
}
