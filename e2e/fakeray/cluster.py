"""One fake Ray cluster's Serve: applications move through Ray's statuses as its clock passes.

Guarantees:
1. Nothing runs in the background: every status is computed from the ``now`` passed in, so a test that
   steps its clock sees the next status at once, and one process can hold thousands of clusters.
2. A new application is NOT_STARTED for ``not_started_s``, then DEPLOYING (deployments UPDATING), then
   RUNNING (deployments HEALTHY) once ``deploy_s`` have passed since its PUT.
3. Re-PUTting an identical application changes nothing. A change confined to deployments' light options
   (``user_config``, ``num_replicas``, ...) is applied in place: DEPLOYING for ``in_place_s``, only the
   changed deployments UPDATING. A change to ``import_path``, ``runtime_env``, ``args`` or a deployment's
   ``ray_actor_options`` / placement restarts replicas: DEPLOYING for ``restart_s``.
4. An application left out of a PUT is DELETING for ``delete_s``, then gone.
5. An import path in ``knobs.failing`` makes its application DEPLOY_FAILED with the given message; one in
   ``knobs.stuck`` keeps it DEPLOYING (deployments UPDATING with Ray's "cannot be scheduled" message).
6. The first PUT starts Serve and fixes ``http_options`` and ``proxy_location``: later changes to them are
   ignored, as Ray 2.60 does on a running Serve. ``shutdown()`` (DELETE, or a head restart) forgets it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schema import Application, ServeDeploySchema, echo

_HEAVY_DEPLOYMENT_FIELDS = ("ray_actor_options", "placement_group_bundles", "placement_group_strategy")


@dataclass
class Timings:
    """How long Ray takes, in seconds of the fake's clock (defaults measured with Ray 2.60)."""

    not_started_s: float = 0.5
    deploy_s: float = 8.0
    in_place_s: float = 0.6
    restart_s: float = 6.0
    delete_s: float = 1.0


@dataclass
class Knobs:
    """Behaviour by import path, shared by every cluster of one fake."""

    failing: dict[str, str] = field(default_factory=dict)
    stuck: set[str] = field(default_factory=set)


@dataclass
class _App:
    spec: Application
    config: dict[str, Any]
    since: float
    duration_s: float
    first: bool
    updating: frozenset[str]
    deleting_since: float | None = None


