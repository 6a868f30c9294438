"""Reading Ray's Serve answer: application and deployment statuses, and whether the config is applied.

Guarantees:
1. ``compute_application_statuses`` never raises on a malformed ``GET /api/serve/applications/`` answer:
   parts that are missing or of the wrong type read as absent; statuses are Ray's strings, unchanged.
2. ``health_last_update_time`` is when the status last changed: carried over from ``previous`` (the stored
   ``applicationStatuses``) while an app's or deployment's status stays the same, ``now`` when it changes
   or first appears. A steady cluster therefore yields an identical status (no status write), and "unhealthy
   since" is that time.
3. ``as_status_field`` gives DESIGN section 3's ``applicationStatuses`` shape, timestamps as RFC 3339 UTC
   seconds (``2025-01-01T00:00:00Z``), the form the API server keeps; reading it back as ``previous`` is
   lossless.
4. ``all_running`` is true when there is at least one application (every one of ``names``, when given) and
   each is RUNNING. ``is_converging`` is true while Ray is still moving: an app NOT_STARTED, DEPLOYING or
   DELETING, or a deployment UPDATING, UPSCALING or DOWNSCALING.
5. ``serve_config_differs`` is true when a desired application is missing, being deleted, or has no
   ``deployed_app_config``; when Ray runs an application the config does not name (one being DELETED is
   already on its way out and does not count); or when a field the user set differs from Ray's echo.
   Only fields the user set are compared, recursively (Ray's echo may add defaults; a null equals an
   absent field; 1 equals 1.0; true never equals 1), except ``user_config`` and ``args``, which are
   compared whole: Ray passes them through unchanged, and a key removed from them must reach the replicas.
   Deployments are matched by name. ``http_options``, ``proxy_location`` and the other cluster-wide fields
   are not compared: Ray 2.60 silently ignores changes to them on a running Serve, so re-sending them
   would never converge.

Not guaranteed: that removing a whole field (other than inside ``user_config``/``args``) is noticed.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rayservice.api import format_kube_time
from rayservice.api.serve import DEFAULT_APP_NAME

RUNNING: Final = "RUNNING"
DELETING: Final = "DELETING"
_CONVERGING_APP: Final = frozenset({"NOT_STARTED", "DEPLOYING", DELETING})
_CONVERGING_DEPLOYMENT: Final = frozenset({"UPDATING", "UPSCALING", "DOWNSCALING"})
_COMPARED_WHOLE: Final = frozenset({"user_config", "args"})
_ABSENT: Final = object()


@dataclass(frozen=True, slots=True)
class ServeDeploymentStatus:
    """One deployment as Ray reports it, and since when its status holds."""

    status: str
    message: str
    health_last_update_time: datetime


@dataclass(frozen=True, slots=True)
class ServeAppStatus:
    """One application as Ray reports it, its deployments by name, and since when its status holds."""

    status: str
    message: str
    health_last_update_time: datetime
    deployments: Mapping[str, ServeDeploymentStatus]


def observed_applications(answer: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The ``applications`` of a GET answer, by name; ``{}`` before any PUT or when malformed."""
    apps = answer.get("applications")
    if not isinstance(apps, Mapping):
        return {}
    return {str(name): app for name, app in apps.items() if isinstance(app, Mapping)}


def compute_application_statuses(
    answer: Mapping[str, Any], *, now: datetime, previous: Mapping[str, Any] | None = None
) -> dict[str, ServeAppStatus]:
    """Per-application status values from a GET answer; ``previous`` is the stored ``applicationStatuses``."""
    now = _whole_seconds(now)
    before = previous if isinstance(previous, Mapping) else {}
    statuses: dict[str, ServeAppStatus] = {}
    for name, app in sorted(observed_applications(answer).items()):
        old_app = _mapping(before.get(name))
        old_deployments = _mapping(old_app.get("serveDeploymentStatuses"))
        deployments: dict[str, ServeDeploymentStatus] = {}
        for dep_name, dep in sorted(_mapping(app.get("deployments")).items()):
            if isinstance(dep, Mapping):
                status = _text(dep.get("status"))
                since = _since(_mapping(old_deployments.get(dep_name)), status, now)
                deployments[str(dep_name)] = ServeDeploymentStatus(status, _text(dep.get("message")), since)
        status = _text(app.get("status"))
        statuses[name] = ServeAppStatus(status, _text(app.get("message")), _since(old_app, status, now), deployments)
    return statuses


