"""The events a RayService status write records, decided from the status before and after it.

Guarantees:
1. Emitted after the write (a pass on a stale cache gets 409 and repeats none): ignored fields, Serve config
   warnings and the ``rolloutPolicy`` limit under ``upgradeStrategy.type: None`` once per generation; a
   validation failure per distinct message; a failed rollout once, when the write first records it.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rayservice.api.rayservice import CONDITION_READY
from rayservice.controller.objects import (
    RawObject,
    find_condition,
    generation_of,
    part,
    rayservice_spec,
    rayservice_status,
)
from rayservice.controller.rayservice.pass_values import StatusEvents
from rayservice.controller.rayservice.rollout import rollout_policy
from rayservice.controller.rayservice.status import REASON_VALIDATION_FAILED, rollout_failure_message
from rayservice.controller.rayservice.validate import ServiceCheck


def status_events(service: RawObject, status: Mapping[str, Any], check: ServiceCheck) -> StatusEvents:
    """The events a status write records, emitted after it (a pass on a stale cache gets 409 and repeats none):
    ignored fields and Serve config warnings once per generation, a validation failure per distinct message."""
    ignored = warnings = invalid = ""
    generation = generation_of(service)
    if generation is not None and generation != rayservice_status(service).get("observedGeneration"):
        if check.ignored:
            ignored = "Accepted but not acted on: " + ", ".join(f"spec.{field}" for field in check.ignored)
        warnings = "; ".join(str(warning) for warning in check.warnings)
    before = find_condition(rayservice_status(service).get("conditions"), CONDITION_READY) or {}
    after = find_condition(status.get("conditions"), CONDITION_READY) or {}
    if after.get("reason") == REASON_VALIDATION_FAILED and before.get("message") != after.get("message"):
        invalid = str(after.get("message", ""))
    return StatusEvents(ignored, warnings, invalid, _rollout_failed(service, status), _policy_limited(service))


def _rollout_failed(service: RawObject, status: Mapping[str, Any]) -> str:
    """A failure this write records for the first time, in words."""
    failed = status.get("failedRollout")
    if not isinstance(failed, Mapping) or failed == rayservice_status(service).get("failedRollout"):
        return ""
    return rollout_failure_message(failed)


def _policy_limited(service: RawObject) -> str:
    """Once per generation: under ``upgradeStrategy.type: None`` only the Serve part of ``rolloutPolicy`` applies."""
    generation = generation_of(service)
    if generation is None or generation == rayservice_status(service).get("observedGeneration"):
        return ""
    strategy = part(rayservice_spec(service).get("upgradeStrategy")).get("type")
    if rollout_policy(service) is None or strategy != "None":
        return ""
    return (
        "spec.rolloutPolicy applies to in-place Serve updates only: upgradeStrategy.type is None, so no pending "
        "cluster is ever made and there is no cluster upgrade to time or roll back"
    )