class ServeCluster:
    """The Serve instance of one fake Ray head."""

    def __init__(self, address: str, timings: Timings, knobs: Knobs, *, epoch_s: float) -> None:
        self.address = address
        self.timings = timings
        self.knobs = knobs
        self._epoch_s = epoch_s
        self._options: dict[str, Any] | None = None
        self._target_capacity: float | None = None
        self._apps: dict[str, _App] = {}

    @property
    def started(self) -> bool:
        return self._options is not None

    def apply(self, config: ServeDeploySchema, now: float) -> None:
        """A successful PUT: start Serve if needed, then roll every application towards ``config``."""
        if self._options is None:
            self._options = {
                "proxy_location": config.proxy_location,
                "http_options": config.http_options.model_dump(),
                "grpc_options": {"port": 9000, "grpc_servicer_functions": [], **config.grpc_options},
            }
        self._target_capacity = config.target_capacity
        wanted = {app.name: app for app in config.applications}
        for name, app in self._apps.items():
            if name not in wanted and app.deleting_since is None:
                app.deleting_since = now
        for name, spec in wanted.items():
            old = self._apps.get(name)
            if old is None or old.deleting_since is not None:
                self._apps[name] = _App(spec, echo(spec), now, self.timings.deploy_s, True, frozenset(_names(spec)))
            elif echo(spec) != old.config:
                self._apps[name] = self._rollout(old, spec, now)

    def _rollout(self, old: _App, spec: Application, now: float) -> _App:
        before = {dep.name: dep.model_dump(exclude_unset=True) for dep in old.spec.deployments}
        after = {dep.name: dep.model_dump(exclude_unset=True) for dep in spec.deployments}
        changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
        app_heavy = (old.spec.import_path, old.spec.runtime_env, old.spec.args) != (
            spec.import_path,
            spec.runtime_env,
            spec.args,
        )
        heavy = app_heavy or any(
            (before.get(name) or {}).get(key) != (after.get(name) or {}).get(key)
            for name in changed
            for key in _HEAVY_DEPLOYMENT_FIELDS
        )
        updating = frozenset(_names(spec)) if app_heavy else frozenset(changed & set(_names(spec)))
        duration = self.timings.restart_s if heavy else self.timings.in_place_s
        unfinished_s = old.since + old.duration_s - now  # a rollout in flight is not cut short by a later one
        if unfinished_s > duration:
            return _App(spec, echo(spec), now, unfinished_s, old.first, updating | old.updating)
        return _App(spec, echo(spec), now, duration, False, updating)

    def shutdown(self) -> None:
        """Serve shut down (DELETE) or the head restarted: no Serve, no applications."""
        self._options = None
        self._target_capacity = None
        self._apps.clear()

    def answer(self, now: float) -> dict[str, Any]:
        """The ``GET /api/serve/applications/`` answer at ``now``."""
        for name in [n for n, a in self._apps.items() if _gone(a, now, self.timings.delete_s)]:
            del self._apps[name]
        if self._options is None:
            return {
                "controller_info": {},
                "proxy_location": None,
                "http_options": None,
                "grpc_options": None,
                "proxies": {},
                "applications": {},
                "target_capacity": None,
            }
        node = f"node-{self.address}"
        return {
            "controller_info": {"node_id": node, "node_ip": self.address, "actor_name": "SERVE_CONTROLLER_ACTOR"},
            **self._options,
            "proxies": {node: {"node_id": node, "node_ip": self.address, "status": "HEALTHY"}},
            "deploy_mode": "MULTI_APP",
            "applications": {name: self._app_details(app, now) for name, app in sorted(self._apps.items())},
            "target_capacity": self._target_capacity,
        }

    def _app_details(self, app: _App, now: float) -> dict[str, Any]:
        status, message = self._status(app, now)
        if status in ("NOT_STARTED",) or (status == "DEPLOY_FAILED" and app.first):
            deployments: dict[str, Any] = {}
        else:
            deployments = {name: self._deployment(app, name, status) for name in _names(app.spec)}
        return {
            "name": app.spec.name,
            "route_prefix": app.spec.route_prefix,
            "docs_path": None,
            "status": status,
            "message": message,
            "last_deployed_time_s": self._epoch_s + app.since,
            "deployed_app_config": app.config,
            "source": "declarative",
            "deployments": deployments,
            "external_scaler_enabled": app.spec.external_scaler_enabled,
        }

    def _status(self, app: _App, now: float) -> tuple[str, str]:
        if app.deleting_since is not None:
            return "DELETING", ""
        # Deadlines as sums, not differences: a test stepping to since + 0.6 must land exactly on it.
        if app.first and now < app.since + self.timings.not_started_s:
            return "NOT_STARTED", ""
        failure = self.knobs.failing.get(app.spec.import_path)
        if failure is not None:
            return "DEPLOY_FAILED", failure
        if app.spec.import_path in self.knobs.stuck or now < app.since + app.duration_s:
            return "DEPLOYING", ""
        return "RUNNING", ""

    def _deployment(self, app: _App, name: str, app_status: str) -> dict[str, Any]:
        spec = next((dep for dep in app.spec.deployments if dep.name == name), None)
        replicas = spec.num_replicas if spec is not None and isinstance(spec.num_replicas, int) else 1
        options = spec.ray_actor_options if spec is not None else None
        cpus = options.num_cpus if options is not None and options.num_cpus is not None else 1.0
        updating = app_status in ("DEPLOYING", "DELETING") and name in app.updating
        message = ""
        if updating and app.spec.import_path in self.knobs.stuck:
            message = (
                f"Deployment '{name}' in application '{app.spec.name}' has {replicas} replicas that have "
                "taken more than 30s to be scheduled. This may be due to waiting for the cluster to "
                f"auto-scale or for a runtime environment to be installed. Resources required for each "
                f'replica: {{"CPU": {cpus}}}, total resources available: {{}}.'
            )
        return {
            "name": name,
            "status": "UPDATING" if updating else "HEALTHY",
            "status_trigger": "CONFIG_UPDATE_STARTED" if updating else "CONFIG_UPDATE_COMPLETED",
            "message": message,
            "deployment_config": {
                "name": name,
                "num_replicas": replicas,
                "user_config": spec.user_config if spec is not None else None,
            },
            "target_num_replicas": replicas,
            "required_resources": {"CPU": cpus},
            "replicas": [
                {"replica_id": f"{name}#{k}", "state": "STARTING" if updating else "RUNNING", "node_ip": self.address}
                for k in range(replicas)
            ],
        }


def _names(app: Application) -> list[str]:
    if app.deployments:
        return [dep.name for dep in app.deployments]
    return [app.import_path.replace(":", ".").rsplit(".", 1)[-1]]


def _gone(app: _App, now: float, delete_s: float) -> bool:
    return app.deleting_since is not None and now >= app.deleting_since + delete_s
