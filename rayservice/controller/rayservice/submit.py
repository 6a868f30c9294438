"""Submitting the Serve config to the cluster that should run it: one PUT, only when ``decide_serve`` says so.

Guarantees:
1. At most one ``PUT /api/serve/applications/`` per pass, to the target cluster's head as it was just read,
   and only when ``serve_diff.decide_serve`` asks for it; bounded by ``deps.dashboard_timeout_s``.
2. Success is remembered in ``deps.memory`` (address, config digest, time) and reported as a Normal
   ``SubmittedServeConfig`` event; failure is counted in ``deps.memory`` (the pass's backoff) and reported as a
   Warning ``FailedToSubmitServeConfig`` event naming the cluster and Ray's answer. Nothing is raised.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from typing import Any, Final

import structlog

from rayservice.api import ObjectKey
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import RawObject, namespace_of
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.observe import ServeState
from rayservice.controller.rayservice.serve_diff import LastPut, config_digest, decide_serve
from rayservice.ray import DashboardError

REASON_SUBMITTED: Final = "SubmittedServeConfig"
REASON_SUBMIT_FAILED: Final = "FailedToSubmitServeConfig"

_log = structlog.get_logger(__name__)


class Submitted(enum.Enum):
    """What the submission step did."""

    NOTHING = "nothing"
    PUT = "put"
    FAILED = "failed"


async def submit_serve_config(
    service: RawObject,
    target: str | None,
    ray: Mapping[str, ServeState],
    config: Mapping[str, Any] | None,
    deps: Deps,
) -> Submitted:
    """Guarantees 1-2."""
    read = ray.get(target) if target is not None else None
    if target is None or read is None or read.answer is None or config is None:
        return Submitted.NOTHING
    key = ObjectKey(namespace_of(service), target)
    decision = decide_serve(
        config,
        read.apps,
        read.statuses,
        address=read.address,
        last=deps.memory.last_put(key),
        now_s=deps.clock.monotonic(),
    )
    if not decision.put:
        return Submitted.NOTHING
    client = deps.dashboard_factory(read.address)
    try:
        async with asyncio.timeout(deps.dashboard_timeout_s):
            await client.put_config(config)
    except (DashboardError, TimeoutError) as exc:
        failures = deps.memory.failed(key, deps.clock.now())
        error = str(exc) or f"no answer within {deps.dashboard_timeout_s:g} s"
        _log.warning("serve_config_rejected", cluster=target, failures=failures, error=error)
        message = f"Failed to submit the Serve config to RayCluster {target}: {error}"
        await deps.events.emit(service, WARNING, REASON_SUBMIT_FAILED, message)
        return Submitted.FAILED
    deps.memory.put_done(key, LastPut(read.address, config_digest(config), deps.clock.monotonic()))
    _log.info("serve_config_submitted", cluster=target, why=decision.reason)
    message = f"Submitted the Serve config to RayCluster {target} ({decision.reason})"
    await deps.events.emit(service, NORMAL, REASON_SUBMITTED, message)
    return Submitted.PUT
