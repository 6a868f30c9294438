"""The plan's Serve PUT and a new cluster's head (plan guarantee 7): no PUT before the head pod is Ready, and a
PUT right after it turned Ready marked as Serve still starting (its transient failure is then Normal)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

from rayservice.controller.names import cluster_config_hash
from rayservice.controller.rayservice import Observed, ServeState, check_service, plan
from rayservice.controller.rayservice.serve_start import SERVE_START_GRACE_S
from tests.unit.controller.rayservice.samples import NOW, raw_cluster, rayservice, recorded


def head(*, ready: bool, ready_ago_s: float = 5.0) -> dict[str, Any]:
    stamp = (NOW - timedelta(seconds=ready_ago_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"name": "p-head", "labels": {"ray.io/node-type": "head", "ray.io/cluster": "p"}},
            "status": {"phase": "Running", "podIP": "10.0.0.9",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": stamp}]}}


def new_cluster(pods: list[dict[str, Any]]) -> Observed:
    """The first cluster ``p`` of a RayService, its dashboard answering with no Serve application yet."""
    service = rayservice(status=recorded(pending="p"))
    return Observed(
        service,
        check_service(service),
        cluster_config_hash(service["spec"]["rayClusterConfig"]),
        {"p": raw_cluster("p")},
        None,
        None,
        (),
        0,
        pending="p",
        ray={"p": ServeState("http://10.0.0.9:8265", {"applications": {}})},
        pods={"p": pods},
    )


def test_no_serve_put_goes_to_a_cluster_whose_head_pod_is_not_ready_even_if_its_dashboard_answered() -> None:
    assert plan(new_cluster([head(ready=False)]), NOW, random.Random(0)).serve_put is None


def test_a_put_right_after_the_head_turned_ready_is_marked_serve_starting() -> None:
    put = plan(new_cluster([head(ready=True, ready_ago_s=3)]), NOW, random.Random(0)).serve_put
    assert put is not None and put.cluster == "p" and put.serve_starting


def test_a_put_once_the_head_has_been_ready_for_the_grace_period_is_not() -> None:
    put = plan(new_cluster([head(ready=True, ready_ago_s=SERVE_START_GRACE_S)]), NOW, random.Random(0)).serve_put
    assert put is not None and not put.serve_starting


def test_without_pods_in_the_cache_the_dashboards_answer_is_enough_for_a_put_that_fails_loudly() -> None:
    put = plan(replace(new_cluster([]), pods={}), NOW, random.Random(0)).serve_put
    assert put is not None and not put.serve_starting
