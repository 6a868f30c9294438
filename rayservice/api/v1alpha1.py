"""The alpha single-application ``serveConfig`` (alias ``serveDeploymentGraphConfig``), in Ray's multi-app form.

Guarantees:
1. ``translate_legacy_serve_config`` turns the legacy form into one application named ``default`` (the
   name Ray gives the application of a single-application config, so an app deployed by an older operator
   is recognised, not replaced), its ``route_prefix`` taken from the first deployment that names one, else
   ``/``; other deployments' prefixes are dropped with a warning (Ray takes a prefix per application only).
2. camelCase fields become Ray's snake_case; ``maxConcurrentQueries`` becomes ``max_ongoing_requests``;
   ``port`` becomes ``http_options.port``. The YAML strings (``runtimeEnv``, ``userConfig``,
   ``autoscalingConfig``, ``rayActorOptions.runtimeEnv`` and ``.resources``) are parsed, and a mapping is
   accepted where a string was expected; an empty string means unset. String ``resources`` values (the
   Go ``map[string]string`` of old manifests) become numbers.
3. The result goes through the same checks as ``serveConfigV2``, with every path named in the user's
   camelCase terms (``serveConfig.deployments[0].rayActorOptions.numCpus``); fields the legacy form never
   had are ignored with a warning, never sent to Ray.
4. ``desired_serve_config`` accepts exactly one serve form: both ``serveConfigV2`` and a legacy one set is
   a problem ("set either serveConfigV2 or serveConfig, not both"), as is a legacy form under both names;
   a blank ``serveConfigV2`` or an empty legacy mapping counts as unset; neither set gives ``config=None``
   with no problem: nothing to deploy.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from rayservice.api.serve import (
    DEFAULT_APP_NAME,
    DEFAULT_ROUTE_PREFIX,
    Problem,
    Report,
    ServeConfigResult,
    kind,
    load_yaml,
    parse_serve_config_v2,
    validate_serve_config,
)

LEGACY_FIELDS: Final = ("serveConfig", "serveDeploymentGraphConfig")

_DEPLOYMENT_KEYS: Final[Mapping[str, str]] = {
    "name": "name",
    "numReplicas": "num_replicas",
    "maxConcurrentQueries": "max_ongoing_requests",
    "gracefulShutdownWaitLoopS": "graceful_shutdown_wait_loop_s",
    "gracefulShutdownTimeoutS": "graceful_shutdown_timeout_s",
    "healthCheckPeriodS": "health_check_period_s",
    "healthCheckTimeoutS": "health_check_timeout_s",
}
_DEPLOYMENT_YAML_KEYS: Final[Mapping[str, str]] = {
    "userConfig": "user_config",
    "autoscalingConfig": "autoscaling_config",
}
_ACTOR_KEYS: Final[Mapping[str, str]] = {
    "numCpus": "num_cpus",
    "numGpus": "num_gpus",
    "memory": "memory",
    "objectStoreMemory": "object_store_memory",
    "acceleratorType": "accelerator_type",
}
_TOP_KNOWN: Final = frozenset({"importPath", "runtimeEnv", "deployments", "port"})
_DEPLOYMENT_KNOWN: Final = frozenset({*_DEPLOYMENT_KEYS, *_DEPLOYMENT_YAML_KEYS, "routePrefix", "rayActorOptions"})
_ACTOR_KNOWN: Final = frozenset({*_ACTOR_KEYS, "runtimeEnv", "resources"})
_OPAQUE: Final = frozenset({"runtime_env", "user_config", "autoscaling_config", "resources"})
_CAMEL_OF: Final[Mapping[str, str]] = {
    "max_ongoing_requests": "maxConcurrentQueries",
    **{
        snake: camel
        for camel, snake in (*_DEPLOYMENT_KEYS.items(), *_ACTOR_KEYS.items())
        if snake != "max_ongoing_requests"
    },
}


def desired_serve_config(spec: Mapping[str, Any]) -> ServeConfigResult:
    """The Serve config a RayService spec asks for: ``serveConfigV2`` parsed, or the legacy form translated."""
    v2 = spec.get("serveConfigV2")
    has_v2 = v2 is not None and not (isinstance(v2, str) and not v2.strip())
    legacy = [(name, spec[name]) for name in LEGACY_FIELDS if _is_set(spec.get(name))]
    if len(legacy) > 1:
        return _fail("spec", "set serveConfig or its alpha name serveDeploymentGraphConfig, not both")
    if has_v2 and legacy:
        return _fail("spec", f"set either serveConfigV2 or {legacy[0][0]}, not both")
    if has_v2:
        if not isinstance(v2, str):
            return _fail("serveConfigV2", f"must be a YAML string, got {kind(v2)}")
        return parse_serve_config_v2(v2)
    if legacy:
        name, value = legacy[0]
        if not isinstance(value, Mapping):
            return _fail(name, f"must be a mapping, got {kind(value)}")
        return translate_legacy_serve_config(value, field=name)
    return ServeConfigResult(None)


def translate_legacy_serve_config(serve_config: Mapping[str, Any], *, field: str = "serveConfig") -> ServeConfigResult:
    """The legacy single-application form -> Ray's multi-application JSON config, problems and warnings."""
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def problem(path: str, detail: str) -> None:
        problems.append(Problem(f"{field}.{path}", detail))

    def warn(path: str, detail: str) -> None:
        warnings.append(Problem(f"{field}.{path}", detail))

    _warn_unknown(serve_config, "", _TOP_KNOWN, warn)
    app: dict[str, Any] = {"name": DEFAULT_APP_NAME}
    if serve_config.get("importPath") is not None:
        app["import_path"] = serve_config["importPath"]
    runtime_env = _yaml_mapping(serve_config.get("runtimeEnv"), "runtimeEnv", problem)
    if runtime_env is not None:
        app["runtime_env"] = runtime_env
    route_prefix: Any = None
    route_from = 0
    deployments: list[dict[str, Any]] = []
    raw_deployments = serve_config.get("deployments") or []
    if not isinstance(raw_deployments, list):
        problem("deployments", f"must be a list, got {kind(raw_deployments)}")
        raw_deployments = []
    for j, raw in enumerate(raw_deployments):
        path = f"deployments[{j}]"
        if not isinstance(raw, Mapping):
            problem(path, f"must be a mapping, got {kind(raw)}")
            continue
        deployments.append(_translate_deployment(raw, path, problem, warn))
        prefix = raw.get("routePrefix")
        if prefix in (None, ""):
            continue
        if route_prefix is None:
            route_prefix, route_from = prefix, j
        elif prefix != route_prefix:
            warn(
                f"{path}.routePrefix",
                f"ignored: the application is served under {route_prefix!r}, the first "
                "route prefix given; Ray routes per application, not per deployment",
            )
    app["route_prefix"] = route_prefix if route_prefix is not None else DEFAULT_ROUTE_PREFIX
    if deployments:
        app["deployments"] = deployments
    config: dict[str, Any] = {"applications": [app]}
    if serve_config.get("port") is not None:
        config["http_options"] = {"port": serve_config["port"]}
    validate_serve_config(
        config, lambda p, d: problem(_legacy_path(p, route_from), d), lambda p, d: warn(_legacy_path(p, route_from), d)
    )
    return ServeConfigResult(None if problems else config, tuple(problems), tuple(warnings))


