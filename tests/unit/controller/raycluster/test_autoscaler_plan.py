"""The RayCluster controller follows the autoscaler: its replicas, its workersToDelete (exactly those pods, then
the list cleared), the min/max clamps, KubeRay's autoscaling checks; and a RayService leaves the autoscaler's
fields of its cluster alone."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from rayservice.controller.raycluster import (
    ClusterObserved,
    desired_head_pod,
    desired_worker_counts,
    desired_worker_pod,
    plan_pass,
    plan_pods,
    validate_cluster,
)
from rayservice.controller.rayservice import scale_patch
from rayservice.controller.rayservice.desired import desired_cluster
from tests.unit.controller.raycluster.samples import cluster, container, group, observed, template


def autoscaled(groups: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    body = cluster(enableInTreeAutoscaling=True, groups=groups or [group(replicas=3, min_replicas=0)], **spec)
    body["metadata"]["resourceVersion"] = "42"
    return body


def running(body: dict[str, Any], workers: list[str], **state: Any) -> list[dict[str, Any]]:
    """The head and the named workers of group ``small``, as the cache shows them."""
    pods = [observed(desired_head_pod(body, name="demo-head-aaaaa"))]
    return pods + [observed(desired_worker_pod(body, "small", name=name), **state) for name in workers]


def workers(*suffixes: str) -> list[str]:
    return [f"demo-worker-small-{suffix}" for suffix in suffixes]


def plan(body: dict[str, Any], pods: list[dict[str, Any]]) -> Any:
    cached: list[Mapping[str, Any]] = list(pods)
    return plan_pass(ClusterObserved(body, cached), rng=random.Random(0))


def set_group(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body["spec"]["workerGroupSpecs"][0].update(fields)
    return body


class TestReplicas:
    def test_the_replicas_the_autoscaler_writes_are_created(self) -> None:
        body = set_group(autoscaled(), replicas=5, maxReplicas=5)

        result = plan(body, running(body, workers("aaaaa", "bbbbb", "ccccc")))

        assert len(result.pods.create) == 2
        assert result.pods.delete == []

    def test_replicas_above_max_replicas_are_clamped(self) -> None:
        body = set_group(autoscaled(), replicas=9, maxReplicas=4)

        assert desired_worker_counts(body) == {"small": 4}
        assert len(plan(body, running(body, [])).pods.create) == 4  # the head is running

    def test_replicas_below_min_replicas_are_raised(self) -> None:
        body = set_group(autoscaled(), replicas=0, minReplicas=2)

        assert desired_worker_counts(body) == {"small": 2}


class TestWorkersToDelete:
    def test_exactly_the_named_pods_are_deleted(self) -> None:
        body = set_group(autoscaled(), replicas=1, scaleStrategy={"workersToDelete": workers("bbbbb", "ccccc")})

        result = plan(body, running(body, workers("aaaaa", "bbbbb", "ccccc")))

        assert result.pods.delete == workers("bbbbb", "ccccc")
        assert result.pods.create == []
        assert result.clear_workers_to_delete is None  # not before the cache shows them gone

    def test_the_autoscaler_alone_picks_the_pods_that_leave(self) -> None:
        body = set_group(autoscaled(), replicas=1)

        result = plan(body, running(body, workers("aaaaa", "bbbbb", "ccccc")))

        assert result.pods.delete == []
        assert result.pods.create == []

    def test_without_autoscaling_the_operator_removes_the_surplus_itself(self) -> None:
        body = set_group(cluster(groups=[group(replicas=3, min_replicas=0)]), replicas=1)

        result = plan(body, running(body, workers("aaaaa", "bbbbb", "ccccc")))

        assert len(result.pods.delete) == 2

    def test_the_list_is_cleared_once_the_named_pods_are_gone(self) -> None:
        body = set_group(autoscaled(), replicas=1, scaleStrategy={"workersToDelete": workers("bbbbb")})
        pods = [
            *running(body, workers("aaaaa")),
            observed(desired_worker_pod(body, "small", name=workers("bbbbb")[0]), deleting=True),
        ]

        result = plan(body, pods)

        assert result.pods.delete == []
        groups = body["spec"]["workerGroupSpecs"]
        assert result.clear_workers_to_delete == {
            "metadata": {"resourceVersion": "42"},
            "spec": {"workerGroupSpecs": [{**groups[0], "scaleStrategy": {"workersToDelete": []}}]},
        }

    def test_only_the_finished_groups_lists_are_cleared(self) -> None:
        groups = [
            group("small", replicas=1, min_replicas=0, scaleStrategy={"workersToDelete": workers("gone1")}),
            group("big", replicas=1, min_replicas=0, scaleStrategy={"workersToDelete": ["demo-worker-big-alive"]}),
        ]
        body = autoscaled(groups=groups)
        pods = [
            *running(body, workers("aaaaa")),
            observed(desired_worker_pod(body, "big", name="demo-worker-big-alive")),
        ]

        result = plan(body, pods)

        assert result.pods.delete == ["demo-worker-big-alive"]
        cleared = result.clear_workers_to_delete["spec"]["workerGroupSpecs"]
        assert cleared[0]["scaleStrategy"] == {"workersToDelete": []}
        assert cleared[1] == groups[1]

    def test_a_converged_cluster_plans_no_clear(self) -> None:
        body = set_group(autoscaled(), replicas=1, scaleStrategy={"workersToDelete": []})

        assert plan(body, running(body, workers("aaaaa"))).clear_workers_to_delete is None

    def test_without_autoscaling_the_list_is_the_users_and_stays(self) -> None:
        body = cluster(groups=[group(replicas=1, min_replicas=0, scaleStrategy={"workersToDelete": workers("b")})])

        result = plan(body, running(body, workers("aaaaa", "bbbbb")))

        assert result.clear_workers_to_delete is None
        assert plan(body, running(body, workers("aaaaa"))).clear_workers_to_delete is None

    def test_pods_of_another_group_named_in_the_list_stay(self) -> None:
        groups = [
            group("small", replicas=1, min_replicas=0, scaleStrategy={"workersToDelete": ["demo-worker-big-zzzzz"]}),
            group("big", replicas=1, min_replicas=0),
        ]
        body = autoscaled(groups=groups)
        pods = [
            *running(body, workers("aaaaa")),
            observed(desired_worker_pod(body, "big", name="demo-worker-big-zzzzz")),
        ]

        assert plan_pods(body, pods, in_flight=set(), rng=random.Random(0)).delete == []


class TestRbacInThePlan:
    def test_an_autoscaling_cluster_plans_its_autoscalers_rbac(self) -> None:
        body = autoscaled()

        assert [o.kind for o in plan(body, running(body, [])).rbac] == ["ServiceAccount", "Role", "RoleBinding"]

    def test_an_invalid_autoscaling_cluster_plans_nothing(self) -> None:
        body = autoscaled(autoscalerOptions={"version": "v3"})

        result = plan(body, [])

        assert result.problems and result.rbac == () and result.pods.is_empty


class TestChecks:
    def problems(self, body: dict[str, Any]) -> list[str]:
        return [str(problem) for problem in validate_cluster(body)]

    def test_kuberays_samples_options_are_valid(self) -> None:
        options = {
            "version": "v2",
            "upscalingMode": "Default",
            "idleTimeoutSeconds": 60,
            "imagePullPolicy": "IfNotPresent",
            "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
            "env": [],
            "envFrom": [],
            "securityContext": {},
        }
        assert self.problems(autoscaled(autoscalerOptions=options, groups=[group(idleTimeoutSeconds=30)])) == []

    @pytest.mark.parametrize(
        ("options", "field"),
        [
            ({"version": "v3"}, "spec.autoscalerOptions.version"),
            ({"upscalingMode": "Fast"}, "spec.autoscalerOptions.upscalingMode"),
            ({"imagePullPolicy": "Sometimes"}, "spec.autoscalerOptions.imagePullPolicy"),
            ({"idleTimeoutSeconds": -1}, "spec.autoscalerOptions.idleTimeoutSeconds"),
            ({"env": [{"name": "KUBERAY_GEN_AUTOSCALER_START_CMD", "value": "x"}]}, "spec.autoscalerOptions.env"),
            ({"env": "A=1"}, "spec.autoscalerOptions.env"),
            ({"command": [1]}, "spec.autoscalerOptions.command"),
            ({"resources": []}, "spec.autoscalerOptions.resources"),
        ],
    )
    def test_bad_options_are_problems_naming_the_field(self, options: dict[str, Any], field: str) -> None:
        problems = self.problems(autoscaled(autoscalerOptions=options))

        assert len(problems) == 1 and problems[0].startswith(f"{field}: "), problems

    def test_a_group_idle_timeout_needs_autoscaler_v2(self) -> None:
        body = autoscaled(autoscalerOptions={"version": "v1"}, groups=[group(idleTimeoutSeconds=30)])

        assert self.problems(body) == [
            "spec.workerGroupSpecs[0].idleTimeoutSeconds: needs autoscaler v2: set spec.autoscalerOptions.version to v2"
        ]

    def test_a_suspended_group_is_refused_while_the_autoscaler_runs(self) -> None:
        body = autoscaled(groups=[group(suspend=True)])

        assert [p.split(":")[0] for p in self.problems(body)] == ["spec.workerGroupSpecs[0].suspend"]

    def test_v2_needs_restart_policy_never_or_unset(self) -> None:
        head = {"rayStartParams": {}, "template": template(restartPolicy="Always")}
        body = autoscaled(autoscalerOptions={"version": "v2"}, headGroupSpec=head)

        assert [p.split(":")[0] for p in self.problems(body)] == ["spec.headGroupSpec.template.spec.restartPolicy"]

    def test_version_and_the_v2_env_together_are_refused(self) -> None:
        env = [{"name": "RAY_enable_autoscaler_v2", "value": "true"}]
        head = {"rayStartParams": {}, "template": template(container(env=env))}

        assert [
            p.split(":")[0] for p in self.problems(autoscaled(autoscalerOptions={"version": "v2"}, headGroupSpec=head))
        ] == ["spec.autoscalerOptions.version"]
        assert [p.split(":")[0] for p in self.problems(cluster(headGroupSpec=head))] == [
            "spec.headGroupSpec.template.spec.containers"
        ]


class TestRayServiceLeavesTheAutoscalerAlone:
    def test_scaling_in_place_keeps_the_autoscalers_replicas_and_workers_to_delete(self) -> None:
        live = autoscaled(groups=[group(replicas=3, min_replicas=0, scaleStrategy={"workersToDelete": ["p"]})])
        wanted = {"workerGroupSpecs": [group(replicas=1, min_replicas=1, max_replicas=5)]}

        patch = scale_patch(live, wanted)

        assert patch is not None
        (patched,) = patch["spec"]["workerGroupSpecs"]
        assert patched["replicas"] == 3
        assert patched["scaleStrategy"] == {"workersToDelete": ["p"]}
        assert patched["minReplicas"] == 1

    def test_only_the_autoscalers_fields_differing_is_no_patch(self) -> None:
        live = autoscaled(groups=[group(replicas=3, min_replicas=0, scaleStrategy={"workersToDelete": ["p"]})])

        assert scale_patch(live, {"workerGroupSpecs": [group(replicas=1, min_replicas=0)]}) is None

    def test_a_pending_cluster_of_an_upgrade_starts_at_the_specs_replicas(self) -> None:
        config = autoscaled(groups=[group(replicas=2, min_replicas=1)])["spec"]
        service = {
            "apiVersion": "ray.io/v1",
            "kind": "RayService",
            "metadata": {"name": "svc", "namespace": "ns", "uid": "uid-svc"},
            "spec": {"rayClusterConfig": config},
        }

        made = desired_cluster(service, name="svc-raycluster-abcde")

        assert made["spec"]["enableInTreeAutoscaling"] is True
        assert made["spec"]["workerGroupSpecs"][0]["replicas"] == 2
