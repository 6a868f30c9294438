"""The ``ray.io/serve`` pod label from Ray's proxy health, and ``excludeHeadPodFromServeSvc``."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rayservice.controller.rayservice import proxy_health_by_ip, serve_label_changes
from tests.unit.controller.rayservice.samples import NAMESPACE, raw_cluster

HEAD_IP = "127.16.0.2"
WORKER_IP = "127.16.0.3"


def pod(
    name: str,
    *,
    ip: str | None,
    node_type: str = "worker",
    serve: str | None = "true",
    cluster: str = "c",
    owner: str = "c-uid",
    **meta: Any,
) -> dict[str, Any]:
    labels = {"ray.io/cluster": cluster, "ray.io/node-type": node_type}
    if serve is not None:
        labels["ray.io/serve"] = serve
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "ownerReferences": [{"kind": "RayCluster", "name": cluster, "uid": owner, "controller": True}],
            **meta,
        },
        "status": {"phase": "Running", **({"podIP": ip} if ip else {})},
    }


def ips(**statuses: str) -> dict[str, Any]:
    """A Serve answer with one proxy on each given node IP, in the given status."""
    proxies = {
        f"node-{ip}": {"node_id": f"node-{ip}", "node_ip": ip, "status": status} for ip, status in statuses.items()
    }
    return {"proxies": proxies, "applications": {}}


HEAD = pod("c-head", ip=HEAD_IP, node_type="head")
WORKER = pod("c-worker", ip=WORKER_IP)


def test_a_pod_whose_proxy_is_not_healthy_is_labelled_false() -> None:
    ray = ips(**{HEAD_IP: "HEALTHY", WORKER_IP: "UNHEALTHY"})
    assert serve_label_changes(raw_cluster("c"), [HEAD, WORKER], ray, exclude_head=False) == {"c-worker": "false"}


def test_starting_and_draining_proxies_do_not_serve() -> None:
    for status in ("STARTING", "DRAINING", "DRAINED"):
        ray = ips(**{HEAD_IP: status})
        assert serve_label_changes(raw_cluster("c"), [HEAD], ray, exclude_head=False) == {"c-head": "false"}


def test_a_pod_whose_proxy_is_healthy_again_is_labelled_true_again() -> None:
    unhealthy_before = pod("c-worker", ip=WORKER_IP, serve="false")
    ray = ips(**{WORKER_IP: "HEALTHY"})
    assert serve_label_changes(raw_cluster("c"), [unhealthy_before], ray, exclude_head=False) == {"c-worker": "true"}


def test_labels_that_already_match_cause_no_change() -> None:
    ray = ips(**{HEAD_IP: "HEALTHY", WORKER_IP: "HEALTHY"})
    assert serve_label_changes(raw_cluster("c"), [HEAD, WORKER], ray, exclude_head=False) == {}


def test_a_pod_without_a_proxy_while_ray_runs_proxies_elsewhere_is_labelled_false() -> None:
    # Ray starts proxies only on nodes with replicas; a worker without one refuses the serve port.
    ray = ips(**{HEAD_IP: "HEALTHY"})
    assert serve_label_changes(raw_cluster("c"), [HEAD, WORKER], ray, exclude_head=False) == {"c-worker": "false"}


def test_pods_without_an_ip_or_while_ray_reports_no_proxy_keep_their_label() -> None:
    no_ip = pod("c-worker-new", ip=None, serve="false")
    assert serve_label_changes(raw_cluster("c"), [HEAD, no_ip], ips(**{HEAD_IP: "HEALTHY"}), exclude_head=False) == {}
    assert serve_label_changes(raw_cluster("c"), [HEAD, WORKER], ips(), exclude_head=False) == {}


def test_an_unknown_answer_changes_no_label() -> None:
    labelled_false = pod("c-worker", ip=WORKER_IP, serve="false")
    assert serve_label_changes(raw_cluster("c"), [HEAD, labelled_false], None, exclude_head=False) == {}


def test_the_excluded_head_is_labelled_false_even_with_a_healthy_proxy_or_no_answer() -> None:
    ray = ips(**{HEAD_IP: "HEALTHY", WORKER_IP: "HEALTHY"})
    assert serve_label_changes(raw_cluster("c"), [HEAD, WORKER], ray, exclude_head=True) == {"c-head": "false"}
    assert serve_label_changes(raw_cluster("c"), [HEAD, WORKER], None, exclude_head=True) == {"c-head": "false"}


def test_a_head_no_longer_excluded_serves_again_once_its_proxy_is_healthy() -> None:
    excluded_before = pod("c-head", ip=HEAD_IP, node_type="head", serve="false")
    ray = ips(**{HEAD_IP: "HEALTHY"})
    assert serve_label_changes(raw_cluster("c"), [excluded_before], ray, exclude_head=False) == {"c-head": "true"}


def test_pods_of_other_clusters_earlier_incarnations_or_being_deleted_are_left_alone() -> None:
    ray = ips(**{HEAD_IP: "UNHEALTHY", WORKER_IP: "UNHEALTHY"})
    others = [
        pod("d-head", ip=HEAD_IP, node_type="head", cluster="d", owner="d-uid"),
        pod("c-old-head", ip=HEAD_IP, node_type="head", owner="old-uid"),
        pod("c-worker", ip=WORKER_IP, deletionTimestamp="2026-01-01T12:00:00Z"),
    ]
    assert serve_label_changes(raw_cluster("c"), others, ray, exclude_head=True) == {}


def test_one_unhealthy_proxy_on_an_ip_makes_the_ip_unhealthy() -> None:
    ray = {
        "proxies": {
            "a": {"node_ip": HEAD_IP, "status": "HEALTHY"},
            "b": {"node_ip": HEAD_IP, "status": "UNHEALTHY"},
            "c": {"node_ip": "", "status": "HEALTHY"},
            "d": "garbage",
        }
    }
    assert proxy_health_by_ip(ray) == {HEAD_IP: False}
    assert proxy_health_by_ip({"proxies": None}) == {}


@given(
    statuses=st.dictionaries(
        st.sampled_from([HEAD_IP, WORKER_IP, "127.16.0.9"]),
        st.sampled_from(["HEALTHY", "UNHEALTHY", "STARTING", "DRAINING"]),
    ),
    head_label=st.sampled_from([None, "true", "false"]),
    worker_label=st.sampled_from([None, "true", "false"]),
    exclude_head=st.booleans(),
)
def test_applying_the_changes_converges_in_one_step(
    statuses: dict[str, str], head_label: str | None, worker_label: str | None, exclude_head: bool
) -> None:
    pods = [
        pod("c-head", ip=HEAD_IP, node_type="head", serve=head_label),
        pod("c-worker", ip=WORKER_IP, serve=worker_label),
    ]
    ray = ips(**statuses)
    changes = serve_label_changes(raw_cluster("c"), pods, ray, exclude_head=exclude_head)
    for item in pods:
        name = item["metadata"]["name"]
        if name in changes:
            item["metadata"]["labels"]["ray.io/serve"] = changes[name]
    assert serve_label_changes(raw_cluster("c"), pods, ray, exclude_head=exclude_head) == {}
    for item in pods:
        labels = item["metadata"]["labels"]
        ip = item["status"]["podIP"]
        if exclude_head and labels["ray.io/node-type"] == "head":
            assert labels["ray.io/serve"] == "false"
        elif ip in statuses:
            assert labels["ray.io/serve"] == ("true" if statuses[ip] == "HEALTHY" else "false")
