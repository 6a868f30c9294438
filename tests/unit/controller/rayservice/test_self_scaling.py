"""A RayService whose cluster scales itself (the Ray autoscaler, or Serve's own replica autoscaling) is read
every 4-6 s while steady: Serve drains a proxy whose node lost its last replica, only Ray's answer shows it, and
the proxy stops 30 s later; any other steady RayService keeps the 72-108 s pace."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from rayservice.controller.rayservice import SCALING_REQUEUE_S, requeue_after_s
from rayservice.controller.rayservice.pass_values import Observed, ServeState, Submitted
from rayservice.controller.rayservice.plan import pass_requeue_s
from rayservice.controller.rayservice.self_scaling import is_self_scaling
from rayservice.controller.rayservice.upgrade import ClusterPlan
from rayservice.controller.rayservice.validate import ServiceCheck
from rayservice.ray import compute_application_statuses
from tests.unit.controller.rayservice.samples import NOW, cluster_config, raw_cluster, rayservice

DEPLOYMENT: dict[str, Any] = {"name": "SlowEcho", "ray_actor_options": {"num_cpus": 1}}


def config(**deployment: Any) -> dict[str, Any]:
    return {
        "applications": [
            {
                "name": "slow",
                "import_path": "slow:app",
                "route_prefix": "/",
                "deployments": [{**DEPLOYMENT, **deployment}],
            }
        ]
    }


def running() -> ServeState:
    answer = {"applications": {"slow": {"status": "RUNNING", "message": "", "deployments": {}}}}
    return ServeState("http://127.16.0.2:8265", answer, compute_application_statuses(answer, now=NOW))


def steady_requeue(serve: dict[str, Any], *, autoscaling: bool, seed: int = 7) -> float | None:
    extra = {"enableInTreeAutoscaling": True} if autoscaling else {}
    cluster = raw_cluster("a", config=cluster_config(**extra))
    observed = Observed(rayservice(), ServiceCheck(serve), "", {"a": cluster}, None, None, (), 0, ray={"a": running()})
    return pass_requeue_s(
        observed,
        ClusterPlan(active="a", pending=None),
        "a",
        Submitted.NOTHING,
        now=NOW,
        jitter=random.Random(seed).random(),
    )


class TestIsSelfScaling:
    def test_an_autoscaling_cluster_scales_itself(self) -> None:
        assert is_self_scaling(raw_cluster("a", config=cluster_config(enableInTreeAutoscaling=True)), config())

    def test_a_deployment_with_an_autoscaling_config_or_auto_replicas_scales_itself(self) -> None:
        cluster = raw_cluster("a")
        assert is_self_scaling(cluster, config(autoscaling_config={"min_replicas": 1, "max_replicas": 3}))
        assert is_self_scaling(None, config(num_replicas="auto"))

    def test_fixed_replicas_on_a_fixed_cluster_do_not(self) -> None:
        assert not is_self_scaling(raw_cluster("a"), config(num_replicas=3))
        assert not is_self_scaling(raw_cluster("a", config=cluster_config(enableInTreeAutoscaling=False)), config())

    def test_missing_or_malformed_parts_count_as_not_scaling(self) -> None:
        assert not is_self_scaling(None, None)
        assert not is_self_scaling(None, {"applications": "x"})
        assert not is_self_scaling(None, {"applications": [{"deployments": [None, 3, {"autoscaling_config": None}]}]})


class TestScalingPace:
    @pytest.mark.parametrize(
        ("serve", "autoscaling"),
        [(config(), True), (config(autoscaling_config={"min_replicas": 1, "max_replicas": 3}), False)],
    )
    def test_a_steady_self_scaling_rayservice_is_read_every_4_to_6_s(
        self, serve: dict[str, Any], autoscaling: bool
    ) -> None:
        delays = [steady_requeue(serve, autoscaling=autoscaling, seed=seed) for seed in range(20)]
        assert all(d is not None and 4.0 <= d <= 6.0 for d in delays), delays

    def test_a_steady_fixed_rayservice_keeps_the_steady_pace(self) -> None:
        delay = steady_requeue(config(num_replicas=1), autoscaling=False)
        assert delay is not None and 72.0 <= delay <= 108.0

    def test_the_scaling_pace_is_well_inside_serves_30_s_proxy_draining_period(self) -> None:
        delays = [requeue_after_s(valid=True, pace="scaling", jitter=j / 10) for j in range(11)]
        assert max(d for d in delays if d is not None) <= 6.0 + 1e-9 and 1.2 * SCALING_REQUEUE_S <= 30.0 / 4

    def test_dashboard_failures_still_back_off_when_scaling(self) -> None:
        assert requeue_after_s(valid=True, pace="scaling", ray_failures=9) == requeue_after_s(
            valid=True, pace="steady", ray_failures=9
        )


def test_the_config_is_not_changed() -> None:
    serve = config(autoscaling_config={"min_replicas": 1})
    before = copy.deepcopy(serve)
    is_self_scaling(None, serve)
    assert serve == before
