"""The PUT body the fake accepts: Ray 2.60's multi-application config schema, as pydantic models.

Guarantees:
1. ``parse_config`` accepts what Ray accepts and raises ``pydantic.ValidationError`` (whose text is the
   400 body) for what Ray refuses: a missing ``import_path`` or ``name``, wrong types or ranges,
   ``num_replicas`` beside ``autoscaling_config``, duplicate application names or route prefixes, unknown
   fields in an application, a deployment or ``ray_actor_options``. Unknown top-level fields are
   allowed (Ray keeps that level forward-compatible).
2. ``echo`` is Ray's ``deployed_app_config``: the application as parsed, with only the fields that were
   set (Ray dumps with ``exclude_unset``), so numbers come back in their declared types (``1`` -> ``1.0``
   for float fields).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _non_negative() -> Any:
    return Field(default=None, ge=0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RayActorOptions(_Strict):
    runtime_env: dict[str, Any] = {}
    num_cpus: float | None = _non_negative()
    num_gpus: float | None = _non_negative()
    memory: float | None = _non_negative()
    object_store_memory: float | None = _non_negative()
    resources: dict[str, Any] = {}
    accelerator_type: str | None = None
    label_selector: dict[str, str] | None = None


class Deployment(_Strict):
    name: str
    num_replicas: int | Literal["auto"] | None = None
    max_ongoing_requests: int | None = Field(default=None, gt=0)
    max_queued_requests: int | None = None
    user_config: dict[str, Any] | None = None
    autoscaling_config: dict[str, Any] | None = None
    graceful_shutdown_wait_loop_s: float | None = _non_negative()
    graceful_shutdown_timeout_s: float | None = _non_negative()
    health_check_period_s: float | None = Field(default=None, gt=0)
    health_check_timeout_s: float | None = Field(default=None, gt=0)
    ray_actor_options: RayActorOptions | None = None
    placement_group_bundles: list[dict[str, float]] | None = None
    placement_group_strategy: str | None = None
    max_replicas_per_node: int | None = Field(default=None, ge=1)
    logging_config: dict[str, Any] | None = None
    request_router_config: dict[str, Any] | None = None

    @field_validator("num_replicas")
    @classmethod
    def _replicas_not_negative(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 0:
            raise ValueError("num_replicas must be >= 0")
        return value

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> Deployment:
        if self.num_replicas not in (None, "auto") and self.autoscaling_config is not None:
            raise ValueError("Manually setting num_replicas is not allowed when autoscaling_config is provided.")
        return self


class Application(_Strict):
    name: str = "default"
    route_prefix: str | None = "/"
    import_path: str
    runtime_env: dict[str, Any] = {}
    host: str = "0.0.0.0"
    port: int = 8000
    deployments: list[Deployment] = []
    args: dict[str, Any] = {}
    logging_config: dict[str, Any] | None = None
    external_scaler_enabled: bool = False
    autoscaling_policy: dict[str, Any] | None = None

    @field_validator("import_path")
    @classmethod
    def _import_path_format(cls, value: str) -> str:
        sep = ":" if ":" in value else "."
        if (sep == ":" and value.count(":") > 1) or sep not in value or value[0] == sep or value[-1] == sep:
            raise ValueError(f'Got invalid import path "{value}".')
        return value

    @field_validator("route_prefix")
    @classmethod
    def _route_prefix_format(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or "{" in value or "}" in value):
            raise ValueError(f'Got "{value}" for route_prefix. Route prefix must start with "/".')
        return value


class HttpOptions(_Strict):
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    root_path: str = ""
    request_timeout_s: float | None = None
    keep_alive_timeout_s: float = 90
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None


class ServeDeploySchema(BaseModel):
    model_config = ConfigDict(extra="allow")

    proxy_location: Literal["Disabled", "HeadOnly", "EveryNode"] = "EveryNode"
    http_options: HttpOptions = HttpOptions()
    grpc_options: dict[str, Any] = {}
    logging_config: dict[str, Any] | None = None
    applications: list[Application]
    target_capacity: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _unique_names_and_routes(self) -> ServeDeploySchema:
        names = [app.name for app in self.applications]
        if len(set(names)) != len(names):
            raise ValueError(f"Found duplicate application names: {sorted({n for n in names if names.count(n) > 1})}")
        routes = [app.route_prefix for app in self.applications if app.route_prefix is not None]
        if len(set(routes)) != len(routes):
            raise ValueError(f"Found duplicate route prefixes: {sorted({r for r in routes if routes.count(r) > 1})}")
        return self


def parse_config(body: Any) -> ServeDeploySchema:
    """Validate a PUT body; raises ``pydantic.ValidationError``."""
    return ServeDeploySchema.model_validate(body)


def echo(app: Application) -> dict[str, Any]:
    """Ray's ``deployed_app_config`` for an application."""
    return app.model_dump(exclude_unset=True)
