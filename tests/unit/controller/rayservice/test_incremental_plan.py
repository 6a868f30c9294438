"""Whole passes of a ``NewClusterWithIncrementalUpgrade`` RayService decided without I/O: ``plan`` from ``Observed``
values to the Serve PUT (with ``target_capacity``), the HTTPRoute's weights, the switch, the cluster plan and the
status, for each step of an upgrade and of a rollback."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

from rayservice.api.common import format_kube_time
from rayservice.controller.rayservice import Observed, PassPlan, plan
from tests.unit.controller.rayservice.samples import NOW, cluster_config, raw_cluster, rayservice, recorded
from tests.unit.controller.rayservice.test_plan import answer, observed

OLD_CONFIG = cluster_config(image="rayproject/ray:2.59.0")
OPTIONS = {"gatewayClassName": "gw", "stepSizePercent": 25, "intervalSeconds": 10}


def service(status: dict[str, Any] | None = None, *, config: dict[str, Any] | None = None,
            surge: int = 100) -> dict[str, Any]:
    body = rayservice(status=status, config=config, upgradeStrategy={
        "type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": {**OPTIONS, "maxSurgePercent": surge}})
    body["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = True
    return body


def cluster(name: str, *, old: bool = False) -> dict[str, Any]:
    config = dict(OLD_CONFIG if old else cluster_config())
    config["enableInTreeAutoscaling"] = True
    return raw_cluster(name, config=config)


def ready(obj: dict[str, Any], conditions: tuple[str, ...]) -> dict[str, Any]:
    return {**obj, "status": {"conditions": [{"type": c, "status": "True"} for c in conditions]}}


def gateway_objects(body: dict[str, Any], weights: dict[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    name = body["metadata"]["name"]
    gateway = ready({"metadata": {"name": f"{name}-gateway"}}, ("Accepted", "Programmed"))
    refs = [{"name": f"{cluster}-serve-svc", "weight": weight} for cluster, weight in weights.items()]
    route = {"metadata": {"name": f"{name}-httproute"}, "spec": {"rules": [{"backendRefs": refs}]},
             "status": {"parents": [{"parentRef": {"name": f"{name}-gateway"}, "conditions": [
                 {"type": "Accepted", "status": "True"}, {"type": "ResolvedRefs", "status": "True"}]}]}}
    return gateway, route


def with_capacity(body: dict[str, Any], capacity: int | None) -> dict[str, Any]:
    return {**body, "target_capacity": capacity}


def upgrading(*, a_cap: int = 100, p_cap: int | None = 100, a_w: int = 100, p_w: int = 0,
              migrated: bool = False, old_desired: bool = False, pending_apps: bool = True) -> Observed:
    """An upgrade from ``a`` (old spec) to ``p`` (the desired one), or back when ``old_desired``."""
    at = format_kube_time(NOW - timedelta(seconds=30)) if migrated else None
    status = recorded(active="a", pending="p")
    status["activeServiceStatus"].update(targetCapacity=a_cap, trafficRoutedPercent=a_w)
    status["pendingServiceStatus"].update(trafficRoutedPercent=p_w, **({"targetCapacity": p_cap} if p_cap else {}))
    if at:
        status["activeServiceStatus"]["lastTrafficMigratedTime"] = at
        status["pendingServiceStatus"]["lastTrafficMigratedTime"] = at
    body = service(status, config=OLD_CONFIG if old_desired else None)
    new = service()
    a_answer = with_capacity(answer(body if old_desired else service(config=OLD_CONFIG), deployed=True), a_cap)
    p_answer = with_capacity(answer(new, deployed=True), p_cap) if pending_apps else {"applications": {}}
    seen = observed(body, [cluster("a", old=True), cluster("p")], selected=("a",), active="a", pending="p",
                    ray={"a": a_answer, "p": p_answer})
    gateway, route = gateway_objects(body, {"a": a_w, "p": p_w})
    return dataclasses.replace(seen, gateway=gateway, route=route)


def decided(seen: Observed) -> PassPlan:
    return plan(seen, NOW, random.Random(1))


def route_weights(result: PassPlan) -> dict[str, int]:
    assert result.route is not None
    return {ref["name"]: ref["weight"] for ref in result.route["spec"]["rules"][0]["backendRefs"]}


def test_the_first_cluster_gets_the_config_at_full_capacity_and_a_gateway_but_no_route_yet() -> None:
    body = service(recorded(pending="p"))
    seen = observed(body, [cluster("p")], pending="p", ray={"p": {"applications": {}}})
    result = decided(seen)
    assert result.serve_put is not None and result.serve_put.config["target_capacity"] == 100
    assert result.gateway is not None and result.gateway["spec"]["gatewayClassName"] == "gw"
    assert result.route is None


def test_a_steady_active_cluster_has_the_whole_route_and_full_capacity_in_status() -> None:
    body = service(recorded(active="a"))
    seen = observed(body, [cluster("a")], selected=("a",), active="a",
                    ray={"a": with_capacity(answer(body, deployed=True), 100)})
    result = decided(seen)
    assert route_weights(result) == {"a-serve-svc": 100}
    assert result.serve_put is None and result.switch is None
    active = result.status["activeServiceStatus"]
    assert (active["targetCapacity"], active["trafficRoutedPercent"]) == (100, 100)
    assert [svc["metadata"]["name"] for svc in result.cluster_services] == ["a-serve-svc"]


def test_a_new_pending_cluster_gets_the_desired_config_at_its_first_capacity_step() -> None:
    result = decided(upgrading(p_cap=None, pending_apps=False))
    assert result.serve_put is not None and result.serve_put.cluster == "p"
    assert result.serve_put.config["target_capacity"] == 100  # 0 + maxSurgePercent, the Gateway being ready
    assert route_weights(result) == {"a-serve-svc": 100, "p-serve-svc": 0}


def test_a_new_pending_cluster_starts_at_capacity_0_while_the_gateway_is_not_ready() -> None:
    seen = upgrading(p_cap=None, pending_apps=False)
    seen = dataclasses.replace(seen, gateway=None)
    result = decided(seen)
    assert result.serve_put is not None and result.serve_put.config["target_capacity"] == 0
    assert "Gateway fruit-gateway" in next(
        c["message"] for c in result.status["conditions"] if c["type"] == "UpgradeInProgress")


def test_traffic_moves_one_step_to_a_serving_pending_cluster_and_nothing_switches() -> None:
    result = decided(upgrading())
    assert route_weights(result) == {"a-serve-svc": 75, "p-serve-svc": 25}
    assert result.switch is None and result.serve_put is None
    pending = result.status["pendingServiceStatus"]
    assert (pending["trafficRoutedPercent"], pending["lastTrafficMigratedTime"]) == (25, format_kube_time(NOW))
    assert result.requeue_after_s is not None and result.requeue_after_s <= 2.0


def test_traffic_waits_for_the_interval() -> None:
    seen = upgrading(a_w=75, p_w=25)
    early = dataclasses.replace(seen, service={**seen.service, "status": {
        **seen.service["status"], "pendingServiceStatus": {**seen.service["status"]["pendingServiceStatus"],
                                                          "lastTrafficMigratedTime": format_kube_time(NOW)}}})
    result = decided(early)
    assert route_weights(result) == {"a-serve-svc": 75, "p-serve-svc": 25}


def test_with_all_traffic_on_the_pending_cluster_the_active_one_is_scaled_to_0_with_the_config_it_runs() -> None:
    result = decided(upgrading(a_w=0, p_w=100, migrated=True))
    put = result.serve_put
    assert put is not None and put.cluster == "a" and put.config["target_capacity"] == 0
    assert put.config["applications"][0]["import_path"] == "fruit.deployment_graph"
    assert result.switch is None


def test_the_switch_comes_when_the_active_cluster_is_at_capacity_0_and_the_pending_one_has_all_traffic() -> None:
    result = decided(upgrading(a_cap=0, a_w=0, p_w=100, migrated=True))
    assert result.switch is not None and (result.switch.old, result.switch.new) == ("a", "p")
    assert route_weights(result) == {"p-serve-svc": 100}
    active = result.status["activeServiceStatus"]
    assert (active["rayClusterName"], active["targetCapacity"], active["trafficRoutedPercent"]) == ("p", 100, 100)
    assert "pendingServiceStatus" not in result.status or not result.status["pendingServiceStatus"].get(
        "rayClusterName")


def test_a_reverted_spec_keeps_the_pending_cluster_sends_it_no_config_and_moves_traffic_back() -> None:
    result = decided(upgrading(a_w=50, p_w=50, migrated=True, old_desired=True))
    assert result.clusters.pending == "p" and result.clusters.drop == ()
    assert route_weights(result) == {"a-serve-svc": 75, "p-serve-svc": 25}
    assert result.serve_put is None  # the desired (old) config never goes to the pending cluster
    rollback = next(c for c in result.status["conditions"] if c["type"] == "RollbackInProgress")
    assert (rollback["status"], rollback["reason"]) == ("True", "DesiredClusterSpecChanged")
    assert result.switch is None


def test_a_rollback_scales_the_pending_cluster_down_once_traffic_is_back() -> None:
    result = decided(upgrading(a_w=100, p_w=0, migrated=True, old_desired=True))
    put = result.serve_put
    assert put is not None and put.cluster == "p" and put.config["target_capacity"] == 0
    assert result.clusters.pending == "p"


def test_a_finished_rollback_drops_the_pending_cluster_and_clears_the_condition() -> None:
    result = decided(upgrading(p_cap=0, a_w=100, p_w=0, migrated=True, old_desired=True))
    assert result.clusters.drop == ("p",) and result.clusters.pending is None
    assert route_weights(result) == {"a-serve-svc": 100}
    assert not [c for c in result.status["conditions"] if c["type"] == "RollbackInProgress"]


def test_a_third_spec_mid_upgrade_rolls_back_first_and_makes_no_new_cluster_meanwhile() -> None:
    seen = upgrading(a_w=50, p_w=50, migrated=True)
    third = service(seen.service["status"], config=cluster_config(image="rayproject/ray:2.61.0"))
    seen = dataclasses.replace(seen, service=third, desired_hash=observed(third, []).desired_hash)
    result = decided(seen)
    assert result.clusters.create is None and result.clusters.pending == "p" and result.clusters.drop == ()
    assert route_weights(result) == {"a-serve-svc": 75, "p-serve-svc": 25}
