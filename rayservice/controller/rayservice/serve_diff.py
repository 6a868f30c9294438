"""What to PUT to a cluster's Serve REST API, and when; and whether a cluster serves what the RayService asks.

Guarantees:
1. ``decide_serve`` asks for a PUT of the whole config only when Ray's answer is known and
   ``serve_config_differs`` (an application is missing, being deleted, or runs another config), never with
   no config to deploy.
2. It never re-PUTs the config last PUT to the same head (same address, same ``config_digest``) while Ray is
   still converging (an application NOT_STARTED, DEPLOYING or DELETING, or a deployment UPDATING): Ray is
   applying it. Once Ray stopped moving and still differs, the same config is PUT again at most every
   ``REPUT_AFTER_S``. When every desired application is missing (a head restarted with the same address, or
   Serve lost its state) the same config is PUT again once ``MISSING_GRACE_S`` passed since the last PUT.
3. ``config_digest`` is the same for two configs that differ only in key order.
4. ``apps_missing`` is true when an application the config declares is absent from Ray's answer.
   ``is_serving`` is true when there is no config to deploy, or when Ray runs exactly the desired config
   (``serve_config_differs`` is false) and every desired application is RUNNING.

Pure: time comes in as an argument (monotonic seconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from rayservice.api.serve import DEFAULT_APP_NAME
from rayservice.ray import ServeAppStatus, all_running, is_converging, serve_config_differs

REPUT_AFTER_S: Final = 60.0
MISSING_GRACE_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class LastPut:
    """The config last PUT to a cluster: where, its digest, and when (monotonic seconds)."""

    address: str
    digest: str
    at_s: float


@dataclass(frozen=True, slots=True)
class ServeDecision:
    """Whether to PUT, and why (for logs and events)."""

    put: bool
    reason: str


def config_digest(config: Mapping[str, Any]) -> str:
    """Guarantee 3."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def desired_app_names(config: Mapping[str, Any] | None) -> list[str]:
    """The names of the applications ``config`` declares (``default`` for an unnamed one)."""
    apps = config.get("applications") if config is not None else None
    names: list[str] = []
    for app in apps if isinstance(apps, list) else []:
        if isinstance(app, Mapping):
            name = app.get("name", DEFAULT_APP_NAME)
            names.append(name if isinstance(name, str) else DEFAULT_APP_NAME)
    return names


def decide_serve(
    config: Mapping[str, Any] | None,
    observed_apps: Mapping[str, Any] | None,
    statuses: Mapping[str, ServeAppStatus],
    *,
    address: str,
    last: LastPut | None,
    now_s: float,
) -> ServeDecision:
    """Guarantees 1-2; ``observed_apps`` is ``None`` when Ray's answer is unknown."""
    if config is None:
        return ServeDecision(False, "no Serve config to deploy")
    if observed_apps is None:
        return ServeDecision(False, "Ray's Serve state is unknown")
    if not serve_config_differs(config, observed_apps):
        return ServeDecision(False, "Ray runs the desired config")
    same = last is not None and last.address == address and last.digest == config_digest(config)
    missing = not any(name in observed_apps for name in desired_app_names(config))
    if not same or last is None:
        return ServeDecision(True, "applications missing" if missing else "config differs")
    since_s = now_s - last.at_s
    if missing:
        if since_s >= MISSING_GRACE_S:
            return ServeDecision(True, "applications missing after the last PUT (head restarted?)")
        return ServeDecision(False, "the config was just PUT")
    if is_converging(statuses):
        return ServeDecision(False, "Ray is applying the config last PUT")
    if since_s >= REPUT_AFTER_S:
        return ServeDecision(True, "Ray still runs another config after the last PUT")
    return ServeDecision(False, "the config was PUT recently")


def apps_missing(config: Mapping[str, Any] | None, observed_apps: Mapping[str, Any]) -> bool:
    """Some application the config declares is not in Ray's answer at all (Serve lost it, or never had it)."""
    return any(name not in observed_apps for name in desired_app_names(config))


def is_serving(
    config: Mapping[str, Any] | None, observed_apps: Mapping[str, Any], statuses: Mapping[str, ServeAppStatus]
) -> bool:
    """Guarantee 4."""
    if config is None:
        return True
    return not serve_config_differs(config, observed_apps) and all_running(statuses, names=desired_app_names(config))