def _translate_deployment(raw: Mapping[str, Any], path: str, problem: Report, warn: Report) -> dict[str, Any]:
    _warn_unknown(raw, path, _DEPLOYMENT_KNOWN, warn)
    out = {snake: raw[camel] for camel, snake in _DEPLOYMENT_KEYS.items() if raw.get(camel) is not None}
    for camel, snake in _DEPLOYMENT_YAML_KEYS.items():
        value = _yaml_mapping(raw.get(camel), f"{path}.{camel}", problem)
        if value is not None:
            out[snake] = value
    options = raw.get("rayActorOptions")
    if isinstance(options, Mapping):
        out["ray_actor_options"] = _translate_actor_options(options, f"{path}.rayActorOptions", problem, warn)
    elif options is not None:
        problem(f"{path}.rayActorOptions", f"must be a mapping, got {kind(options)}")
    return out


def _translate_actor_options(raw: Mapping[str, Any], path: str, problem: Report, warn: Report) -> dict[str, Any]:
    _warn_unknown(raw, path, _ACTOR_KNOWN, warn)
    out = {snake: raw[camel] for camel, snake in _ACTOR_KEYS.items() if raw.get(camel) is not None}
    runtime_env = _yaml_mapping(raw.get("runtimeEnv"), f"{path}.runtimeEnv", problem)
    if runtime_env is not None:
        out["runtime_env"] = runtime_env
    resources = _yaml_mapping(raw.get("resources"), f"{path}.resources", problem)
    if resources is not None:
        out["resources"] = {name: _number_or_self(value) for name, value in resources.items()}
    return out


def _yaml_mapping(value: Any, path: str, problem: Report) -> dict[str, Any] | None:
    """A legacy YAML-string field (or a mapping given directly) as a mapping; None when unset or invalid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str):
        problem(path, f"must be a YAML string, got {kind(value)}")
        return None
    data, failure = load_yaml(value, path)
    if failure is not None:
        problem(path, failure.message)
        return None
    if not isinstance(data, dict):
        problem(path, f"must hold a YAML mapping, got {kind(data)}")
        return None
    return data


def _number_or_self(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for parse in (int, float):
        try:
            number = parse(value)
        except ValueError:
            continue
        return number if math.isfinite(number) else value
    return value


def _warn_unknown(obj: Mapping[str, Any], path: str, known: frozenset[str], warn: Report) -> None:
    for key in obj:
        if key not in known:
            warn(f"{path}.{key}" if path else key, "not a field of the legacy serveConfig; ignored")


def _legacy_path(path: str, route_from: int) -> str:
    """A path in Ray's config (``applications[0].deployments[1].num_replicas``) in the user's terms."""
    path = path.removeprefix("applications[0].").removeprefix("applications[0]")
    if path.startswith("http_options.port"):
        return "port"
    if path == "route_prefix":
        return f"deployments[{route_from}].routePrefix"
    parts = path.split(".")
    for i, part in enumerate(parts):
        parts[i] = _CAMEL_OF.get(part, _camel(part))
        if part in _OPAQUE:
            break  # below this the user wrote the keys, in YAML, as they are
    return ".".join(parts)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _is_set(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(v is not None for v in value.values())
    return value is not None


def _fail(field: str, detail: str) -> ServeConfigResult:
    return ServeConfigResult(None, (Problem(field, detail),))
