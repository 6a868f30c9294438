"""When a RayService pass looks again: an application of the cluster served to that is DEPLOY_FAILED or UNHEALTHY
is looked at within 10-15 s (Ray may recover on its own), not at the 72-108 s steady pace; all RUNNING is steady."""

from __future__ import annotations

import random

import pytest

from rayservice.controller.rayservice.pass_values import Observed, ServeState, Submitted
from rayservice.controller.rayservice.plan import pass_requeue_s
from rayservice.controller.rayservice.upgrade import ClusterPlan
from rayservice.controller.rayservice.validate import ServiceCheck
from rayservice.ray import compute_application_statuses
from tests.unit.controller.rayservice.samples import NOW, rayservice

CONFIG = {"applications": [{"name": "fruit_app", "import_path": "fruit:app", "route_prefix": "/fruit"}]}


def state(app_status: str) -> ServeState:
    answer = {"applications": {"fruit_app": {"status": app_status, "message": "", "deployments": {}}}}
    return ServeState("http://127.16.0.2:8265", answer, compute_application_statuses(answer, now=NOW))


def requeue(app_status: str, *, active: str | None, pending: str | None) -> float | None:
    plan = ClusterPlan(active=active, pending=pending)
    target = pending or active
    assert target is not None
    observed = Observed(rayservice(), ServiceCheck(CONFIG), "", {}, None, None, (), 0, ray={target: state(app_status)})
    return pass_requeue_s(observed, plan, target, Submitted.NOTHING, now=NOW, jitter=random.Random(7).random())


@pytest.mark.parametrize("app_status", ["DEPLOY_FAILED", "UNHEALTHY"])
@pytest.mark.parametrize(("active", "pending"), [(None, "p"), ("a", None)])
def test_a_failing_application_on_the_cluster_served_to_is_looked_at_within_10_to_15_s(
    app_status: str, active: str | None, pending: str | None
) -> None:
    delay = requeue(app_status, active=active, pending=pending)
    assert delay is not None and 10.0 <= delay <= 15.0


def test_all_running_stays_at_the_steady_pace_and_deploying_at_the_converging_pace() -> None:
    steady = requeue("RUNNING", active="a", pending=None)
    assert steady is not None and 72.0 <= steady <= 108.0
    assert requeue("DEPLOYING", active=None, pending="p") == 1.0
