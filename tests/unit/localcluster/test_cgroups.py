"""Per-pod CPU weights: the pod's effective request, kubelet's shares and weights, the controller found."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.localcluster.node.cgroups import CpuCgroups, cpu_milli, cpu_shares, cpu_weight, pod_cpu_request_milli


@pytest.mark.parametrize(("quantity", "milli"), [
    ("500m", 500), ("1", 1000), (2, 2000), ("1.5", 1500), ("0.1", 100), ("250m", 250), ("1k", 1_000_000),
    ("0.0001", 1), ("abc", 0), ("", 0)])
def test_cpu_quantities_in_millicores_rounded_up(quantity: object, milli: int) -> None:
    assert cpu_milli(quantity) == milli


def container(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, object]:
    resources: dict[str, object] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "resources": resources}


def test_pod_request_is_the_sum_of_containers_or_the_largest_init_container() -> None:
    pod = {"spec": {"containers": [container({"cpu": "1"}), container({"cpu": "500m"}), container()],
                    "initContainers": [container({"cpu": "200m"})]}}
    assert pod_cpu_request_milli(pod) == 1500
    pod["spec"]["initContainers"] = [container({"cpu": "2"})]
    assert pod_cpu_request_milli(pod) == 2000


def test_a_container_with_only_a_limit_requests_its_limit_and_no_resources_requests_nothing() -> None:
    assert pod_cpu_request_milli({"spec": {"containers": [container(limits={"cpu": "300m"})]}}) == 300
    assert pod_cpu_request_milli({"spec": {"containers": [container({"memory": "1Gi"}, {"memory": "1Gi"})]}}) == 0
    assert pod_cpu_request_milli({}) == 0


def test_shares_and_weights_as_kubelet_derives_them() -> None:
    assert [cpu_shares(m) for m in (0, 1, 100, 1000, 2500, 10**9)] == [2, 2, 102, 1024, 2560, 262144]
    assert [cpu_weight(s) for s in (2, 102, 1024, 262144)] == [1, 4, 39, 10000]


def test_no_cpu_controller_means_no_cgroups(tmp_path: Path) -> None:
    mounts = f"cgroup {tmp_path} cgroup rw,memory 0 0\nproc /proc proc rw 0 0\n"
    assert CpuCgroups.detect("localcluster-t", mounts_text=mounts) is None


def test_a_cgroup_v1_cpu_hierarchy_gets_the_node_group_and_pod_groups(tmp_path: Path) -> None:
    mounts = f"cgroup {tmp_path / 'memory'} cgroup rw,memory 0 0\ncgroup {tmp_path} cgroup rw,relatime,cpu 0 0\n"
    groups = CpuCgroups.detect("localcluster-t", mounts_text=mounts, cores=2)
    assert groups is not None
    assert (tmp_path / "localcluster-t" / "cpu.shares").read_text() == "2048"
    pod = groups.pod("u1", 500)
    assert pod is not None and (pod.path / "cpu.shares").read_text() == "512"
    assert pod.enter_argv()[-1] == str(tmp_path / "localcluster-t" / "podu1" / "cgroup.procs")
    (pod.path / "cpu.shares").unlink()  # a real cgroup directory has no removable files; this one must be empty
    groups.close()
    assert not (tmp_path / "localcluster-t" / "podu1").exists()


def test_a_cgroup_v2_hierarchy_enables_cpu_and_sets_weights(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    mounts = f"cgroup2 {tmp_path} cgroup2 rw,nsdelegate 0 0\n"
    node = tmp_path / "localcluster-t"
    node.mkdir()
    (node / "cgroup.subtree_control").write_text("")
    groups = CpuCgroups.detect("localcluster-t", mounts_text=mounts, cores=1)
    assert groups is not None
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"
    assert (node / "cgroup.subtree_control").read_text() == "+cpu"
    assert (node / "cpu.weight").read_text() == str(cpu_weight(1024))
    pod = groups.pod("u2", 1000)
    assert pod is not None and (pod.path / "cpu.weight").read_text() == "39"
