"""Reading the Serve proxies' in-flight requests from Ray 2.60's Prometheus text and service discovery answer."""

from __future__ import annotations

from typing import Any

import pytest

from rayservice.ray.serve_inflight import metrics_targets, ongoing_requests

EXPOSITION = """\
# HELP ray_serve_num_ongoing_http_requests The number of ongoing requests in this HTTP Proxy.
# TYPE ray_serve_num_ongoing_http_requests gauge
ray_serve_num_ongoing_http_requests{Component="core_worker",NodeAddress="10.244.0.10",node_id="ab"} 3.0
ray_serve_num_ongoing_http_requests{Component="core_worker",NodeAddress="10.244.0.11",node_id="cd"} 1.0
ray_serve_num_ongoing_grpc_requests{node_id="ab"} 2
ray_serve_num_ongoing_http_requests_total{node_id="ab"} 99
ray_serve_num_http_requests_total{route="/"} 120.0
ray_serve_num_ongoing_http_requests{node_id="ef"} NaN
ray_serve_num_ongoing_http_requests{node_id="gh"} -1
ray_serve_num_ongoing_http_requests{node_id="ij"} garbled
"""


def test_every_sample_of_the_ongoing_request_gauges_is_summed_and_other_metrics_are_ignored() -> None:
    assert ongoing_requests(EXPOSITION) == 6


def test_no_gauge_at_all_reads_as_no_request_in_flight() -> None:
    assert ongoing_requests("# nothing here\nray_node_cpu_count 2\n") == 0


def test_a_gauge_without_labels_is_read() -> None:
    assert ongoing_requests("ray_serve_num_ongoing_http_requests 4\n") == 4


@pytest.mark.parametrize(
    ("content", "targets"),
    [
        ([{"labels": {"job": "ray"}, "targets": ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.1:8080"]}],
         ["10.0.0.1:8080", "10.0.0.2:8080"]),
        ({"error": "x"}, []),
        ([{"targets": "10.0.0.1:8080"}, "junk", {"targets": [1, "", "10.0.0.3:9"]}], ["10.0.0.3:9"]),
    ],
)
def test_service_discovery_targets_are_read_in_order_without_repeats(content: Any, targets: list[str]) -> None:
    assert metrics_targets(content) == targets
