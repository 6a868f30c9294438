"""SpecChecks: the spec check and cluster hash of each RayService generation, worked out once."""

from __future__ import annotations

from typing import Any

import pytest

from rayservice.controller.names import cluster_config_hash
from rayservice.controller.rayservice.checks import SpecChecks
from rayservice.controller.rayservice.validate import check_service
from tests.unit.controller.rayservice.samples import cluster_config, rayservice


def test_a_generation_is_checked_once_and_gives_what_check_service_gives() -> None:
    checks = SpecChecks()
    service = rayservice(generation=1)
    first = checks.check(service)
    assert first == check_service(service)
    assert checks.check(rayservice(generation=1)) is first
    assert checks.cluster_hash(service) == cluster_config_hash(service["spec"]["rayClusterConfig"])


def test_a_new_generation_is_checked_again() -> None:
    checks = SpecChecks()
    old = checks.check(rayservice(generation=1))
    new = checks.check(rayservice(generation=2, serveConfigV2="applications: [: bad"))
    assert old.ok and not new.ok
    assert checks.cluster_hash(rayservice(generation=3, config=cluster_config(image="ray:new"))) == cluster_config_hash(
        cluster_config(image="ray:new")
    )


@pytest.mark.parametrize("drop", ["uid", "generation"])
def test_an_object_without_uid_or_generation_is_checked_afresh_every_time(drop: str) -> None:
    checks = SpecChecks()
    service: dict[str, Any] = rayservice()
    del service["metadata"][drop]
    assert checks.check(service) == check_service(service)
    service["spec"]["serveConfigV2"] = "applications: [: bad"
    assert not checks.check(service).ok
    assert len(checks) == 0


def test_at_most_limit_entries_are_kept_and_forget_drops_one() -> None:
    checks = SpecChecks(limit=1)
    first, second = rayservice(), rayservice()
    second["metadata"]["uid"] = "other"
    checks.check(first)
    checks.check(second)
    assert len(checks) == 1
    checks.forget("other")
    assert len(checks) == 0