def as_status_field(apps: Mapping[str, ServeAppStatus]) -> dict[str, Any]:
    """The RayService status's ``applicationStatuses`` value."""
    return {
        name: {
            "status": app.status,
            "message": app.message,
            "healthLastUpdateTime": format_kube_time(app.health_last_update_time),
            "serveDeploymentStatuses": {
                dep_name: {
                    "status": dep.status,
                    "message": dep.message,
                    "healthLastUpdateTime": format_kube_time(dep.health_last_update_time),
                }
                for dep_name, dep in app.deployments.items()
            },
        }
        for name, app in apps.items()
    }


def all_running(apps: Mapping[str, ServeAppStatus], *, names: Collection[str] | None = None) -> bool:
    """Every application (every one of ``names``, when given) is present and RUNNING; none means false."""
    wanted = apps.keys() if names is None else names
    return bool(wanted) and all(name in apps and apps[name].status == RUNNING for name in wanted)


def is_converging(apps: Mapping[str, ServeAppStatus]) -> bool:
    """Ray is still moving some application or deployment towards its config."""
    return any(
        app.status in _CONVERGING_APP or any(dep.status in _CONVERGING_DEPLOYMENT for dep in app.deployments.values())
        for app in apps.values()
    )


def serve_config_differs(desired: Mapping[str, Any], observed_apps: Mapping[str, Any]) -> bool:
    """Whether ``desired`` (a multi-application config) must be PUT for Ray to run it (guarantee 5)."""
    wanted = {_app_name(app): app for app in _list(desired.get("applications")) if isinstance(app, Mapping)}
    for name, app in observed_apps.items():
        if name not in wanted and not (isinstance(app, Mapping) and app.get("status") == DELETING):
            return True
    for name, want in wanted.items():
        app = observed_apps.get(name)
        if not isinstance(app, Mapping) or app.get("status") == DELETING:
            return True
        echo = app.get("deployed_app_config")
        if not isinstance(echo, Mapping) or not _app_applied(want, echo):
            return True
    return False


def _app_applied(want: Mapping[str, Any], echo: Mapping[str, Any]) -> bool:
    for key, value in want.items():
        got = echo.get(key, _ABSENT)
        if key == "deployments":
            if not _deployments_applied(value, got):
                return False
        elif not (_same(value, got) if key in _COMPARED_WHOLE else _covers(value, got)):
            return False
    return True


def _deployments_applied(want: Any, got: Any) -> bool:
    echoed = {dep.get("name"): dep for dep in _list(got) if isinstance(dep, Mapping)}
    for dep in _list(want):
        if not isinstance(dep, Mapping):
            continue
        echo = echoed.get(dep.get("name"))
        if echo is None:
            return False
        for key, value in dep.items():
            got_value = echo.get(key, _ABSENT)
            if not (_same(value, got_value) if key in _COMPARED_WHOLE else _covers(value, got_value)):
                return False
    return True


def _covers(want: Any, got: Any) -> bool:
    """``got`` has every field ``want`` sets, with the same value; ``got`` may have more."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(_covers(v, got.get(k, _ABSENT)) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_covers, want, got))
    return _same(want, got)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: null equals absent, numbers by value, booleans only to booleans."""
    if a is None or a is _ABSENT or b is None or b is _ABSENT:
        return (a is None or a is _ABSENT) and (b is None or b is _ABSENT)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping)
            and {k for k, v in a.items() if v is not None} == {k for k, v in b.items() if v is not None}
            and all(_same(v, b.get(k, _ABSENT)) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _app_name(app: Mapping[str, Any]) -> str:
    name = app.get("name", DEFAULT_APP_NAME)
    return name if isinstance(name, str) else DEFAULT_APP_NAME


def _since(old: Mapping[str, Any], status: str, now: datetime) -> datetime:
    if old.get("status") == status:
        stamp = old.get("healthLastUpdateTime")
        if isinstance(stamp, str):
            try:
                return _whole_seconds(datetime.fromisoformat(stamp))
            except ValueError:
                pass
    return now


def _whole_seconds(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
