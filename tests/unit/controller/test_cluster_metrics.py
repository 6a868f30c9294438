"""KubeRay's RayCluster gauges: one info and one provisioned series per cluster, removed with the cluster."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from rayservice.metrics import OperatorMetrics


def samples(registry: CollectorRegistry, prefix: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name.startswith(prefix)
    }


def test_each_cluster_has_one_info_and_one_provisioned_series_that_follow_changes() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.cluster_info("a", "ns", "None")
    metrics.cluster_provisioned("a", "ns", False)
    metrics.cluster_provisioned("a", "ns", True)
    metrics.cluster_info("a", "ns", "RayService")
    metrics.cluster_provisioned_duration("a", "ns", 4.5)
    assert samples(registry, "kuberay_cluster") == {
        ("kuberay_cluster_info", (("name", "a"), ("namespace", "ns"), ("owner_kind", "RayService"))): 1.0,
        ("kuberay_cluster_condition_provisioned", (("condition", "true"), ("name", "a"), ("namespace", "ns"))): 1.0,
        ("kuberay_cluster_provisioned_duration_seconds", (("name", "a"), ("namespace", "ns"))): 4.5,
    }


def test_forgetting_a_cluster_removes_its_series_and_only_its_series() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    for name in ("a", "b"):
        metrics.cluster_info(name, "ns", "None")
        metrics.cluster_provisioned(name, "ns", True)
        metrics.cluster_provisioned_duration(name, "ns", 1.0)
    metrics.forget_cluster("a", "ns")
    metrics.forget_cluster("never-seen", "ns")
    assert {dict(labels)["name"] for _, labels in samples(registry, "kuberay_cluster")} == {"b"}
