"""The rest of a desired pod: shared memory, the GCS wait, preserved template fields, no shared structure."""

from __future__ import annotations

import copy

import pytest

from rayservice.controller.raycluster import desired_head_pod, desired_worker_pod
from tests.unit.controller.raycluster.samples import cluster, container, ray_container, template

HEAD_FQDN = "demo-head-svc.ns.svc.cluster.local"


class TestPodSpec:
    def test_shared_memory_is_mounted_at_dev_shm_sized_by_the_memory_limit(self) -> None:
        head = {"template": template(container(resources={"limits": {"memory": "4Gi"}}))}
        pod = desired_head_pod(cluster(head=head), name="h")

        assert {"name": "shared-mem", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}} in pod["spec"]["volumes"]
        assert {"name": "shared-mem", "mountPath": "/dev/shm"} in ray_container(pod)["volumeMounts"]

    def test_a_user_mount_at_dev_shm_is_left_alone(self) -> None:
        mounts = [{"name": "mine", "mountPath": "/dev/shm"}]
        head = {"template": template(container(volumeMounts=mounts), volumes=[{"name": "mine", "emptyDir": {}}])}
        pod = desired_head_pod(cluster(head=head), name="h")

        assert ray_container(pod)["volumeMounts"] == mounts
        assert pod["spec"]["volumes"] == [{"name": "mine", "emptyDir": {}}]

    def test_workers_wait_for_the_gcs_in_an_init_container_and_the_head_does_not(self) -> None:
        worker = desired_worker_pod(cluster(), "small", name="w")
        head = desired_head_pod(cluster(), name="h")

        (init,) = worker["spec"]["initContainers"]
        assert init["name"] == "wait-gcs-ready"
        assert init["image"] == "rayproject/ray:2.60.0"
        assert f"ray health-check --address={HEAD_FQDN}:6379" in init["args"][0]
        assert "initContainers" not in head["spec"]

    def test_unknown_template_fields_are_preserved(self) -> None:
        head = {"template": template(container(futureField={"x": 1}), tolerations=[{"key": "gpu"}], newSpecField=True)}
        pod = desired_head_pod(cluster(head=head), name="h")

        assert pod["spec"]["tolerations"] == [{"key": "gpu"}]
        assert pod["spec"]["newSpecField"] is True
        assert ray_container(pod)["futureField"] == {"x": 1}

    def test_building_pods_never_modifies_the_cluster_or_shares_its_structure(self) -> None:
        spec = cluster()
        before = copy.deepcopy(spec)
        first = desired_worker_pod(spec, "small", name="w")
        first["spec"]["containers"][0]["image"] = "changed"

        assert spec == before
        assert desired_worker_pod(spec, "small", name="w") == desired_worker_pod(before, "small", name="w")

    def test_a_template_without_containers_or_an_unknown_group_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no containers"):
            desired_head_pod(cluster(head={"template": {"spec": {"containers": []}}}), name="h")
        with pytest.raises(KeyError):
            desired_worker_pod(cluster(), "missing", name="w")
