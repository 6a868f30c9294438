"""The Grafana dashboard in manifests/grafana asks only for series the operator exports, with the labels they have."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from rayservice.metrics import OperatorMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "manifests" / "grafana" / "rayservice-upgrades.json"
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")
_FUNCTIONS = {"sum", "max", "by", "rate", "increase", "histogram_quantile", "label_values", "le"}


def exported() -> dict[str, set[str]]:
    """Every series name the operator exports once a RayService was upgraded and rolled out (histogram and counter
    suffixes included), with its labels."""
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.service_observed("svc", "ns", ready=True, upgrading=True)
    metrics.service_upgraded("svc", "ns", 30.0)
    metrics.rollout_ended("svc", "ns", kind="Cluster", outcome="succeeded", duration_s=30.0)
    metrics.upgrade_phase("svc", "ns", "pending_created", 0.0)
    metrics.upgrade_phase("svc", "ns", "pods_ready", 10.0)
    series: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def expressions(dashboard: dict[str, Any]) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    found += [item["definition"] for item in dashboard["templating"]["list"] if "definition" in item]
    return found


def test_the_dashboard_is_valid_json_with_a_prometheus_datasource_and_panels_with_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    assert all(panel["targets"] and panel["datasource"]["type"] == "prometheus" for panel in dashboard["panels"])
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_every_query_names_an_exported_series_with_labels_it_has() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    series = exported()
    named = set()
    for expr in expressions(dashboard):
        for name, selector in re.findall(r"\b([a-z_]+(?:_[a-z]+)+)\b(\{[^}]*\})?", expr):
            if name in _FUNCTIONS or name.startswith("__"):
                continue
            assert name in series or any(name + suffix in series for suffix in _SUFFIXES), (name, expr)
            named.add(name)
            labels = set(re.findall(r"([a-z_]+)\s*=~?", selector))
            have = series.get(name) or set().union(*(series.get(name + s, set()) for s in _SUFFIXES))
            assert labels <= have | {"le"}, (name, labels - have)
    assert {
        "rayservice_rollouts_total",
        "rayservice_upgrade_phase",
        "rayservice_rollout_duration_seconds_bucket",
    } <= named
